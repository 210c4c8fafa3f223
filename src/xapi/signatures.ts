import { base64url, compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import type { ErrorDetail } from '../domain/errors';
import { contextActivityArrays } from './ingest';

/** xAPI's usage type of a statement signature (Data 2.6). */
export const SIGNATURE_USAGE = 'http://adlnet.gov/expapi/attachments/signature';
/** The algorithms xAPI allows for a statement signature. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512'];

type Json = Record<string, unknown>;

/** Properties the LRS sets or may have set: not part of what a signature's payload is compared with. */
const LRS_SET = ['stored', 'authority', 'version'];

/** A duration with its seconds truncated to hundredths (xAPI 2.0: no precision beyond 0.01 s is compared). */
function hundredths(duration: unknown): unknown {
  if (typeof duration !== 'string') return duration;
  return duration.replace(/(\d+)\.(\d{1,2})\d*S$/, (_m, s: string, f: string) => `${s}.${f.padEnd(2, '0')}S`).replace(/(\d+)\.00S$/, '$1S');
}

/** A value with its object keys sorted: two equal statements have the same JSON whatever their key order. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sorted((value as Json)[k])]),
  );
}

/** What of a statement a signature covers: without the signature attachments and the LRS-set properties, durations to 0.01 s. */
function comparable(statement: Json, without: readonly string[]): string {
  const out: Json = { ...contextActivityArrays(statement) };
  for (const k of [...LRS_SET, ...without]) delete out[k];
  if (typeof out.id === 'string') out.id = out.id.toLowerCase();
  if (Array.isArray(out.attachments)) {
    const kept = out.attachments.filter((a) => (a as Json | null)?.usageType !== SIGNATURE_USAGE);
    if (kept.length) out.attachments = kept;
    else delete out.attachments;
  }
  const result = out.result as Json | undefined;
  if (result && typeof result === 'object' && result.duration !== undefined) out.result = { ...result, duration: hundredths(result.duration) };
  return JSON.stringify(sorted(out));
}

/**
 * Checks a statement's signature (xAPI Data 2.6): `jws` (the bytes of its signature attachment) must be a compact
 * JWS signed with RS256, RS384 or RS512 whose payload is the statement as the signer sent it (compared without the
 * signature attachment, the properties the LRS sets, an `id` or `timestamp` the signer left to the LRS, and
 * durations beyond 0.01 s). When its header carries an X.509 chain (`x5c`), the signature is verified with the first
 * certificate's key; without one there is no key to verify with, and only the form and the payload are checked.
 * Empty when the signature is acceptable.
 */
export async function signatureErrors(statement: Json, jws: Buffer, path: string): Promise<ErrorDetail[]> {
  const fault = (message: string): ErrorDetail[] => [{ path, message }];
  const compact = jws.toString('utf8').trim();
  const segments = compact.split('.');
  if (segments.length !== 3 || segments.some((s, i) => (i === 1 ? !/^[A-Za-z0-9_-]*$/.test(s) : !/^[A-Za-z0-9_-]+$/.test(s)))) {
    return fault('the signature is not a compact JWS');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: unknown;
  try {
    header = decodeProtectedHeader(compact);
    payload = JSON.parse(Buffer.from(base64url.decode(segments[1] as string)).toString('utf8'));
  } catch {
    return fault('the signature\u2019s header or payload is not JSON');
  }
  if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) return fault(`the signature algorithm must be RS256, RS384 or RS512 (not ${String(header.alg)})`);
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return fault('the signature\u2019s payload is not a statement');
  const signed = payload as Json;
  const leftToLrs = ['id', 'timestamp'].filter((k) => signed[k] === undefined);
  if (comparable(signed, leftToLrs) !== comparable(statement, leftToLrs)) return fault('the signature\u2019s payload differs from the statement');
  const certificate = Array.isArray(header.x5c) ? header.x5c[0] : undefined;
  if (certificate !== undefined) {
    try {
      const key = await importX509(`-----BEGIN CERTIFICATE-----\n${certificate}\n-----END CERTIFICATE-----`, header.alg);
      await compactVerify(compact, key, { algorithms: [header.alg] });
    } catch {
      return fault('the signature does not verify with the certificate of its x5c header');
    }
  }
  return [];
}
