import { findApiToken } from '../../src/identity/api-tokens';
import { openStore } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { createTestDatabase, drivers } from '../support/db';
import { runCliInProcess as runCli } from '../support/cli';

describe.each(drivers)('socle api-tokens on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase(driver);
    env =
      'databaseUrl' in database.options
        ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'k'.repeat(40) }
        : { DATA_DIR: database.options.dataDir };
    const store = await openStore(database.options);
    await ensurePlatform(store.db, 'http://127.0.0.1:8181');
    await store.close();
  });
  afterAll(() => database.destroy());

  it('creates a token shown once, finds it by its value only, lists and revokes it', async () => {
    const created = await runCli(['api-tokens', 'create', '--name', 'warehouse', '--role', 'admin', '--platform', 'http://127.0.0.1:8181/', '--json'], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    expect(token).toMatch(/^socle_[\w-]{43}$/);

    const store = await openStore(database.options);
    try {
      expect(await findApiToken(store.db, token)).toMatchObject({ name: 'warehouse', role: 'admin', platformId: expect.any(Number) });
      expect(await findApiToken(store.db, `${token}x`)).toBeUndefined();
      expect(await findApiToken(store.db, 'Basic abc')).toBeUndefined();
    } finally {
      await store.close();
    }

    const listed = await runCli(['api-tokens', 'list', '--json'], env);
    expect(listed.stdout).not.toContain(token);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'warehouse', platform: 'http://127.0.0.1:8181', revokedAt: null })]);

    expect((await runCli(['api-tokens', 'revoke', 'warehouse'], env)).code).toBe(0);
    const again = await runCli(['api-tokens', 'revoke', 'warehouse'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('socle: no active token named warehouse\n');
    const after = await openStore(database.options);
    try {
      expect(await findApiToken(after.db, token)).toBeUndefined();
    } finally {
      await after.close();
    }
  });

  it.each([
    [['--name', 'x y', '--role', 'admin'], '--name: expected 1 to 64 letters'],
    [['--name', 'ok', '--role', 'learner'], '--role: expected admin, got "learner"'],
    [['--name', 'ok', '--role', 'admin', '--platform', 'https://nowhere.example'], '--platform: no platform https://nowhere.example'],
  ])('refuses %j with a line naming the option', async (args, message) => {
    const result = await runCli(['api-tokens', 'create', ...args], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it('refuses a second token with the same name', async () => {
    expect((await runCli(['api-tokens', 'create', '--name', 'twice', '--role', 'admin'], env)).code).toBe(0);
    const second = await runCli(['api-tokens', 'create', '--name', 'twice', '--role', 'admin'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('--name: a token named twice already exists');
  });
});
