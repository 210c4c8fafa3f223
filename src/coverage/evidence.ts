/**
 * The evidence file of a manual credit: a PDF or an image (PNG, JPEG, WebP), recognised by its first bytes (never
 * by its name or the type a browser claims), at most `MAX_EVIDENCE_BYTES`.
 */
import { createHash } from 'node:crypto';
import { SocleError } from '../domain/errors';
import type { manualCreditEvidence } from '../db/schema';

export type EvidenceType = (typeof manualCreditEvidence.$inferSelect)['contentType'];

/** 5 MiB: a scanned attendance sheet or certificate. */
export const MAX_EVIDENCE_BYTES = 5 * 1024 * 1024;

const startsWith = (data: Buffer, bytes: readonly number[], at = 0) => data.length >= at + bytes.length && bytes.every((b, i) => data[at + i] === b);

/** The type of a file from its magic bytes; undefined when it is none of the accepted ones. */
export function sniffEvidence(data: Buffer): EvidenceType | undefined {
  if (startsWith(data, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf'; // %PDF-
  if (startsWith(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(data, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(data, [0x52, 0x49, 0x46, 0x46]) && startsWith(data, [0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp'; // RIFF….WEBP
  return undefined;
}

export interface EvidenceFile {
  fileName: string;
  data: Buffer;
}

export interface CheckedEvidence extends EvidenceFile {
  contentType: EvidenceType;
  size: number;
  sha256: string;
}

const refused = (message: string, code: 'invalid_request' | 'payload_too_large' = 'invalid_request') =>
  new SocleError(code, message, [{ path: 'evidence', message }]);

/** A file name safe to store and to send back in Content-Disposition: no path, no control or quote characters. */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f"]/g, '').trim().slice(0, 200);
  return cleaned || 'justificatif';
}

/** Checks an evidence file: not empty, not too big, a PDF or an image by its bytes. */
export function checkEvidence(file: EvidenceFile): CheckedEvidence {
  if (file.data.length === 0) throw refused('the evidence file is empty');
  if (file.data.length > MAX_EVIDENCE_BYTES) {
    throw refused(`the evidence file is larger than ${MAX_EVIDENCE_BYTES / 1024 / 1024} MiB`, 'payload_too_large');
  }
  const contentType = sniffEvidence(file.data);
  if (!contentType) throw refused('the evidence must be a PDF or an image (PNG, JPEG, WebP)');
  return {
    fileName: cleanFileName(file.fileName),
    data: file.data,
    contentType,
    size: file.data.length,
    sha256: createHash('sha256').update(file.data).digest('hex'),
  };
}
