import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openStore, queryRows } from '../../src/db/store';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { socle28 } from '../domain/coverage-fixtures';
import { runCliInProcess as runCli } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';
import { MOODLE } from '../xapi/support';
import { fixtureReferentials } from '../coverage/support';

/** The commands run with the fixture référentiels. */
const services = { referentials: fixtureReferentials() };

describe.each(drivers)('socle credits and socle coverage on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  const grant = (...extra: string[]) =>
    runCli(['credits', 'grant', '--platform', MOODLE, '--user', '4', '--referential', socle28.id, '--competency', '2.1', ...extra], env, services);
  const withStore = async <T>(run: (db: Awaited<ReturnType<typeof openStore>>['db']) => Promise<T>) => {
    const store = await openStore(database.options);
    try {
      return await run(store.db);
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase(driver);
    env = 'databaseUrl' in database.options ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'k'.repeat(40) } : { DATA_DIR: database.options.dataDir };
    await withStore(async (db) => {
      const platform = await ensurePlatform(db, MOODLE);
      await ensureUser(db, platform.id, '4');
    });
  });
  afterAll(() => database.destroy());

  it('grants with a justification, lists, revokes, audits and keeps the stored coverage in step', async () => {
    const noJustification = await grant('--hours', '2', '--justification', '  ');
    expect(noJustification).toMatchObject({ code: 1, stderr: 'socle: --justification: a manual credit needs a justification\n' });
    const badHours = await grant('--hours', 'deux', '--justification', 'Présentiel');
    expect(badHours.stderr).toContain('--hours');
    const unknown = await runCli(['credits', 'grant', '--platform', MOODLE, '--user', '4', '--referential', socle28.id, '--competency', '9.9', '--hours', '1', '--justification', 'x'], env, services);
    expect(unknown.stderr).toMatch(/^socle: --competency: no competency "9.9"/);
    const noUser = await runCli(['credits', 'grant', '--platform', MOODLE, '--user', '77', '--referential', socle28.id, '--competency', '2.1', '--hours', '1', '--justification', 'x'], env, services);
    expect(noUser.stderr).toContain('--user: no user 77');

    const granted = await grant('--hours', '1,5', '--justification', 'Séance en présentiel', '--json');
    expect(granted.stderr).toBe('');
    const credit = JSON.parse(granted.stdout) as { id: number; minutes: number; referentialVersion: string };
    expect(credit).toMatchObject({ minutes: 90, referentialVersion: socle28.version });

    const listed = await runCli(['credits', 'list', '--platform', MOODLE, '--user', '4'], env, services);
    expect(listed.stdout).toContain('\t1\u00a0h\u00a030\t');
    expect(listed.stdout).toContain('active\tSéance en présentiel');
    const stored = () => withStore((db) => queryRows<{ validated_minutes: number; status: string }>(db, sql`SELECT validated_minutes, status FROM learner_coverage`));
    expect(await stored()).toEqual([{ validated_minutes: 90, status: 'in_progress' }]);

    expect((await runCli(['credits', 'revoke', String(credit.id), '--reason', 'erreur de saisie'], env, services)).stdout).toContain(`Revoked manual credit ${credit.id}`);
    expect((await runCli(['credits', 'revoke', String(credit.id)], env, services)).stderr).toBe(`socle: no active manual credit ${credit.id}\n`);
    expect(await stored()).toEqual([]);
    const audit = await withStore((db) => queryRows<{ action: string }>(db, sql`SELECT action FROM audit_events WHERE action LIKE 'manual-credit.%' ORDER BY id`));
    expect(audit.map((a) => a.action)).toEqual(['manual-credit.grant', 'manual-credit.revoke']);

    await grant('--hours', '3', '--justification', 'VAE');
    await withStore((db) => db.execute(sql`DELETE FROM learner_coverage`));
    const recomputed = await runCli(['coverage', 'recompute', '--platform', MOODLE], env, services);
    expect(recomputed.code).toBe(0);
    expect(recomputed.stderr).toBe(`${MOODLE}: 1/1 learners\n`);
    expect(recomputed.stdout).toMatch(/^Recomputed 1 learners \(1 coverages\) on 1 platform\(s\)/);
    expect(await stored()).toEqual([{ validated_minutes: 180, status: 'in_progress' }]);
    expect((await runCli(['coverage', 'recompute', '--platform', 'https://nowhere.example'], env, services)).stderr).toBe('socle: --platform: no platform https://nowhere.example\n');
  }, 120_000); // a dozen CLI runs, each opening the database

  it('keeps an evidence file with the credit: a PDF or an image by its bytes, nothing stored otherwise', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-cli-evidence-'));
    try {
      const evidence = () => withStore((db) => queryRows<{ file_name: string; content_type: string; size: number }>(db, sql`SELECT file_name, content_type, size FROM manual_credit_evidence ORDER BY credit_id`));
      const credits = () => withStore(async (db) => (await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM manual_credits`))[0]?.n);
      const before = await credits();
      const notes = path.join(dir, 'notes.pdf');
      fs.writeFileSync(notes, 'plain text named .pdf');
      const refused = await grant('--hours', '1', '--justification', 'Présentiel', '--evidence', notes);
      expect(refused).toMatchObject({ code: 1, stderr: 'socle: --evidence: the evidence must be a PDF or an image (PNG, JPEG, WebP)\n' });
      expect((await grant('--hours', '1', '--justification', 'Présentiel', '--evidence', path.join(dir, 'missing.pdf'))).stderr).toContain('--evidence: no file');
      expect(await credits()).toBe(before);
      const sheet = path.join(dir, 'émargement.png');
      fs.writeFileSync(sheet, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
      expect((await grant('--hours', '1', '--justification', 'Présentiel', '--evidence', sheet)).code).toBe(0);
      expect(await evidence()).toEqual([{ file_name: 'émargement.png', content_type: 'image/png', size: 16 }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
