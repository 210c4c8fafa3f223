import { and, eq, isNull, sql } from 'drizzle-orm';
import nock from 'nock';
import { auditEvents, institutions, manualCreditEvidence, manualCredits, platformSettings, users } from '../../src/db/schema';
import { formatDate } from '../../src/domain/format';
import { setInstitution } from '../../src/identity/institution';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { MAX_EVIDENCE_BYTES } from '../../src/coverage/evidence';
import { ensurePlatform, ensureUser, findPlatform, type User } from '../../src/identity/records';
import { sealSecret } from '../../src/secrets';
import { authenticateXapiCredentials, authenticateXapiKey, createXapiClient, createXapiKey, listXapiKeys } from '../../src/xapi/keys';
import { listPlatforms, registerPlatform } from '../../lti/registration';
import { fixtureReferentials } from '../coverage/support';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';

const OTHER = 'https://other.example.org';
const REF = 'socle-sante-28h';
const VERSION = 'V1.1.2022';
/** The smallest files that are what they say: a PDF and a PNG by their first bytes. */
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\n'), Buffer.alloc(2_000, 0x20), Buffer.from('\n%%EOF\n')]);
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe.each(drivers)('per-learner page, manual credits and the admin sections on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let admin: Client;
  let teacher: Client;
  let learner: Client;
  let sam: User;
  let outsider: User;
  let stranger: User;
  let strangerCredit: number;
  let strangerKey: string;

  const db = () => server.ctx.store.db;
  const counts = async () => {
    const rows = (
      await db().execute(
        sql`SELECT (SELECT count(*)::int FROM manual_credits) AS credits, (SELECT count(*)::int FROM manual_credit_evidence) AS evidence,
                   (SELECT count(*)::int FROM audit_events) AS audit, (SELECT count(*)::int FROM manual_credits WHERE revoked_at IS NOT NULL) AS revoked`,
      )
    ) as unknown as { rows: { credits: number; evidence: number; audit: number; revoked: number }[] };
    const [row] = rows.rows;
    if (!row) throw new Error('no counts');
    return row;
  };
  /** A multipart form posted with the session's ltik and cookie, as the page's form (or htmx) sends it. */
  const postForm = (client: Client, path: string, fields: Record<string, string>, file?: { name: string; type: string; data: Buffer }, headers: Record<string, string> = {}) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file) form.append('evidence', new Blob([new Uint8Array(file.data)], { type: file.type }), file.name);
    return fetch(`${server.url}${path}`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
      headers: { Authorization: `Bearer ${client.ltik}`, Cookie: client.cookieHeader(), Accept: 'application/json', ...headers },
    });
  };
  const grantFields = (hours = '1,5') => ({ competency: `${REF}@${VERSION}|2.1`, hours, justification: 'Séance en présentiel du 12 octobre' });
  const json = { Accept: 'application/json' };

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    learner = (await moodle.launch(server, 'learner', { locale: 'fr' })).client; // Sam Student (4), course 2
    teacher = (await moodle.launch(server, 'instructor', { locale: 'fr' })).client; // Terry Teacher (3), course 2
    admin = (await moodle.launch(server, 'administrator', { locale: 'fr', sub: '2' })).client;
    // a learner of the same platform in another course only
    await moodle.launch(server, 'learner', { sub: '9', context: '7', claims: { name: 'Olga Outsider' } });
    const platform = await ensurePlatform(db(), moodle.issuer);
    await db().insert(platformSettings).values({ platformId: platform.id, defaultReferentialId: REF, defaultReferentialVersion: VERSION });
    const userOf = async (sub: string) => {
      const [user] = await db().select().from(users).where(and(eq(users.platformId, platform.id), eq(users.sub, sub)));
      if (!user) throw new Error(`no user ${sub}`);
      return user;
    };
    sam = await userOf('4');
    outsider = await userOf('9');
    // another platform: its learner, credit and key must stay out of reach
    const other = await ensurePlatform(db(), OTHER);
    stranger = await ensureUser(db(), other.id, '4', { name: 'Sam Stranger' });
    strangerCredit = (
      await grantManualCredit(db(), coverageDeps(server.ctx, db()), {
        platformId: other.id,
        userId: stranger.id,
        referentialId: REF,
        competencyKey: '1.1',
        minutes: 60,
        justification: 'other platform',
        actor: 'cli',
      })
    ).id;
    strangerKey = (await createXapiKey(db(), OTHER)).key;
    await registerPlatform(server.ctx, server.lti.provider, {
      issuer: OTHER,
      clientId: 'other-client',
      deploymentIds: ['1'],
      authEndpoint: `${OTHER}/mod/lti/auth.php`,
      tokenEndpoint: `${OTHER}/mod/lti/token.php`,
      jwksUrl: `${OTHER}/mod/lti/certs.php`,
      active: true,
    });
  }, 60_000);
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('keeps a learner out of every one of these routes', async () => {
    const before = await counts();
    for (const path of [`/lti/learners/${sam.id}`, `/lti/learners/${outsider.id}`, '/lti/admin/learners?q=Sam']) {
      expect((await learner.get(path, json)).status).toBe(403);
    }
    expect((await postForm(learner, `/lti/learners/${sam.id}/credits`, grantFields())).status).toBe(403);
    expect((await learner.post('/lti/admin/xapi-keys', { headers: json })).status).toBe(403);
    expect((await learner.post('/lti/admin/platforms', { form: { clientId: moodle.clientId, active: 'false' }, headers: json })).status).toBe(403);
    // and without a session at all
    expect((await fetch(`${server.url}/lti/learners/${sam.id}`, { headers: json })).status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it('shows a teacher the learners of their course only, and no other platform', async () => {
    const page = await teacher.get(`/lti/learners/${sam.id}`);
    expect(page.status).toBe(200);
    const body = text(await page.text());
    expect(body).toContain('Apprenant : Sam Student');
    expect(body).toContain('Aucun crédit manuel pour cet apprenant.');
    expect(body).toContain('Accorder un crédit manuel');
    expect((await teacher.get(`/lti/learners/${outsider.id}`, json)).status).toBe(403);
    expect((await teacher.get(`/lti/learners/${stranger.id}`, json)).status).toBe(404);
    expect((await teacher.get('/lti/learners/abc', json)).status).toBe(400);
    // the admin search is the administrator's
    expect((await teacher.get('/lti/admin/learners?q=Sam', json)).status).toBe(403);
    const before = await counts();
    expect((await postForm(teacher, `/lti/learners/${outsider.id}/credits`, grantFields())).status).toBe(403);
    expect((await postForm(teacher, `/lti/learners/${stranger.id}/credits`, grantFields())).status).toBe(404);
    expect(await counts()).toEqual(before);
    // the course page's roster links to the learner page
    const course = await teacher.get('/lti/course?tab=roster');
    expect(await course.text()).toContain(`/lti/learners/${sam.id}?ltik=`);
  });

  it('refuses a wrong file, a file too big, wrong hours or no justification: 4xx and nothing changed', async () => {
    const before = await counts();
    const cases: [Record<string, string>, { name: string; type: string; data: Buffer } | undefined, number, string][] = [
      [grantFields(), { name: 'notes.pdf', type: 'application/pdf', data: Buffer.from('just text, not a PDF') }, 400, 'evidence'],
      [grantFields(), { name: 'page.html', type: 'text/html', data: Buffer.from('<html><script>alert(1)</script></html>') }, 400, 'evidence'],
      [grantFields(), { name: 'big.pdf', type: 'application/pdf', data: Buffer.concat([PDF, Buffer.alloc(MAX_EVIDENCE_BYTES, 0x20)]) }, 413, 'evidence'],
      [grantFields(), { name: 'empty.png', type: 'image/png', data: Buffer.alloc(0) }, 400, 'evidence'],
      [grantFields('abc'), undefined, 400, 'body.hours'],
      [grantFields('-2'), undefined, 400, 'body.hours'],
      [grantFields('0'), undefined, 400, 'body.hours'],
      [grantFields('100000'), undefined, 400, 'body.hours'],
      [{ ...grantFields(), justification: '   ' }, undefined, 400, 'body.justification'],
      [{ ...grantFields(), competency: `${REF}@${VERSION}|9.9` }, undefined, 400, 'competency'],
      [{ ...grantFields(), competency: 'nonsense' }, undefined, 400, 'body.competency'],
    ];
    for (const [fields, file, status, path] of cases) {
      const res = await postForm(teacher, `/lti/learners/${sam.id}/credits`, fields, file);
      expect([res.status, path]).toEqual([status, path]);
      const error = ((await res.json()) as { error: { details?: { path: string }[] } }).error;
      expect(error.details?.[0]?.path).toBe(path);
    }
    // a body beyond the upload limit is refused before it is read
    const huge = await postForm(teacher, `/lti/learners/${sam.id}/credits`, grantFields(), { name: 'huge.pdf', type: 'application/pdf', data: Buffer.concat([PDF, Buffer.alloc(MAX_EVIDENCE_BYTES + 512 * 1024)]) });
    expect(huge.status).toBe(413);
    expect(await counts()).toEqual(before);
  });

  it('grants a credit with its evidence, lets those who may see it download it, and revokes it (audited)', async () => {
    const before = await counts();
    const res = await postForm(teacher, `/lti/learners/${sam.id}/credits`, grantFields('1,5'), { name: 'feuille émargement.pdf', type: 'application/octet-stream', data: PDF });
    expect(res.status).toBe(201);
    const { credit } = (await res.json()) as { credit: { id: number; minutes: number; evidence: boolean } };
    expect(credit).toMatchObject({ minutes: 90, evidence: true });
    const [stored] = await db().select().from(manualCreditEvidence).where(eq(manualCreditEvidence.creditId, credit.id));
    expect(stored).toMatchObject({ contentType: 'application/pdf', fileName: 'feuille émargement.pdf', size: PDF.length });
    expect(Buffer.compare(stored?.data ?? Buffer.alloc(0), PDF)).toBe(0);
    const [grantAudit] = await db().select().from(auditEvents).where(eq(auditEvents.action, 'manual-credit.grant')).orderBy(sql`${auditEvents.id} DESC`).limit(1);
    expect(grantAudit).toMatchObject({ actor: `lti:${moodle.issuer}#3`, subject: `user:${sam.id}`, after: { id: credit.id, minutes: 90, evidence: { contentType: 'application/pdf', size: PDF.length } } });

    const page = text(await (await teacher.get(`/lti/learners/${sam.id}`)).text());
    expect(page).toContain('Justification : Séance en présentiel du 12 octobre');
    expect(page).toContain('1 h 30');
    expect(page).toContain('Télécharger feuille émargement.pdf');

    for (const client of [teacher, admin]) {
      const file = await client.get(`/lti/learners/${sam.id}/credits/${credit.id}/evidence`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('application/pdf');
      expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename="feuille _margement.pdf"; filename\*=UTF-8''feuille%20%C3%A9margement.pdf$/);
      expect(file.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.compare(Buffer.from(await file.arrayBuffer()), PDF)).toBe(0);
    }
    expect((await learner.get(`/lti/learners/${sam.id}/credits/${credit.id}/evidence`)).status).toBe(403);
    // the credit's number under another learner's URL is nothing
    expect((await admin.get(`/lti/learners/${outsider.id}/credits/${credit.id}/evidence`, json)).status).toBe(404);

    // an image is evidence too
    const png = await postForm(admin, `/lti/learners/${outsider.id}/credits`, grantFields('2'), { name: 'scan.png', type: 'image/png', data: PNG });
    expect(png.status).toBe(201);
    // kept byte for byte (its signature has CR LF, as a multipart delimiter does)
    const pngId = ((await png.json()) as { credit: { id: number } }).credit.id;
    const [pngStored] = await db().select().from(manualCreditEvidence).where(eq(manualCreditEvidence.creditId, pngId));
    expect(pngStored?.contentType).toBe('image/png');
    expect(Buffer.compare(pngStored?.data ?? Buffer.alloc(0), PNG)).toBe(0);

    const revoke = await teacher.post(`/lti/learners/${sam.id}/credits/${credit.id}/revoke`, { form: { reason: 'doublon' }, headers: json });
    expect(revoke.status).toBe(200);
    const [revoked] = await db().select().from(manualCredits).where(eq(manualCredits.id, credit.id));
    expect(revoked).toMatchObject({ revokedBy: `lti:${moodle.issuer}#3`, revocationReason: 'doublon' });
    expect((await teacher.post(`/lti/learners/${sam.id}/credits/${credit.id}/revoke`, { form: {}, headers: json })).status).toBe(404);
    const after = await counts();
    expect(after).toEqual({ credits: before.credits + 2, evidence: before.evidence + 2, audit: after.audit, revoked: before.revoked + 1 });
    expect(after.audit).toBe(before.audit + 3);

    // a plain form (no script) goes back to the page, which says what happened
    const plain = await postForm(teacher, `/lti/learners/${sam.id}/credits?ltik=${encodeURIComponent(String(teacher.ltik))}`, grantFields('3'), undefined, { Accept: 'text/html' });
    expect(plain.status).toBe(303);
    expect(plain.headers.get('location')).toMatch(new RegExp(`^/lti/learners/${sam.id}\\?ltik=.+&done=granted$`));
    const htmx = await postForm(teacher, `/lti/learners/${sam.id}/credits`, grantFields('x'), undefined, { 'HX-Request': 'true', Accept: 'text/html' });
    expect(htmx.status).toBe(400);
    expect(text(await htmx.text())).toContain('hours');
  });

  it('lets an administrator see anyone of their platform and nobody of another', async () => {
    expect((await admin.get(`/lti/learners/${outsider.id}`)).status).toBe(200);
    expect((await admin.get(`/lti/learners/${stranger.id}`, json)).status).toBe(404);
    const before = await counts();
    expect((await admin.post(`/lti/learners/${stranger.id}/credits/${strangerCredit}/revoke`, { form: {}, headers: json })).status).toBe(404);
    expect((await admin.post(`/lti/learners/${sam.id}/credits/${strangerCredit}/revoke`, { form: {}, headers: json })).status).toBe(404);
    expect((await postForm(admin, `/lti/learners/${stranger.id}/credits`, grantFields())).status).toBe(404);
    expect(await counts()).toEqual(before);
    const [still] = await db().select().from(manualCredits).where(eq(manualCredits.id, strangerCredit));
    expect(still?.revokedAt).toBeNull();
  });

  it('searches the learners of the platform by name or id, paged, and links each to their page', async () => {
    const byName = await admin.get('/lti/admin/learners?q=sam', json);
    expect(await byName.json()).toEqual({ total: 1, page: 1, pages: 1, learners: [{ id: sam.id, sub: '4', name: 'Sam Student', courses: 1 }] });
    const bySub = (await (await admin.get('/lti/admin/learners?q=9', json)).json()) as { learners: { id: number }[] };
    expect(bySub.learners.map((l) => l.id)).toEqual([outsider.id]);
    // LIKE's wildcards are taken literally
    expect(((await (await admin.get('/lti/admin/learners?q=%25', json)).json()) as { total: number }).total).toBe(0);
    const all = (await (await admin.get('/lti/admin/learners?q=', json)).json()) as { total: number; learners: { sub: string; name: string | null }[] };
    // the admin, the teacher, Sam, Sue (from the roster) and Olga; never the other platform's Sam Stranger
    expect(all.learners.map((l) => l.sub).sort()).toEqual(['2', '3', '4', '5', '9']);
    expect(all.total).toBe(5);
    expect(all.learners.map((l) => l.name)).not.toContain('Sam Stranger');
    // paged: two at a time is not offered, but page 2 of 20 is empty and says so
    expect(((await (await admin.get('/lti/admin/learners?q=&page=2', json)).json()) as { learners: unknown[] }).learners).toEqual([]);
    expect((await admin.get(`/lti/admin/learners?q=${'x'.repeat(101)}`, json)).status).toBe(400);
    const page = await admin.get('/lti/admin?q=Sam');
    const html = await page.text();
    expect(html).toContain(`/lti/learners/${sam.id}?ltik=`);
    expect(text(html)).toContain('1 résultat(s)');
    const fragment = await admin.get('/lti/admin/learners?q=nobody', { 'HX-Request': 'true', 'HX-Target': 'learner-results', Accept: 'text/html' });
    expect(text(await fragment.text())).toContain('Aucun apprenant ne correspond à « nobody ».');
  });

  it('creates an xAPI key showing its secret once, lists and revokes the platform’s keys only', async () => {
    const page = text(await (await admin.get('/lti/admin')).text());
    expect(page).toContain('Aucune clé pour votre plateforme');
    expect(page).not.toContain(strangerKey);
    const created = await admin.post('/lti/admin/xapi-keys', { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(created.status).toBe(201);
    const fragment = await created.text();
    const key = /data-testid="xapi-key">([^<]+)</.exec(fragment)?.[1];
    const secret = /data-testid="xapi-secret">([^<]+)</.exec(fragment)?.[1];
    if (!key || !secret) throw new Error('no key shown');
    expect((await authenticateXapiKey(db(), key, secret))?.issuer).toBe(moodle.issuer);
    const again = await (await admin.get('/lti/admin')).text();
    expect(again).toContain(key);
    expect(again).not.toContain(secret);
    // the page's dates are in the institution's time zone (Kiritimati, UTC+14: another hour than in Paris)
    const stored = (await listXapiKeys(db(), moodle.issuer)).find((k) => k.key === key);
    const platform = await findPlatform(db(), moodle.issuer);
    if (!stored || !platform) throw new Error('no key or platform');
    await setInstitution(db(), platform, { fields: { legalName: 'Université de Test', timeZone: 'Pacific/Kiritimati' } }, 'test');
    const zoned = text(await (await admin.get('/lti/admin')).text());
    expect(zoned).toContain(formatDate(stored.createdAt, { locale: 'fr', style: 'dateTime', timeZone: 'Pacific/Kiritimati' }));
    expect(zoned).not.toContain(formatDate(stored.createdAt, { locale: 'fr', style: 'dateTime' }));
    await db().delete(institutions);
    const [audit] = await db().select().from(auditEvents).where(eq(auditEvents.action, 'xapi-key.create'));
    expect(JSON.stringify(audit)).not.toContain(secret);

    expect((await admin.post(`/lti/admin/xapi-keys/${strangerKey}/revoke`, { headers: json })).status).toBe(404);
    expect((await listXapiKeys(db(), OTHER)).every((k) => k.revokedAt === null)).toBe(true);
    expect((await admin.post('/lti/admin/xapi-keys/not-a-key/revoke', { headers: json })).status).toBe(400);
    expect((await admin.post(`/lti/admin/xapi-keys/${key}/revoke`, { headers: json })).status).toBe(200);
    expect(await authenticateXapiKey(db(), key, secret)).toBeUndefined();
    expect((await teacher.post('/lti/admin/xapi-keys', { headers: json })).status).toBe(403);

    // LRS clients restricted to the platform are listed with their name and scopes, and revoked here; a client
    // restricted to no platform is neither listed nor revoked
    const h5p = await createXapiClient(db(), { name: 'Contenus H5P', scopes: ['statements/write', 'state'], issuer: moodle.issuer });
    const global = await createXapiClient(db(), { name: 'Entrepôt national', scopes: ['all'] });
    const listed = text(await (await admin.get('/lti/admin')).text());
    expect(listed).toContain(h5p.key);
    expect(listed).toContain('client LRS « Contenus H5P », limité à votre plateforme');
    expect(listed).toContain('statements/write, state');
    expect(listed).toContain('votre plateforme (logstore_xapi)');
    expect(listed).not.toContain(global.key);
    expect((await admin.post(`/lti/admin/xapi-keys/${global.key}/revoke`, { headers: json })).status).toBe(404);
    expect(await authenticateXapiCredentials(db(), global.key, global.secret)).toBeDefined();
    expect((await admin.post(`/lti/admin/xapi-keys/${h5p.key}/revoke`, { headers: json })).status).toBe(200);
    expect(await authenticateXapiCredentials(db(), h5p.key, h5p.secret)).toBeUndefined();
    // a browser without scripts gets the section as a page of its own, with the way back
    const plain = await admin.post('/lti/admin/xapi-keys', { headers: { Accept: 'text/html' } });
    expect(plain.status).toBe(201);
    const plainText = text(await plain.text());
    expect(plainText).toContain('Retour à l’administration');
    expect(plainText).toContain('Copiez le secret maintenant');
  });

  it('tells whether a web-service token is saved and tests it, never showing it', async () => {
    expect(text(await (await admin.get('/lti/admin')).text())).toContain('Aucun jeton enregistré');
    const platform = await ensurePlatform(db(), moodle.issuer);
    await db().update(platformSettings).set({ webserviceToken: sealSecret(server.ctx.config.ltiKey, 'webservice-token', 'ws-secret-token-1234') }).where(eq(platformSettings.platformId, platform.id));
    let sent = '';
    nock(moodle.issuer)
      .post('/webservice/rest/server.php', (body: Record<string, string>) => {
        sent = body.wsfunction ?? '';
        return body.wstoken === 'ws-secret-token-1234';
      })
      .reply(200, { sitename: 'Moodle de test', username: 'socle-ws', functions: [{ name: 'core_course_get_contents' }] });
    const ok = await admin.post('/lti/admin/webservice/test', { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(ok.status).toBe(200);
    const body = await ok.text();
    expect(sent).toBe('core_webservice_get_site_info');
    expect(text(body)).toContain('Le jeton fonctionne : site « Moodle de test », utilisateur socle-ws.');
    expect(text(body)).toContain('Il permet de lister les activités des cours.');
    expect(body).not.toContain('ws-secret-token-1234');
    nock(moodle.issuer).post('/webservice/rest/server.php').reply(200, { exception: 'moodle_exception', errorcode: 'invalidtoken', message: 'Jeton invalide' });
    const refused = await admin.post('/lti/admin/webservice/test', { headers: json });
    expect(await refused.json()).toEqual({ ok: false, reason: 'Moodle refused core_webservice_get_site_info: Jeton invalide' });
    // a token sealed with another LTI_KEY cannot be opened: said so, not a 500
    await db().update(platformSettings).set({ webserviceToken: sealSecret('another-lti-key-0123456789abcdef0123', 'webservice-token', 'x-token-1234') }).where(eq(platformSettings.platformId, platform.id));
    expect(await (await admin.post('/lti/admin/webservice/test', { headers: json })).json()).toEqual({ ok: false, reason: 'sealed' });
    const page = await (await admin.get('/lti/admin')).text();
    expect(text(page)).toContain('Jeton enregistré');
    expect(page).not.toContain('ws-secret-token-1234');
    expect((await teacher.post('/lti/admin/webservice/test', { headers: json })).status).toBe(403);
  });

  it('speaks English to an English session', async () => {
    const english = (await moodle.launch(server, 'administrator', { locale: 'en', sub: '2' })).client;
    const page = text(await (await english.get(`/lti/learners/${sam.id}`)).text());
    expect(page).toContain('Learner: Sam Student');
    expect(page).toContain('Manual credits');
    expect(page).toContain('Grant a manual credit');
    expect(page).not.toContain('Crédits manuels');
    const admin = text(await (await english.get('/lti/admin')).text());
    expect(admin).toContain('Issuer Client id (client_id) Deployments (deployment_id) Status');
    expect(admin).toContain('Search a learner of your platform');
  });

  it('activates and deactivates the registrations of its own platform only (audited), with French headers', async () => {
    const page = text(await (await admin.get('/lti/admin')).text());
    expect(page).toContain('Émetteur (issuer) Identifiant client (client_id) Déploiements (deployment_id) Statut');
    expect(page).not.toContain('other-client');
    expect((await admin.post('/lti/admin/platforms', { form: { clientId: 'other-client', active: 'false' }, headers: json })).status).toBe(404);
    expect((await listPlatforms(server.ctx, server.lti.provider, OTHER)).map((p) => p.active)).toEqual([true]);
    expect((await admin.post('/lti/admin/platforms', { form: { clientId: moodle.clientId, active: 'maybe' }, headers: json })).status).toBe(400);
    const off = await admin.post('/lti/admin/platforms', { form: { clientId: moodle.clientId, active: 'false' }, headers: json });
    expect(await off.json()).toEqual({ platforms: [{ issuer: moodle.issuer, clientId: moodle.clientId, active: false }] });
    const on = await admin.post('/lti/admin/platforms', { form: { clientId: moodle.clientId, active: 'true' }, headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(text(await on.text())).toContain(`Enregistrement ${moodle.clientId} activé.`);
    const [audit] = await db().select().from(auditEvents).where(eq(auditEvents.action, 'platform.deactivate'));
    expect(audit).toMatchObject({ actor: `lti:${moodle.issuer}#2`, after: { clientId: moodle.clientId, active: false } });
    expect((await listPlatforms(server.ctx, server.lti.provider, moodle.issuer)).map((p) => p.active)).toEqual([true]);
    expect((await teacher.post('/lti/admin/platforms', { form: { clientId: moodle.clientId, active: 'false' }, headers: json })).status).toBe(403);
    expect((await db().select().from(manualCredits).where(isNull(manualCredits.revokedAt))).length).toBeGreaterThan(0);
  });
});
