import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';
import nock from 'nock';
import { registerPlatform } from '../../lti/registration';
import type { RunningServer } from '../../src/app/server';

/** Payloads captured from Moodle 4.3 (test/fixtures/moodle-4.3). */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'moodle-4.3', name), 'utf8')) as T;
}

export type LaunchRole = 'learner' | 'instructor' | 'administrator' | 'deeplinking' | 'none';

export interface LaunchOptions {
  /** Course (context) id; default "2" as in the fixtures. */
  context?: string;
  contextTitle?: string;
  sub?: string;
  locale?: string;
  /** Changes to the signed claims (a value of undefined deletes the claim). */
  claims?: Record<string, unknown>;
  /** Changes to the JOSE header (e.g. { kid: 'unknown' }). */
  header?: Record<string, unknown>;
  /** Signs with this key instead of the platform's. */
  key?: KeyLike;
  /** Raw id_token to post instead of the signed one (alg none, tampered…). */
  rawToken?: (signed: string) => string;
  /** Posts this state instead of the one the login answered. */
  state?: string;
  /** Stops after posting the id_token (returns the tool's answer to the post). */
  stopAfterPost?: boolean;
}

/** A browser: keeps cookies per name, follows nothing by itself. */
export class Client {
  cookies = new Map<string, string>();
  ltik: string | undefined;
  /** Headers sent with every request (e.g. a browser's Accept and Accept-Language). */
  constructor(
    readonly base: string,
    readonly headers: Record<string, string> = {},
  ) {}

  private store(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair?.indexOf('=') ?? -1;
      if (!pair || i < 0) continue;
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, url: string, init: { form?: Record<string, string>; headers?: Record<string, string>; json?: unknown } = {}) {
    const headers: Record<string, string> = { ...this.headers, ...(init.headers ?? {}) };
    if (this.cookies.size) headers.Cookie = this.cookieHeader();
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await fetch(new URL(url, this.base), { method, headers, body, redirect: 'manual' });
    this.store(res);
    return res;
  }

  /** GET following redirects on the tool (keeps the last ltik seen). */
  async follow(res: Response): Promise<Response> {
    let current = res;
    for (let i = 0; i < 5 && current.status >= 300 && current.status < 400; i++) {
      const location = current.headers.get('location');
      if (!location) break;
      const url = new URL(location, this.base);
      const ltik = url.searchParams.get('ltik');
      if (ltik) this.ltik = ltik;
      current = await this.request('GET', url.toString());
    }
    return current;
  }

  /** A page or API of the tool with the session's ltik as a Bearer token (and the session cookie). */
  get(pathname: string, headers: Record<string, string> = {}) {
    return this.request('GET', pathname, { headers: { ...(this.ltik ? { Authorization: `Bearer ${this.ltik}` } : {}), ...headers } });
  }

  post(pathname: string, init: { form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}) {
    return this.request('POST', pathname, {
      ...init,
      headers: { ...(this.ltik ? { Authorization: `Bearer ${this.ltik}` } : {}), ...(init.headers ?? {}) },
    });
  }
}

export interface LaunchResult {
  client: Client;
  /** The final answer (the landing page, or the refusal). */
  res: Response;
  body: string;
  /** The path the launch landed on (/lti/course, /lti/me, /lti/admin…). */
  landedOn: string | undefined;
  nonce: string;
  /** The state the id_token was posted with. */
  state: string;
  idToken: string;
}

export const ADMIN_ROLES = [
  'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator',
];

/**
 * A Moodle 4.3 platform simulated at the HTTP boundary: its own RSA key (kid), id_tokens built from the captured
 * claims and really signed, its JWKS, token, NRPS and AGS endpoints answered by nock with the captured payloads.
 */
export class SimulatedMoodle {
  readonly issuer = 'http://127.0.0.1:8181';
  readonly clientId: string;
  readonly deploymentId: string;
  readonly kid: string;
  /** Every simulated Moodle of this process: certs.php answers the keys of all of them (one issuer, several tools). */
  private static live: SimulatedMoodle[] = [];
  /** Score posts received (body and URL). */
  readonly scores: { url: string; body: Record<string, unknown> }[] = [];
  /** NRPS page requests received. */
  readonly nrpsRequests: string[] = [];
  /** Users for which AGS answers 400 (not gradable). */
  readonly notGradable = new Set<string>();
  private constructor(
    readonly privateKey: KeyLike,
    readonly publicJwk: Record<string, unknown>,
    options: { clientId?: string; deploymentId?: string; kid?: string },
  ) {
    this.kid = options.kid ?? 'c53c42cd138e40e826e3';
    this.clientId = options.clientId ?? 'u0eyXmuEdseGHfE';
    this.deploymentId = options.deploymentId ?? '1';
  }

  static async create(options: { clientId?: string; deploymentId?: string; kid?: string } = {}): Promise<SimulatedMoodle> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
    const moodle = new SimulatedMoodle(privateKey, { ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig' }, options);
    // A newer simulation of the same platform key replaces the older one.
    SimulatedMoodle.live = SimulatedMoodle.live.filter((m) => !(m.issuer === moodle.issuer && m.kid === moodle.kid));
    SimulatedMoodle.live.push(moodle);
    moodle.intercept();
    return moodle;
  }

  get membershipsUrl() {
    return `${this.issuer}/mod/lti/services.php/CourseSection/2/bindings/1/memberships`;
  }

  /** Answers certs.php, token.php, NRPS (3 pages, Link header) and AGS scores, for as long as nock is active. */
  intercept(): void {
    nock(this.issuer)
      .persist()
      .get('/mod/lti/certs.php')
      .reply(200, () => ({
        keys: SimulatedMoodle.live.filter((m) => m.issuer === this.issuer).map((m) => ({ ...m.publicJwk, kid: m.kid })),
      }));
    nock(this.issuer)
      .persist()
      .post('/mod/lti/token.php')
      .reply(function (_uri, body) {
        const form = new URLSearchParams(String(body));
        if (form.get('grant_type') !== 'client_credentials' || !form.get('client_assertion')) return [400, { error: 'invalid_request' }];
        const answer = { ...fixture('lti-token-response.json'), access_token: `tok-${randomUUID()}`, scope: form.get('scope') };
        return [200, JSON.stringify(answer), { 'Content-Type': 'text/html; charset=utf-8' }];
      });
    const members = fixture<{ members: unknown[]; context: unknown; id: string }>('nrps-memberships.json');
    const nrpsType = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json; charset=utf-8';
    nock(this.issuer)
      .persist()
      .get('/mod/lti/services.php/CourseSection/2/bindings/1/memberships')
      .query(true)
      .reply((uri, _body) => {
        this.nrpsRequests.push(uri);
        const from = Number(new URL(uri, this.issuer).searchParams.get('from') ?? 0);
        const page = { id: members.id, context: members.context, members: members.members.slice(from, from + 1) };
        const headers: Record<string, string> = { 'Content-Type': nrpsType };
        if (from + 1 < members.members.length) {
          headers.Link = `<${this.membershipsUrl}?limit=1&from=${from + 1}>; rel="next"`;
        }
        return [200, page, headers];
      });
    nock(this.issuer)
      .persist()
      .post('/mod/lti/services.php/2/lineitems/2/lineitem/scores')
      .query(true)
      .reply((uri, body) => {
        const score = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown>;
        this.scores.push({ url: `${this.issuer}${uri}`, body: score });
        if (this.notGradable.has(String(score.userId))) {
          return [400, 'Incorrect score received', { 'Content-Type': 'text/plain' }];
        }
        return [200, '', { 'Content-Type': 'application/vnd.ims.lis.v1.score+json; charset=utf-8' }];
      });
  }

  /** Registers this platform in the server's ltijs (manual registration, as `socle platforms add`). */
  async register(server: RunningServer, options: { active?: boolean } = {}) {
    const lti = server.lti;
    await registerPlatform(server.ctx, lti.provider, {
      issuer: this.issuer,
      clientId: this.clientId,
      deploymentIds: [this.deploymentId],
      authEndpoint: `${this.issuer}/mod/lti/auth.php`,
      tokenEndpoint: `${this.issuer}/mod/lti/token.php`,
      jwksUrl: `${this.issuer}/mod/lti/certs.php`,
      name: 'Moodle LTI Test',
      active: options.active ?? true,
    });
  }

  claims(role: LaunchRole, server: RunningServer, opts: LaunchOptions, nonce: string): Record<string, unknown> {
    const file =
      role === 'learner' ? 'lti-launch-learner.claims.json' : role === 'deeplinking' ? 'lti-launch-deeplinking.claims.json' : 'lti-launch-instructor.claims.json';
    const claims = fixture(file);
    const now = Math.floor(Date.now() / 1000);
    const toolUrl = `${server.ctx.config.publicUrl}/lti/launch`;
    claims.nonce = nonce;
    claims.iat = now;
    claims.exp = now + 60;
    claims.aud = this.clientId;
    claims['https://purl.imsglobal.org/spec/lti/claim/deployment_id'] = this.deploymentId;
    claims['https://purl.imsglobal.org/spec/lti/claim/target_link_uri'] = toolUrl;
    if (role === 'administrator') claims['https://purl.imsglobal.org/spec/lti/claim/roles'] = ADMIN_ROLES;
    if (role === 'none') claims['https://purl.imsglobal.org/spec/lti/claim/roles'] = ['http://purl.imsglobal.org/vocab/lis/v2/membership#Guest'];
    if (opts.sub) claims.sub = opts.sub;
    const context = claims['https://purl.imsglobal.org/spec/lti/claim/context'] as Record<string, unknown>;
    if (opts.context) {
      context.id = opts.context;
      context.title = opts.contextTitle ?? `Course ${opts.context}`;
    }
    if (opts.locale) {
      const lp = (claims['https://purl.imsglobal.org/spec/lti/claim/launch_presentation'] ?? {}) as Record<string, unknown>;
      claims['https://purl.imsglobal.org/spec/lti/claim/launch_presentation'] = { ...lp, locale: opts.locale };
    }
    for (const [k, v] of Object.entries(opts.claims ?? {})) {
      if (v === undefined) delete claims[k];
      else claims[k] = v;
    }
    return claims;
  }

  /**
   * A full OIDC launch as Moodle's browser does it: POST the login initiation form to /lti/login, read state and
   * nonce from the redirect to auth.php, post a signed id_token + state to the redirect URI, follow to the page.
   */
  async launch(server: RunningServer, role: LaunchRole, opts: LaunchOptions = {}, client = new Client(server.url)): Promise<LaunchResult> {
    const login = await this.login(server, role, opts, client);
    if ('refused' in login) {
      return { client, res: login.refused, body: await login.refused.text(), landedOn: undefined, nonce: '', state: '', idToken: '' };
    }
    const idToken = await this.idToken(server, role, opts, login.nonce);
    return this.post(server, client, idToken, opts.state ?? login.state, login.nonce, opts.stopAfterPost);
  }

  /** The login step alone: POST the initiation form to /lti/login; the state and nonce of the redirect to auth.php. */
  async login(server: RunningServer, role: LaunchRole, opts: LaunchOptions = {}, client = new Client(server.url)): Promise<{ state: string; nonce: string } | { refused: Response }> {
    const initiation = fixture<Record<string, string>>(
      role === 'learner' ? 'lti-oidc-login-initiation.learner.json' : role === 'deeplinking' ? 'lti-oidc-login-initiation.deeplinking.json' : 'lti-oidc-login-initiation.instructor.json',
    );
    const login = await client.request('POST', '/lti/login', {
      form: {
        ...initiation,
        client_id: this.clientId,
        lti_deployment_id: this.deploymentId,
        login_hint: opts.sub ?? initiation.login_hint ?? '',
        target_link_uri: `${server.ctx.config.publicUrl}/lti/launch`,
      },
    });
    if (login.status !== 302) return { refused: login };
    const auth = new URL(String(login.headers.get('location')));
    if (auth.origin + auth.pathname !== `${this.issuer}/mod/lti/auth.php`) throw new Error(`login redirected to ${auth}`);
    return { state: auth.searchParams.get('state') ?? '', nonce: auth.searchParams.get('nonce') ?? '' };
  }

  /** The id_token Moodle's auth.php answers a login with (really signed unless `opts` says otherwise). */
  async idToken(server: RunningServer, role: LaunchRole, opts: LaunchOptions, nonce: string): Promise<string> {
    const claims = this.claims(role, server, opts, nonce);
    const signed = await new SignJWT(claims as never)
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: this.kid, ...(opts.header ?? {}) })
      .sign(opts.key ?? this.privateKey);
    return opts.rawToken ? opts.rawToken(signed) : signed;
  }

  /** Posts an id_token (e.g. a replayed one) with a state to the redirect URI, and follows to the page. */
  async post(server: RunningServer, client: Client, idToken: string, state: string, nonce = '', stop = false): Promise<LaunchResult> {
    const posted = await client.request('POST', '/lti/launch', { form: { id_token: idToken, state } });
    const res = stop ? posted : await client.follow(posted);
    const body = await res.text();
    const landedOn = res.status === 200 ? new URL(res.url || server.url).pathname : undefined;
    return { client, res, body, landedOn: landedOn === '/' ? undefined : landedOn, nonce, state, idToken };
  }
}

/** Launches `role` on a fresh simulated browser; see SimulatedMoodle.launch. */
export function launch(moodle: SimulatedMoodle, server: RunningServer, role: LaunchRole, opts: LaunchOptions = {}) {
  return moodle.launch(server, role, opts);
}
