import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { courseMembers, courses, users } from '../db/schema';
import type { Executor } from '../db/store';
import { getReferential } from '../referentials/catalogue';
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
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
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
 * The learners' figures, as reports need them. Implemented over the stored learner coverage; any implementation
 * yields the non-compliant learners first (see `ComplianceRow`) and learners without any hour too.
 */
export interface ComplianceSource {
  /** The référentiel versions the rows of this query may refer to (the report's columns). */
  referentials(ex: Executor, query: ComplianceQuery): Promise<ReportReferential[]>;
  rows(ex: Executor, query: ComplianceQuery): AsyncIterable<ComplianceRow>;
  /** How many rows `rows` will yield (for progress bars). */
  count(ex: Executor, query: ComplianceQuery): Promise<number>;
  attestations(ex: Executor, query: ComplianceQuery): AsyncIterable<AttestationFigures>;
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

/** A référentiel version of the catalogue as the reports present it. */
export async function reportReferentialOf(ex: Executor, id: string, version?: string): Promise<ReportReferential | undefined> {
  const ref = await getReferential(ex, id, version);
  if (!ref) return undefined;
  return {
    id: ref.id,
    version: ref.version,
    title: ref.title,
    domains: ref.domains.map((d) => ({ code: d.code, title: d.title, requiredMinutes: d.requiredMinutes ?? 0 })),
  };
}

/**
 * The learners of the rosters with no hour credited: what Socle can state before the stored learner coverage is
 * available in this build. Every learner of the selected courses appears once, `not_started`.
 */
export const rosterComplianceSource: ComplianceSource = {
  async referentials(ex, query) {
    const { id, version } = query.filters.referential ?? { id: DEFAULT_REFERENTIAL };
    const ref = await reportReferentialOf(ex, id, version);
    return ref ? [ref] : [];
  },
  async count(ex, query) {
    return (await rosterLearners(ex, query)).length;
  },
  async *rows(ex, query) {
    const [ref] = await this.referentials(ex, query);
    if (!ref) return;
    for (const learner of await rosterLearners(ex, query)) {
      yield {
        learner: { sub: learner.sub, name: learner.name },
        courses: learner.courses,
        referential: { id: ref.id, version: ref.version },
        domains: ref.domains.map((d) => ({ code: d.code, title: d.title, validatedMinutes: 0, requiredMinutes: d.requiredMinutes })),
        validatedMinutes: 0,
        requiredMinutes: ref.domains.reduce((s, d) => s + d.requiredMinutes, 0),
        status: 'not_started',
        completedAt: null,
        hasManualCredits: false,
      };
    }
  },
  async *attestations(ex, query) {
    const [ref] = await this.referentials(ex, query);
    if (!ref) return;
    for await (const row of this.rows(ex, query)) {
      yield { ...row, referential: { id: ref.id, version: ref.version, title: ref.title }, activities: [] };
    }
  },
};

async function rosterLearners(ex: Executor, query: ComplianceQuery) {
  const wanted = query.filters.courses;
  const rows = await ex
    .select({ sub: users.sub, name: users.name, contextId: courses.contextId, title: courses.title })
    .from(courseMembers)
    .innerJoin(users, eq(users.id, courseMembers.userId))
    .innerJoin(courses, eq(courses.id, courseMembers.courseId))
    .where(
      and(
        eq(courses.platformId, query.platformId),
        eq(courseMembers.status, 'active'),
        sql`EXISTS (SELECT 1 FROM unnest(${courseMembers.roles}) AS r WHERE r LIKE '%Learner')`,
        wanted?.length ? inArray(courses.contextId, wanted) : undefined,
      ),
    )
    .orderBy(users.name, users.sub);
  const bySub = new Map<string, { sub: string; name: string | null; courses: { contextId: string; title: string | null }[] }>();
  for (const r of rows) {
    let l = bySub.get(r.sub);
    if (!l) bySub.set(r.sub, (l = { sub: r.sub, name: r.name, courses: [] }));
    l.courses.push({ contextId: r.contextId, title: r.title });
  }
  return [...bySub.values()];
}

let active: ComplianceSource | undefined;

/** Replaces the source of every report of this process (the coverage module; tests). `undefined` restores the default. */
export function setComplianceSource(source: ComplianceSource | undefined): void {
  active = source;
}

export function complianceSource(): ComplianceSource {
  return active ?? rosterComplianceSource;
}
