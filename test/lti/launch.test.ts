import { generateKeyPair, SignJWT } from 'jose';
import nock from 'nock';
import { setPlatformActive } from '../../lti/registration';
import { courseMembers, courses, ltiRecords, users } from '../../src/db/schema';
import { queryRows } from '../../src/db/store';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { Client, fixture, SimulatedMoodle } from '../support/moodle';

/** What a browser sends when it opens a page. */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function counts(server: TestServer) {
  const db = server.ctx.store.db;
  const [sessions] = await queryRows<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM ${ltiRecords} WHERE collection IN ('idtoken', 'contexttoken')`,
  );
  return {
    users: (await db.select().from(users)).length,
    courses: (await db.select().from(courses)).length,
    members: (await db.select().from(courseMembers)).length,
    sessions: sessions?.n ?? 0,
  };
}

describe.each(drivers)('LTI launches on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  /** Socle's clock, ahead of the real one (the platform's) by this much. */
  let aheadMs = 0;
  beforeAll(async () => {
    server = await startTestServer(driver, {}, { clock: () => new Date(Date.now() + aheadMs) });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  describe('rejected launches store nothing', () => {
    const nothingStored = async () => expect(await counts(server)).toEqual({ users: 0, courses: 0, members: 0, sessions: 0 });
    const refused = async (res: Response, status: number) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/json/);
    };

    it('an expired token', async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      const r = await moodle.launch(server, 'learner', { claims: { iat: past, exp: past + 60 }, stopAfterPost: true });
      await refused(r.res, 401);
      expect(r.body).toMatch(/expired/);
      await nothingStored();
    });

    it('a wrong aud (unknown client id)', async () => {
      const r = await moodle.launch(server, 'learner', { claims: { aud: 'someone-else' }, stopAfterPost: true });
      await refused(r.res, 401);
      expect(r.body).toMatch(/UNREGISTERED_PLATFORM/);
      await nothingStored();
    });

    it('a wrong issuer', async () => {
      const r = await moodle.launch(server, 'learner', { claims: { iss: 'https://evil.example' }, stopAfterPost: true });
      await refused(r.res, 401);
      expect(r.body).toMatch(/ISS_CLAIM_DOES_NOT_MATCH/);
      await nothingStored();
    });

    it('an unknown kid', async () => {
      const r = await moodle.launch(server, 'learner', { header: { kid: 'not-a-moodle-key' }, stopAfterPost: true });
      await refused(r.res, 401);
      expect(r.body).toMatch(/KEY_NOT_FOUND/);
      await nothingStored();
    });

    it('alg none', async () => {
      const r = await moodle.launch(server, 'learner', {
        rawToken: (signed) => {
          const [, payload] = signed.split('.');
          return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: moodle.kid })).toString('base64url')}.${payload}.`;
        },
        stopAfterPost: true,
      });
      await refused(r.res, 401);
      await nothingStored();
    });

    it('a tampered payload and a signature by another key', async () => {
      const tampered = await moodle.launch(server, 'learner', {
        rawToken: (signed) => {
          const [h, p, s] = signed.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
          claims.sub = '2';
          return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
        },
        stopAfterPost: true,
      });
      await refused(tampered.res, 401);
      expect(tampered.body).toMatch(/invalid signature/);
      const { privateKey } = await generateKeyPair('RS256');
      const other = await moodle.launch(server, 'learner', { key: privateKey, stopAfterPost: true });
      await refused(other.res, 401);
      await nothingStored();
    });

    it('a missing deployment_id', async () => {
      const r = await moodle.launch(server, 'learner', {
        claims: { 'https://purl.imsglobal.org/spec/lti/claim/deployment_id': undefined },
        stopAfterPost: true,
      });
      await refused(r.res, 401);
      expect(r.body).toMatch(/NO_DEPLOYMENT_ID_CLAIM/);
      await nothingStored();
    });

    it('a deployment id that was not registered', async () => {
      const r = await moodle.launch(server, 'learner', {
        claims: { 'https://purl.imsglobal.org/spec/lti/claim/deployment_id': '99' },
      });
      await refused(r.res, 401);
      expect(r.body).toMatch(/Deployment 99/);
      expect((await counts(server)).users).toBe(0);
    });

    it('a state that does not match', async () => {
      const r = await moodle.launch(server, 'learner', { state: 'forged-state', stopAfterPost: true });
      await refused(r.res, 401);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'invalid_launch', message: expect.stringMatching(/no login is waiting for this state/) } });
      await nothingStored();
    });

    it("a post without the login's state cookie (another browser), then the same state again", async () => {
      const login = await moodle.login(server, 'learner');
      if ('refused' in login) throw new Error('login refused');
      const idToken = await moodle.idToken(server, 'learner', {}, login.nonce);
      const other = await moodle.post(server, new Client(server.url), idToken, login.state, login.nonce, true);
      await refused(other.res, 401);
      expect(other.body).toMatch(/MISSING_VALIDATION_COOKIE/);
      // ltijs refused it; the login was taken by that post all the same.
      const again = await moodle.post(server, new Client(server.url), idToken, login.state, login.nonce, true);
      expect(again.body).toMatch(/no login is waiting for this state/);
      await nothingStored();
    });

    it('an unregistered platform at login', async () => {
      const res = await fetch(`${server.url}/lti/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fixture<Record<string, string>>('lti-oidc-login-initiation.learner.json'), iss: 'https://unknown.example' }),
        redirect: 'manual',
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { status: 400, code: 'unregistered_platform' } });
      await nothingStored();
    });

    it('a deactivated platform at login', async () => {
      const lti = server.lti;
      await setPlatformActive(lti.provider, moodle.issuer, moodle.clientId, false);
      try {
        const r = await moodle.launch(server, 'learner');
        expect(r.res.status).toBe(401);
        expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'platform_inactive' } });
        await nothingStored();
      } finally {
        await setPlatformActive(lti.provider, moodle.issuer, moodle.clientId, true);
      }
    });

    it('a replayed id_token: with a new login (another nonce), or with its own state again', async () => {
      const first = await moodle.launch(server, 'learner', { sub: '5' });
      expect(first.res.status).toBe(200);
      const before = await counts(server);
      // The browser of an attacker who captured the form: a new login gives a fresh state cookie, same id_token.
      const again = await moodle.launch(server, 'learner', { sub: '5', rawToken: () => first.idToken, stopAfterPost: true });
      await refused(again.res, 401);
      expect(again.body).toMatch(/the nonce is not the one issued at login for this state/);
      const sameState = await moodle.post(server, first.client, first.idToken, first.state, first.nonce, true);
      await refused(sameState.res, 401);
      expect(sameState.body).toMatch(/no login is waiting for this state/);
      expect(await counts(server)).toEqual(before);
    });

    describe("on Socle's clock", () => {
      let before: Awaited<ReturnType<typeof counts>>;
      beforeEach(async () => {
        before = await counts(server);
      });
      afterEach(() => {
        aheadMs = 0;
      });
      const nothingNew = async () => expect(await counts(server)).toEqual(before);
      const code = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

      it('an id_token without exp', async () => {
        const r = await moodle.launch(server, 'learner', { sub: '6', claims: { exp: undefined }, stopAfterPost: true });
        await refused(r.res, 401);
        expect(code(r.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/has no exp/) });
        await nothingNew();
      });

      it('an id_token without iat', async () => {
        const r = await moodle.launch(server, 'learner', { sub: '6', claims: { iat: undefined }, stopAfterPost: true });
        await refused(r.res, 401);
        expect(code(r.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/has no iat/) });
        await nothingNew();
      });

      it('an iat a day in the future (and one past the 60 s skew), while 50 s ahead is accepted', async () => {
        const now = Math.floor(Date.now() / 1000);
        const day = await moodle.launch(server, 'learner', { sub: '6', claims: { iat: now + 86_400, exp: now + 86_460 }, stopAfterPost: true });
        await refused(day.res, 401);
        expect(code(day.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/issued in the future/) });
        // Socle's clock 90 s behind the platform's.
        aheadMs = -90_000;
        const skewed = await moodle.launch(server, 'learner', { sub: '6', stopAfterPost: true });
        expect(code(skewed.body).message).toMatch(/issued in the future/);
        await nothingNew();
        aheadMs = -50_000;
        const ok = await moodle.launch(server, 'learner', { sub: '6' });
        expect(ok.landedOn).toBe('/lti/me');
      });

      it('an id_token older than 60 s on Socle\'s clock, though recent on the platform\'s', async () => {
        aheadMs = 70_000;
        const r = await moodle.launch(server, 'learner', { sub: '6', claims: { exp: Math.floor(Date.now() / 1000) + 3600 }, stopAfterPost: true });
        await refused(r.res, 401);
        expect(code(r.body).message).toMatch(/older than 60 s/);
      });

      it('a replay after its nonce expired (130 s later), even of a token with a far exp', async () => {
        const now = Math.floor(Date.now() / 1000);
        const first = await moodle.launch(server, 'learner', { sub: '7', claims: { exp: now + 86_400 } });
        expect(first.landedOn).toBe('/lti/me');
        const before = await counts(server);
        // 130 s later: ltijs' nonce memory (120 s) has forgotten it.
        aheadMs = 130_000;
        await server.ctx.store.db.execute(sql`UPDATE ${ltiRecords} SET expires_at = now() - interval '1 second' WHERE collection = 'nonce'`);
        const fresh = await moodle.launch(server, 'learner', { sub: '7', rawToken: () => first.idToken, stopAfterPost: true });
        await refused(fresh.res, 401);
        expect(code(fresh.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/nonce is not the one issued at login/) });
        const sameState = await moodle.post(server, first.client, first.idToken, first.state, first.nonce, true);
        expect(code(sameState.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/no login is waiting/) });
        // A token with the right nonce, but issued 130 s before Socle's now.
        const late = await moodle.launch(server, 'learner', { sub: '7', claims: { exp: now + 86_400 }, stopAfterPost: true });
        expect(code(late.body).message).toMatch(/older than 60 s/);
        expect(await counts(server)).toEqual(before);
      });

      it('a nonce that is not the login\'s', async () => {
        const r = await moodle.launch(server, 'learner', { sub: '6', claims: { nonce: 'a-nonce-of-another-login' }, stopAfterPost: true });
        await refused(r.res, 401);
        expect(code(r.body)).toMatchObject({ code: 'invalid_launch', message: expect.stringMatching(/nonce is not the one issued at login/) });
        await nothingNew();
      });

      it('issues its own nonce at login (not ltijs\' Math.random one), kept with the state', async () => {
        const login = await moodle.login(server, 'learner');
        if ('refused' in login) throw new Error('login refused');
        expect(login.nonce).toMatch(/^[\w-]{43}$/);
        const [row] = await queryRows<{ doc: Record<string, string> }>(server.ctx.store.db, sql`SELECT doc FROM ${ltiRecords} WHERE collection = 'login' AND doc->>'state' = ${login.state}`);
        expect(row?.doc).toEqual({ state: login.state, nonce: login.nonce });
      });
    });
  });

  describe('accepted launches', () => {
    it('lands an instructor on the course page with the whole roster (3 NRPS pages)', async () => {
      moodle.nrpsRequests.length = 0;
      const r = await moodle.launch(server, 'instructor');
      expect(r.res.status).toBe(200);
      expect(r.landedOn).toBe('/lti/course');
      expect(r.body).toContain('<html lang="en">');
      expect(r.body).toContain('no framework chosen');
      expect(moodle.nrpsRequests).toHaveLength(3);
      // the roster is the page's "Participants" tab
      expect(r.body).toContain('>Participants</a>');
      const roster = await (await r.client.get('/lti/course?tab=roster')).text();
      for (const name of ['Sam Student', 'Sue Student', 'Terry Teacher']) expect(roster).toContain(name);
      expect(r.body).toContain('hx-headers');
      expect(r.body).toContain('Open in a new window');
    });

    it('lands a learner on "Ma progression" in French by default, showing who and which course', async () => {
      const r = await moodle.launch(server, 'learner', { locale: 'fr' });
      expect(r.res.status).toBe(200);
      expect(r.landedOn).toBe('/lti/me');
      expect(r.body).toContain('<html lang="fr">');
      expect(r.body).toContain('Ma progression');
      expect(r.body).toContain('Sam Student');
      expect(r.body).toContain('LTI Test Course');
      expect(r.body).toContain('Aller au contenu');
    });

    it('lands an administrator on the admin page with the values to paste into Moodle', async () => {
      const r = await moodle.launch(server, 'administrator');
      expect(r.res.status).toBe(200);
      expect(r.landedOn).toBe('/lti/admin');
      expect(r.body).toContain(moodle.clientId);
      expect(r.body).toContain(`${server.ctx.config.publicUrl}/lti/keys`);
    });

    it('answers an unknown role with a clear page, not a crash', async () => {
      const r = await moodle.launch(server, 'none');
      expect(r.res.status).toBe(403);
      expect(r.body).toMatch(/Guest/);
    });

    it('records platform, user (name/email only as sent), course and membership', async () => {
      const [u] = await server.ctx.store.db.select().from(users).where(sql`${users.sub} = '4'`);
      expect(u).toMatchObject({ name: 'Sam Student', email: 'student1@example.com', locale: 'fr' });
      const [c] = await server.ctx.store.db.select().from(courses).where(sql`${courses.contextId} = '2'`);
      expect(c).toMatchObject({ title: 'LTI Test Course', referentialId: null });
    });
  });

  describe('authorization by role and by platform + course', () => {
    it('refuses the instructor and admin pages and APIs to a learner (403)', async () => {
      const learner = await moodle.launch(server, 'learner');
      const [course] = await server.ctx.store.db.select().from(courses).where(sql`${courses.contextId} = '2'`);
      expect((await learner.client.get('/lti/course')).status).toBe(403);
      expect((await learner.client.get('/lti/admin')).status).toBe(403);
      const api = await learner.client.get(`/lti/api/courses/${course?.id}/roster`);
      expect(api.status).toBe(403);
      expect(await api.json()).toMatchObject({ error: { status: 403, code: 'forbidden' } });
      expect((await learner.client.post(`/lti/api/courses/${course?.id}/roster/sync`)).status).toBe(403);
    });

    it("refuses another course's data to an instructor by changing the id (403)", async () => {
      const other = await moodle.launch(server, 'instructor', { context: '77' });
      expect(other.res.status).toBe(200);
      const own = await moodle.launch(server, 'instructor');
      const rows = await server.ctx.store.db.select().from(courses);
      const c2 = rows.find((c) => c.contextId === '2');
      const c77 = rows.find((c) => c.contextId === '77');
      expect((await own.client.get(`/lti/api/courses/${c2?.id}/roster`)).status).toBe(200);
      expect((await own.client.get(`/lti/api/courses/${c77?.id}/roster`)).status).toBe(403);
    });

    it('refuses a page without a session or with a forged ltik (401)', async () => {
      expect((await fetch(`${server.url}/lti/me`)).status).toBe(401);
      const forged = await new SignJWT({ platformUrl: moodle.issuer, user: '4' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('not the key'));
      expect((await fetch(`${server.url}/lti/me`, { headers: { Authorization: `Bearer ${forged}` } })).status).toBe(401);
    });

    it('refuses a state-changing request that carries only the cookie, not the ltik (CSRF)', async () => {
      const teacher = await moodle.launch(server, 'instructor');
      const [course] = await server.ctx.store.db.select().from(courses).where(sql`${courses.contextId} = '2'`);
      const cookieOnly = await teacher.client.request('POST', `/lti/api/courses/${course?.id}/roster/sync`);
      expect(cookieOnly.status).toBe(401);
      const withField = await teacher.client.request('POST', `/lti/api/courses/${course?.id}/roster/sync`, { form: { ltik: String(teacher.client.ltik) } });
      expect(withField.status).toBe(200);
    });

    it('needs the session cookie with the ltik (same-site mode)', async () => {
      const learner = await moodle.launch(server, 'learner');
      learner.client.cookies.clear();
      expect((await learner.client.get('/lti/me')).status).toBe(401);
    });
  });

  describe('error pages for browsers, JSON for the others', () => {
    const html = { Accept: BROWSER };
    const page = async (res: Response, status: number, read?: string) => {
      expect([res.status, res.headers.get('content-type')]).toEqual([status, expect.stringMatching(/^text\/html/)]);
      const body = read ?? (await res.text());
      expect(body).toContain(`<code>${res.headers.get('x-request-id')}</code>`);
      expect(body).not.toMatch(/top\.location|X-Frame-Options/i);
      return body;
    };

    it('a page outside a launch: 401, in French, "relancez Socle depuis Moodle"', async () => {
      const body = await page(await fetch(`${server.url}/lti/me`, { headers: html }), 401);
      expect(body).toContain('<html lang="fr">');
      expect(body).toContain('<h1 id="error-title">Session expirée</h1>');
      expect(body).toContain('Votre session a expiré ou n’existe pas : relancez Socle depuis Moodle.');
      const json = await fetch(`${server.url}/lti/me`, { headers: { Accept: 'application/json' } });
      expect(json.status).toBe(401);
      expect(await json.json()).toEqual({
        error: {
          status: 401,
          code: 'session_expired',
          message: 'No LTI session: launch Socle again from the platform.',
          details: [{ path: 'lti', message: 'NO_LTIK_OR_IDTOKEN_FOUND' }],
          requestId: json.headers.get('x-request-id'),
        },
      });
    });

    it('an expired session: the same page, in English for an English browser', async () => {
      const learner = await moodle.launch(server, 'learner', { sub: '7', locale: 'en' });
      expect(learner.res.status).toBe(200);
      // the stored session is gone once its 24 hours are over (the plugin hides, then purges, expired rows)
      await server.ctx.store.db.execute(sql`DELETE FROM ${ltiRecords} WHERE collection = 'idtoken'`);
      const body = await page(await learner.client.get('/lti/me', { ...html, 'Accept-Language': 'en' }), 401);
      expect(body).toContain('<h1 id="error-title">Session expired</h1>');
      expect(body).toContain('launch Socle again from Moodle');
      const json = await learner.client.get('/lti/me');
      expect(await json.json()).toMatchObject({ error: { status: 401, code: 'session_expired', details: [{ path: 'lti', message: 'IDTOKEN_NOT_FOUND_DB' }] } });
    });

    it('a launch from a platform not activated yet: what the administrator must do', async () => {
      const pending = await SimulatedMoodle.create({ clientId: 'pending-client', kid: 'pending-kid' });
      await pending.register(server, { active: false });
      const r = await pending.launch(server, 'learner', {}, new Client(server.url, html));
      const body = await page(r.res, 401, r.body);
      expect(body).toContain('Socle n’est pas encore activé');
      expect(body).toContain(`socle platforms activate --issuer ${pending.issuer} --client-id pending-client`);
      const json = await pending.launch(server, 'learner');
      expect(json.res.status).toBe(401);
      expect(JSON.parse(json.body)).toMatchObject({ error: { status: 401, code: 'platform_inactive', requestId: expect.any(String) } });
    });

    it('an unregistered platform, a refused launch, a page of another role', async () => {
      const login = fixture<Record<string, string>>('lti-oidc-login-initiation.learner.json');
      const unknown = await fetch(`${server.url}/lti/login`, {
        method: 'POST',
        headers: { ...html, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...login, iss: 'https://unknown.example' }),
        redirect: 'manual',
      });
      expect(await page(unknown, 400)).toContain('Cette plateforme Moodle (https://unknown.example, client_id');
      const forged = await moodle.launch(server, 'learner', { state: 'forged-state', stopAfterPost: true }, new Client(server.url, html));
      expect(await page(forged.res, 401, forged.body)).toContain('Lancement refusé');
      // the page speaks the session's language
      const learner = await moodle.launch(server, 'learner', { locale: 'en' });
      const admin = await page(await learner.client.get('/lti/admin', html), 403);
      expect(admin).toContain('<html lang="en">');
      expect(admin).toContain('<h1 id="error-title">Access denied</h1>');
      expect(admin).toContain('This page is reserved for: administrator.');
      const api = await learner.client.get('/lti/api/courses/1/roster', html);
      expect([api.status, api.headers.get('content-type')]).toEqual([403, expect.stringMatching(/json/)]);
    });
  });

  it('serves its own CSS and htmx (no third-party asset under COEP)', async () => {
    const css = await fetch(`${server.url}/assets/socle.css`);
    expect(css.status).toBe(200);
    const htmx = await fetch(`${server.url}/assets/htmx.min.js`);
    expect(htmx.status).toBe(200);
    expect(await htmx.text()).toContain('htmx');
  });
});

describe('LTI launch in ltiaas mode (the ltik as a Bearer token, no session cookie)', () => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  beforeAll(async () => {
    server = await startTestServer('pglite', { ltiSession: 'ltiaas' });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('sets no session cookie and serves pages and APIs to the Bearer ltik alone', async () => {
    const r = await moodle.launch(server, 'instructor');
    expect(r.res.status).toBe(200);
    expect(r.landedOn).toBe('/lti/course');
    expect([...r.client.cookies.keys()].filter((name) => name.startsWith('lti'))).toEqual([]);
    r.client.cookies.clear();
    const [course] = await server.ctx.store.db.select().from(courses);
    const api = await r.client.get(`/lti/api/courses/${course?.id}/roster`);
    expect(api.status).toBe(200);
    expect(((await api.json()) as { members: unknown[] }).members).toHaveLength(3);
    expect((await fetch(`${server.url}/lti/api/courses/${course?.id}/roster`)).status).toBe(401);
  });
});
