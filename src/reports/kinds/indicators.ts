import type { Writable } from 'node:stream';
import type { Indicators } from '../indicators';
import { defineKind } from './kind';

/** Writes the indicators in a format and ends `out`. */
async function writeIndicators(ind: Indicators, format: 'csv-rfc4180' | 'csv-excel' | 'xlsx' | 'json', out: Writable): Promise<void> {
  const { writeIndicatorsCsv, writeIndicatorsXlsx } = await import('../indicators');
  if (format === 'xlsx') return writeIndicatorsXlsx(ind, out);
  if (format === 'json') {
    await new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      out.end(`${JSON.stringify(ind, null, 2)}\n`, () => resolve());
    });
    return;
  }
  return writeIndicatorsCsv(ind, out, format === 'csv-rfc4180' ? 'rfc4180' : 'excel-fr');
}

/** The programme indicators (France 2030 reporting) of the run's query. */
export const indicators = defineKind({
  name: 'indicators',
  label: { fr: 'Indicateurs', en: 'Indicators' },
  fileName: 'indicateurs',
  formats: ['csv-excel', 'csv-rfc4180', 'xlsx', 'json'],
  async produce({ ctx, query, format, out, progress }) {
    const { indicatorsOf } = await import('../service');
    const total = await ctx.compliance.count(ctx.store.db, query);
    const ind = await indicatorsOf(ctx.store.db, ctx.compliance, query, (n) => progress(n, total));
    progress(ind.learners.total, total);
    await writeIndicators(ind, format, out);
    return { count: ind.learners.total };
  },
  cli: {
    description: 'programme indicators (France 2030 reporting)',
    progress: 'learners',
    written: (count) => `indicators of ${count} learner(s)`,
  },
  page: {
    buttons: [{ format: 'xlsx', label: { fr: 'Indicateurs France 2030 (XLSX)', en: 'France 2030 indicators (XLSX)' }, secondary: true }],
  },
});
