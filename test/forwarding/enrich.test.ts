import { activityMappings } from '../../src/db/schema';
import { ensureCourse, ensurePlatform } from '../../src/identity/records';
import { MAPPED_COMPETENCIES } from '../../src/forwarding/enrich';
import { SOCLE_XAPI } from '../../src/forwarding/emit';
import { checkProfile, loadSocleProfile } from '../../src/forwarding/profile';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type FakeLrs, startFakeLrs } from '../support/fake-lrs';
import { basic, MOODLE, moodleBatch } from '../xapi/support';

jest.setTimeout(90_000);
const book = `${MOODLE}/mod/book/view.php?id=12`;

describe.each(drivers)('statements forwarded to the LRS carry their mapping, on %s', (driver) => {
  let lrs: FakeLrs;
  let server: TestServer;
  beforeAll(async () => {
    lrs = await startFakeLrs();
    server = await startTestServer(driver, { lrs: { endpoint: lrs.endpoint, key: 'k', secret: 's' } });
  });
  afterAll(async () => {
    await server.destroy();
    await lrs.close();
  });

  it('adds the mapped competencies of the course to the completion of a mapped activity only', async () => {
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    const other = await ensureCourse(db, platform.id, '3', 'Another course');
    await db.insert(activityMappings).values([
      { courseId: course.id, activityIri: book, referentialId: 'socle-sante-niveaux-4-8', referentialVersion: 'V1.1.2022', competencyKey: '4.1', minutes: 60 },
      { courseId: course.id, activityIri: book, referentialId: 'socle-sante-niveaux-4-8', referentialVersion: 'V1.1.2022', competencyKey: '2.1', minutes: 30 },
      { courseId: other.id, activityIri: book, referentialId: 'socle-sante-niveaux-4-8', referentialVersion: 'V1.1.2022', competencyKey: '1.1', minutes: 15 },
    ]);
    const key = await createXapiKey(db, MOODLE);
    const batch = [...moodleBatch('08'), ...moodleBatch('10')]; // book viewed (not completed) and completed
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
      body: JSON.stringify(batch),
    });
    const ids = (await res.json()) as string[];
    for (let i = 0; i < 500 && lrs.stored.size < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    const forwarded = [...lrs.stored.values()] as { object: { id: string }; verb: { id: string }; context: Record<string, unknown> }[];
    const onBook = forwarded.filter((s) => s.object.id === book);
    expect(onBook.length).toBeGreaterThan(0);
    for (const s of onBook) {
      const extensions = s.context.extensions as Record<string, unknown>;
      expect(extensions[MAPPED_COMPETENCIES]).toEqual(
        expect.arrayContaining([
          { id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022', competency: '2.1', minutes: 30 },
          { id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022', competency: '4.1', minutes: 60 },
        ]),
      );
      expect((extensions[MAPPED_COMPETENCIES] as unknown[]).length).toBe(2);
      const category = (s.context.contextActivities as { category: { id: string }[] }).category;
      expect(category.map((c) => c.id)).toContain(SOCLE_XAPI.version);
    }
    const unmapped = forwarded.filter((s) => s.object.id !== book);
    expect(unmapped.length).toBeGreaterThan(0);
    for (const s of unmapped) expect(JSON.stringify(s)).not.toContain(MAPPED_COMPETENCIES);
  });

  it('counts what it received and forwarded in /metrics, with the outbox depth read from the database', async () => {
    expect(lrs.stored.size).toBeGreaterThan(0);
    // the LRS may hold the last batch before the outbox has recorded its delivery: read until it has
    let text = '';
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    for (let i = 0; i < 100 && (text === '' || value('socle_xapi_outbox_pending') !== 0); i++) {
      if (text) await new Promise((r) => setTimeout(r, 50));
      text = await (await fetch(`${server.url}/metrics`)).text();
    }
    expect(value('socle_xapi_statements_received_total')).toBeGreaterThanOrEqual(lrs.stored.size);
    expect(value('socle_xapi_statements_forwarded_total')).toBeGreaterThanOrEqual(lrs.stored.size);
    expect(value('socle_xapi_outbox_pending')).toBe(0);
    expect(value('socle_xapi_outbox_dead')).toBe(0);
    expect(value('socle_export_jobs_waiting')).toBe(0);
  });

  it('keeps the profile valid with its mapped-competencies extension', () => {
    const profile = loadSocleProfile();
    expect(checkProfile(profile)).toEqual([]);
    expect((profile.concepts ?? []).map((c) => c.id)).toContain(MAPPED_COMPETENCIES);
  });
});
