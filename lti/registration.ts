import { and, eq, sql } from 'drizzle-orm';
import type { ProviderInstance } from 'ltijs';
import { z } from 'zod';
import type { Config } from '../src/config';
import type { AppContext } from '../src/context';
import { ltiDeployments, platforms } from '../src/db/schema';
import { type Database, type Executor, queryRows } from '../src/db/store';
import { type FramingOrigins, originOf } from '../src/web/security';
import { ensurePlatform, normalizeIssuer } from '../src/identity/records';
import { prefillInstitution } from '../src/identity/institution';
import { notFound, SocleError } from '../src/domain/errors';

import { CUSTOM_PARAMETERS, SCOPES, toolConfig } from '../src/lms/tool-config';

/** What Socle sends to a platform's registration endpoint (IMS LTI Dynamic Registration). */
export function registrationRequest(config: Config, claimsSupported: string[] | undefined) {
  const c = toolConfig(config);
  return {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: c.loginUrl,
    redirect_uris: c.redirectUris,
    client_name: 'Socle',
    jwks_uri: c.jwksUrl,
    token_endpoint_auth_method: 'private_key_jwt',
    scope: SCOPES.join(' '),
    'https://purl.imsglobal.org/spec/lti-tool-configuration': {
      domain: c.domain,
      description: 'Formation socle au numérique en santé : heures validées par domaine et compétence',
      target_link_uri: c.toolUrl,
      custom_parameters: CUSTOM_PARAMETERS,
      claims: claimsSupported ?? ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'],
      messages: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest', target_link_uri: c.deepLinkingUrl }],
    },
  };
}

export interface ManualPlatform {
  issuer: string;
  clientId: string;
  deploymentIds: string[];
  authEndpoint: string;
  tokenEndpoint: string;
  jwksUrl: string;
  name?: string;
  active: boolean;
}

export async function addDeployments(ex: Executor, platformId: number, clientId: string, deploymentIds: string[]) {
  if (deploymentIds.length === 0) return;
  await ex
    .insert(ltiDeployments)
    .values(deploymentIds.map((deploymentId) => ({ platformId, clientId, deploymentId })))
    .onConflictDoNothing();
}

/** Registers (or updates) a platform in ltijs and Socle's identity tables, with its deployment ids. */
export async function registerPlatform(ctx: AppContext, lti: ProviderInstance, p: ManualPlatform) {
  const issuer = normalizeIssuer(p.issuer);
  const registered = await lti.registerPlatform({
    url: issuer,
    name: p.name ?? issuer,
    clientId: p.clientId,
    authenticationEndpoint: p.authEndpoint,
    accesstokenEndpoint: p.tokenEndpoint,
    authConfig: { method: 'JWK_SET', key: p.jwksUrl },
  });
  await registered.platformActive(p.active);
  await ctx.store.db.transaction(async (tx) => {
    const platform = await ensurePlatform(tx, issuer, p.name);
    await addDeployments(tx, platform.id, p.clientId, p.deploymentIds);
  });
  return registered;
}

const toolPlatformClaim = z.object({ name: z.string().max(500).optional(), description: z.string().max(500).optional() });

/**
 * The institution profile a platform's own description pre-fills, once, when it has none: Moodle sends no site name
 * in its registration (openid-configuration and registration token, see test/fixtures/moodle-4.3/), but every launch
 * carries its site's full name (`description`, "Moodle LTI Test") and short name (`name`) in the `tool_platform`
 * claim. An administrator's profile is never overwritten.
 */
export async function prefillInstitutionFromLaunch(ex: Executor, platformId: number, toolPlatform: unknown): Promise<void> {
  const parsed = toolPlatformClaim.safeParse(toolPlatform);
  if (!parsed.success) return;
  const { name, description } = parsed.data;
  await prefillInstitution(ex, platformId, { legalName: description?.trim() || name, shortName: name });
}

/**
 * The origins that may frame Socle's pages: those of each active registered platform's issuer and authentication
 * endpoint (ltijs' `platform` rows; a platform without a `platformStatus` row is active, as ltijs reads it).
 */
export async function framingOrigins(db: Database): Promise<FramingOrigins> {
  const rows = await queryRows<{ issuer: string | null; auth: string | null }>(
    db,
    sql`SELECT p.doc->>'platformUrl' AS issuer, p.doc->>'authEndpoint' AS auth
        FROM lti_records p
        LEFT JOIN lti_records s ON s.collection = 'platformStatus' AND s.doc->>'id' = p.doc->>'kid'
        WHERE p.collection = 'platform' AND coalesce((s.doc->>'active')::boolean, true)`,
  );
  const byIssuer = new Map<string, string[]>();
  for (const { issuer, auth } of rows) {
    if (!issuer) continue;
    const key = normalizeIssuer(issuer);
    const origins = new Set(byIssuer.get(key));
    for (const url of [issuer, auth]) {
      const origin = url ? originOf(url) : undefined;
      if (origin) origins.add(origin);
    }
    byIssuer.set(key, [...origins].sort());
  }
  return { all: [...new Set([...byIssuer.values()].flat())].sort(), byIssuer };
}

export async function isDeploymentAllowed(ex: Executor, platformId: number, clientId: string, deploymentId: string) {
  const [row] = await ex
    .select()
    .from(ltiDeployments)
    .where(
      and(
        eq(ltiDeployments.platformId, platformId),
        eq(ltiDeployments.clientId, clientId),
        eq(ltiDeployments.deploymentId, deploymentId),
      ),
    );
  return row !== undefined;
}

export interface PlatformListing {
  issuer: string;
  clientId: string;
  name: string;
  active: boolean;
  kid: string;
  authEndpoint: string;
  tokenEndpoint: string;
  jwksUrl: string;
  deploymentIds: string[];
}

export async function listPlatforms(ctx: AppContext, lti: ProviderInstance, issuer?: string): Promise<PlatformListing[]> {
  const all = await lti.getAllPlatforms();
  const deployments = await ctx.store.db
    .select({ issuer: platforms.issuer, clientId: ltiDeployments.clientId, deploymentId: ltiDeployments.deploymentId })
    .from(ltiDeployments)
    .innerJoin(platforms, eq(platforms.id, ltiDeployments.platformId));
  const out: PlatformListing[] = [];
  for (const p of all) {
    const url = await p.platformUrl();
    if (issuer && normalizeIssuer(url) !== normalizeIssuer(issuer)) continue;
    const clientId = await p.platformClientId();
    out.push({
      issuer: url,
      clientId,
      name: await p.platformName(),
      active: await p.platformActive(),
      kid: await p.platformKid(),
      authEndpoint: await p.platformAuthEndpoint(),
      tokenEndpoint: await p.platformAccessTokenEndpoint(),
      jwksUrl: (await p.platformAuthConfig()).key,
      deploymentIds: deployments
        .filter((d) => normalizeIssuer(d.issuer) === normalizeIssuer(url) && d.clientId === clientId)
        .map((d) => d.deploymentId)
        .sort(),
    });
  }
  return out.sort((a, b) => a.issuer.localeCompare(b.issuer) || a.clientId.localeCompare(b.clientId));
}

/** Dynamic registration failed (`registration_failed`): the message says which step and why. */
const registrationFailed = (message: string) => new SocleError('registration_failed', message);

export async function setPlatformActive(lti: ProviderInstance, issuer: string, clientId: string, active: boolean) {
  const platform = await lti.getPlatform(normalizeIssuer(issuer), clientId);
  if (!platform) throw notFound(`no platform ${issuer} with client id ${clientId}`);
  await platform.platformActive(active);
}

export async function removePlatform(ctx: AppContext, lti: ProviderInstance, issuer: string, clientId: string) {
  const iss = normalizeIssuer(issuer);
  const platform = await lti.getPlatform(iss, clientId);
  if (!platform) throw notFound(`no platform ${issuer} with client id ${clientId}`);
  await platform.delete();
  const [row] = await ctx.store.db.select().from(platforms).where(eq(platforms.issuer, iss));
  if (row) {
    await ctx.store.db
      .delete(ltiDeployments)
      .where(and(eq(ltiDeployments.platformId, row.id), eq(ltiDeployments.clientId, clientId)));
  }
}

const openidConfiguration = z.object({
  issuer: z.string().url(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  registration_endpoint: z.string().url(),
  claims_supported: z.array(z.string()).optional(),
  'https://purl.imsglobal.org/spec/lti-platform-configuration': z
    .object({ product_family_code: z.string().optional(), version: z.string().optional() })
    .optional(),
});

const registrationResponse = z.object({
  client_id: z.string().min(1),
  'https://purl.imsglobal.org/spec/lti-tool-configuration': z
    .object({ deployment_id: z.string().min(1).optional() })
    .optional(),
});

async function getJson(url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw registrationFailed(`${what}: cannot reach ${url} (${(error as Error).message})`);
  }
  const text = await res.text();
  if (!res.ok) throw registrationFailed(`${what}: ${url} answered ${res.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw registrationFailed(`${what}: ${url} did not answer JSON`);
  }
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export interface DynamicRegistrationResult {
  issuer: string;
  clientId: string;
  deploymentId: string | undefined;
  active: boolean;
}

/**
 * LTI Dynamic Registration: reads the platform's openid-configuration, posts Socle's configuration to its
 * registration endpoint with the registration token, and stores the platform (inactive until an administrator
 * activates it, as Moodle does on its side).
 */
export async function dynamicRegistration(
  ctx: AppContext,
  lti: ProviderInstance,
  openidConfigurationUrl: string,
  registrationToken: string | undefined,
): Promise<DynamicRegistrationResult> {
  if (!URL.canParse(openidConfigurationUrl)) throw registrationFailed('openid_configuration is not a URL');
  const parsed = openidConfiguration.safeParse(
    await getJson(openidConfigurationUrl, { headers: { Accept: 'application/json' } }, 'openid-configuration'),
  );
  if (!parsed.success) throw registrationFailed(`openid-configuration is invalid: ${zodMessage(parsed.error)}`);
  const conf = parsed.data;
  if (new URL(conf.issuer).origin !== new URL(openidConfigurationUrl).origin) {
    throw registrationFailed(`the issuer ${conf.issuer} is not served from ${new URL(openidConfigurationUrl).origin}`);
  }
  const response = registrationResponse.safeParse(
    await getJson(
      conf.registration_endpoint,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          ...(registrationToken ? { Authorization: `Bearer ${registrationToken}` } : {}),
        },
        body: JSON.stringify(registrationRequest(ctx.config, conf.claims_supported)),
      },
      'registration',
    ),
  );
  if (!response.success) throw registrationFailed(`registration response is invalid: ${zodMessage(response.error)}`);
  const clientId = response.data.client_id;
  const deploymentId = response.data['https://purl.imsglobal.org/spec/lti-tool-configuration']?.deployment_id;
  const issuer = normalizeIssuer(conf.issuer);
  const family = conf['https://purl.imsglobal.org/spec/lti-platform-configuration']?.product_family_code ?? 'platform';
  await registerPlatform(ctx, lti, {
    issuer,
    clientId,
    deploymentIds: deploymentId ? [deploymentId] : [],
    authEndpoint: conf.authorization_endpoint,
    tokenEndpoint: conf.token_endpoint,
    jwksUrl: conf.jwks_uri,
    name: `${family} ${issuer}`,
    active: false,
  });
  ctx.logger.info({ issuer, clientId, deploymentId }, 'platform registered dynamically (inactive until activated)');
  return { issuer, clientId, deploymentId, active: false };
}
