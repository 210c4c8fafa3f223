import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { OB3_CONTEXT } from './achievements';
import { BADGE_ALGS, type BadgeAlg } from './keys';
import { bitAt, decodeBitstring, STATUS_LIST_SIZE } from './status-list';

/**
 * Verification of an OpenBadgeCredential VC-JWT as a third party does it (OB 3.0 §8.2.4 and §9.1), from the
 * credential alone: the key is dereferenced from the header's `kid` (a URL on the issuer's origin), the signature
 * and the registered claims are checked against the credential (iss, jti, sub, nbf, exp), then the OB 3.0 required
 * properties, then the revocation bit in the issuer's signed W3C Bitstring Status List (`credentialStatus`). Every
 * document is read through `resolve` (HTTP for a verifier outside; Socle's own page answers its own URLs).
 */

export type VerificationStatus = 'valid' | 'revoked' | 'unknown' | 'invalid';

/** One fetched document. */
export interface Resolved {
  status: number;
  contentType: string;
  body: string;
}

/** Reads a URL (`accept`: the media types asked for). */
export type Resolve = (url: string, accept: string) => Promise<Resolved>;

export interface VerifyOptions {
  resolve: Resolve;
  now?: Date;
}

export interface VerificationResult {
  status: VerificationStatus;
  /** Why it is not valid (empty when valid). */
  errors: string[];
  credentialId?: string;
  issuer?: string;
  achievement?: { id: string; name: string };
  kid?: string;
  validFrom?: string;
  /** The status list and index read (when the credential has one). */
  statusList?: { url: string; index: number; revoked: boolean };
}

interface CredentialClaims extends JWTPayload {
  '@context'?: unknown;
  id?: unknown;
  type?: unknown;
  issuer?: { id?: unknown } | string;
  validFrom?: unknown;
  validUntil?: unknown;
  name?: unknown;
  credentialSubject?: { achievement?: { id?: unknown; name?: unknown }; id?: unknown; identifier?: unknown; [k: string]: unknown };
  credentialStatus?: unknown;
}

/** An HTTP resolver over `fetch` (a timeout, http(s) only, no cookies). */
export function httpResolver(fetchImpl: typeof fetch = fetch, timeoutMs = 10_000): Resolve {
  return async (url, accept) => {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`cannot fetch ${url}: not an http(s) URL`);
    const response = await fetchImpl(parsed, { headers: { accept }, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: await response.text() };
  };
}

const issuerIdOf = (vc: CredentialClaims): string | undefined => {
  const issuer = typeof vc.issuer === 'string' ? vc.issuer : vc.issuer?.id;
  return typeof issuer === 'string' ? issuer : undefined;
};

const origin = (url: string): string | undefined => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

/** The OB 3.0 structure checks and the JWT claims' agreement with the credential. Returns the problems found. */
export function structureErrors(vc: CredentialClaims, now: Date): string[] {
  const errors: string[] = [];
  const context = Array.isArray(vc['@context']) ? vc['@context'] : [];
  if (context[0] !== OB3_CONTEXT[0]) errors.push(`@context must start with ${OB3_CONTEXT[0]}`);
  if (typeof context[1] !== 'string' || !/^https:\/\/purl\.imsglobal\.org\/spec\/ob\/v3p0\/context(-3\.\d\.\d)*\.json$/.test(context[1])) {
    errors.push('@context lacks the Open Badges 3.0 context in second place');
  }
  const types = Array.isArray(vc.type) ? vc.type : [];
  if (!types.includes('VerifiableCredential')) errors.push('type lacks VerifiableCredential');
  if (!types.includes('OpenBadgeCredential') && !types.includes('AchievementCredential')) errors.push('type lacks OpenBadgeCredential');
  if (typeof vc.id !== 'string') errors.push('id is missing');
  else if (vc.jti !== vc.id) errors.push('jti differs from the credential id');
  const issuer = issuerIdOf(vc);
  if (!issuer) errors.push('issuer.id is missing');
  else if (vc.iss !== issuer) errors.push(`iss is ${String(vc.iss)}, issuer.id is ${issuer}`);
  const validFrom = typeof vc.validFrom === 'string' ? Date.parse(vc.validFrom) : Number.NaN;
  if (Number.isNaN(validFrom)) errors.push('validFrom is missing or not a date');
  else {
    if (validFrom > now.getTime()) errors.push(`not valid before ${vc.validFrom as string}`);
    if (vc.nbf !== Math.floor(validFrom / 1000)) errors.push('nbf differs from validFrom');
  }
  if (vc.validUntil !== undefined) {
    const until = typeof vc.validUntil === 'string' ? Date.parse(vc.validUntil) : Number.NaN;
    if (Number.isNaN(until)) errors.push('validUntil is not a date');
    else {
      if (until < now.getTime()) errors.push(`expired on ${vc.validUntil as string}`);
      if (vc.exp !== Math.floor(until / 1000)) errors.push('exp differs from validUntil');
    }
  } else if (vc.exp !== undefined) errors.push('exp without validUntil');
  if (typeof vc.name !== 'string') errors.push('name is missing');
  const subject = vc.credentialSubject;
  if (!subject || typeof subject !== 'object') errors.push('credentialSubject is missing');
  else {
    if (typeof subject.achievement?.id !== 'string') errors.push('credentialSubject.achievement.id is missing');
    if (subject.id === undefined && !Array.isArray(subject.identifier)) errors.push('credentialSubject has neither id nor identifier');
    if (vc.sub !== subject.id) errors.push('sub differs from credentialSubject.id');
  }
  return errors;
}

/** A verification that fails on what the credential says (invalid); `Unresolved`: on what cannot be read (unknown). */
export class Refused extends Error {}

/** The issuer's public key named by the header (`kid` URL dereferenced to a JWK, or a JWKS holding it). */
async function issuerKey(header: { kid?: string; jwk?: unknown }, issuer: string, resolve: Resolve): Promise<JWK> {
  if (header.jwk !== undefined) throw new Refused('the key is embedded in the header (jwk), not published by the issuer');
  const kid = header.kid;
  if (typeof kid !== 'string' || kid === '') throw new Refused('the header has no kid');
  const issuerOrigin = origin(issuer);
  // a kid that is not a URL is looked up in the JWKS next to the issuer profile (`<issuer>/../jwks.json`)
  const url = origin(kid) ? kid : new URL('jwks.json', issuer).href;
  if (origin(url) !== issuerOrigin) throw new Refused(`the key ${kid} is not on the issuer's origin (${String(issuerOrigin)})`);
  const doc = await resolve(url, 'application/jwk+json, application/jwk-set+json, application/json');
  if (doc.status !== 200) throw new Refused(`the key ${kid} cannot be read (HTTP ${doc.status})`);
  const json = JSON.parse(doc.body) as JWK & { keys?: JWK[] };
  // in the JWKS, a key named by its URL or by that URL's last segment (a bare kid, as learner records once had)
  const jwk = Array.isArray(json.keys) ? json.keys.find((k) => k.kid === kid || (origin(kid) === undefined && k.kid?.split('/').pop() === kid)) : json;
  if (!jwk || typeof jwk.kty !== 'string') throw new Refused(`the issuer does not publish the key ${kid}`);
  if ('d' in jwk) throw new Refused('the published key holds a private part');
  return jwk;
}

/** Verifies a compact JWS signed by the issuer of its payload; returns the payload. */
export async function verifySigned<T extends JWTPayload>(jwt: string, resolve: Resolve, now: Date, clockTolerance = 0): Promise<{ payload: T; kid?: string }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: T;
  try {
    header = decodeProtectedHeader(jwt);
    unverified = decodeJwt(jwt) as T;
  } catch {
    throw new Refused('not a JWT');
  }
  const alg = header.alg as BadgeAlg;
  if (!BADGE_ALGS.includes(alg)) throw new Refused(`algorithm ${String(header.alg)} is not accepted (ES256 or RS256)`);
  if (header.typ !== undefined && header.typ !== 'JWT') throw new Refused(`typ must be "JWT", got ${String(header.typ)}`);
  const issuer = issuerIdOf(unverified as CredentialClaims);
  if (!issuer || !origin(issuer)) throw new Refused('issuer.id is missing or not a URL');
  const jwk = await issuerKey(header, issuer, resolve);
  try {
    const key = await importJWK(jwk, alg);
    const { payload } = await jwtVerify<T>(jwt, key, { algorithms: [alg], currentDate: now, clockTolerance });
    return { payload, kid: header.kid };
  } catch (error) {
    throw new Refused(`signature or dates rejected: ${(error as Error).message}`);
  }
}

interface StatusEntry {
  type?: unknown;
  statusPurpose?: unknown;
  statusListIndex?: unknown;
  statusListCredential?: unknown;
}

/** Reads the revocation bit of a `BitstringStatusListEntry` in the issuer's signed list. */
async function revocationBit(entry: StatusEntry, issuers: readonly string[], resolve: Resolve, now: Date) {
  const url = entry.statusListCredential;
  const index = typeof entry.statusListIndex === 'string' && /^\d+$/.test(entry.statusListIndex) ? Number(entry.statusListIndex) : Number.NaN;
  if (typeof url !== 'string' || !origin(url)) throw new Refused('statusListCredential is not a URL');
  if (!Number.isSafeInteger(index)) throw new Refused('statusListIndex is not a whole number in a string');
  const doc = await resolve(url, 'application/vc+jwt, application/jwt');
  if (doc.status !== 200) throw new Unresolved(`the status list ${url} cannot be read (HTTP ${doc.status})`);
  // the list may have been signed just now, after this verification's clock was read: a few seconds of tolerance
  const { payload } = await verifySigned<CredentialClaims>(doc.body.trim(), resolve, now, STATUS_LIST_CLOCK_TOLERANCE_S);
  if (!issuers.includes(issuerIdOf(payload) ?? '')) throw new Refused(`the status list ${url} is not signed by the credential's issuer`);
  if (payload.id !== url) throw new Refused(`the status list's id is not ${url}`);
  const types = Array.isArray(payload.type) ? payload.type : [];
  if (!types.includes('BitstringStatusListCredential')) throw new Refused('the status list is not a BitstringStatusListCredential');
  const subject = payload.credentialSubject ?? {};
  if (subject.type !== 'BitstringStatusList') throw new Refused('the status list subject is not a BitstringStatusList');
  if (subject.statusPurpose !== entry.statusPurpose) throw new Refused(`the status list's purpose is ${String(subject.statusPurpose)}`);
  if (typeof subject.encodedList !== 'string') throw new Refused('the status list has no encodedList');
  let bits: Buffer;
  try {
    bits = decodeBitstring(subject.encodedList);
  } catch (error) {
    throw new Refused(`encodedList cannot be decoded: ${(error as Error).message}`);
  }
  if (bits.length * 8 < STATUS_LIST_SIZE) throw new Refused(`the status list has ${bits.length * 8} bits, fewer than ${STATUS_LIST_SIZE}`);
  if (index >= bits.length * 8) throw new Refused(`statusListIndex ${index} is past the end of the list`);
  return { url, index, revoked: bitAt(bits, index) };
}

export class Unresolved extends Error {}

const STATUS_LIST_CLOCK_TOLERANCE_S = 5;

export async function verifyCredentialJwt(jwt: string, options: VerifyOptions): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  let payload: CredentialClaims;
  let kid: string | undefined;
  try {
    ({ payload, kid } = await verifySigned<CredentialClaims>(jwt.trim(), options.resolve, now));
  } catch (error) {
    return { status: error instanceof Refused ? 'invalid' : 'unknown', errors: [(error as Error).message] };
  }
  const issuer = issuerIdOf(payload) as string;
  const extra: Partial<VerificationResult> = {
    issuer,
    ...(kid ? { kid } : {}),
    ...(typeof payload.id === 'string' ? { credentialId: payload.id } : {}),
    ...(typeof payload.validFrom === 'string' ? { validFrom: payload.validFrom } : {}),
    ...(typeof payload.credentialSubject?.achievement?.id === 'string'
      ? { achievement: { id: payload.credentialSubject.achievement.id, name: String(payload.credentialSubject.achievement.name ?? '') } }
      : {}),
  };
  const errors = structureErrors(payload, now);
  if (errors.length) return { status: 'invalid', errors, ...extra };
  return statusOf(payload, [issuer], options, extra);
}

/**
 * The credential's `credentialStatus` (BitstringStatusListEntry, purpose revocation) read in the issuer's signed
 * list (signed by one of `issuers`: the credential's issuer, or the names it is also known as): the outcome of a
 * credential whose proof and structure were verified.
 */
export async function statusOf(
  credential: { credentialStatus?: unknown },
  issuers: readonly string[],
  options: VerifyOptions,
  extra: Partial<VerificationResult>,
): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  const status = credential.credentialStatus;
  const entries = (Array.isArray(status) ? status : status ? [status] : []) as StatusEntry[];
  for (const entry of entries) {
    if (entry?.type !== 'BitstringStatusListEntry') {
      return { status: 'unknown', errors: [`credentialStatus of type ${String(entry?.type)} cannot be checked`], ...extra };
    }
    if (entry.statusPurpose !== 'revocation') continue;
    try {
      const bit = await revocationBit(entry, issuers, options.resolve, now);
      extra.statusList = bit;
      if (bit.revoked) return { status: 'revoked', errors: ['revoked by its issuer'], ...extra };
    } catch (error) {
      const why = `status: ${(error as Error).message}`;
      return { status: error instanceof Refused ? 'invalid' : 'unknown', errors: [why], ...extra };
    }
  }
  return { status: 'valid', errors: [], ...extra };
}

export const CLR_CONTEXT = 'https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json';

export interface RecordVerification {
  status: 'valid' | 'superseded' | 'unknown' | 'invalid';
  errors: string[];
  recordId?: string;
  referential?: { id: string; version: string };
  validFrom?: string;
  /** The achievements the record holds a credential of, with the hours credited. */
  credentials?: { name: string; creditsEarned: number | null }[];
}

/** The CLR 2.0 structure checks of a learner record's payload and its claims' agreement with it (iss, jti, nbf). */
export function recordStructureErrors(payload: JWTPayload & Record<string, unknown>): string[] {
  const errors: string[] = [];
  const context = Array.isArray(payload['@context']) ? payload['@context'] : [];
  if (context[0] !== 'https://www.w3.org/ns/credentials/v2') errors.push('@context must start with https://www.w3.org/ns/credentials/v2');
  if (!context.includes(CLR_CONTEXT)) errors.push(`@context lacks ${CLR_CONTEXT}`);
  const types = Array.isArray(payload.type) ? payload.type : [];
  if (!types.includes('VerifiableCredential') || !types.includes('ClrCredential')) errors.push('type must hold VerifiableCredential and ClrCredential');
  const subject = payload.credentialSubject as { type?: unknown; verifiableCredential?: unknown } | undefined;
  const subjectTypes = Array.isArray(subject?.type) ? subject.type : [subject?.type];
  if (!subjectTypes.includes('ClrSubject')) errors.push('credentialSubject must be a ClrSubject');
  if (!Array.isArray(subject?.verifiableCredential)) errors.push('credentialSubject.verifiableCredential must be a list');
  if (typeof payload.id !== 'string' || payload.id !== payload.jti) errors.push('id is missing or differs from jti');
  const issuer = issuerIdOf(payload as CredentialClaims);
  if (!issuer) errors.push('issuer.id is missing');
  else if (payload.iss !== issuer) errors.push(`iss is ${String(payload.iss)}, issuer.id is ${issuer}`);
  const validFrom = typeof payload.validFrom === 'string' ? Date.parse(payload.validFrom) : Number.NaN;
  if (Number.isNaN(validFrom)) errors.push('validFrom is missing or not a date');
  else if (payload.nbf !== Math.floor(validFrom / 1000)) errors.push('nbf differs from validFrom');
  return errors;
}

/** The credentials a record's subject holds, with the hours credited. */
export function recordCredentials(payload: Record<string, unknown>): NonNullable<RecordVerification['credentials']> {
  const subject = payload.credentialSubject as { verifiableCredential?: unknown } | undefined;
  const list = Array.isArray(subject?.verifiableCredential) ? (subject.verifiableCredential as Record<string, unknown>[]) : [];
  return list.map((vc) => {
    const s = vc?.credentialSubject as { achievement?: { name?: unknown }; creditsEarned?: unknown } | undefined;
    return { name: String(s?.achievement?.name ?? vc?.name ?? ''), creditsEarned: typeof s?.creditsEarned === 'number' ? s.creditsEarned : null };
  });
}

/**
 * Verifies a learner record's VC-JWT (CLR 2.0 `ClrCredential`): the signature as for a badge (the key read from the
 * header's `kid`, on the issuer's origin) and the CLR structure. Returns the payload, or the refusal.
 */
export async function verifyRecordSignature(
  jwt: string,
  options: VerifyOptions,
): Promise<{ payload: JWTPayload & Record<string, unknown>; extra: Partial<RecordVerification> } | RecordVerification> {
  const now = options.now ?? new Date();
  let payload: JWTPayload & Record<string, unknown>;
  try {
    ({ payload } = await verifySigned<JWTPayload & Record<string, unknown>>(jwt.trim(), options.resolve, now));
  } catch (error) {
    return { status: error instanceof Refused ? 'invalid' : 'unknown', errors: [(error as Error).message] };
  }
  const extra = { ...(typeof payload.validFrom === 'string' ? { validFrom: payload.validFrom } : {}), credentials: recordCredentials(payload) };
  const errors = recordStructureErrors(payload);
  if (errors.length) return { status: 'invalid', errors, ...extra };
  return { payload, extra };
}

/**
 * Verifies a learner record as a third party: its signature and structure (`verifyRecordSignature`), then whether
 * it is still the learner's current record, as the issuer publishes it at the record's id (its JSON answer's
 * `status`, `superseded` when a newer record replaced it, and the record it holds there, which must be this one).
 */
export async function verifyRecordJwt(jwt: string, options: VerifyOptions): Promise<RecordVerification> {
  const signed = await verifyRecordSignature(jwt, options);
  if ('status' in signed) return signed;
  const { payload, extra } = signed;
  const id = payload.id as string;
  if (origin(id) !== origin(issuerIdOf(payload as CredentialClaims) ?? '')) return { status: 'invalid', errors: [`the record ${id} is not on the issuer's origin`], ...extra };
  let doc: Resolved;
  try {
    doc = await options.resolve(id, 'application/json');
  } catch (error) {
    return { status: 'unknown', errors: [`the record's status cannot be read: ${(error as Error).message}`], ...extra };
  }
  if (doc.status === 404) return { status: 'unknown', errors: ['the issuer has no record of this learner record'], ...extra };
  if (doc.status !== 200) return { status: 'unknown', errors: [`the record's status cannot be read (HTTP ${doc.status})`], ...extra };
  let published: { status?: unknown; jwt?: unknown; referential?: { id?: unknown; version?: unknown } };
  try {
    published = JSON.parse(doc.body) as typeof published;
  } catch {
    return { status: 'unknown', errors: [`the issuer's answer at ${id} is not JSON`], ...extra };
  }
  if (typeof published.jwt !== 'string' || published.jwt.trim() !== jwt.trim()) {
    return { status: 'unknown', errors: ['the issuer has no record of this learner record'], ...extra };
  }
  const found = {
    recordId: id.replace(/\/+$/, '').split('/').pop() as string,
    ...(typeof published.referential?.id === 'string' && typeof published.referential.version === 'string'
      ? { referential: { id: published.referential.id, version: published.referential.version } }
      : {}),
    ...extra,
  };
  if (published.status === 'superseded') return { status: 'superseded', errors: ['a newer record of this learner and référentiel was issued'], ...found };
  if (published.status !== 'valid') return { status: 'unknown', errors: [`the issuer says ${String(published.status)}`], ...found };
  return { status: 'valid', errors: [], ...found };
}
