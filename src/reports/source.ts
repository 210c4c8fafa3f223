import { z } from 'zod';
import { storableDate } from '../domain/storable';
import type { ReferentialLookup } from '../coverage/referentials';
import type { Executor } from '../db/store';
import type { Attestation } from './attestation';
import type { ComplianceRow, ReportReferential } from './rows';

/**
 * What an export or a page asks for: courses (LTI context ids) of the platform, one référentiel (optionally one
 * version), a date window on completion. Stored as the export job's `filters`, so parsed again when the job runs.
 */
export const reportFilters = z.strictObject({
  courses: z.array(z.string().min(1).max(255)).max(500).optional(),
  referential: z
    .strictObject({
      id: z.string().min(1).max(100),
      version: z.string().min(1).max(64).optional(),
    })
    .optional(),
  from: storableDate.optional(),
  to: storableDate.optional(),
});
export type ReportFilters = z.infer<typeof reportFilters>;

/** Parses `id` or `id@version` (the CLI's `--referential`). */
export function parseReferentialOption(value: string): { id: string; version?: string } {
  const at = value.indexOf('@');
  return at < 0 ? { id: value } : { id: value.slice(0, at), version: value.slice(at + 1) };
}

export interface ComplianceQuery {
  platformId: number;
  filters: ReportFilters;
}

/** One learner's figures for an attestation; the export adds institution, date and verification URL. */
export type AttestationFigures = Omit<Attestation, 'institution' | 'issuedAt' | 'verificationUrl'>;

/** Per domain: how many learners of the query have validated all its required hours. */
export interface DomainSummary {
  code: string;
  title: string;
  learners: number;
  compliant: number;
}

/**
 * The learners' figures, as reports need them (the context's `compliance`). Implemented over the stored learner
 * coverage (coverage-source.ts); any implementation yields the non-compliant learners first (see `ComplianceRow`)
 * and learners without any hour too.
 */
export interface ComplianceSource {
  /** The référentiel versions the rows of this query may refer to (the report's columns). */
  referentials(ex: Executor, query: ComplianceQuery): Promise<ReportReferential[]>;
  rows(ex: Executor, query: ComplianceQuery): AsyncIterable<ComplianceRow>;
  /** How many rows `rows` will yield (for progress bars). */
  count(ex: Executor, query: ComplianceQuery): Promise<number>;
  attestations(ex: Executor, query: ComplianceQuery): AsyncIterable<AttestationFigures>;
  /**
   * The dashboard's figures over the rows of the query (as `summarizeDomains` and a count of complete rows would give
   * them), when the source can compute them without reading every row; otherwise the rows are counted.
   */
  summary?(ex: Executor, query: ComplianceQuery): Promise<ComplianceSummary>;
}

/** The dashboard: learners of the query, those compliant, and per domain. */
export interface ComplianceSummary {
  learners: number;
  compliant: number;
  domains: DomainSummary[];
}

/** The dashboard's figures: the source's own aggregates when it has them, else counted over its rows. */
export async function complianceSummary(ex: Executor, source: ComplianceSource, query: ComplianceQuery): Promise<ComplianceSummary> {
  if (source.summary) return source.summary(ex, query);
  let learners = 0;
  let compliant = 0;
  async function* counted() {
    for await (const row of source.rows(ex, query)) {
      learners++;
      if (row.status === 'complete') compliant++;
      yield row;
    }
  }
  const domains = await summarizeDomains(counted());
  return { learners, compliant, domains };
}

/** Domain compliance counted over the rows of a query (the dashboard), in référentiel domain order. */
export async function summarizeDomains(rows: AsyncIterable<ComplianceRow>): Promise<DomainSummary[]> {
  const byCode = new Map<string, DomainSummary>();
  for await (const row of rows) {
    for (const d of row.domains) {
      let s = byCode.get(d.code);
      if (!s) byCode.set(d.code, (s = { code: d.code, title: d.title, learners: 0, compliant: 0 }));
      s.learners++;
      if (d.validatedMinutes >= d.requiredMinutes) s.compliant++;
    }
  }
  return [...byCode.values()];
}

export const DEFAULT_REFERENTIAL = 'socle-sante-niveaux-4-8';

/** A référentiel version, found by `lookup` (the context's référentiel source), as the reports present it. */
export async function reportReferentialOf(lookup: ReferentialLookup, id: string, version?: string): Promise<ReportReferential | undefined> {
  const ref = await lookup(id, version);
  if (!ref) return undefined;
  return {
    id: ref.id,
    version: ref.version,
    title: ref.title,
    domains: ref.domains.map((d) => ({ code: d.code, title: d.title, requiredMinutes: d.requiredMinutes ?? 0 })),
  };
}
