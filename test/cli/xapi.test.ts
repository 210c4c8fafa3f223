import { sql } from 'drizzle-orm';
import { openStore } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { enqueueStatements } from '../../src/forwarding/outbox';
import { runCliInProcess as runCli } from '../support/cli';
import { createTestDatabase, type Driver, drivers } from '../support/db';
import { MOODLE } from '../xapi/support';

jest.setTimeout(120_000);

function envOf(options: { databaseUrl: string } | { dataDir: string }): Record<string, string> {
  return 'databaseUrl' in options
    ? { DATABASE_URL: options.databaseUrl, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789' }
    : { DATA_DIR: options.dataDir };
}

// Each command is a real process opening the database: run them on one driver (PostgreSQL when available, it opens
// faster than PGlite); the functions behind them run on both drivers in the other xAPI tests.
const driver: Driver = drivers[drivers.length - 1] ?? 'pglite';

describe(`socle xapi-keys and outbox commands on ${driver}`, () => {
  it('creates a key for a known platform and LRS clients, lists them without their secret, revokes them; reports and requeues the outbox', async () => {
    const database = await createTestDatabase(driver);
    try {
      const store = await openStore(database.options);
      await ensurePlatform(store.db, MOODLE);
      await enqueueStatements(store.db, [{ id: '5d0f4c1e-3b8a-4f6e-9a2d-7c1b0e9f8a3d', verb: { id: 'http://adlnet.gov/expapi/verbs/completed' } }]);
      // a dead letter, as the worker leaves it after a 4xx
      await store.db.execute(sql`UPDATE xapi_outbox SET status = 'dead', last_error = 'HTTP 400'`);
      await store.close();
      const env = envOf(database.options);

      const unknown = await runCli(['xapi-keys', 'create', '--platform', 'https://nowhere.example.org'], env);
      expect([unknown.code, unknown.stderr.trim()]).toEqual([1, expect.stringMatching(/^socle: unknown platform https:\/\/nowhere\.example\.org/)]);

      const created = await runCli(['xapi-keys', 'create', '--platform', `${MOODLE}/`, '--json'], env);
      expect(created.code).toBe(0);
      const { key, secret } = JSON.parse(created.stdout) as { key: string; secret: string };
      expect(key).toMatch(/^socle_[0-9a-f]{24}$/);
      expect(secret.length).toBeGreaterThanOrEqual(43);

      const listed = await runCli(['xapi-keys', 'list', '--json'], env);
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ key, platform: MOODLE, revokedAt: null })]);
      expect(listed.stdout).not.toContain(secret);

      const revoked = await runCli(['xapi-keys', 'revoke', key], env);
      expect([revoked.code, revoked.stdout.trim()]).toEqual([0, `Revoked ${key}.`]);

      // LRS clients: scopes repeated or comma-separated, restricted to a platform or not
      const client = await runCli(['xapi-keys', 'create', '--client', 'SCORM player', '--scope', 'state,profile', '--scope', 'statements/write', '--platform', MOODLE, '--json'], env);
      expect(client.code).toBe(0);
      const issued = JSON.parse(client.stdout) as { key: string; secret: string };
      expect(issued).toMatchObject({ key: expect.stringMatching(/^socle_[0-9a-f]{24}$/), name: 'SCORM player', scopes: ['state', 'profile', 'statements/write'], platform: MOODLE });
      const free = await runCli(['xapi-keys', 'create', '--client', 'Reporting', '--scope', 'all/read'], env);
      expect([free.code, free.stdout]).toEqual([0, expect.stringMatching(/scopes: {3}all\/read\n {2}platform: none/)]);
      const badScope = await runCli(['xapi-keys', 'create', '--client', 'X', '--scope', 'statements/delete'], env);
      expect([badScope.code, badScope.stderr]).toEqual([1, expect.stringMatching(/Unknown xAPI scope "statements\/delete"/)]);
      const neither = await runCli(['xapi-keys', 'create'], env);
      expect([neither.code, neither.stderr]).toEqual([1, expect.stringMatching(/--platform <issuer> \(a platform key\) or --client <name>/)]);
      const scopedKey = await runCli(['xapi-keys', 'create', '--platform', MOODLE, '--scope', 'state'], env);
      expect(scopedKey.code).toBe(1);
      const clients = await runCli(['xapi-keys', 'list'], env);
      expect(clients.stdout).toContain(`${issued.key}  client "SCORM player" ${MOODLE} [state, profile, statements/write]`);
      expect(clients.stdout).toMatch(/client "Reporting" \(no platform\) \[all\/read\]/);
      expect(clients.stdout).not.toContain(issued.secret);
      expect((await runCli(['xapi-keys', 'revoke', issued.key], env)).code).toBe(0);

      const status = await runCli(['outbox', 'status', '--json'], env);
      expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, delivered: 0, dead: 1 });
      const retried = await runCli(['outbox', 'retry-dead'], env);
      expect(retried.stdout.trim()).toBe('1 statement(s) queued again.');
    } finally {
      await database.destroy();
    }
  });
});
