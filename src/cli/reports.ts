import fs from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import type { Command } from 'commander';
import type { AppContext } from '../context';
import { auditEvents } from '../db/schema';
import { findPlatform } from '../identity/records';
import { aliasesOf, canonicalFormat, reportFormats, reportKinds } from '../reports/kinds';
import { type ComplianceQuery, parseReferentialOption, reportFilters } from '../reports/source';
import { invalid, notFound } from '../domain/errors';
import { checkOutFile, toStdout, type WithContext } from './command';

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
    const field = issue?.path.join('.') ?? '';
    if (field === 'from' || field === 'to') throw invalid(`invalid filter ${field}: --${field} expects a date as YYYY-MM-DD, not "${opts[field]}"`);
    throw invalid(`invalid filter ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return { platformId: platform.id, filters: parsed.data };
}

/** Progress on stderr, at most once a second, and the final count (once). */
function progressReporter(label: string) {
  let last = 0;
  let shown: number | undefined;
  return (n: number, total?: number) => {
    const now = Date.now();
    if (n === shown || (now - last < 1000 && (total === undefined || n < total))) return;
    last = now;
    shown = n;
    process.stderr.write(`${label}: ${n}${total === undefined ? '' : `/${total}`}\n`);
  };
}

/** `a, b or c` */
const either = (names: string[]) => (names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : (names[0] ?? ''));

/** Writes to stdout (`--out -`), counting the bytes; stdout itself stays open. */
async function toStdoutStream(write: (stream: Writable) => Promise<unknown>): Promise<number> {
  const pass = new PassThrough();
  let bytes = 0;
  pass.on('data', (chunk: Buffer) => (bytes += chunk.length));
  pass.pipe(process.stdout, { end: false });
  const ended = once(pass, 'end');
  await write(pass);
  if (!pass.writableEnded) pass.end();
  await ended;
  return bytes;
}

/** Writes to `out` through a temporary file renamed at the end: a failed export leaves no partial file. */
async function toFile(out: string, write: (stream: Writable) => Promise<unknown>): Promise<number> {
  if (toStdout(out)) return toStdoutStream(write);
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
    after: { what, filters: query.filters, file: toStdout(out) ? 'stdout' : path.resolve(out) },
  });
}

function withFilters(cmd: Command): Command {
  return cmd
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--context <id>', 'a course (LTI context id); repeat or separate by commas', collect)
    .option('--referential <id[@version]>', 'only this référentiel (version)')
    .option('--from <date>', 'completed on or after (YYYY-MM-DD)')
    .option('--to <date>', 'completed on or before (YYYY-MM-DD)')
    .requiredOption('--out <file>', 'where to write (- for stdout)');
}

export function registerReports(program: Command, withContext: WithContext): void {
  const report = program.command('report').description('hour-compliance reports, attestations and programme indicators (personal data: audited)');

  // The commands are declared before any context exists: one per kind of the default registry.
  for (const kind of reportKinds.kinds) {
    const cmd = withFilters(report.command(kind.name).description(kind.cli.description));
    // One format needs no option (`socle report attestations` writes the ZIP).
    // The formats have the API's names; the CLI's older ones stay accepted (`csv` is csv-excel).
    const aliases = aliasesOf('cli', kind.formats);
    if (kind.formats.length > 1) {
      const help = kind.formats.map((f) => `${f} (${reportFormats[f].note})`);
      const older = aliases.map(([alias, f]) => `${alias} is an older name of ${f}`);
      cmd.requiredOption('--format <format>', `${either(help)}${older.length ? `; ${older.join(', ')}` : ''}`);
    }
    cmd.action(async (opts: CommonOptions & { format?: string }) => {
      const named = opts.format === undefined ? kind.formats[0] : canonicalFormat(opts.format, 'cli');
      const format = kind.formats.find((f) => f === named);
      if (!format) throw invalid(`unknown format ${opts.format}: ${either([...kind.formats, ...aliases.map(([alias]) => alias)])}`);
      checkOutFile(opts.out);
      await withContext(async (ctx) => {
        const query = await queryOf(ctx, opts);
        let count = 0;
        const bytes = await toFile(opts.out, async (out) => {
          ({ count } = await kind.produce({ ctx, query, format, out, progress: progressReporter(kind.cli.progress) }));
        });
        await audit(ctx, `${kind.name} ${format}`, query, opts.out);
        process.stderr.write(`${kind.cli.written(count)} written to ${toStdout(opts.out) ? 'stdout' : opts.out} (${bytes} bytes)\n`);
      });
    });
  }
}
