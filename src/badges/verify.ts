import { decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { OB3_CONTEXT } from './achievements';
import { BADGE_ALGS, type BadgeAlg } from './keys';

/**
 * Verification of an OpenBadgeCredential VC-JWT: signature (key found by `kid` among the issuer's current and
 * retired keys), issuer, dates, the OB 3.0 required properties, then the status Socle records.
 */

export type VerificationStatus = 'valid' | 'revoked' | 'unknown' | 'invalid';

export interface RecordedStatus {
  status: 'active' | 'revoked';
  revokedAt: Date | null;
  revocationReason: string | null;
}

export interface VerifyOptions {
  /** The issuer's published keys (JWKS `keys`): active and retired. */
  keys: JWK[];
  /** The expected issuer id (`<PUBLIC_URL>/badges/issuer`). */
  issuerId: string;
  /** What Socle recorded for a credential id (its URL); undefined = Socle never issued it. */
  statusOf: (credentialId: string) => Promise<RecordedStatus | undefined>;
  now?: Date;
}

export interface VerificationResult {
  status: VerificationStatus;
  /** Why it is not valid (empty when valid). */
  errors: string[];
  credentialId?: string;
  achievement?: { id: string; name: string };
  kid?: string;
  validFrom?: string;
  revokedAt?: string;
  revocationReason?: string;
}

interface CredentialClaims extends JWTPayload {
  '@context'?: unknown;
  id?: unknown;
  type?: unknown;
  issuer?: { id?: unknown } | string;
  validFrom?: unknown;
  validUntil?: unknown;
  name?: unknown;
  credentialSubject?: { achievement?: { id?: unknown; name?: unknown }; id?: unknown; identifier?: unknown };
}

function invalid(errors: string[], extra: Partial<VerificationResult> = {}): VerificationResult {
  return { status: 'invalid', errors, ...extra };
}

/** The OB 3.0 structure checks (the signature is checked before). Returns the problems found. */
export function structureErrors(vc: CredentialClaims, issuerId: string, now: Date): string[] {
  const errors: string[] = [];
  const context = Array.isArray(vc['@context']) ? vc['@context'] : [];
  if (context[0] !== OB3_CONTEXT[0]) errors.push(`@context must start with ${OB3_CONTEXT[0]}`);
  if (!context.some((c) => typeof c === 'string' && c.startsWith('https://purl.imsglobal.org/spec/ob/v3p0/context'))) {
    errors.push('@context lacks the Open Badges 3.0 context');
  }
  const types = Array.isArray(vc.type) ? vc.type : [];
  if (!types.includes('VerifiableCredential')) errors.push('type lacks VerifiableCredential');
  if (!types.includes('OpenBadgeCredential') && !types.includes('AchievementCredential')) {
    errors.push('type lacks OpenBadgeCredential');
  }
  if (typeof vc.id !== 'string') errors.push('id is missing');
  else if (vc.jti !== undefined && vc.jti !== vc.id) errors.push('jti differs from the credential id');
  const issuer = typeof vc.issuer === 'string' ? vc.issuer : vc.issuer?.id;
  if (issuer !== issuerId) errors.push(`issuer is ${String(issuer)}, expected ${issuerId}`);
  if (vc.iss !== issuerId) errors.push(`iss is ${String(vc.iss)}, expected ${issuerId}`);
  const validFrom = typeof vc.validFrom === 'string' ? Date.parse(vc.validFrom) : Number.NaN;
  if (Number.isNaN(validFrom)) errors.push('validFrom is missing or not a date');
  else {
    if (validFrom > now.getTime()) errors.push(`not valid before ${vc.validFrom as string}`);
    if (vc.nbf !== Math.floor(validFrom / 1000)) errors.push('nbf differs from validFrom');
  }
  if (vc.validUntil !== undefined) {
    const until = typeof vc.validUntil === 'string' ? Date.parse(vc.validUntil) : Number.NaN;
    if (Number.isNaN(until)) errors.push('validUntil is not a date');
    else if (until < now.getTime()) errors.push(`expired on ${vc.validUntil as string}`);
  }
  if (typeof vc.name !== 'string') errors.push('name is missing');
  const subject = vc.credentialSubject;
  if (!subject || typeof subject !== 'object') errors.push('credentialSubject is missing');
  else {
    if (typeof subject.achievement?.id !== 'string') errors.push('credentialSubject.achievement.id is missing');
    if (subject.id === undefined && !Array.isArray(subject.identifier)) {
      errors.push('credentialSubject has neither id nor identifier');
    }
  }
  return errors;
}

export async function verifyJwt(jwt: string, options: VerifyOptions): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch {
    return invalid(['not a JWT']);
  }
  const alg = header.alg as BadgeAlg;
  if (!BADGE_ALGS.includes(alg)) return invalid([`algorithm ${String(header.alg)} is not accepted (ES256 or RS256)`]);
  const jwk = options.keys.find((k) => k.kid === header.kid);
  if (!jwk) return invalid([`signed with key ${String(header.kid)}, which the issuer does not publish`]);
  let payload: CredentialClaims;
  try {
    const key = await importJWK(jwk, alg);
    ({ payload } = await jwtVerify<CredentialClaims>(jwt, key, { algorithms: [alg], currentDate: now }));
  } catch (error) {
    return invalid([`signature or dates rejected: ${(error as Error).message}`], { kid: header.kid });
  }
  const extra: Partial<VerificationResult> = {
    kid: header.kid,
    ...(typeof payload.id === 'string' ? { credentialId: payload.id } : {}),
    ...(typeof payload.validFrom === 'string' ? { validFrom: payload.validFrom } : {}),
    ...(typeof payload.credentialSubject?.achievement?.id === 'string'
      ? { achievement: { id: payload.credentialSubject.achievement.id, name: String(payload.credentialSubject.achievement.name ?? '') } }
      : {}),
  };
  const errors = structureErrors(payload, options.issuerId, now);
  if (errors.length) return invalid(errors, extra);
  const recorded = await options.statusOf(payload.id as string);
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
