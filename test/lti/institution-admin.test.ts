import { eq } from 'drizzle-orm';
import { auditEvents, institutions } from '../../src/db/schema';
import { findPlatform } from '../../src/identity/records';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { solidPng } from '../support/png';

const html = { Accept: 'text/html' };

describe.each(drivers)('the institution form of the admin page on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let admin: Client;
  let platformId: number;
  const profile = async () => (await server.ctx.store.db.select().from(institutions).where(eq(institutions.platformId, platformId)))[0];
  const audits = async () => server.ctx.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'institution.set'));

  /** Posts the form as a browser does: multipart, with the session's cookie and its ltik in the action URL. */
  async function submit(client: Client, fields: Record<string, string>, logo?: { bytes: Buffer; name: string; type: string }, headers: Record<string, string> = html) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('logo', logo ? new Blob([logo.bytes], { type: logo.type }) : new Blob([], { type: 'application/octet-stream' }), logo?.name ?? '');
    return fetch(`${server.url}/lti/admin/institution?ltik=${encodeURIComponent(client.ltik ?? '')}`, {
      method: 'POST',
      body: form,
      headers: { Cookie: client.cookieHeader(), ...headers },
      redirect: 'manual',
    });
  }
  const full = (overrides: Record<string, string> = {}) => ({
    legalName: 'Université de Guyane',
    shortName: 'UG',
    uai: '9730429D',
    siret: '',
    signatoryName: 'Léa Contout',
    signatoryTitle: 'Présidente',
    city: 'Cayenne',
    timeZone: 'America/Cayenne',
    url: 'https://www.univ-guyane.example',
    email: 'scolarite@univ-guyane.example',
    ...overrides,
  });

  beforeAll(async () => {
    server = await startTestServer(driver);
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const r = await moodle.launch(server, 'administrator', { locale: 'fr' });
    expect(r.landedOn).toBe('/lti/admin');
    admin = r.client;
    platformId = Number((await findPlatform(server.ctx.store.db, moodle.issuer))?.id);
  }, 60_000);
  afterAll(async () => server?.destroy());

  it('is pre-filled at the first launch from the site name Moodle sends, and shown on the admin page', async () => {
    expect(await profile()).toMatchObject({ legalName: 'Moodle LTI Test', shortName: 'ltitest', timeZone: 'Europe/Paris' });
    const page = await (await admin.get('/lti/admin', html)).text();
    expect(page).toContain('<h2 id="institution-title">Établissement</h2>');
    expect(page).toMatch(/<input type="text" name="legalName" id="institution-legalName" value="Moodle LTI Test" required>/);
    expect(page).toContain('enctype="multipart/form-data"');
  });

  it('saves the form with a logo, audited under the administrator, and the page says so', async () => {
    const logo = solidPng(300, 100);
    const res = await submit(admin, full(), { bytes: logo, name: 'logo.png', type: 'image/png' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/lti\/admin\?ltik=.+&saved=institution#institution$/);
    expect(await profile()).toMatchObject({ legalName: 'Université de Guyane', uai: '9730429D', siret: null, city: 'Cayenne', timeZone: 'America/Cayenne', logoType: 'image/png', logoWidth: 300 });
    expect((await profile())?.logo?.equals(logo)).toBe(true);
    const [audit] = (await audits()).slice(-1);
    expect(audit).toMatchObject({ subject: `platform:${moodle.issuer}`, before: { legalName: 'Moodle LTI Test' }, after: { legalName: 'Université de Guyane' } });
    expect(audit?.actor).toMatch(new RegExp(`^lti:${moodle.issuer.replace(/[.]/g, '\\.')}#.+`));

    const page = await (await admin.get(`/lti/admin?saved=institution`, html)).text();
    expect(page).toContain('Profil de l’établissement enregistré.');
    expect(page).toContain('value="Université de Guyane"');
    expect(page).toContain('Logo actuel : image/png, 300 × 100');
    // the logo and the badges' issuer profile are public
    const served = await fetch(`${server.url}/badges/issuer/logo/${platformId}`);
    expect([served.status, served.headers.get('content-type')]).toEqual([200, 'image/png']);
    expect(Buffer.from(await served.arrayBuffer()).equals(logo)).toBe(true);
    const issuer = (await (await fetch(`${server.url}/badges/issuer?platform=${encodeURIComponent(moodle.issuer)}`)).json()) as Record<string, unknown>;
    expect(issuer).toMatchObject({ name: 'Université de Guyane', url: 'https://www.univ-guyane.example', email: 'scolarite@univ-guyane.example' });
  });

  it('refuses a bad time zone or a scripted SVG with the form again (400, field marked), changing nothing', async () => {
    const before = await profile();
    const count = (await audits()).length;
    const zone = await submit(admin, full({ timeZone: 'Mars/Olympus', city: 'Kourou' }));
    expect(zone.status).toBe(400);
    const page = await zone.text();
    expect(page).toContain('Rien n’a été enregistré : corrigez les champs signalés.');
    expect(page).toMatch(/name="timeZone" id="institution-timeZone" value="Mars\/Olympus"[^>]*aria-invalid="true"/);
    expect(page).toContain('value="Kourou"');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect onclick="alert(1)" width="9" height="9"/></svg>');
    const logo = await submit(admin, full({ city: 'Kourou' }), { bytes: svg, name: 'logo.svg', type: 'image/svg+xml' });
    expect(logo.status).toBe(400);
    expect(await logo.text()).toContain('SVG refused: it contains an event handler attribute');
    const json = await submit(admin, full({ timeZone: 'Europe/Lyon' }), undefined, { Accept: 'application/json' });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: { code: 'invalid_request', details: [{ path: 'timeZone' }] } });
    expect(await profile()).toEqual(before);
    expect(await audits()).toHaveLength(count);
  });

  it('is reserved for the platform’s administrators', async () => {
    const before = await profile();
    for (const role of ['learner', 'instructor'] as const) {
      const { client } = await moodle.launch(server, role);
      const res = await submit(client, full({ legalName: 'Pirate' }), undefined, { Accept: 'application/json' });
      expect(res.status).toBe(403);
    }
    const anonymous = await fetch(`${server.url}/lti/admin/institution`, { method: 'POST', body: new URLSearchParams({ legalName: 'Pirate' }), headers: { Accept: 'application/json' } });
    expect([401, 400]).toContain(anonymous.status);
    expect(await profile()).toEqual(before);
  });
});
