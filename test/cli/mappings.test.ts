import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { activityMappings, platformSettings } from '../../src/db/schema';
import { openStore } from '../../src/db/store';
import { openSecret } from '../../src/secrets';
import { runCliInProcess } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';

const wwwroot = 'http://127.0.0.1:8181';
const LTI_KEY = 'cli-test-lti-key-0123456789abcdef0123456789';
const quiz = `${wwwroot}/mod/quiz/view.php?id=9`;
const book = `${wwwroot}/mod/book/view.php?id=12`;

describe.each(drivers)('mapping commands on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-mapping-cli-'));
  const cli = (...args: string[]) => runCliInProcess(args, env);
  /** Reads the database between commands (each command opens and closes the store). */
  async function read<T>(run: (db: Awaited<ReturnType<typeof openStore>>['db']) => Promise<T>): Promise<T> {
    const store = await openStore(database.options);
    try {
      return await run(store.db);
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase(driver);
    env = { LTI_KEY, ...('databaseUrl' in database.options ? { DATABASE_URL: database.options.databaseUrl } : { DATA_DIR: database.options.dataDir }) };
  });
  afterAll(async () => {
    nock.cleanAll();
    await database.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('seals the web-service token at rest', async () => {
    const missing = await cli('platforms', 'set-webservice', '--issuer', wwwroot);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('--token is required') });
    const r = await cli('platforms', 'set-webservice', '--issuer', `${wwwroot}/`, '--token', 'ws-secret-token-42');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${wwwroot}: web-service token saved (sealed)`);
    const [row] = await read((db) => db.select().from(platformSettings));
    expect(row?.webserviceToken).toMatch(/^v1\./);
    expect(row?.webserviceToken).not.toContain('ws-secret-token-42');
    expect(openSecret(LTI_KEY, 'webservice-token', String(row?.webserviceToken))).toBe('ws-secret-token-42');
    const defaults = await cli('platforms', 'set-defaults', '--issuer', wwwroot, '--referential', 'socle-ambulanciers', '--require-success');
    expect(defaults).toMatchObject({ code: 0, stdout: `${wwwroot}: default référentiel socle-ambulanciers@V1.1.2023; credit on success only\n` });
  }, 60_000);

  it("sets a course's référentiel, creating the course if unseen; an unknown one is a clear error", async () => {
    const unknown = await cli('courses', 'set-referential', '--platform', wwwroot, '--context', '2', '--referential', 'nope');
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('No référentiel nope') });
    const badVersion = await cli('courses', 'set-referential', '--platform', wwwroot, '--context', '2', '--referential', 'socle-sante-niveaux-4-8', '--version', 'V9');
    expect(badVersion.stderr).toContain('No version V9 of référentiel socle-sante-niveaux-4-8 (stored versions: V1.1.2022)');
    const ok = await cli('courses', 'set-referential', '--platform', wwwroot, '--context', '2', '--referential', 'socle-sante-niveaux-4-8', '--json');
    expect(ok.code).toBe(0);
    // The course did not exist: the refused commands created nothing, this one created it.
    expect(JSON.parse(ok.stdout)).toMatchObject({ context: '2', courseId: 1, referential: 'socle-sante-niveaux-4-8', version: 'V1.1.2022' });
    const unknownCourse = await cli('mappings', 'export', '--platform', wwwroot, '--context', '404');
    expect(unknownCourse).toMatchObject({ code: 1, stderr: expect.stringContaining('No course with context id 404') });
  }, 120_000);

  it('imports a CSV (activities read from Moodle first), exports it back, and refuses a wrong file whole', async () => {
    const empty = await cli('mappings', 'export', '--platform', wwwroot, '--context', '2');
    expect(empty.stdout.replace(/^\uFEFF/, '')).toBe('activity_id;activity_name;competency_code;hours\r\n');

    nock(wwwroot).persist().post('/webservice/rest/server.php', (b) => b.wstoken === 'ws-secret-token-42' && b.courseid === '2').reply(200, contents);
    const file = path.join(dir, 'in.csv');
    fs.writeFileSync(file, `activity_id;activity_name;competency_code;hours\n${quiz};Quiz;2.1;1,5\n${book};Handbook;4.1;2\n`);
    const imported = await cli('mappings', 'import', file, '--platform', wwwroot, '--context', '2');
    expect(imported).toMatchObject({ code: 0, stdout: '2 pair(s) imported; 2 activit(y/ies) changed\n' });

    const out = path.join(dir, 'out.csv');
    expect((await cli('mappings', 'export', '--platform', wwwroot, '--context', '2', '--out', out)).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8').replace(/^\uFEFF/, '').split('\r\n')).toEqual([
      'activity_id;activity_name;competency_code;hours',
      `${quiz};Quiz 1: basics;2.1;1,5`,
      `${book};Handbook;4.1;2`,
      '',
    ]);

    const before = await read((db) => db.select().from(activityMappings).orderBy(activityMappings.activityIri));
    fs.writeFileSync(file, `activity_id;activity_name;competency_code;hours\n${quiz};Quiz;2.1;3\n${book};Handbook;4.1b;0,1\n${wwwroot}/mod/page/view.php?id=999;Other;1.1;1\n`);
    const refused = await cli('mappings', 'import', file, '--platform', wwwroot, '--context', '2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('line 3 competency_code: no competency 4.1b in socle-sante-niveaux-4-8 V1.1.2022');
    expect(refused.stderr).toContain('line 3 hours');
    const notOfCourse = fs.readFileSync(file, 'utf8').replace(';4.1b;0,1', ';4.1;1');
    fs.writeFileSync(file, notOfCourse);
    const refused2 = await cli('mappings', 'import', file, '--platform', wwwroot, '--context', '2');
    expect(refused2.stderr).toContain(`line 4 activity_id: activity ${wwwroot}/mod/page/view.php?id=999 is not an activity of this course`);
    expect(await read((db) => db.select().from(activityMappings).orderBy(activityMappings.activityIri))).toEqual(before);
  }, 120_000);
});
