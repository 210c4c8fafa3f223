import type { Attestation } from '../attestation';
import { defineKind, type ReportRun } from './kind';

/** The attestations to print, and how many there will be. */
export interface AttestationBatch {
  attestations: AsyncIterable<Attestation>;
  total?: number;
}

/** The attestations of the run's query, each recorded (with the export job) for its verification URL. */
async function fromSource({ ctx, query, jobId }: ReportRun): Promise<AttestationBatch> {
  const { recordedAttestations } = await import('../service');
  return {
    attestations: recordedAttestations(ctx, query, { exportJobId: jobId }),
    total: await ctx.compliance.count(ctx.store.db, query),
  };
}

/** Bulk attestations: one ZIP of one PDF per attestation that `load` gives. */
export function attestationsKind(load: (run: ReportRun) => Promise<AttestationBatch> = fromSource) {
  return defineKind({
    name: 'attestations',
    label: { fr: 'Attestations', en: 'Attestations' },
    fileName: 'attestations',
    formats: ['zip'],
    async produce(run) {
      const { attestations, total } = await load(run);
      // rendered by worker threads while this one reads, records and zips (attestation-render.ts)
      const { writeAttestationsZipInThreads } = await import('../attestation-render');
      return { count: await writeAttestationsZipInThreads(attestations, run.out, { onProgress: (n) => run.progress(n, total) }) };
    },
    cli: {
      description: 'one attestation PDF per learner, in one ZIP (each recorded for its verification URL); with --from/--to, for that period, with the hours cumulated since the start of the training',
      progress: 'attestations',
      written: (count) => `${count} attestation(s)`,
    },
    page: { buttons: [{ format: 'zip', label: { fr: 'Attestations (ZIP)', en: 'Attestations (ZIP)' }, secondary: true }] },
  });
}

export const attestations = attestationsKind();
