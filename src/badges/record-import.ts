import { decodeJwt } from 'jose';
import type { Executor } from '../db/store';
import { SocleError } from '../domain/errors';
import { storableIssues } from '../domain/storable';
import { urls } from './achievements';
import { COMPETENCY_SEGMENT, storeKeyResolver, verifyRecord } from './records';
import { publishedStatusList } from './status-list';
import { httpResolver, type RecordVerification, type Resolve, statusOf, verifyRecordJwt } from './verify';

/**
 * A learner record (CLR 2.0, as Socle issues them) read for import as prior learning, after it is verified as a third
 * party would: the signature by the key the issuer publishes at the header's `kid` (on the issuer's origin), the
 * CLR structure, the record still the learner's current one at its id (`/records/<id>` says `valid`: a superseded
 * record is refused, its newer record is the one to import), not expired (`validUntil`), and no credential it embeds
 * revoked (the bit of each `credentialStatus` in the issuer's signed status list). A record of this very Socle (two
 * platforms of one institution) is verified the same way, with the keys, records and status lists read from the store.
 */

/** What a record states, as imported: hours per domain and, in its breakdown, per competency. */
export interface RecordClaims {
  recordId: string;
  issuer: { id: string; name: string };
  referential: { id: string; version: string };
  issuedAt: Date;
  /** The record's subject: the learner's platform (unhashed) and their salted, hashed LTI user id. */
  subject: { platform?: string; userHash?: { hash: string; salt: string } };
  /** Minutes stated per domain code (its credential's `creditsEarned`). */
  domains: Map<string, number>;
  competencies: { domainCode: string; key: string; code: string; title: string; minutes: number }[];
}

/** Why a record is not imported: the verification's status and its reasons. */
export const recordRefused = (status: string, errors: readonly string[]) =>
  new SocleError('invalid_request', `the record is not importable: ${status}${errors.length ? ` (${errors.join('; ')})` : ''}`, [
    { path: 'record', message: status },
  ]);

/** More hours than any référentiel holds: a record stating them is refused. */
const MAX_STATED_HOURS = 10_000;

/** Hours as a record states them → whole minutes, never more than stated. */
function statedMinutes(hours: unknown): number | undefined {
  if (typeof hours !== 'number' || !Number.isFinite(hours) || hours < 0) return undefined;
  if (hours > MAX_STATED_HOURS) throw recordRefused('invalid', [`it states ${hours} hours, more than ${MAX_STATED_HOURS}`]);
  return Math.floor(hours * 60 + 1e-6);
}

/** A path segment of an achievement id, decoded (as is when it is not valid percent-encoding). */
const segment = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

/** A domain's achievement id (`…/domains/<code>`) or one of its competencies' (`…/domains/<code>/competencies/<key>`). */
const DOMAIN_OR_COMPETENCY = new RegExp(`/domains/([^/]+)(?:${COMPETENCY_SEGMENT}([^/]+))?$`);

interface Vc {
  credentialSubject?: { achievement?: { id?: unknown; name?: unknown; humanCode?: unknown; alignment?: unknown }; creditsEarned?: unknown; identifier?: unknown };
  credentialStatus?: unknown;
}

/** The learner record a JSON file holds: the VC-JWT itself, or the issuer's answer at `/records/<id>` (its `jwt`). */
export function recordJwtOf(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new SocleError('invalid_request', 'the file is neither a VC-JWT nor JSON', [{ path: 'record', message: 'not JSON' }]);
    }
    const jwt = (json as { jwt?: unknown }).jwt;
    if (typeof jwt !== 'string') throw new SocleError('invalid_request', 'the JSON holds no "jwt": expected a learner record (the JSON of /records/<id>)', [{ path: 'record', message: 'no jwt' }]);
    return jwt.trim();
  }
  return trimmed;
}

/** Reads the claims of a verified record's payload. */
export function recordClaims(payload: Record<string, unknown>, referential: { id: string; version: string }): RecordClaims {
  const issuer = payload.issuer as { id?: unknown; name?: unknown } | undefined;
  const subject = payload.credentialSubject as { identifier?: unknown; verifiableCredential?: unknown } | undefined;
  const identifiers = (Array.isArray(subject?.identifier) ? subject.identifier : []) as { identityType?: unknown; identityHash?: unknown; salt?: unknown; hashed?: unknown }[];
  const platform = identifiers.find((i) => i.identityType === 'ltiPlatformId' && i.hashed === false)?.identityHash;
  const user = identifiers.find((i) => i.identityType === 'ltiUserId' && i.hashed === true);
  const domains = new Map<string, number>();
  const competencies: RecordClaims['competencies'] = [];
  const list = (Array.isArray(subject?.verifiableCredential) ? subject.verifiableCredential : []) as Vc[];
  for (const vc of list) {
    const achievement = vc?.credentialSubject?.achievement;
    const id = typeof achievement?.id === 'string' ? achievement.id : '';
    const minutes = statedMinutes(vc?.credentialSubject?.creditsEarned);
    if (minutes === undefined) continue;
    const match = DOMAIN_OR_COMPETENCY.exec(id);
    if (!match?.[1]) continue; // the whole référentiel's badge: its hours are the domains'
    const domainCode = segment(match[1]);
    if (!match[2]) {
      domains.set(domainCode, minutes);
      continue;
    }
    const alignment = (Array.isArray(achievement?.alignment) ? achievement.alignment : [])[0] as { targetCode?: unknown; targetName?: unknown } | undefined;
    const code = typeof achievement?.humanCode === 'string' ? achievement.humanCode : String(alignment?.targetCode ?? '');
    const name = typeof achievement?.name === 'string' ? achievement.name : '';
    competencies.push({ domainCode, key: segment(match[2]), code, title: name.startsWith(`${code} `) ? name.slice(code.length + 1) : name, minutes });
  }
  return {
    recordId: String(payload.id),
    issuer: { id: String(issuer?.id ?? payload.iss), name: typeof issuer?.name === 'string' ? issuer.name : String(issuer?.id ?? payload.iss) },
    referential,
    issuedAt: new Date(String(payload.validFrom)),
    subject: {
      ...(typeof platform === 'string' ? { platform } : {}),
      ...(typeof user?.identityHash === 'string' && typeof user.salt === 'string' ? { userHash: { hash: user.identityHash, salt: user.salt } } : {}),
    },
    domains,
    competencies,
  };
}

/** The documents of this Socle (keys, status lists) read from the store, as its pages publish them. */
function localResolver(ex: Executor, ctx: { config: { publicUrl: string; ltiKey: string } }, now: Date): Resolve {
  const { publicUrl } = ctx.config;
  const keys = storeKeyResolver(ex, publicUrl);
  const statusPrefix = `${publicUrl}/badges/status/`;
  return async (url, accept) => {
    const list = url.startsWith(statusPrefix) ? url.slice(statusPrefix.length) : undefined;
    if (list === undefined || !/^\d+$/.test(list)) return keys(url, accept);
    const published = await publishedStatusList(ex, ctx, Number(list), now);
    return published ? { status: 200, contentType: 'application/vc+jwt', body: published.jwt } : { status: 404, contentType: 'text/plain', body: 'not found' };
  };
}

export interface ImportVerifyOptions {
  /** How documents of another issuer are read (default: HTTP). */
  resolve?: Resolve;
  now?: Date;
}

/**
 * Verifies a learner record for import (see the file's comment) and returns what it states; throws `recordRefused`
 * when it is tampered with, revoked, superseded, expired, unknown to its issuer or cannot be checked.
 */
export async function verifyRecordForImport(
  ex: Executor,
  ctx: { config: { publicUrl: string; ltiKey: string } },
  jwt: string,
  options: ImportVerifyOptions = {},
): Promise<{ claims: RecordClaims; verification: RecordVerification }> {
  const now = options.now ?? new Date();
  let unverified: Record<string, unknown>;
  try {
    unverified = decodeJwt(jwt);
  } catch {
    throw recordRefused('invalid', ['not a JWT']);
  }
  const local = unverified.iss === urls.issuer(ctx.config.publicUrl);
  const resolve = local ? localResolver(ex, ctx, now) : (options.resolve ?? httpResolver());
  const verification = local ? await verifyRecord(ex, ctx.config.publicUrl, jwt, now) : await verifyRecordJwt(jwt, { resolve, now });
  if (verification.status !== 'valid') throw recordRefused(verification.status, verification.errors);
  if (!verification.referential) throw recordRefused('unknown', ['the issuer does not say which référentiel version the record is of']);
  const payload = decodeJwt(jwt) as Record<string, unknown>;
  const unstorable = storableIssues(payload, 'record');
  if (unstorable.length) throw recordRefused('invalid', unstorable.slice(0, 3).map((i) => `${i.path}: ${i.message}`));
  if (payload.validUntil !== undefined) {
    const until = typeof payload.validUntil === 'string' ? Date.parse(payload.validUntil) : Number.NaN;
    if (Number.isNaN(until) || until < now.getTime()) throw recordRefused('expired', [`valid until ${String(payload.validUntil)}`]);
  }
  const issuer = String(payload.iss);
  const embedded = ((payload.credentialSubject as { verifiableCredential?: unknown }).verifiableCredential ?? []) as Vc[];
  for (const vc of embedded) {
    if (vc?.credentialStatus === undefined) continue;
    const status = await statusOf(vc, [issuer], { resolve, now }, {});
    if (status.status !== 'valid') throw recordRefused(status.status, [`an embedded credential: ${status.errors.join('; ')}`]);
  }
  return { claims: recordClaims(payload, verification.referential), verification };
}
