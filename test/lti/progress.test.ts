import nock from 'nock';
import { z } from 'zod';
import { credential } from '../../src/api/schemas';
import { createApiToken } from '../../src/identity/api-tokens';
import { grantManualCredit, revokeManualCredit } from '../../src/coverage/credits';
import { recomputeAll } from '../../src/coverage/recompute';
import { coverageDeps } from '../../src/coverage/deps';
import { compileRules, computeCoverage } from '../../src/domain/coverage';
import { queryRows } from '../../src/db/store';
import { ensurePlatform, findCourse, findUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { createXapiKey } from '../../src/xapi/keys';
import { sql } from 'drizzle-orm';
import { socle28 } from '../domain/coverage-fixtures';
import { fixtureReferentials } from '../coverage/support';
import { coverageSettled, startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { basic, MOODLE, moodleBatch } from '../xapi/support';

const BOOK = `${MOODLE}/mod/book/view.php?id=12`;
const ASSIGN = `${MOODLE}/mod/assign/view.php?id=11`;
const PAGE = `${MOODLE}/mod/page/view.php?id=3`;
/** Mapped in course 2: the book (captured completion, then un-completion) and the assignment fill domain 2 (5 h). */
const MAPPING = [
  { activityIri: BOOK, competencyKey: '2.1', minutes: 240 },
  { activityIri: ASSIGN, competencyKey: '2.2', minutes: 60 },
  { activityIri: PAGE, competencyKey: '1.1', minutes: 90 },
];

type Credential = z.infer<typeof credential>;

/** The page's next step: domain title → its activities (link and visible text). */
function nextSteps(html: string): Map<string, { href: string | null; text: string }[]> {
  const list = /<ul class="gaps next-steps"[^>]*>([\s\S]*?)<\/ul>\s*<h3/.exec(html)?.[1] ?? '';
  const steps = new Map<string, { href: string | null; text: string }[]>();
  for (const item of list.split('<p class="gap">').slice(1)) {
    const domain = text(item.slice(0, item.indexOf('</p>'))).trim().replace(/ : (encore|\d).*$/, '');
    const activities = [...item.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => ({
      href: /href="([^"]+)"/.exec(m[1] ?? '')?.[1]?.replace(/&amp;/g, '&') ?? null,
      text: text(m[1] ?? '').trim(),
    }));
    steps.set(domain, activities);
  }
  return steps;
}

/** The visible text of a page, one space between words (what a reader sees, without tags). */
const text = (html: string) =>
  html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe.each(drivers)('Ma progression, badges and the LTI principal on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let learner: Client;
  let xapiAuth: string;
  let admin: string;
  let scopedOther: string;

  const postBatch = async (body: unknown) => {
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: xapiAuth, 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    await coverageSettled(server.ctx.store);
  };
  const page = async (client: Client, tab = '') => {
    const res = await client.get(`/lti/me${tab ? `?tab=${tab}` : ''}`);
    expect(res.status).toBe(200);
    return text(await res.text());
  };
  const credentials = async (auth: Client | string, sub = '4') => {
    const url = `/api/v1/credentials?platform=${encodeURIComponent(MOODLE)}&user=${sub}`;
    return typeof auth === 'string'
      ? fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${auth}` } })
      : auth.get(url);
  };
  /** What the rules say for learner 4 from their stored facts. */
  const expected = async () => {
    const db = server.ctx.store.db;
    const rows = await queryRows<{ activity_iri: string; kind: 'completed' | 'uncompleted'; ts: string; id: number; voided: boolean; course_id: number }>(
      db,
      sql`SELECT e.id, e.activity_iri, e.kind, e.statement_timestamp AS ts, e.voided, e.course_id FROM completion_events e JOIN users u ON u.id = e.user_id WHERE u.sub = '4'`,
    );
    const course = await findCourse(db, (await ensurePlatform(db, MOODLE)).id, '2');
    const rules = compileRules(
      socle28,
      MAPPING.map((m) => ({ courseId: course?.id ?? 0, activityId: m.activityIri, competencyKey: m.competencyKey, minutes: m.minutes })),
    );
    return computeCoverage(
      rules,
      rows.map((r) => ({
        id: String(r.id),
        activityId: r.activity_iri,
        courseId: r.course_id,
        kind: r.kind,
        success: null,
        durationSeconds: null,
        timestamp: new Date(r.ts).getTime(),
        sequence: r.id,
        voided: r.voided,
      })),
      [],
    );
  };

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    const key = await createXapiKey(db, MOODLE);
    xapiAuth = basic(key.key, key.secret);
    const other = await ensurePlatform(db, 'https://other.example.org');
    admin = (await createApiToken(db, { name: 'warehouse', role: 'admin', platformId: null })).token;
    scopedOther = (await createApiToken(db, { name: 'other', role: 'admin', platformId: other.id })).token;
    // the captured launch says en-US: this learner's Moodle is in French
    const launched = await moodle.launch(server, 'learner', { locale: 'fr' });
    expect(launched.landedOn).toBe('/lti/me');
    learner = launched.client;
    const course = await findCourse(db, (await ensurePlatform(db, MOODLE)).id, '2');
    if (!course) throw new Error('no course after the launch');
    await saveMapping(db, server.ctx, { courseId: course.id, referential: socle28, activityIris: new Set(MAPPING.map((m) => m.activityIri)), entries: MAPPING, actor: 'test' });
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('shows the empty state before any completion, with the référentiel and every domain still to do', async () => {
    const body = await page(learner);
    expect(body).toContain('Ma progression');
    expect(body).toContain('Vous n’avez encore aucune heure validée');
    expect(body).toContain(`${socle28.title} version ${socle28.version}`);
    expect(body).toContain('0 h validées sur 28 h');
    expect(body).toContain('Cybersécurité en santé : encore 5 h');
    // the next step: each mapped activity of the course under its domain, with its hours and a link to Moodle
    const html = await (await learner.get('/lti/me')).text();
    const steps = nextSteps(html);
    expect(steps.get('Cybersécurité en santé')).toEqual([
      // names unknown before any statement: in IRI order
      { href: ASSIGN, text: expect.stringMatching(/— 1 h · compétence\(s\) 2\.2 · cours « .+ »$/) },
      { href: BOOK, text: expect.stringMatching(/— 4 h · compétence\(s\) 2\.1/) },
    ]);
    expect(steps.get('Données de santé')).toEqual([{ href: PAGE, text: expect.stringMatching(/— 1 h 30 · compétence\(s\) 1\.1/) }]);
    // a domain with nothing mapped says so, and what to do
    expect(steps.get('Communication en santé')).toEqual([]);
    expect(body).toContain('Aucune activité de vos cours ne reste à faire pour ce domaine.');
    const badges = await page(learner, 'badges');
    expect(badges).toContain('Aucun badge obtenu pour l’instant.');
    expect(badges).toContain('Badges à venir');
    expect(await (await credentials(learner)).json()).toEqual([]);
  });

  it('credits the captured Moodle completions at the next load: the numbers match the rules, one credential for the domain', async () => {
    await postBatch(moodleBatch('10')); // book completed
    await postBatch(moodleBatch('15')); // assignment completed
    const rules = await expected();
    expect(rules.validatedMinutes).toBe(300);
    const body = await page(learner);
    expect(body).not.toContain('aucune heure validée');
    expect(body).toContain(`${rules.validatedMinutes / 60} h validées sur 28 h`);
    expect(rules.domains.find((d) => d.code === '2')?.validatedMinutes).toBe(300);
    expect(body).toMatch(/2 Cybersécurité en santé 5 h 5 h/);
    expect(body).toContain('Données de santé : encore 6 h');
    expect(body).not.toContain('Cybersécurité en santé : encore');
    // completed activities leave the next step; what is left of domain 1 stays
    const steps = nextSteps(await (await learner.get('/lti/me')).text());
    expect(steps.has('Cybersécurité en santé')).toBe(false);
    expect(steps.get('Données de santé')?.map((a) => a.href)).toEqual([PAGE]);
    expect(body).toContain('Handbook');
    expect(body).toContain('Assignment 1: reflection');
    expect(body).toContain('22 novembre 2026');

    const list = z.array(credential).parse(await (await credentials(learner)).json());
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'active', achievement: { domain: '2' } });
    expect(list[0]?.jwt.split('.')).toHaveLength(3);
    // the earned statement waits in the outbox
    const earned = await queryRows<{ n: number }>(
      server.ctx.store.db,
      sql`SELECT count(*)::int AS n FROM xapi_outbox WHERE statement->'verb'->>'id' LIKE '%earned%'`,
    );
    expect(earned[0]?.n).toBe(1);

    // completing again, and a full recompute, issue nothing more
    await postBatch(moodleBatch('15'));
    await recomputeAll(server.ctx.store.db, coverageDeps(server.ctx, server.ctx.store.db));
    expect((await (await credentials(admin)).json()) as Credential[]).toHaveLength(1);

    const badges = await page(learner, 'badges');
    expect(badges).toContain('Badges obtenus');
    expect(badges).toMatch(/Cybersécurité en santé — 5 h Obtenu le/);
    expect(badges).toContain('Télécharger (PNG)');
    expect(badges).toContain('Lien de vérification à partager');
    const html = await (await learner.get('/lti/me?tab=badges')).text();
    expect(html).toContain(`href="/badges/${list[0]?.id}/badge.png"`);
    expect((await fetch(`${server.url}/badges/${list[0]?.id}/badge.png`)).headers.get('content-type')).toBe('image/png');
  });

  it('manual credits show as such, with their justification', async () => {
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const user = await findUser(db, platform.id, '4');
    const credit = await db.transaction((tx) =>
      grantManualCredit(tx, coverageDeps(server.ctx, tx), {
        platformId: platform.id,
        userId: user?.id ?? 0,
        referentialId: socle28.id,
        competencyKey: '1.2',
        minutes: 90,
        justification: 'Séance en présentiel du 12/11',
        actor: 'test',
      }),
    );
    const body = await page(learner);
    expect(body).toContain('Crédit manuel Justification : Séance en présentiel du 12/11');
    expect(body).toContain('6 h 30 validées sur 28 h');
    await db.transaction((tx) => revokeManualCredit(tx, coverageDeps(server.ctx, tx), { id: credit.id, actor: 'test' }));
    expect(await page(learner)).not.toContain('Crédit manuel');
  });

  it('the captured un-completion revokes the credential: the verification endpoint and the page say revoked', async () => {
    const [before] = (await (await credentials(learner)).json()) as Credential[];
    await postBatch(moodleBatch('27')); // book uncompleted
    const rules = await expected();
    expect(rules.validatedMinutes).toBe(60);
    expect(await page(learner)).toContain('Cybersécurité en santé : encore 4 h');
    // the un-completed book is to do again, with its name from the statements
    const [book] = nextSteps(await (await learner.get('/lti/me')).text()).get('Cybersécurité en santé') ?? [];
    expect(book).toEqual({ href: BOOK, text: expect.stringMatching(/^Handbook — 4 h/) });
    const [after] = (await (await credentials(learner)).json()) as Credential[];
    expect(after).toMatchObject({ id: before?.id, status: 'revoked' });
    const verification = (await (await fetch(`${server.url}/badges/${before?.id}`, { headers: { accept: 'application/json' } })).json()) as { status: string };
    expect(verification.status).toBe('revoked');
    const badges = await page(learner, 'badges');
    expect(badges).toMatch(/Révoqué le .* credits dropped below the threshold/);

    // completing the book again issues a new credential; the revoked one stays revoked
    const again = moodleBatch('10').map((s) => ({ ...s, timestamp: '2026-11-22T17:00:00.000Z' }));
    await postBatch(again);
    const list = (await (await credentials(learner)).json()) as Credential[];
    expect(list.map((c) => c.status)).toEqual(['revoked', 'active']);
  });

  it('GET /api/v1/credentials and /api/v1/coverage: admin token, own LTI session, instructor of the course; others refused', async () => {
    const coverage = (auth: Client | string, sub: string) => {
      const url = `/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&user=${sub}&referential=${socle28.id}`;
      return typeof auth === 'string' ? fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${auth}` } }) : auth.get(url);
    };
    expect((await credentials(admin)).status).toBe(200);
    expect((await credentials(scopedOther)).status).toBe(403);
    expect((await fetch(`${server.url}/api/v1/credentials?platform=${encodeURIComponent(MOODLE)}&user=4`)).status).toBe(401);
    expect((await credentials(learner)).status).toBe(200);
    expect((await coverage(learner, '4')).status).toBe(200);
    // the learner's session never shows another user's records
    const instructor = (await moodle.launch(server, 'instructor')).client;
    const instructorSub = String((await queryRows<{ sub: string }>(server.ctx.store.db, sql`SELECT sub FROM users WHERE sub <> '4' ORDER BY id LIMIT 1`))[0]?.sub);
    expect((await credentials(learner, instructorSub)).status).toBe(403);
    expect((await coverage(learner, instructorSub)).status).toBe(403);
    expect((await learner.get(`/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&context=2`)).status).toBe(403);
    // the instructor sees the learners of their course, and the course
    expect((await credentials(instructor, '4')).status).toBe(200);
    expect((await coverage(instructor, '4')).status).toBe(200);
    expect((await instructor.get(`/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&context=2`)).status).toBe(200);
    // a session token without its cookie (LTI_SESSION=same-site), or a forged one, is refused
    const ltik = learner.ltik as string;
    expect((await fetch(`${server.url}/api/v1/credentials?platform=${encodeURIComponent(MOODLE)}&user=4`, { headers: { authorization: `Bearer ${ltik}` } })).status).toBe(401);
    expect((await credentials(`${ltik.slice(0, -2)}xx`)).status).toBe(401);
    const missing = await fetch(`${server.url}/api/v1/credentials?platform=${encodeURIComponent(MOODLE)}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe('query.user');
  });

  it('speaks English when the launch locale is English', async () => {
    const english = (await moodle.launch(server, 'learner')).client; // the captured launch locale (en)
    const body = await page(english);
    expect(body).toContain('My progress');
    expect(body).toMatch(/validated out of 28 h/);
    expect(body).toContain('Still to do');
    expect(await page(english, 'badges')).toContain('Upcoming badges');
  });
});
