import { eq, inArray, and } from 'drizzle-orm';
import type { AppContext } from '../context';
import { courses, platforms } from '../db/schema';
import type { Executor } from '../db/store';
import type { Attestation } from './attestation';
import { computeIndicators, type Indicators } from './indicators';
import { defaultWorkerId, purgeExpiredExports, runNextJob } from './jobs';
import type { ReportContext } from './kinds/kind';
import type { ReportMeta } from './rows';
import type { ComplianceQuery, ComplianceSource, ReportFilters } from './source';
import { recordAttestation } from './verification';
import { recordUrl } from '../badges/records';
import type { CoverageServices } from '../coverage/deps';
import { currentRecords } from '../coverage/records';
import { findUser } from '../identity/records';
import { documentIssuerOf } from './institution';
import { institutionOf } from '../identity/institution';
import { startWorker, type Worker } from '../worker';
import { invalid, notFound } from '../domain/errors';

/** The report's header, made at `generatedAt`: institution, platform and the filters used, in French. */
export async function reportMetaOf(ex: Executor, source: ComplianceSource, query: ComplianceQuery, generatedAt: Date): Promise<ReportMeta> {
  const [platform] = await ex.select().from(platforms).where(eq(platforms.id, query.platformId));
  if (!platform) throw new Error(`platform ${query.platformId} does not exist`);
  const referentials = await source.referentials(ex, query);
  if (!referentials.length) {
    const r = query.filters.referential;
    throw r ? notFound(`référentiel ${r.id}${r.version ? `@${r.version}` : ''} is not in the catalogue`) : invalid('no référentiel to report on');
  }
  const institution = await institutionOf(ex, platform);
  return {
    institution: institution.name,
    timeZone: institution.timeZone,
    platform: { issuer: platform.issuer, name: platform.name },
    filters: await filterLabels(ex, query),
    generatedAt,
    referentials,
  };
}

async function filterLabels(ex: Executor, query: ComplianceQuery): Promise<{ label: string; value: string }[]> {
  const f = query.filters;
  let coursesLabel = 'Tous';
  if (f.courses?.length) {
    const rows = await ex
      .select({ contextId: courses.contextId, title: courses.title })
      .from(courses)
      .where(and(eq(courses.platformId, query.platformId), inArray(courses.contextId, f.courses)));
    const titles = new Map(rows.map((r) => [r.contextId, r.title]));
    coursesLabel = f.courses.map((c) => (titles.get(c) ? `${titles.get(c)} (${c})` : c)).join(', ');
  }
  const labels = [{ label: 'Cours', value: coursesLabel }];
  if (f.referential) labels.push({ label: 'Référentiel', value: `${f.referential.id}${f.referential.version ? ` ${f.referential.version}` : ''}` });
  if (f.from || f.to) labels.push({ label: 'Période', value: `${f.from ?? '…'} – ${f.to ?? '…'}` });
  return labels;
}

/** Indicators of a query, with the platform's issuer. */
export async function indicatorsOf(ex: Executor, source: ComplianceSource, query: ComplianceQuery, onProgress?: (n: number) => void): Promise<Indicators> {
  const [platform] = await ex.select().from(platforms).where(eq(platforms.id, query.platformId));
  return computeIndicators(ex, source, query, { platform: platform?.issuer ?? '', onProgress });
}

/**
 * The URL of a learner's current record (CLR 2.0) of a référentiel version, issued if needed, for the attestation to
 * print; none when the context issues no credentials (the runner and the CLI give the whole application context).
 */
function learnerRecordLink(ctx: ReportContext, platformId: number) {
  const services = ctx as ReportContext & Partial<CoverageServices>;
  return async (sub: string, referential: { id: string; version: string }): Promise<string | undefined> => {
    if (!services.badges || !services.referentials) return undefined;
    const user = await findUser(ctx.store.db, platformId, sub);
    if (!user) return undefined;
    const coverage = services as CoverageServices;
    const records = await ctx.store.db.transaction((tx) => currentRecords(tx, coverage, { platformId, userId: user.id }, { referentialId: referential.id }));
    const record = records.find((r) => r.record.referentialVersion === referential.version)?.record;
    return record && recordUrl(ctx.config.publicUrl, record.id);
  };
}

/**
 * The attestations of a query, each recorded (figures and digest) before it is printed, so that its
 * verification URL confirms what the PDF says.
 */
export async function* recordedAttestations(
  ctx: ReportContext,
  query: ComplianceQuery,
  options: { exportJobId?: string; issuedAt?: Date } = {},
): AsyncGenerator<Attestation> {
  const db = ctx.store.db;
  const [platform] = await db.select().from(platforms).where(eq(platforms.id, query.platformId));
  if (!platform) throw new Error(`platform ${query.platformId} does not exist`);
  const issuedAt = options.issuedAt ?? ctx.clock();
  const { name: institution, issuer } = await documentIssuerOf(db, platform);
  const recordOf = learnerRecordLink(ctx, platform.id);
  for await (const figures of ctx.compliance.attestations(db, query)) {
    const recordUrl = await recordOf(figures.learner.sub, figures.referential);
    yield await recordAttestation(db, {
      platformId: platform.id,
      publicUrl: ctx.config.publicUrl,
      exportJobId: options.exportJobId,
      attestation: { ...figures, institution, issuer, issuedAt, ...(recordUrl ? { recordUrl } : {}) },
    });
  }
}

/**
 * Runs queued exports of the context's `reports` in the background: takes jobs one at a time (several instances share the queue
 * through the database) and purges expired files every few minutes. `wake()` looks for a job now (after one was
 * queued by this process).
 */
export function startExportRunner(ctx: AppContext, options: { pollMs?: number; purgeMs?: number } = {}): Worker {
  const pollMs = options.pollMs ?? 2_000;
  const purgeMs = options.purgeMs ?? 300_000;
  const workerId = defaultWorkerId();
  let lastPurge = 0;
  return startWorker({
    name: 'exports',
    logger: ctx.logger,
    intervalMs: pollMs,
    tick: async () => {
      if (Date.now() - lastPurge > purgeMs) {
        lastPurge = Date.now();
        const n = await purgeExpiredExports(ctx.store.db);
        if (n) ctx.logger.info({ purged: n }, 'expired export files purged');
      }
      return (await runNextJob(ctx, { workerId })) !== undefined;
    },
  });
}

export type { ReportFilters };
