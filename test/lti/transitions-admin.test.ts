/**
 * The admin page's "Versions de référentiel" section over real HTTP after a simulated Moodle launch: the version in
 * use with a later one offered, the table proposed and edited with its selects, the preview naming the learner
 * who loses hours, the application refused without confirmation or without the losses accepted, then applied; the
 * CSV; a teacher refused; another platform's transition out of reach.
 */
import { sql } from 'drizzle-orm';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { queryRows } from '../../src/db/store';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { getReferential, saveReferential } from '../../src/referentials/catalogue';
import { proposeTransition } from '../../src/transitions/service';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { NEW, nextVersion, OLD } from '../transitions/support';

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('the admin page’s référentiel versions on %s', (driver) => {
  let server: TestServer;
  let admin: Client;
  let teacher: Client;
  let otherTransition: number;
  const htmx = { 'HX-Request': 'true' };
  const db = () => server.ctx.store.db;

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { badges: undefined });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    admin = (await moodle.launch(server, 'administrator', { locale: 'fr', sub: '2' })).client;
    teacher = (await moodle.launch(server, 'instructor', { locale: 'fr' })).client;
    await saveReferential(db(), nextVersion(), 'import');
    const old = await getReferential(db(), OLD.id, OLD.version);
    if (!old) throw new Error('no bundled version');
    const platform = await ensurePlatform(db(), moodle.issuer);
    const course = await ensureCourse(db(), platform.id, '2');
    const iri = `${moodle.issuer}/mod/page/view.php?id=5`;
    await saveMapping(db(), server.ctx, { courseId: course.id, referential: old, activityIris: new Set([iri]), entries: [{ activityIri: iri, competencyKey: '2.1', minutes: 60 }], actor: 'test' });
    const learner = await ensureUser(db(), platform.id, '77', { name: 'Léa Lemoine' });
    await db().transaction((tx) =>
      grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: platform.id, userId: learner.id, referentialId: OLD.id, referentialVersion: OLD.version, competencyKey: '3.3', minutes: 45, justification: 'Atelier', actor: 'test' }),
    );
    const other = await ensurePlatform(db(), 'https://other.example.org');
    otherTransition = (await proposeTransition(db(), coverageDeps(server.ctx, db()), { platformId: other.id, from: OLD, to: NEW, actor: 'cli' })).id;
  }, 60_000);
  afterAll(() => server?.destroy());

  it('proposes, edits, previews, refuses an unconfirmed or lossy application, applies, and gives the CSV', async () => {
    const page = text(await (await admin.get('/lti/admin')).text());
    expect(page).toContain('Versions de référentiel');
    expect(page).toContain('V1.1.2022 → V2.0.2027');

    const proposed = await admin.post('/lti/admin/transitions', { form: { versions: `${OLD.id}@${OLD.version}>${NEW.id}@${NEW.version}` }, headers: htmx });
    expect(proposed.status).toBe(201);
    const html = await proposed.text();
    const id = Number(/\/lti\/admin\/transitions\/(\d+)\/apply/.exec(html)?.[1]);
    expect(id).toBeGreaterThan(0);
    // a select per old competency; the renumbered one proposed by its title, the split one with none
    expect(html.match(/<select id="transition-to-/g)).toHaveLength(15);
    expect(html).toMatch(/name="to:1\.1"[^>]*>[\s\S]*?<option value="1\.0" selected>/);
    expect(html).toMatch(/name="to:2\.1"[^>]*>\s*<option value="none" selected>/);
    expect(text(html)).toContain('même intitulé');
    expect(text(html)).toContain('1 apprenant(s) concerné(s), 1 dont les heures changent, 1 qui perdent des heures.');
    expect(text(html)).toContain('perte Léa Lemoine (77)');

    // the split: the first half chosen in its select (the other selects sent unchanged)
    const form: Record<string, string> = {};
    for (const m of html.matchAll(/name="to:([^"]+)"[^>]*>[\s\S]*?<option value="([^"]+)" selected>/g)) form[`to:${m[1]}`] = m[2] as string;
    form['to:2.1'] = '2.1a';
    const saved = await admin.post(`/lti/admin/transitions/${id}`, { form, headers: htmx });
    expect(saved.status).toBe(200);
    const savedHtml = await saved.text();
    expect(savedHtml).toContain('data-testid="transition-saved"');
    expect(savedHtml).toMatch(/name="to:2\.1"[^>]*>[\s\S]*?<option value="2\.1a" selected>/);
    expect(text(savedHtml)).toContain('modifié à la main');
    const [edited] = await queryRows<{ n: number }>(db(), sql`SELECT count(*)::int AS n FROM audit_events WHERE action = 'referential-transition.edit'`);
    expect(edited?.n).toBe(1);
    // a bad target is a 400, nothing changed
    expect((await admin.post(`/lti/admin/transitions/${id}`, { form: { 'to:2.1': '3.3' }, headers: { Accept: 'application/json' } })).status).toBe(400);

    // applying: refused without the confirmation, then without the losses accepted
    expect((await admin.post(`/lti/admin/transitions/${id}/apply`, { form: {}, headers: { Accept: 'application/json' } })).status).toBe(400);
    const lossy = await admin.post(`/lti/admin/transitions/${id}/apply`, { form: { confirm: 'on' }, headers: { Accept: 'application/json' } });
    expect(lossy.status).toBe(409);
    expect(((await lossy.json()) as { error: { code: string } }).error.code).toBe('conflict');
    const [still] = await queryRows<{ n: number }>(db(), sql`SELECT count(*)::int AS n FROM activity_mappings WHERE referential_version = ${OLD.version}`);
    expect(still?.n).toBe(1);

    const applied = await admin.post(`/lti/admin/transitions/${id}/apply`, { form: { confirm: 'on', acceptLosses: 'on' }, headers: htmx });
    expect(applied.status).toBe(200);
    const appliedHtml = await applied.text();
    expect(appliedHtml).toContain('data-testid="transition-applied"');
    expect(text(appliedHtml)).toContain('Rapport du changement');
    expect(appliedHtml).not.toContain('data-testid="transition-apply"');
    const [moved] = await queryRows<{ key: string; version: string }>(db(), sql`SELECT competency_key AS key, referential_version AS version FROM activity_mappings`);
    expect(moved).toEqual({ key: '2.1a', version: NEW.version });

    const csv = await admin.get(`/lti/admin/transitions/${id}/report.csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).split('\r\n').slice(1, 3)).toEqual([
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};77;Léa Lemoine;total;0,75;0,00;0,75;0,00`,
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};77;Léa Lemoine;3;0,75;0,00;0,75;0,00`,
    ]);
    expect((await admin.post(`/lti/admin/transitions/${id}/apply`, { form: { confirm: 'on', acceptLosses: 'on' }, headers: { Accept: 'application/json' } })).status).toBe(409);
  });

  it('keeps a teacher out, and another platform’s transition out of reach', async () => {
    expect((await teacher.get('/lti/admin/transitions/1', { Accept: 'application/json' })).status).toBe(403);
    expect((await teacher.post('/lti/admin/transitions', { form: { versions: `${OLD.id}@${OLD.version}>${NEW.id}@${NEW.version}` }, headers: { Accept: 'application/json' } })).status).toBe(403);
    expect((await admin.get(`/lti/admin/transitions/${otherTransition}`, { Accept: 'application/json' })).status).toBe(404);
    expect((await admin.post(`/lti/admin/transitions/${otherTransition}/apply`, { form: { confirm: 'on', acceptLosses: 'on' }, headers: { Accept: 'application/json' } })).status).toBe(404);
    expect((await admin.get(`/lti/admin/transitions/${otherTransition}/report.csv`)).status).toBe(404);
    expect((await admin.get('/lti/admin/transitions/abc', { Accept: 'application/json' })).status).toBe(400);
  });
});
