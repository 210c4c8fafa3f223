import { createHash, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { attestationRecords, platforms } from '../db/schema';
import type { Executor } from '../db/store';
import type { Attestation } from './attestation';

export type AttestationRecord = typeof attestationRecords.$inferSelect;

/** The figures an attestation prints, in a fixed key order: what its digest covers. */
function canonicalFigures(a: Omit<Attestation, 'verificationUrl' | 'activities'>) {
  return {
    learner: { sub: a.learner.sub, name: a.learner.name },
    referential: { id: a.referential.id, version: a.referential.version },
    domains: a.domains.map((d) => ({ code: d.code, validatedMinutes: d.validatedMinutes, requiredMinutes: d.requiredMinutes })),
    validatedMinutes: a.validatedMinutes,
    requiredMinutes: a.requiredMinutes,
    status: a.status,
    completedAt: a.completedAt ? a.completedAt.toISOString() : null,
    institution: a.institution,
    issuedAt: a.issuedAt.toISOString(),
  };
}

/** SHA-256 (hex) of the canonical figures of an attestation. */
export function attestationDigest(a: Omit<Attestation, 'verificationUrl' | 'activities'>): string {
  return createHash('sha256').update(JSON.stringify(canonicalFigures(a))).digest('hex');
}

export const verificationUrlOf = (publicUrl: string, id: string) => `${publicUrl}/attestations/${id}`;

/**
 * Stores the record of an attestation about to be printed and returns it with its verification URL. The
 * stored row is what `/attestations/:id` confirms.
 */
export async function recordAttestation(
  ex: Executor,
  input: { platformId: number; publicUrl: string; exportJobId?: string; attestation: Omit<Attestation, 'verificationUrl'> },
): Promise<Attestation & { id: string; digest: string }> {
  const a = input.attestation;
  const id = randomUUID();
  const digest = attestationDigest(a);
  await ex.insert(attestationRecords).values({
    id,
    platformId: input.platformId,
    learnerSub: a.learner.sub,
    learnerName: a.learner.name,
    referentialId: a.referential.id,
    referentialVersion: a.referential.version,
    referentialTitle: a.referential.title,
    validatedMinutes: a.validatedMinutes,
    requiredMinutes: a.requiredMinutes,
    domains: a.domains.map((d) => ({ code: d.code, title: d.title, validatedMinutes: d.validatedMinutes, requiredMinutes: d.requiredMinutes })),
    status: a.status,
    completedAt: a.completedAt,
    institution: a.institution,
    issuedAt: a.issuedAt,
    digest,
    exportJobId: input.exportJobId ?? null,
  });
  return { ...a, id, digest, verificationUrl: verificationUrlOf(input.publicUrl, id) };
}

const storedDomains = z.array(
  z.object({ code: z.string(), title: z.string(), validatedMinutes: z.number().int(), requiredMinutes: z.number().int() }),
);

/** What the verification URL answers: the stored figures, and whether they still match their digest. */
export async function verifyAttestation(ex: Executor, id: string) {
  if (!z.uuid().safeParse(id).success) return undefined;
  const [row] = await ex
    .select({ record: attestationRecords, issuer: platforms.issuer })
    .from(attestationRecords)
    .innerJoin(platforms, eq(platforms.id, attestationRecords.platformId))
    .where(eq(attestationRecords.id, id));
  if (!row) return undefined;
  const r = row.record;
  const domains = storedDomains.parse(r.domains);
  const figures = {
    learner: { sub: r.learnerSub, name: r.learnerName },
    referential: { id: r.referentialId, version: r.referentialVersion, title: r.referentialTitle },
    domains,
    validatedMinutes: r.validatedMinutes,
    requiredMinutes: r.requiredMinutes,
    status: r.status,
    completedAt: r.completedAt,
    institution: r.institution,
    issuedAt: r.issuedAt,
  };
  return {
    id: r.id,
    platform: row.issuer,
    ...figures,
    digest: r.digest,
    intact: attestationDigest(figures) === r.digest,
  };
}
