import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { AppContext } from '../context';
import { auditEvents } from '../db/schema';
import { findPlatform } from '../identity/records';
import { type ComplianceQuery, parseReferentialOption, reportFilters } from '../reports/source';
import { invalid, notFound } from '../domain/errors';
import type { WithContext } from './command';

interface CommonOptions {
  platform: string;
  context?: string[];
  referential?: string;
  from?: string;
  to?: string;
  out: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

async function queryOf(ctx: AppContext, opts: CommonOptions): Promise<ComplianceQuery> {
  const platform = await findPlatform(ctx.store.db, opts.platform);
  if (!platform) throw notFound(`no platform ${opts.platform} (see socle platforms list)`);
  const parsed = reportFilters.safeParse({
    ...(opts.context?.length ? { courses: opts.context } : {}),
    ...(opts.referential ? { referential: parseReferentialOption(opts.referential) } : {}),
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`invalid filter ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return { platformId: platform.id, filters: parsed.data };
}

/** Progress on stderr, at most once a second, and the final count. */
function progressReporter(label: string, total: number) {
  let last = 0;
  return (n: number) => {
    const now = Date.now();
    if (now - last < 1000 && n < total) return;
    last = now;
    process.stderr.write(`${label}: ${n}/${total}\n`);
  };
}

/** Writes to `out` through a temporary file renamed at the end: a failed export leaves no partial file. */
async function toFile(out: string, write: (stream: fs.WriteStream) => Promise<unknown>): Promise<number> {
  const tmp = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${process.pid}.part`);
  const stream = fs.createWriteStream(tmp);
  try {
    await write(stream);
    if (!stream.closed) await new Promise<void>((resolve, reject) => stream.once('close', resolve).once('error', reject));
    fs.renameSync(tmp, out);
    return fs.statSync(out).size;
  } catch (error) {
    stream.destroy();
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

async function audit(ctx: AppContext, what: string, query: ComplianceQuery, out: string) {
  await ctx.store.db.insert(auditEvents).values({
    actor: 'cli',
    action: 'export.cli',
    subject: `platform:${query.platformId}`,
    after: { what, filters: query.filters, file: path.resolve(out) },
  });
}

function withFilters(cmd: Command): Command {
  return cmd
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--context <id>', 'a course (LTI context id); repeat or separate by commas', collect)
    .option('--referential <id[@version]>', 'only this référentiel (version)')
    .option('--from <date>', 'completed on or after (YYYY-MM-DD)')
    .option('--to <date>', 'completed on or before (YYYY-MM-DD)')
    .requiredOption('--out <file>', 'where to write');
}

export function registerReports(program: Command, withContext: WithContext): void {
  const report = program.command('report').description('hour-compliance reports, attestations and programme indicators (personal data: audited)');

  withFilters(report.command('compliance').description('the compliance report: one row per learner, non-compliant first'))
    .requiredOption('--format <format>', 'csv (French Excel), csv-rfc4180, xlsx or pdf')
    .action(async (opts: CommonOptions & { format: string }) => {
      if (!['csv', 'csv-rfc4180', 'xlsx', 'pdf'].includes(opts.format)) throw invalid(`unknown format ${opts.format}: csv, csv-rfc4180, xlsx or pdf`);
      // The writers (exceljs, pdfmake) are loaded only by the commands that use them: every other command starts faster.
      const { reportMetaOf } = await import('../reports/service');
      const { writeComplianceCsv } = await import('../reports/csv');
      const { writeComplianceXlsx } = await import('../reports/xlsx');
      const { writeCompliancePdf } = await import('../reports/compliance-pdf');
      await withContext(async (ctx) => {
        const query = await queryOf(ctx, opts);
        const meta = await reportMetaOf(ctx.store.db, ctx.compliance, query).catch((error: Error) => {
          throw invalid(error.message);
        });
        const source = ctx.compliance;
        const total = await source.count(ctx.store.db, query);
        const onProgress = progressReporter('rows', total);
        const rows = source.rows(ctx.store.db, query);
        const bytes = await toFile(opts.out, (out) =>
          opts.format === 'xlsx'
            ? writeComplianceXlsx(meta, rows, out, { onProgress })
            : opts.format === 'pdf'
              ? writeCompliancePdf(meta, rows, out, { onProgress })
              : writeComplianceCsv(meta, rows, out, { variant: opts.format === 'csv' ? 'excel-fr' : 'rfc4180', onProgress }),
        );
        await audit(ctx, `compliance ${opts.format}`, query, opts.out);
        process.stderr.write(`${total} learner(s) written to ${opts.out} (${bytes} bytes)\n`);
      });
    });

  withFilters(report.command('attestations').description('one attestation PDF per learner, in one ZIP (each recorded for its verification URL)')).action(
    async (opts: CommonOptions) => {
      const { recordedAttestations } = await import('../reports/service');
      const { writeAttestationsZip } = await import('../reports/attestation');
      await withContext(async (ctx) => {
        const query = await queryOf(ctx, opts);
        const total = await ctx.compliance.count(ctx.store.db, query);
        const onProgress = progressReporter('attestations', total);
        let count = 0;
        const bytes = await toFile(opts.out, async (out) => {
          count = await writeAttestationsZip(recordedAttestations(ctx, query), out, { onProgress });
        });
        await audit(ctx, 'attestations zip', query, opts.out);
        process.stderr.write(`${count} attestation(s) written to ${opts.out} (${bytes} bytes)\n`);
      });
    },
  );

  withFilters(report.command('indicators').description('programme indicators (France 2030 reporting)'))
    .requiredOption('--format <format>', 'csv (French Excel), csv-rfc4180, xlsx or json')
    .action(async (opts: CommonOptions & { format: string }) => {
      if (!['csv', 'csv-rfc4180', 'xlsx', 'json'].includes(opts.format)) throw invalid(`unknown format ${opts.format}: csv, csv-rfc4180, xlsx or json`);
      const { indicatorsOf, writeIndicators } = await import('../reports/service');
      await withContext(async (ctx) => {
        const query = await queryOf(ctx, opts);
        const total = await ctx.compliance.count(ctx.store.db, query);
        const ind = await indicatorsOf(ctx.store.db, ctx.compliance, query, progressReporter('learners', total));
        const format = opts.format === 'csv' ? 'csv-excel' : opts.format === 'csv-rfc4180' ? 'csv' : opts.format;
        const bytes = await toFile(opts.out, (out) => writeIndicators(ind, format, out));
        await audit(ctx, `indicators ${opts.format}`, query, opts.out);
        process.stderr.write(`indicators of ${ind.learners.total} learner(s) written to ${opts.out} (${bytes} bytes)\n`);
      });
    });
}
