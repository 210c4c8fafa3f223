import { sql } from 'drizzle-orm';
import { openStore } from '../../src/db/store';
import { recordRecipient } from '../../src/alerts/preferences';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { runCliInProcess } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';

const ISSUER = 'https://moodle.chu.example';
const KEY = 'test-lti-key-0123456789abcdef0123456789';

describe.each(drivers)('socle alerts on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase(driver);
    const store = await openStore(database.options);
    const platform = await ensurePlatform(store.db, ISSUER);
    const teacher = await ensureUser(store.db, platform.id, '3', { name: 'Terry Teacher', locale: 'fr' });
    const course = await ensureCourse(store.db, platform.id, '2', 'Socle');
    await store.db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${teacher.id}, ARRAY['Instructor'])`);
    await recordRecipient(store.db, platform.id, teacher.id, { email: 'teacher1@example.com', manager: false });
    await store.close();
    env = 'databaseUrl' in database.options ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: KEY } : { DATA_DIR: database.options.dataDir, LTI_KEY: KEY };
  });
  afterAll(() => database.destroy());

  it('previews the e-mail, says what a dry run would send, and refuses to send without SMTP_URL', async () => {
    const preview = await runCliInProcess(['alerts', 'preview', '--platform', ISSUER], env);
    expect(preview).toMatchObject({ code: 0 });
    expect(preview.stdout).toMatch(/^To: teacher1@example.com\nSubject: Socle\u00a0: alertes de la semaine du \d\d\/\d\d\/\d{4}\n\nBonjour Terry Teacher,/);
    expect(preview.stdout).toMatch(/Ne plus recevoir ces alertes\u00a0: http:\/\/127\.0\.0\.1:3000\/alerts\/opt-out\?token=\d+\.[\w-]{43}/);
    const dry = await runCliInProcess(['alerts', 'send', '--dry-run', '--json'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual([expect.objectContaining({ platform: ISSUER, name: 'Terry Teacher', outcome: 'would_skip' })]);
    const refused = await runCliInProcess(['alerts', 'send', '--platform', ISSUER], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('socle: SMTP_URL and MAIL_FROM are not set');
    const unknown = await runCliInProcess(['alerts', 'preview', '--platform', 'https://nowhere.example'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('--platform: no platform https://nowhere.example');
  });
});
