/**
 * The admin page's "Programmes" section, through real launches from the simulated Moodle: listed, added and edited
 * with courses picked from the platform's known courses, in French and English; a refused form shows why on the
 * form and saves nothing; another platform's programme is neither shown nor changed.
 */
import { eq } from 'drizzle-orm';
import { auditEvents } from '../../src/db/schema';
import { ensureCourse, ensurePlatform, findPlatform, type Platform } from '../../src/identity/records';
import { addProgramme, listProgrammes } from '../../src/programmes/service';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';

const REF = 'socle-sante-niveaux-4-8@V1.1.2022';

describe.each(drivers)('the programmes of the admin page on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let admin: Client;
  let platform: Platform;

  /** The form as a browser posts it (urlencoded, a `courses` field per ticked box), with the session's ltik. */
  const submit = (client: Client, path: string, fields: [string, string][], headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}?ltik=${encodeURIComponent(client.ltik ?? '')}`, {
      method: 'POST',
      headers: { Cookie: client.cookieHeader(), Accept: 'text/html', 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  const form = (over: Record<string, string> = {}, courses = ['2', '31']): [string, string][] => [
    ...Object.entries({ name: 'IFSI promotion 2025', referential: REF, intakeYear: '2025', dueDate: '', category: '', ...over }),
    ...courses.map((c): [string, string] => ['courses', c]),
  ];

  beforeAll(async () => {
    server = await startTestServer(driver);
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const r = await moodle.launch(server, 'administrator', { locale: 'fr' });
    expect(r.landedOn).toBe('/lti/admin');
    admin = r.client;
    platform = (await findPlatform(server.ctx.store.db, moodle.issuer)) as Platform;
    await ensureCourse(server.ctx.store.db, platform.id, '31', 'Socle — année 2');
  }, 60_000);
  afterAll(async () => server?.destroy());

  it('shows the section with the known courses to pick and the référentiels with hours', async () => {
    const page = await (await admin.get('/lti/admin', { Accept: 'text/html' })).text();
    expect(page).toContain('<h2 id="programmes-title">Programmes et échéances</h2>');
    expect(page).toContain('Aucun programme pour l’instant.');
    expect(page).toMatch(/<input type="checkbox" name="courses" value="31"> Socle — année 2/);
    expect(page).toContain(`<option value="${REF}">`);
    // a référentiel without hours (a certification) cannot be a programme's
    const section = page.slice(page.indexOf('<section id="programmes"'), page.indexOf('</section>', page.indexOf('<section id="programmes"')));
    expect(section).toContain(`<option value="${REF}">`);
    expect(section).not.toContain('value="certification-ia-sante-5-activites@');
  });

  it('refuses a form without course or with a due date before the intake: the reasons on the form, nothing saved', async () => {
    const none = await submit(admin, '/lti/admin/programmes', form({}, []));
    expect(none.status).toBe(400);
    const body = await none.text();
    expect(body).toContain('Rien n’a été enregistré : corrigez les champs signalés.');
    expect(body).toMatch(/<fieldset aria-invalid="true" aria-describedby="programme-courses-error">/);
    expect(body).toContain('<small class="error" id="programme-courses-error">at least one course</small>');
    expect(body).toContain('value="IFSI promotion 2025"');
    const early = await submit(admin, '/lti/admin/programmes', form({ dueDate: '2025-06-30' }));
    expect(early.status).toBe(400);
    expect(await early.text()).toMatch(/id="programme-dueDate" value="2025-06-30" aria-describedby="programme-due-hint programme-dueDate-error" aria-invalid="true"/);
    expect(await listProgrammes(server.ctx.store.db, platform.id)).toEqual([]);
  });

  it('adds a programme (default due date), audited under the administrator, then lists it', async () => {
    const res = await submit(admin, '/lti/admin/programmes', form());
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('Programme enregistré.');
    expect(body).toMatch(/<th scope="row">IFSI promotion 2025<\/th>\s*<td>socle-sante-niveaux-4-8@V1.1.2022<\/td>\s*<td>2025<\/td>\s*<td>31 août 2028<\/td>/);
    const [saved] = await listProgrammes(server.ctx.store.db, platform.id);
    expect(saved).toMatchObject({ dueDate: '2028-08-31', courses: [expect.objectContaining({ contextId: '2' }), expect.objectContaining({ contextId: '31' })] });
    const [audit] = await server.ctx.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'programme.add'));
    expect(audit?.actor).toMatch(/^lti:.+#.+/);
    // a name taken: 409, the form again
    const taken = await submit(admin, '/lti/admin/programmes', form());
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain('<small class="error" id="programme-name-error">already used</small>');
  });

  it('edits a programme from its form (htmx gets the section alone)', async () => {
    const [programme] = await listProgrammes(server.ctx.store.db, platform.id);
    const id = programme?.id as number;
    const edit = await (await admin.get(`/lti/admin/programmes/${id}`, { Accept: 'text/html', 'HX-Request': 'true' })).text();
    expect(edit.startsWith('<section id="programmes"')).toBe(true);
    expect(edit).toContain('Modifier le programme IFSI promotion 2025');
    expect(edit).toContain('id="programme-dueDate" value="2028-08-31"');
    expect(edit).toMatch(/value="31" checked>/);
    const res = await submit(admin, `/lti/admin/programmes/${id}`, form({ dueDate: '2028-06-30', category: 'IFSI' }, ['31']), { 'HX-Request': 'true' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Programme enregistré.');
    const [changed] = await listProgrammes(server.ctx.store.db, platform.id);
    expect(changed).toMatchObject({ dueDate: '2028-06-30', category: 'IFSI', courses: [expect.objectContaining({ contextId: '31' })] });
  });

  it('never shows nor changes another platform’s programme', async () => {
    const db = server.ctx.store.db;
    const other = await ensurePlatform(db, 'https://other.example.org');
    await ensureCourse(db, other.id, '5', 'Ailleurs');
    const theirs = await addProgramme(db, other, { name: 'Autre établissement', referential: REF, courses: ['5'], intakeYear: 2025 }, 'cli');
    const page = await (await admin.get('/lti/admin', { Accept: 'text/html' })).text();
    expect(page).not.toContain('Autre établissement');
    expect((await admin.get(`/lti/admin/programmes/${theirs.id}`, { Accept: 'application/json' })).status).toBe(404);
    expect((await submit(admin, `/lti/admin/programmes/${theirs.id}`, form({ name: 'Pris' }), { Accept: 'application/json' })).status).toBe(404);
    expect((await listProgrammes(db, other.id))[0]?.name).toBe('Autre établissement');
  });

  it('speaks English to an English session', async () => {
    const en = (await moodle.launch(server, 'administrator', { locale: 'en' })).client;
    const page = await (await en.get('/lti/admin', { Accept: 'text/html' })).text();
    expect(page).toContain('<h2 id="programmes-title">Programmes and deadlines</h2>');
    expect(page).toContain('<td>30 June 2028</td>');
    expect(page).toContain('Add a programme');
  });
});
