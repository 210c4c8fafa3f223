import type { Executor } from '../db/store';
import { urls } from './achievements';
import { type JsonObject, verificationMethod, verifyDataIntegrity } from './data-integrity';
import { publishedMultikeys } from './keys';
import type { VerificationResult } from './verify';
import { structureErrors } from './verify';

/** A credential's status as Socle's records hold it (an embedded proof's credential is checked against them). */
export interface RecordedStatus {
  status: 'active' | 'revoked';
  revokedAt: Date | null;
  revocationReason: string | null;
}

/**
 * Socle's Data Integrity keys as the world sees them: the issuer's `did:web` (from PUBLIC_URL), its DID document
 * (every Ed25519 key, active and retired, as a Multikey verification method authorised for `assertionMethod`), and
 * the verification of a credential with an embedded proof against them.
 */

/** `did:web` of a public URL: its host (a port as `%3A`), then its path segments, `:`-separated. */
export function issuerDid(publicUrl: string): string {
  const url = new URL(publicUrl);
  const path = url.pathname.split('/').filter(Boolean).map(encodeURIComponent);
  return ['did:web', encodeURIComponent(url.host), ...path].join(':');
}

/** Where a did:web document is served: `/.well-known/did.json` at the root, else `<path>/did.json`. */
export function didDocumentUrl(publicUrl: string): string {
  const url = new URL(publicUrl);
  return url.pathname.replace(/\/+$/, '') === '' ? `${url.origin}/.well-known/did.json` : `${publicUrl.replace(/\/+$/, '')}/did.json`;
}

export const DID_CONTEXT = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_CONTEXT = 'https://w3id.org/security/multikey/v1';

/** The DID document of Socle's Ed25519 keys. */
export async function didDocument(ex: Executor, publicUrl: string) {
  const did = issuerDid(publicUrl);
  const keys = await publishedMultikeys(ex);
  const methods = keys.map((k) => verificationMethod({ id: `${did}#${k.publicKeyMultibase}`, controller: did, publicKeyMultibase: k.publicKeyMultibase }));
  return {
    '@context': [DID_CONTEXT, MULTIKEY_CONTEXT],
    id: did,
    alsoKnownAs: [urls.issuer(publicUrl)],
    verificationMethod: methods,
    assertionMethod: methods.map((m) => m.id),
  };
}

/** Resolves Socle's own DID and verification methods from the store; nothing else (no network). */
export function socleResolver(ex: Executor, publicUrl: string) {
  let document: Promise<Awaited<ReturnType<typeof didDocument>>> | undefined;
  return async (url: string): Promise<JsonObject | undefined> => {
    const did = issuerDid(publicUrl);
    if (url !== did && !url.startsWith(`${did}#`)) return undefined;
    document ??= didDocument(ex, publicUrl);
    const doc = await document;
    if (url === did) return doc;
    const method = doc.verificationMethod.find((m) => m.id === url);
    return method && { '@context': MULTIKEY_CONTEXT, ...method };
  };
}

/** Whether a stored or presented credential is a JSON credential (embedded proof) rather than a VC-JWT. */
export const isEmbeddedProof = (signed: string): boolean => signed.trimStart().startsWith('{');

/**
 * Verifies an OpenBadgeCredential with an embedded `eddsa-rdfc-2022` proof against Socle's keys, then the same OB
 * 3.0 structure checks and recorded status as a VC-JWT.
 */
export async function verifyEmbeddedWithSocle(
  ex: Executor,
  publicUrl: string,
  text: string,
  statusOf: (credentialId: string) => Promise<RecordedStatus | undefined>,
  now: Date = new Date(),
): Promise<VerificationResult> {
  let credential: JsonObject;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { status: 'invalid', errors: ['not a credential (a JSON object)'] };
    credential = parsed as JsonObject;
  } catch {
    return { status: 'invalid', errors: ['not JSON'] };
  }
  const subject = credential.credentialSubject as { achievement?: { id?: unknown; name?: unknown } } | undefined;
  const extra: Partial<VerificationResult> = {
    ...(typeof credential.id === 'string' ? { credentialId: credential.id } : {}),
    ...(typeof credential.validFrom === 'string' ? { validFrom: credential.validFrom } : {}),
    ...(typeof subject?.achievement?.id === 'string' ? { achievement: { id: subject.achievement.id, name: String(subject.achievement.name ?? '') } } : {}),
  };
  const proof = await verifyDataIntegrity(credential, socleResolver(ex, publicUrl));
  if (proof.verificationMethod) extra.kid = proof.verificationMethod.split('#').pop();
  if (!proof.verified) return { status: 'invalid', errors: proof.errors, ...extra };
  // the checks shared with VC-JWT, whose registered claims (iss, jti, sub, nbf) an embedded proof does not have: derived here
  const issuer = credential.issuer as { id?: unknown } | string | undefined;
  const validFrom = typeof credential.validFrom === 'string' ? Date.parse(credential.validFrom) : Number.NaN;
  const errors = structureErrors(
    {
      ...credential,
      iss: typeof issuer === 'string' ? issuer : (issuer?.id as string | undefined),
      jti: typeof credential.id === 'string' ? credential.id : undefined,
      sub: (credential.credentialSubject as { id?: string } | undefined)?.id,
      nbf: Math.floor(validFrom / 1000),
    },
    now,
  );
  if (errors.length) return { status: 'invalid', errors, ...extra };
  const recorded = await statusOf(credential.id as string);
  if (!recorded) return { status: 'unknown', errors: ['the issuer has no record of this credential'], ...extra };
  if (recorded.status === 'revoked') {
    return {
      status: 'revoked',
      errors: [`revoked${recorded.revocationReason ? `: ${recorded.revocationReason}` : ''}`],
      ...extra,
      ...(recorded.revokedAt ? { revokedAt: recorded.revokedAt.toISOString() } : {}),
      ...(recorded.revocationReason ? { revocationReason: recorded.revocationReason } : {}),
    };
  }
  return { status: 'valid', errors: [], ...extra };
}
