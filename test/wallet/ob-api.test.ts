import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nock from 'nock';
import { issueCredential } from '../../src/badges/credentials';
import { queryRows } from '../../src/db/store';
import { findPlatform, findUser } from '../../src/identity/records';
import { socle28 } from '../badges/referential';
import { DEFAULT_RATE_LIMITS } from '../../src/config';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { appRoutes } from '../support/routes';
import { Client, SimulatedMoodle } from '../support/moodle';

const READ = 'https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly';
const UPSERT = 'https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.upsert';
const PROFILE = 'https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly';
/** The wallet's own site: loopback over HTTP is allowed for development (RFC 8252), every URL on one host. */
const WALLET = 'http://127.0.0.1:9';
const REDIRECT = `${WALLET}/callback`;

interface Sdd {
  info: Record<string, unknown>;
  components: {
    securitySchemes: {
      OAuth2ACG: {
        'x-imssf-registrationUrl': string;
        'x-imssf-privacyPolicyUrl': string;
        flows: { authorizationCode: { authorizationUrl: string; tokenUrl: string; refreshUrl: string; scopes: Record<string, string> } };
      };
    };
  };
}
interface Registered {
  client_id: string;
  client_secret: string;
  [key: string]: unknown;
}
interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('the Open Badges API for wallets on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let sdd: Sdd;
  let client: Registered;
  const learners: Record<string, { session: Client; jwts: string[] }> = {};

  /** A URL of the discovery document, on the test server (PUBLIC_URL is not the loopback port here). */
  const local = (url: string) => {
    const u = new URL(url);
    return `${server.url}${u.pathname}${u.search}`;
  };
  const basic = (c: Registered) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
  const register = async (body: Record<string, unknown> = {}) =>
    fetch(local(sdd.components.securitySchemes.OAuth2ACG['x-imssf-registrationUrl']), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        client_name: 'Portefeuille de test',
        client_uri: `${WALLET}/`,
        logo_uri: `${WALLET}/logo.png`,
        tos_uri: `${WALLET}/terms`,
        policy_uri: `${WALLET}/privacy`,
        software_id: 'c88b6ed8-269e-448e-99be-7e2ff47167d1',
        software_version: '1.0.0',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: `${READ} ${UPSERT} ${PROFILE} offline_access`,
        ...body,
      }),
    });
  const authorizeUrl = (params: Record<string, string>) => {
    const url = new URL(local(sdd.components.securitySchemes.OAuth2ACG.flows.authorizationCode.authorizationUrl));
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  };
  const token = (c: Registered, form: Record<string, string>) =>
    fetch(local(sdd.components.securitySchemes.OAuth2ACG.flows.authorizationCode.tokenUrl), {
      method: 'POST',
      headers: { authorization: basic(c), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form),
    });
  const api = (access: string, path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/ims/ob/v3p0${path}`, { ...init, headers: { authorization: `Bearer ${access}`, accept: 'application/json', ...(init.headers ?? {}) } });

  /**
   * The code grant as a wallet and a learner go through it: the wallet sends the browser to the authorize URL, the
   * learner enters the page's code in "Ma progression" (their LTI session) and approves, the browser continues to
   * the wallet's redirect URI with the code.
   */
  async function authorize(learner: Client, options: { scope?: string; approve?: boolean } = {}) {
    const { verifier, challenge } = pkce();
    const state = randomBytes(8).toString('hex');
    const browser = new Client(server.url, { accept: 'text/html' });
    const page = await browser.request('GET', authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: options.scope ?? `${READ} ${PROFILE} ${UPSERT}`, state, code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(page.status).toBe(200);
    const html = await page.text();
    const userCode = /data-testid="user-code">([A-Z]{4}-[A-Z]{4})</.exec(html)?.[1];
    expect(userCode).toBeDefined();
    const continueUrl = /href="([^"]*authorize\/continue[^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const consent = await learner.post('/lti/wallet/code', { form: { code: (userCode ?? '').toLowerCase() } });
    expect(consent.status).toBe(200);
    const consentHtml = await consent.text();
    expect(text(consentHtml)).toContain('Le portefeuille « Portefeuille de test » (127.0.0.1:9) demande à accéder');
    const requestId = /name="request" value="([^"]+)"/.exec(consentHtml)?.[1] ?? '';
    const decided = await learner.post('/lti/wallet/decision', { form: { request: requestId, decision: options.approve === false ? 'deny' : 'approve' } });
    expect(decided.status).toBe(200);
    const back = await browser.request('GET', continueUrl);
    expect(back.status).toBe(303);
    const location = new URL(back.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe(state);
    return { location, verifier, browser, continueUrl, code: location.searchParams.get('code') ?? '' };
  }

  async function tokensFor(learner: Client, scope?: string): Promise<Tokens> {
    const { code, verifier } = await authorize(learner, scope ? { scope } : {});
    const res = await token(client, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(res.status).toBe(200);
    return (await res.json()) as Tokens;
  }

  beforeAll(async () => {
    server = await startTestServer(driver);
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    const platform = await findPlatform(db, moodle.issuer);
    for (const [sub, domains] of [['41', ['2', '3']], ['42', ['5']]] as const) {
      const launched = await moodle.launch(server, 'learner', { sub, locale: 'fr' });
      expect(launched.landedOn).toBe('/lti/me');
      const user = platform && (await findUser(db, platform.id, sub));
      if (!user) throw new Error('no learner after the launch');
      const jwts: string[] = [];
      for (const domainCode of domains) jwts.push((await issueCredential(db, server.ctx, { userId: user.id, referential: socle28, domainCode, creditsEarnedMinutes: 360 })).credential.jwt);
      learners[sub] = { session: launched.client, jwts };
    }
    // the course uses the bundled référentiel whose badges were issued: "Ma progression" shows them
    await db.execute(sql`UPDATE courses SET referential_id = ${socle28.id}, referential_version = ${socle28.version}`);
    const res = await fetch(`${server.url}/ims/ob/v3p0/discovery`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    sdd = (await res.json()) as Sdd;
    const registered = await register();
    expect(registered.status).toBe(201);
    client = (await registered.json()) as Registered;
  });

  afterAll(async () => {
    await server.destroy();
    nock.cleanAll();
  });

  it('describes the service: OpenAPI with the OAuth 2.0 endpoints, the four scopes and the privacy policy', async () => {
    const scheme = sdd.components.securitySchemes.OAuth2ACG;
    expect(sdd.info).toMatchObject({ title: 'Socle', 'x-imssf-privacyPolicyUrl': expect.stringContaining('/wallets#privacy'), termsOfService: expect.stringContaining('/wallets#terms'), 'x-imssf-image': expect.any(String) });
    expect(Object.keys(scheme.flows.authorizationCode.scopes)).toEqual([READ, UPSERT, PROFILE, 'https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.update']);
    expect(scheme.flows.authorizationCode.refreshUrl).toBe(scheme.flows.authorizationCode.tokenUrl);
    // every operation the document describes is a route of the app
    const routes = appRoutes(server.app);
    const paths = (sdd as unknown as { paths: Record<string, Record<string, unknown>> }).paths;
    const described = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /ims/ob/v3p0${path}`));
    expect(described.length).toBe(4);
    expect(described.filter((d) => !routes.includes(d))).toEqual([]);
    const terms = await fetch(local(scheme['x-imssf-privacyPolicyUrl']), { headers: { accept: 'text/html' } });
    expect(terms.status).toBe(200);
    expect(text(await terms.text())).toContain('Confidentialité');
  });

  it('registers a wallet (RFC 7591): its metadata answered back with a client id and a secret kept only as a digest', async () => {
    expect(client).toMatchObject({ client_name: 'Portefeuille de test', redirect_uris: [REDIRECT], client_secret_expires_at: 0, scope: `${READ} ${UPSERT} ${PROFILE} offline_access` });
    const [row] = await queryRows<{ secret_hash: string }>(server.ctx.store.db, sql`SELECT secret_hash FROM wallet_clients WHERE client_id = ${client.client_id}`);
    expect(row?.secret_hash).toBe(createHash('sha256').update(client.client_secret).digest('hex'));
    // the profile's rules: HTTPS (or loopback), one host name, client_secret_basic
    const plain = await register({ redirect_uris: ['http://wallet.example.org/cb'] });
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    expect(await (await register({ tos_uri: 'https://elsewhere.example.org/terms' })).json()).toMatchObject({ error: 'invalid_redirect_uri' });
    expect(await (await register({ token_endpoint_auth_method: 'none' })).json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(await (await register({ client_name: undefined })).json()).toMatchObject({ error: 'invalid_client_metadata' });
    const malformed = await fetch(local(sdd.components.securitySchemes.OAuth2ACG['x-imssf-registrationUrl']), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('gives a wallet the learner’s own credentials, as the compact JWS Socle signed, with paging headers', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const tokens = await tokensFor(first.session);
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: `${READ} ${PROFILE} ${UPSERT}` });
    const res = await api(tokens.access_token, '/credentials');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-total-count')).toBe('2');
    // oldest first (two issued in the same second follow their ids): the pages walk that one list
    const all = ((await res.json()) as { compactJwsStrings: string[] }).compactJwsStrings;
    expect([...all].sort()).toEqual([...first.jwts].sort());
    const page = await api(tokens.access_token, '/credentials?limit=1&offset=0');
    expect(await page.json()).toEqual({ compactJwsStrings: [all[0]] });
    const link = page.headers.get('link') ?? '';
    expect(link).toContain('offset=1>; rel="next"');
    expect(link).toContain('offset=1>; rel="last"');
    expect(link).toContain('offset=0>; rel="first"');
    expect(link).not.toContain('rel="prev"');
    const second = await api(tokens.access_token, '/credentials?limit=1&offset=1');
    expect(await second.json()).toEqual({ compactJwsStrings: [all[1]] });
    expect(second.headers.get('link')).toContain('rel="prev"');
    expect(second.headers.get('link')).not.toContain('rel="next"');
    const bad = await api(tokens.access_token, '/credentials?limit=0');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_codeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'invalid_data' }] } });

    // the profile of the learner; the other learner's token sees only their own badge
    const profile = await api(tokens.access_token, '/profile');
    expect(profile.status).toBe(200);
    expect(await profile.json()).toMatchObject({ type: ['Profile'], id: expect.stringMatching(/^urn:uuid:/) });
    const other = learners['42'] as { session: Client; jwts: string[] };
    const theirs = await tokensFor(other.session);
    expect(await (await api(theirs.access_token, '/credentials')).json()).toEqual({ compactJwsStrings: other.jwts });
  });

  it('answers upsertCredential: what Socle issued to the learner is already held, anything else refused in the spec’s shape', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const other = learners['42'] as { session: Client; jwts: string[] };
    const tokens = await tokensFor(first.session);
    const post = (body: string, type: string) => api(tokens.access_token, '/credentials', { method: 'POST', body, headers: { 'content-type': type, accept: 'text/plain' } });
    const own = await post(first.jwts[0] ?? '', 'text/plain');
    expect(own.status).toBe(200);
    expect(await own.text()).toBe(first.jwts[0]);
    const foreign = await post(other.jwts[0] ?? '', 'text/plain');
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ imsx_codeMajor: 'failure', imsx_codeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'forbidden' }] } });
    expect((await post('{"type":["VerifiableCredential"]}', 'application/json')).status).toBe(403);
    expect((await post('not a jws', 'text/plain')).status).toBe(400);
    expect((await post('{not json', 'application/json')).status).toBe(400);
    // a token without the upsert scope may not post
    const readOnly = await tokensFor(first.session, READ);
    const refused = await api(readOnly.access_token, '/credentials', { method: 'POST', body: first.jwts[0] ?? '', headers: { 'content-type': 'text/plain' } });
    expect(refused.status).toBe(403);
    expect((await api(readOnly.access_token, '/profile')).status).toBe(403);
    expect((await api(tokens.access_token, '/profile', { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(403);
  });

  it('refuses a wrong code_verifier, a reused code (revoking what it gave), an expired or unknown token', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const wrong = await authorize(first.session);
    const refused = await token(client, { grant_type: 'authorization_code', code: wrong.code, redirect_uri: REDIRECT, code_verifier: pkce().verifier });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });
    // the code was spent by that try: the right verifier comes too late
    expect((await token(client, { grant_type: 'authorization_code', code: wrong.code, redirect_uri: REDIRECT, code_verifier: wrong.verifier })).status).toBe(400);

    const flow = await authorize(first.session);
    const exchange = () => token(client, { grant_type: 'authorization_code', code: flow.code, redirect_uri: REDIRECT, code_verifier: flow.verifier });
    const issued = (await (await exchange()).json()) as Tokens;
    expect((await api(issued.access_token, '/credentials')).status).toBe(200);
    const reused = await exchange();
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    const revoked = await api(issued.access_token, '/credentials');
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await revoked.json()).toMatchObject({ imsx_codeMajor: 'failure', imsx_codeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'unauthorisedrequest' }] } });
    // the browser goes back to the request once only
    expect((await flow.browser.request('GET', flow.continueUrl)).status).toBe(400);

    const live = await tokensFor(first.session);
    await server.ctx.store.db.execute(sql`UPDATE wallet_tokens SET access_expires_at = now() - interval '1 second' WHERE access_hash = ${createHash('sha256').update(live.access_token).digest('hex')}`);
    expect((await api(live.access_token, '/credentials')).status).toBe(401);
    expect((await api('not-a-token', '/credentials')).status).toBe(401);
    expect((await fetch(`${server.url}/ims/ob/v3p0/credentials`)).status).toBe(401);

    // a wrong client secret, another redirect URI, an unknown grant
    expect((await token({ ...client, client_secret: 'wrong' }, { grant_type: 'authorization_code', code: 'x' })).status).toBe(401);
    const other = await authorize(first.session);
    expect(await (await token(client, { grant_type: 'authorization_code', code: other.code, redirect_uri: `${WALLET}/other`, code_verifier: other.verifier })).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await (await token(client, { grant_type: 'password' })).json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('refreshes a token (rotation: the old refresh token, presented again, revokes the wallet’s tokens)', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const tokens = await tokensFor(first.session);
    const refreshed = await token(client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: READ });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as Tokens;
    expect(next.scope).toBe(READ);
    expect((await api(tokens.access_token, '/credentials')).status).toBe(401);
    expect((await api(next.access_token, '/credentials')).status).toBe(200);
    expect(await (await token(client, { grant_type: 'refresh_token', refresh_token: next.refresh_token, scope: PROFILE })).json()).toMatchObject({ error: 'invalid_scope' });
    const replay = await token(client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await api(next.access_token, '/credentials')).status).toBe(401);
  });

  it('sends a denial back as access_denied, and refuses requests it cannot send back', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const denied = await authorize(first.session, { approve: false });
    expect(denied.location.searchParams.get('error')).toBe('access_denied');
    expect(denied.location.searchParams.get('code')).toBeNull();

    const browser = new Client(server.url, { accept: 'text/html' });
    const { challenge } = pkce();
    // a redirect URI the wallet did not register: said on the page, never redirected to
    const unknown = await browser.request('GET', authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: 'https://evil.example.org/cb', scope: READ, state: 's', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('location')).toBeNull();
    expect(text(await unknown.text())).toContain('ne peut pas aboutir');
    // PKCE is required, S256 only: the wallet is told at its redirect URI
    const plain = await browser.request('GET', authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: READ, state: 's', code_challenge: challenge, code_challenge_method: 'plain' }));
    expect(plain.status).toBe(303);
    const location = new URL(plain.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('s');
  });

  it('tells a browser without an LTI session to open Socle from Moodle first, and binds the code to the browser that asked', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const browser = new Client(server.url, { accept: 'text/html' });
    const { challenge } = pkce();
    const page = await browser.request('GET', authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: READ, state: 's', code_challenge: challenge, code_challenge_method: 'S256' }));
    const html = await page.text();
    expect(text(html)).toContain('Ouvrez d’abord Socle depuis votre cours Moodle');
    const userCode = /data-testid="user-code">([A-Z-]+)</.exec(html)?.[1] ?? '';
    const continueUrl = /href="([^"]*authorize\/continue[^"]*)"/.exec(html)?.[1] ?? '';
    // not approved yet: the page says so
    const waiting = await browser.request('GET', continueUrl);
    expect(waiting.status).toBe(200);
    expect(text(await waiting.text())).toContain('attend encore votre accord');
    // the consent form needs the LTI session
    const anonymous = await new Client(server.url, { accept: 'text/html' }).request('POST', '/lti/wallet/code', { form: { code: userCode } });
    expect(anonymous.status).toBe(401);
    const wrongCode = await first.session.post('/lti/wallet/code', { form: { code: 'BBBB-BBBB' } });
    expect(wrongCode.status).toBe(404);
    const consent = await (await first.session.post('/lti/wallet/code', { form: { code: userCode } })).text();
    const requestId = /name="request" value="([^"]+)"/.exec(consent)?.[1] ?? '';
    expect((await first.session.post('/lti/wallet/decision', { form: { request: requestId, decision: 'approve' } })).status).toBe(200);
    expect((await first.session.post('/lti/wallet/decision', { form: { request: requestId, decision: 'approve' } })).status).toBe(409);
    // another browser (no cookie of the request) gets nothing
    expect((await new Client(server.url, { accept: 'text/html' }).request('GET', continueUrl)).status).toBe(400);
    expect((await browser.request('GET', continueUrl)).status).toBe(303);
  });

  it('lists the learner’s connected wallets in Ma progression, and disconnects one: its tokens stop working', async () => {
    const other = learners['42'] as { session: Client; jwts: string[] };
    const tokens = await tokensFor(other.session);
    const html = await (await other.session.get('/lti/me?tab=badges')).text();
    expect(text(html)).toContain('Portefeuilles connectés Portefeuille de test');
    const clientId = /name="client" value="([^"]+)"/.exec(html)?.[1];
    expect(clientId).toBe(client.client_id);
    // another learner disconnecting this wallet changes nothing for this one
    const first = learners['41'] as { session: Client; jwts: string[] };
    await first.session.post('/lti/wallet/disconnect', { form: { client: client.client_id } });
    expect((await api(tokens.access_token, '/credentials')).status).toBe(200);
    const done = await other.session.post('/lti/wallet/disconnect', { form: { client: client.client_id } });
    expect(done.status).toBe(200);
    expect(text(await done.text())).toContain('Ce portefeuille est déconnecté');
    expect((await api(tokens.access_token, '/credentials')).status).toBe(401);
    expect(await (await token(client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).json()).toMatchObject({ error: 'invalid_grant' });
    expect(text(await (await other.session.get('/lti/me?tab=badges')).text())).not.toContain('Portefeuilles connectés');
  });

  it('links each earned badge to LinkedIn’s add-to-profile form, in a new tab', async () => {
    const first = learners['41'] as { session: Client; jwts: string[] };
    const html = await (await first.session.get('/lti/me?tab=badges')).text();
    const links = [...html.matchAll(/<a class="linkedin" href="([^"]+)" target="_blank"/g)].map((m) => new URL((m[1] ?? '').replace(/&amp;/g, '&')));
    expect(links).toHaveLength(2);
    const [link] = links;
    expect(`${link?.origin}${link?.pathname}`).toBe('https://www.linkedin.com/profile/add');
    expect(link?.searchParams.get('startTask')).toBe('CERTIFICATION_NAME');
    expect(link?.searchParams.get('name')).toContain('Cybersécurité en santé');
    expect(link?.searchParams.get('organizationName')).toBeTruthy();
    expect(link?.searchParams.get('issueYear')).toBe(String(new Date().getUTCFullYear()));
    expect(link?.searchParams.get('certUrl')).toMatch(/\/badges\/[0-9a-f-]{36}$/);
    expect(link?.searchParams.get('certId')).toBe(link?.searchParams.get('certUrl')?.split('/').pop());
    expect(text(html)).toContain('Portefeuilles de badges');
  });

  it('shows the same LinkedIn link on the learner’s page a teacher opens', async () => {
    const db = server.ctx.store.db;
    const platform = await findPlatform(db, moodle.issuer);
    const learner = platform && (await findUser(db, platform.id, '41'));
    const teacher = (await moodle.launch(server, 'instructor', { locale: 'fr' })).client;
    const res = await teacher.get(`/lti/learners/${learner?.id}`);
    expect(res.status).toBe(200);
    const links = [...(await res.text()).matchAll(/<a class="linkedin" href="([^"]+)" target="_blank"/g)].map((m) => new URL((m[1] ?? '').replace(/&amp;/g, '&')));
    expect(links).toHaveLength(2);
    expect(links[0]?.searchParams.get('startTask')).toBe('CERTIFICATION_NAME');
  });
});

describe.each(drivers)('the wallet endpoints’ rate limit on %s', (driver) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(driver, { rateLimits: { ...DEFAULT_RATE_LIMITS, public: 3 } });
  });
  afterAll(() => server.destroy());

  it('counts registration and token requests per address: past the limit, 429 with Retry-After', async () => {
    const register = () => fetch(`${server.url}/ims/ob/v3p0/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const tokenCall = () => fetch(`${server.url}/ims/ob/v3p0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code' });
    expect((await register()).status).toBe(400);
    expect((await tokenCall()).status).toBe(401);
    expect((await register()).status).toBe(400);
    const refused = await tokenCall();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await register()).status).toBe(429);
    // the discovery document is not counted
    expect((await fetch(`${server.url}/ims/ob/v3p0/discovery`)).status).toBe(200);
  });
});
