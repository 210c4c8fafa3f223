import type { ComplianceRow, ReportMeta } from '../rows';
import { defineKind, type ReportRun } from './kind';

/** What a compliance report is made of: its header, its rows (non-compliant first) and their number. */
export interface ComplianceReport {
  meta: ReportMeta;
  rows: AsyncIterable<ComplianceRow>;
  total?: number;
}

/** The report of the run's query from the compliance source, with the platform's header. */
async function fromSource({ ctx, query }: ReportRun): Promise<ComplianceReport> {
  const { reportMetaOf } = await import('../service');
  const db = ctx.store.db;
  const source = ctx.compliance;
  const meta = await reportMetaOf(db, source, query, ctx.clock());
  return { meta, rows: source.rows(db, query), total: await source.count(db, query) };
}

/** The compliance report (one row per learner, non-compliant first) of what `load` gives. */
export function complianceKind(load: (run: ReportRun) => Promise<ComplianceReport> = fromSource) {
  return defineKind({
    name: 'compliance',
    label: { fr: 'Conformité', en: 'Compliance' },
    fileName: 'conformite',
    formats: ['csv-excel', 'csv-rfc4180', 'xlsx', 'pdf'],
    async produce(run) {
      const { meta, rows, total } = await load(run);
      const onProgress = (n: number) => run.progress(n, total);
      switch (run.format) {
        case 'csv-rfc4180':
        case 'csv-excel': {
          const { writeComplianceCsv } = await import('../csv');
          const variant = run.format === 'csv-rfc4180' ? 'rfc4180' : 'excel-fr';
          return { count: await writeComplianceCsv(meta, rows, run.out, { variant, onProgress }) };
        }
        case 'xlsx': {
          const { writeComplianceXlsx } = await import('../xlsx');
          return { count: await writeComplianceXlsx(meta, rows, run.out, { onProgress }) };
        }
        case 'pdf': {
          const { writeCompliancePdf } = await import('../compliance-pdf');
          return { count: await writeCompliancePdf(meta, rows, run.out, { onProgress }) };
        }
      }
    },
    cli: {
      description: 'the compliance report: one row per learner, non-compliant first',
      progress: 'rows',
      written: (count) => `${count} learner(s)`,
    },
    page: {
      group: { fr: 'Format du rapport de conformité', en: 'Format of the compliance report' },
      buttons: [
        { format: 'csv-excel', label: { fr: 'CSV (Excel français)', en: 'CSV (French Excel)' } },
        { format: 'csv-rfc4180', label: { fr: 'CSV (RFC 4180)', en: 'CSV (RFC 4180)' }, secondary: true },
        { format: 'xlsx', label: { fr: 'XLSX', en: 'XLSX' } },
        { format: 'pdf', label: { fr: 'PDF', en: 'PDF' } },
      ],
    },
  });
}

export const compliance = complianceKind();
