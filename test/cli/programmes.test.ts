import { sql } from 'drizzle-orm';
import { openStore } from '../../src/db/store';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { loadBundledReferentials } from '../../src/referentials/catalogue';
import { runCliInProcess as runCli } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';
import { MOODLE } from '../xapi/support';

const REF = 'socle-sante-niveaux-4-8';

describe.each(drivers)('socle programmes on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(['programmes', ...args], env);

  beforeAll(async () => {
    database = await createTestDatabase(driver);
    env = 'databaseUrl' in database.options ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'k'.repeat(40) } : { DATA_DIR: database.options.dataDir };
    const store = await openStore(database.options);
    try {
      await loadBundledReferentials(store.db);
      const platform = await ensurePlatform(store.db, MOODLE);
      const course = await ensureCourse(store.db, platform.id, '2', 'Année 1');
      await ensureCourse(store.db, platform.id, '3', 'Année 2');
      const learner = await ensureUser(store.db, platform.id, '40', { name: 'Inès Payet' });
      await store.db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${learner.id}, ARRAY['Learner'])`);
      await ensurePlatform(store.db, 'https://other.example');
    } finally {
      await store.close();
    }
  });
  afterAll(() => database.destroy());

  it('adds, lists, shows with forecasts and sets a programme; errors name the option and change nothing', async () => {
    const badDue = await cli('add', '--platform', MOODLE, '--name', 'IFSI 2025', '--referential', REF, '--courses', '2,3', '--intake', '2025', '--due', '2028-02-30');
    expect(badDue).toMatchObject({ code: 1, stdout: '' });
    expect(badDue.stderr).toMatch(/^socle: --due: Invalid programme\.\n {2}--due: not a calendar date\n$/);
    const unknown = await cli('add', '--platform', MOODLE, '--name', 'IFSI 2025', '--referential', REF, '--courses', '2,9', '--intake', '2025');
    expect(unknown.stderr).toContain('--courses: unknown: 9');

    const added = await cli('add', '--platform', MOODLE, '--name', 'IFSI 2025', '--referential', REF, '--courses', '2,3', '--intake', '2025', '--category', '7');
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^Programme (\d+) added\.\nprogramme {5}\1 IFSI 2025\n/);
    expect(added.stdout).toContain('due           2028-08-31');
    expect(added.stdout).toContain('courses       2 (Année 1), 3 (Année 2)');
    const list = JSON.parse((await cli('list', '--platform', MOODLE, '--json')).stdout) as { id: number; referential: { version: string } }[];
    expect(list).toHaveLength(1); // the refused ones stored nothing
    const [listed] = list;
    expect(listed?.referential.version).toBe('V1.1.2022');
    const id = String(listed?.id);

    // nothing mapped in the courses yet: nothing can cover the 28 h
    const shown = await cli('show', '--platform', MOODLE, '--id', id, '--today', '2027-03-02');
    expect(shown.stdout).toContain('learners on 2027-03-02: 1 (1 at risk, 0 behind, 0 on track, 0 done)');
    expect(shown.stdout).toMatch(/Inès Payet\s+at risk\s+0\u00a0h validated, 28\u00a0h missing, 0\u00a0h still offered/);
    const json = JSON.parse((await cli('show', '--platform', MOODLE, '--id', id, '--today', '2025-09-01', '--json')).stdout) as { today: string; forecasts: { status: string; dueDate: string }[] };
    expect(json.forecasts).toEqual([expect.objectContaining({ status: 'at_risk', dueDate: '2028-08-31', expectedMinutes: 0, missingMinutes: 1680 })]);

    const set = await cli('set', '--platform', MOODLE, '--id', id, '--intake', '2026', '--category', '', '--json');
    expect(JSON.parse(set.stdout)).toMatchObject({ intakeYear: 2026, dueDate: '2029-08-31', category: null });
    const clash = await cli('set', '--platform', MOODLE, '--id', id, '--due', '2026-08-31');
    expect(clash.stderr).toContain('--due: The due date 2026-08-31 is not after');
    // another platform does not see it
    expect((await cli('show', '--platform', 'https://other.example', '--id', id)).stderr).toBe(`socle: No programme ${id} on this platform.\n`);
    expect((await cli('list', '--platform', 'https://nowhere.example', '--json')).stderr).toContain('--platform: no platform');
  });
});
