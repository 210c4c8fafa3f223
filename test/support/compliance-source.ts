import type { ComplianceRow } from '../../src/reports/rows';
import type { ComplianceQuery, ComplianceSource } from '../../src/reports/source';
import { attestationOf, fromArray, socle12, socle28 } from './compliance-rows';

const statusOrder = { not_started: 0, in_progress: 1, complete: 2 } as const;

/**
 * A compliance source over given rows (what the stored learner coverage will answer): filtered by course,
 * référentiel and completion window, non-compliant learners first.
 */
export function arraySource(all: ComplianceRow[]): ComplianceSource & { select(q: ComplianceQuery): ComplianceRow[] } {
  const select = (q: ComplianceQuery) => {
    const f = q.filters;
    return all
      .filter((r) => !f.courses?.length || r.courses.some((c) => f.courses?.includes(c.contextId)))
      .filter((r) => !f.referential || (r.referential.id === f.referential.id && (!f.referential.version || r.referential.version === f.referential.version)))
      .filter((r) => !f.from || (r.completedAt !== null && r.completedAt.toISOString().slice(0, 10) >= f.from))
      .filter((r) => !f.to || (r.completedAt !== null && r.completedAt.toISOString().slice(0, 10) <= f.to))
      .sort((a, b) => statusOrder[a.status] - statusOrder[b.status]);
  };
  return {
    select,
    referentials: async () => [socle28, socle12],
    rows: (_ex, q) => fromArray(select(q)),
    count: async (_ex, q) => select(q).length,
    attestations: (_ex, q) =>
      fromArray(
        select(q).map((r) => {
          const { institution: _i, issuedAt: _d, verificationUrl: _v, ...figures } = attestationOf(r, r.referential.id === socle12.id ? socle12 : socle28);
          return figures;
        }),
      ),
  };
}
