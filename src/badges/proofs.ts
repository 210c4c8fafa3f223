import type { Executor } from '../db/store';
import { urls } from './achievements';
import { type JsonObject, verificationMethod, verifyDataIntegrity } from './data-integrity';
import { publishedMultikeys } from './keys';
import { statusOf, structureErrors, type VerificationResult, type VerifyOptions } from './verify';

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

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Where a `did:web` DID's document is (did:web method, "Read"): `https://<host>/.well-known/did.json`, or
 * `https://<host>/<path>/did.json` for a DID with path segments; a port is `%3A`-encoded in the DID. A loopback host
 * (localhost, 127.0.0.1, [::1]) is read over http, for development and tests. Undefined for anything else.
 */
export function didWebDocumentUrl(did: string): string | undefined {
  const match = /^did:web:([^:#?/]+)((?::[^:#?/]+)*)$/.exec(did);
  if (!match?.[1]) return undefined;
  try {
    const host = decodeURIComponent(match[1]);
    const path = (match[2] ?? '').split(':').filter(Boolean).map((segment) => encodeURIComponent(decodeURIComponent(segment)));
    const base = new URL(`https://${host}`);
    if (base.pathname !== '/' || base.username || base.search) return undefined;
    const scheme = LOOPBACK.has(base.hostname) ? 'http' : 'https';
    return `${scheme}://${base.host}${path.length ? `/${path.join('/')}/did.json` : '/.well-known/did.json'}`;
  } catch {
    return undefined;
  }
}

interface DidDocument {
  id?: unknown;
  alsoKnownAs?: unknown;
  verificationMethod?: { id?: unknown; type?: unknown; controller?: unknown; publicKeyMultibase?: unknown }[];
}

const originOf = (url: string): string | undefined => {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Verifies an OpenBadgeCredential with an embedded `eddsa-rdfc-2022` proof as a third party does, from the
 * credential alone: the `did:web` of the proof's verification method is resolved to its DID document through
 * `resolve` (over HTTP outside Socle), which must be the issuer's (the DID is the issuer's id, or its document is
 * on the issuer's origin); the proof is checked with the offline JSON-LD loader answering that document only; then
 * the OB 3.0 structure checks and the revocation bit of `credentialStatus`, exactly as for a VC-JWT.
 */
export async function verifyEmbeddedCredential(text: string, options: VerifyOptions): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  let credential: JsonObject;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { status: 'invalid', errors: ['not a credential (a JSON object)'] };
    credential = parsed as JsonObject;
  } catch {
    return { status: 'invalid', errors: ['not JSON'] };
  }
  const subject = credential.credentialSubject as { achievement?: { id?: unknown; name?: unknown } } | undefined;
  const issuerClaim = credential.issuer as { id?: unknown } | string | undefined;
  const issuer = typeof issuerClaim === 'string' ? issuerClaim : typeof issuerClaim?.id === 'string' ? issuerClaim.id : undefined;
  const extra: Partial<VerificationResult> = {
    ...(issuer ? { issuer } : {}),
    ...(typeof credential.id === 'string' ? { credentialId: credential.id } : {}),
    ...(typeof credential.validFrom === 'string' ? { validFrom: credential.validFrom } : {}),
    ...(typeof subject?.achievement?.id === 'string' ? { achievement: { id: subject.achievement.id, name: String(subject.achievement.name ?? '') } } : {}),
  };
  if (!issuer) return { status: 'invalid', errors: ['issuer.id is missing'], ...extra };
  const proof = (Array.isArray(credential.proof) ? credential.proof[0] : credential.proof) as JsonObject | undefined;
  const method = typeof proof?.verificationMethod === 'string' ? proof.verificationMethod : undefined;
  if (method) extra.kid = method.split('#').pop();
  const did = method?.split('#')[0] ?? '';
  const documentUrl = didWebDocumentUrl(did);
  if (!method || !documentUrl) return { status: 'invalid', errors: [`the proof's verification method ${String(method)} is not a did:web key`], ...extra };
  if (issuer !== did && originOf(issuer) !== originOf(documentUrl)) {
    return { status: 'invalid', errors: [`the proof's key ${did} is not the issuer's (${issuer})`], ...extra };
  }
  let document: DidDocument;
  try {
    const doc = await options.resolve(documentUrl, 'application/did+json, application/json');
    if (doc.status !== 200) return { status: 'unknown', errors: [`the DID document ${documentUrl} cannot be read (HTTP ${doc.status})`], ...extra };
    document = JSON.parse(doc.body) as DidDocument;
  } catch (error) {
    return { status: 'unknown', errors: [`the DID document ${documentUrl} cannot be read: ${(error as Error).message}`], ...extra };
  }
  if (!document || document.id !== did) return { status: 'invalid', errors: [`the document at ${documentUrl} is not the DID document of ${did}`], ...extra };
  // the loader answers the DID and its verification methods from this document only (contexts are bundled)
  const fromDocument = (url: string): JsonObject | undefined => {
    if (url === did) return document as JsonObject;
    const found = Array.isArray(document.verificationMethod) ? document.verificationMethod.find((m) => m?.id === url) : undefined;
    return found && { '@context': MULTIKEY_CONTEXT, ...found };
  };
  const verified = await verifyDataIntegrity(credential, fromDocument);
  if (!verified.verified) return { status: 'invalid', errors: verified.errors, ...extra };
  // the checks shared with VC-JWT, whose registered claims (iss, nbf) an embedded proof does not have: derived here
  const validFrom = typeof credential.validFrom === 'string' ? Date.parse(credential.validFrom) : Number.NaN;
  const validUntil = typeof credential.validUntil === 'string' ? Date.parse(credential.validUntil) : undefined;
  const subjectId = (credential.credentialSubject as { id?: unknown } | undefined)?.id;
  const claims = {
    iss: issuer,
    jti: credential.id,
    nbf: Math.floor(validFrom / 1000),
    ...(typeof subjectId === 'string' ? { sub: subjectId } : {}),
    ...(validUntil !== undefined ? { exp: Math.floor(validUntil / 1000) } : {}),
  };
  const errors = structureErrors({ ...credential, ...claims } as Parameters<typeof structureErrors>[0], now);
  if (errors.length) return { status: 'invalid', errors, ...extra };
  // an issuer that is the DID: its status list may be signed under a name its document is also known as, on its origin
  const names = issuer === did && Array.isArray(document.alsoKnownAs) ? document.alsoKnownAs.filter((n): n is string => typeof n === 'string' && originOf(n) === originOf(documentUrl)) : [];
  return statusOf(credential, [issuer, ...names], options, extra);
}
