/**
 * The Open Badges 3.0 API a wallet reads from (`/ims/ob/v3p0`): the Service Description Document, OAuth 2.0
 * Dynamic Client Registration, the authorization code grant with PKCE (the learner approves in their LTI session:
 * lti/wallet.ts), the token endpoint (code, refresh) and RFC 7009 revocation, then getCredentials,
 * upsertCredential and getProfile for the learner of the token. OAuth endpoints answer OAuth's error shape; the
 * resource endpoints answer Imsx_StatusInfo.
 *
 * The OAuth pieces are written here over Socle's own tables: the servers on npm (oidc-provider, @node-oauth/
 * oauth2-server) bring their own storage adapters and sessions, and neither the consent through an LTI session nor
 * the spec's registration profile fit them; what remains (random opaque values, SHA-256, the PKCE comparison) is
 * `node:crypto`.
 */
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { SocleError } from '../domain/errors';
import { version } from '../version';
import { asyncHandler, errorHeaders, httpStatus } from '../web/http';
import { requestLocale, translator } from '../web/i18n';
import { enforceRateLimit } from '../web/rate-limit';
import { render } from '../web/render';
import '../web/texts/wallet';
import { authenticateClient, registerClient } from '../wallet/clients';
import { continueAuthorization, redeemCode, redirectWith, startAuthorization, UnsafeRedirect } from '../wallet/codes';
import { credentialPage, holdsCredential, learnerProfile } from '../wallet/holdings';
import { OB_SCOPES, oauthCodeOf, REQUEST_TTL_SECONDS, SCOPES } from '../wallet/oauth';
import { issueTokens, refreshTokens, revokeToken, verifyAccessToken, type WalletGrant } from '../wallet/tokens';

export const OB_API = '/ims/ob/v3p0';
/** The page that tells a learner what a wallet receives (terms and privacy of the wallet connection). */
export const WALLET_TERMS = '/wallets';
const COOKIE_PREFIX = 'socle_wallet_';

export const obUrls = (publicUrl: string) => ({
  base: `${publicUrl}${OB_API}`,
  discovery: `${publicUrl}${OB_API}/discovery`,
  registration: `${publicUrl}${OB_API}/register`,
  authorization: `${publicUrl}${OB_API}/authorize`,
  token: `${publicUrl}${OB_API}/token`,
  revocation: `${publicUrl}${OB_API}/revoke`,
  terms: `${publicUrl}${WALLET_TERMS}#terms`,
  privacy: `${publicUrl}${WALLET_TERMS}#privacy`,
});

/** The Service Description Document: the spec's OpenAPI 3.0 file profiled to what Socle serves. */
export function serviceDescription(publicUrl: string) {
  const u = obUrls(publicUrl);
  const imsx = { $ref: '#/components/schemas/Imsx_StatusInfo' };
  const errors = Object.fromEntries(['400', '401', '403', '405', '500'].map((s) => [s, { description: `Imsx_StatusInfo (${s})`, content: { 'application/json': { schema: imsx } } }]));
  return {
    openapi: '3.0.1',
    info: {
      title: 'Socle',
      description: 'Open Badges 3.0 API of Socle: the OpenBadgeCredentials a learner earned in the digital-health foundation training.',
      version,
      termsOfService: u.terms,
      'x-imssf-image': `${publicUrl}/favicon.ico`,
      'x-imssf-privacyPolicyUrl': u.privacy,
    },
    servers: [{ url: u.base, description: 'Socle' }],
    tags: [{ name: 'OpenBadgeCredentials' }, { name: 'Discovery' }],
    paths: {
      '/credentials': {
        get: {
          operationId: 'getCredentials',
          tags: ['OpenBadgeCredentials'],
          parameters: [
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
            { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
            { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' } },
          ],
          security: [{ OAuth2ACG: [SCOPES.credentialRead] }],
          responses: { '200': { description: 'GetOpenBadgeCredentialsResponse', content: { 'application/json': { schema: { type: 'object', properties: { compactJwsStrings: { type: 'array', items: { type: 'string' } } } } } } }, ...errors },
        },
        post: {
          operationId: 'upsertCredential',
          tags: ['OpenBadgeCredentials'],
          security: [{ OAuth2ACG: [SCOPES.credentialUpsert] }],
          requestBody: { content: { 'text/plain': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } } },
          responses: { '200': { description: 'The credential, already held', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors },
        },
      },
      '/profile': {
        get: {
          operationId: 'getProfile',
          tags: ['OpenBadgeCredentials'],
          security: [{ OAuth2ACG: [SCOPES.profileRead] }],
          responses: { '200': { description: 'Profile', content: { 'application/json': { schema: { type: 'object' } } } }, ...errors },
        },
      },
      '/discovery': { get: { operationId: 'getServiceDescription', tags: ['Discovery'], responses: { '200': { description: 'This document' } } } },
    },
    components: {
      securitySchemes: {
        OAuth2ACG: {
          type: 'oauth2',
          description: 'OAuth 2.0 Authorization Code Grant authorization',
          'x-imssf-name': 'Socle',
          'x-imssf-privacyPolicyUrl': u.privacy,
          'x-imssf-registrationUrl': u.registration,
          'x-imssf-termsOfServiceUrl': u.terms,
          flows: {
            authorizationCode: {
              tokenUrl: u.token,
              authorizationUrl: u.authorization,
              refreshUrl: u.token,
              scopes: {
                [SCOPES.credentialRead]: 'Permission to read the OpenBadgeCredentials of the learner',
                [SCOPES.credentialUpsert]: 'Permission to create or update OpenBadgeCredentials of the learner (Socle holds only those it issued)',
                [SCOPES.profileRead]: 'Permission to read the profile of the learner',
                [SCOPES.profileUpdate]: 'Permission to update the profile of the learner (not supported: 405)',
              },
            },
          },
        },
      },
      schemas: {
        Imsx_StatusInfo: {
          type: 'object',
          required: ['imsx_codeMajor', 'imsx_severity'],
          properties: {
            imsx_codeMajor: { type: 'string', enum: ['failure', 'processing', 'success', 'unsupported'] },
            imsx_severity: { type: 'string', enum: ['error', 'status', 'warning'] },
            imsx_description: { type: 'string' },
            imsx_codeMinor: { type: 'object' },
          },
        },
      },
    },
  };
}

/** The spec's codeMinor value for an HTTP status of the resource endpoints. */
const CODE_MINOR: Record<number, string> = {
  400: 'invalid_data',
  401: 'unauthorisedrequest',
  403: 'forbidden',
  404: 'unknownobject',
  405: 'forbidden',
  429: 'server_busy',
  500: 'internal_server_error',
  503: 'server_busy',
};

/** The spec's Imsx_StatusInfo payload of an error of the resource endpoints. */
export function imsxStatus(status: number, description: string, codeMajor: 'failure' | 'unsupported' = 'failure') {
  return {
    imsx_codeMajor: codeMajor,
    imsx_severity: 'error',
    imsx_description: description,
    imsx_codeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldName: 'TargetEndSystem', imsx_codeMinorFieldValue: CODE_MINOR[status] ?? 'unknown' }] },
  };
}

const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';
/** Registration, authorization and token requests are counted per address (the `public` limit, their own counter). */
const limitByAddress = (ctx: AppContext) =>
  asyncHandler(async (req, _res, next) => {
    await enforceRateLimit(ctx, 'public', `wallet:${addressOf(req)}`);
    next();
  });

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const noStore = (res: Response) => res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });

/** An OAuth endpoint's refusal in OAuth's shape (RFC 6749 §5.2, RFC 7591 §3.2.2); other errors go on. */
function oauthErrors(error: unknown, _req: Request, res: Response, next: NextFunction) {
  // a body the JSON or form parser refused: the client's fault, in OAuth's shape
  const status = (error as { status?: unknown } | undefined)?.status;
  if (!(error instanceof SocleError) && typeof status === 'number' && status >= 400 && status < 500) {
    noStore(res).status(400).json({ error: 'invalid_request', error_description: 'The body could not be read.' });
    return;
  }
  const code = error instanceof SocleError ? oauthCodeOf(error) : undefined;
  if (!code || !(error instanceof SocleError)) {
    next(error);
    return;
  }
  noStore(res)
    .status(httpStatus[error.code])
    .set(errorHeaders(error))
    .json({ error: code, error_description: error.message.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ') });
}

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  since: z.iso.datetime({ offset: true }).optional(),
});

const tokenForm = z.object({
  grant_type: z.string().optional(),
  code: z.string().max(200).optional(),
  redirect_uri: z.string().max(2_000).optional(),
  code_verifier: z.string().max(200).optional(),
  refresh_token: z.string().max(200).optional(),
  scope: z.string().max(2_000).optional(),
});

export function obApiRouter(ctx: AppContext): Router {
  const router = Router();
  const db = ctx.store.db;
  const urls = obUrls(ctx.config.publicUrl);
  const secureCookie = ctx.config.publicUrl.startsWith('https:');
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.get(`${OB_API}/discovery`, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').json(serviceDescription(ctx.config.publicUrl));
  });

  router.get(WALLET_TERMS, (req, res) => {
    const locale = requestLocale(req);
    render(res, 'wallet-terms', { title: translator(locale)('wallet.termsTitle') }, locale);
  });

  // RFC 7591: no initial access token (the spec forbids requiring one)
  router.post(
    `${OB_API}/register`,
    limitByAddress(ctx),
    express.json({ limit: '32kb' }),
    asyncHandler(async (req, res) => {
      const { response } = await registerClient(db, req.body);
      noStore(res).status(201).json(response);
    }),
    oauthErrors,
  );

  /** The request page: the short code to enter in "Ma progression", and the link back once approved. */
  const requestPage = (req: Request, res: Response, data: Record<string, unknown>, status = 200) => {
    const locale = requestLocale(req);
    res.vary('Accept-Language');
    render(res, 'wallet-authorize', { title: translator(locale)('wallet.requestTitle'), ...data }, locale, status);
  };

  router.get(
    `${OB_API}/authorize`,
    limitByAddress(ctx),
    asyncHandler(async (req, res) => {
      try {
        const started = await startAuthorization(db, req.query);
        const id = started.authorization.id;
        res.cookie(`${COOKIE_PREFIX}${id}`, started.browserSecret, {
          httpOnly: true,
          secure: secureCookie,
          sameSite: 'lax',
          path: `${OB_API}/authorize`,
          maxAge: REQUEST_TTL_SECONDS * 1000,
        });
        requestPage(req, res, {
          state: 'pending',
          client: started.client.clientName,
          clientUri: started.client.metadata.client_uri,
          scopes: started.authorization.scope.split(' ').filter((s) => OB_SCOPES.includes(s)),
          userCode: started.userCode,
          continueUrl: `${OB_API}/authorize/continue?request=${id}`,
          minutes: REQUEST_TTL_SECONDS / 60,
        });
      } catch (error) {
        if (error instanceof UnsafeRedirect) {
          requestPage(req, res, { state: 'invalid', reason: error.message }, 400);
          return;
        }
        const code = error instanceof SocleError ? oauthCodeOf(error) : undefined;
        const q = req.query as Record<string, unknown>;
        if (!code || typeof q.redirect_uri !== 'string') throw error;
        res.redirect(
          303,
          redirectWith(q.redirect_uri, { error: code, error_description: (error as Error).message, ...(typeof q.state === 'string' ? { state: q.state } : {}) }),
        );
      }
    }),
  );

  router.get(
    `${OB_API}/authorize/continue`,
    limitByAddress(ctx),
    asyncHandler(async (req, res) => {
      const id = typeof req.query.request === 'string' ? req.query.request : '';
      const next = await continueAuthorization(db, id, cookieOf(req, `${COOKIE_PREFIX}${id}`));
      if (next.kind === 'redirect') {
        res.clearCookie(`${COOKIE_PREFIX}${id}`, { path: `${OB_API}/authorize` });
        noStore(res).redirect(303, next.location);
      } else if (next.kind === 'pending') {
        requestPage(req, res, { state: 'waiting', client: next.pending.client.clientName, continueUrl: `${OB_API}/authorize/continue?request=${id}` });
      } else {
        requestPage(req, res, { state: 'gone' }, 400);
      }
    }),
  );

  router.post(
    `${OB_API}/token`,
    limitByAddress(ctx),
    form,
    asyncHandler(async (req, res) => {
      const client = await authenticateClient(db, req.get('authorization'));
      const body = tokenForm.safeParse(req.body ?? {});
      if (!body.success) throw new SocleError('invalid_request', 'Malformed token request.', [{ path: 'oauth', message: 'invalid_request' }]);
      const f = body.data;
      const grants = (client.metadata.grant_types as string[] | undefined) ?? ['authorization_code'];
      let answer;
      if (f.grant_type === 'authorization_code') {
        if (!f.code) throw new SocleError('invalid_request', 'code is required.', [{ path: 'oauth', message: 'invalid_request' }]);
        // not in a transaction: a code is spent by any try, a failed one included (its UPDATE stands alone)
        const authorization = await redeemCode(db, client, { code: f.code, redirectUri: f.redirect_uri, codeVerifier: f.code_verifier });
        answer = await issueTokens(db, { clientId: client.id, userId: authorization.userId as number, authorizationId: authorization.id, scope: authorization.scope }, f.scope);
      } else if (f.grant_type === 'refresh_token') {
        if (!grants.includes('refresh_token')) throw new SocleError('invalid_request', 'This client did not register the refresh_token grant.', [{ path: 'oauth', message: 'unauthorized_client' }]);
        if (!f.refresh_token) throw new SocleError('invalid_request', 'refresh_token is required.', [{ path: 'oauth', message: 'invalid_request' }]);
        // not in a transaction either: a replayed refresh token revokes the wallet's tokens, and that stands
        answer = await refreshTokens(db, client, f.refresh_token, f.scope);
      } else {
        throw new SocleError('invalid_request', 'grant_type must be authorization_code or refresh_token.', [{ path: 'oauth', message: 'unsupported_grant_type' }]);
      }
      noStore(res).json(answer);
    }),
    oauthErrors,
  );

  router.post(
    `${OB_API}/revoke`,
    limitByAddress(ctx),
    form,
    asyncHandler(async (req, res) => {
      const client = await authenticateClient(db, req.get('authorization'));
      const token = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token) throw new SocleError('invalid_request', 'token is required.', [{ path: 'oauth', message: 'invalid_request' }]);
      await revokeToken(db, client, token);
      noStore(res).status(200).end();
    }),
    oauthErrors,
  );

  // the resource endpoints: a Bearer token of one learner, one scope each, errors as Imsx_StatusInfo
  const resource = Router();
  const imsx = (res: Response, status: number, description: string, headers: Record<string, string> = {}, codeMajor: 'failure' | 'unsupported' = 'failure') =>
    noStore(res).status(status).set(headers).json(imsxStatus(status, description, codeMajor));
  const grantOf = (res: Response) => (res.locals as { walletGrant?: WalletGrant }).walletGrant as WalletGrant;
  const requireScope = (scope: string) =>
    asyncHandler(async (req, res, next) => {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(req.get('authorization') ?? '');
      const grant = match?.[1] ? await verifyAccessToken(db, match[1]) : undefined;
      if (!grant) {
        imsx(res, 401, 'A valid access token is required (Authorization: Bearer).', { 'WWW-Authenticate': `Bearer realm="socle", error="invalid_token"` });
        return;
      }
      await enforceRateLimit(ctx, 'api', `wallet-token:${grant.tokenId}`);
      if (!grant.scopes.includes(scope)) {
        imsx(res, 403, `This token was not granted the scope ${scope}.`, { 'WWW-Authenticate': `Bearer realm="socle", error="insufficient_scope", scope="${scope}"` });
        return;
      }
      (res.locals as { walletGrant?: WalletGrant }).walletGrant = grant;
      next();
    });

  resource.get(
    '/credentials',
    requireScope(SCOPES.credentialRead),
    asyncHandler(async (req, res) => {
      const q = pageQuery.safeParse(req.query);
      if (!q.success) {
        imsx(res, 400, `Invalid query: ${q.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return;
      }
      const { limit, offset, since } = q.data;
      const page = await credentialPage(db, grantOf(res).userId, { limit, offset, ...(since ? { since: new Date(since) } : {}) });
      const link = (o: number, rel: string) => `<${urls.base}/credentials?limit=${limit}&offset=${o}${since ? `&since=${encodeURIComponent(since)}` : ''}>; rel="${rel}"`;
      const last = page.total === 0 ? 0 : Math.floor((page.total - 1) / limit) * limit;
      const links = [
        ...(offset + limit < page.total ? [link(offset + limit, 'next')] : []),
        link(last, 'last'),
        link(0, 'first'),
        ...(offset > 0 ? [link(Math.max(0, Math.min(offset - limit, last)), 'prev')] : []),
      ];
      noStore(res).set({ 'X-Total-Count': String(page.total), Link: links.join(', ') }).json({ compactJwsStrings: page.jwts });
    }),
  );

  resource.post(
    '/credentials',
    requireScope(SCOPES.credentialUpsert),
    express.text({ type: 'text/plain', limit: '256kb' }),
    express.json({ type: ['application/json', 'application/vc+ld+json', 'application/ld+json'], limit: '256kb' }),
    asyncHandler(async (req, res) => {
      const body: unknown = req.body;
      if (typeof body === 'string') {
        const jws = body.trim();
        if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jws)) {
          imsx(res, 400, 'The body is not a compact JWS.');
          return;
        }
        // what Socle issued to this learner is already held: answered as a replacement that changes nothing
        if (await holdsCredential(db, grantOf(res).userId, jws)) {
          noStore(res).status(200).type('text/plain').send(jws);
          return;
        }
      } else if (!body || typeof body !== 'object' || Array.isArray(body)) {
        imsx(res, 400, 'The body must be an AchievementCredential (JSON) or a compact JWS (text/plain).');
        return;
      }
      imsx(res, 403, 'Socle holds only the credentials it issues: it does not store credentials from elsewhere.');
    }),
  );

  resource.get(
    '/profile',
    requireScope(SCOPES.profileRead),
    asyncHandler(async (_req, res) => {
      const profile = await learnerProfile(db, grantOf(res).userId, ctx.config.ltiKey);
      if (!profile) {
        imsx(res, 404, 'No profile for this token.');
        return;
      }
      noStore(res).json(profile);
    }),
  );

  resource.put('/profile', requireScope(SCOPES.profileUpdate), (_req, res) => {
    imsx(res.set('Allow', 'GET'), 405, 'The profile is the one the learner’s platform sends: Socle does not update it.', {}, 'unsupported');
  });

  // anything else under the resource paths, and every error there, is an Imsx_StatusInfo
  resource.use(['/credentials', '/profile'], (_req, res) => imsx(res, 405, 'Method not allowed.', {}, 'unsupported'));
  resource.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof SocleError && error.code !== 'internal_error' && error.code !== 'unavailable') {
      imsx(res, httpStatus[error.code], error.message, errorHeaders(error));
      return;
    }
    // a body the parsers refused (malformed JSON, too large): the client's fault, said in the spec's shape
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      imsx(res, status, (error as Error).message);
      return;
    }
    next(error);
  });
  router.use(OB_API, resource);
  return router;
}
