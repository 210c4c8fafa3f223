/**
 * `npm run bench [-- name …]`: every benchmark of the project, one after the other, each in its own process so
 * their memory figures do not mix. Figures only: benchmarks are not tests and assert nothing.
 *   xapi             inbound statements/s (batches of 30) and outbox delivery to a loopback LRS, real PostgreSQL
 *   coverage-engine  the pure coverage rules on a 70,000-learner cohort (in memory)
 *   coverage-db      coverage at national scale in PostgreSQL: full recompute, incremental cost, read latencies
 *   reports          compliance exports of 70,000 learners (CSV, XLSX, PDF) and 5,000 attestation PDFs in a ZIP
 *   rate-limit       what the rate-limit counter adds to a request, PostgreSQL and PGlite
 *   storage          bytes per stored statement, completion fact and coverage row in PostgreSQL (docs/scaling.md)
 *   badges           Open Badges issued and stored per second, and the first recompute of a 70,000 × 6 badges cohort
 *   next-step        a learner's next step in "Ma progression" (activities still to do), 20,000 learners in PostgreSQL
 *
 * Each benchmark's output is echoed as it comes; its `FIGURE {json}` lines (bench/figure.ts) are collected and
 * printed at the end as one summary table with the machine's load average and CPU count at start and end, and
 * written as JSON to the file BENCH_OUT names, if set.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const benches: { name: string; args: string[] }[] = [
  { name: 'xapi', args: [] },
  { name: 'coverage-engine', args: ['70000', '1'] },
  { name: 'coverage-db', args: [] },
  { name: 'reports', args: [] },
  { name: 'rate-limit', args: [] },
  { name: 'storage', args: [] },
  { name: 'badges', args: [] },
  { name: 'next-step', args: [] },
];

interface Figure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  target: string | null;
  reference: string | null;
  ratio: number | null;
  meets: boolean | null;
}

interface Machine {
  at: string;
  loadavg: number[];
  cpus: number;
}

const machine = (): Machine => ({ at: new Date().toISOString(), loadavg: os.loadavg().map((l) => Number(l.toFixed(2))), cpus: os.cpus().length });

/** A `FIGURE {json}` line as a figure of `bench`, or undefined (with a warning) when it is not one. */
function parseFigure(bench: string, line: string): Figure | undefined {
  if (!line.startsWith('FIGURE ')) return undefined;
  try {
    const f = JSON.parse(line.slice('FIGURE '.length)) as Record<string, unknown>;
    if (typeof f.name !== 'string' || typeof f.value !== 'number' || typeof f.unit !== 'string') throw new Error('name, value and unit expected');
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      bench,
      name: f.name,
      value: f.value,
      unit: f.unit,
      target: text(f.target),
      reference: text(f.reference),
      ratio: typeof f.ratio === 'number' ? f.ratio : null,
      meets: typeof f.meets === 'boolean' ? f.meets : null,
    };
  } catch (error) {
    process.stderr.write(`bench ${bench}: unreadable FIGURE line (${String(error)}): ${line}\n`);
    return undefined;
  }
}

/** Runs one benchmark file in its own process, echoing its output; resolves with its exit code. */
function runBench(name: string, file: string, args: string[], figures: Figure[]): Promise<number> {
  const tsx = path.join(__dirname, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const child = spawn(process.execPath, ['--expose-gc', tsx, file, ...args], { stdio: ['inherit', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    process.stdout.write(`${line}\n`);
    const f = parseFigure(name, line);
    if (f) figures.push(f);
  });
  const closed = new Promise<void>((resolve) => lines.once('close', resolve));
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`bench ${name}: ${String(error)}\n`);
      resolve(1);
    });
    child.once('close', (code, signal) => void closed.then(() => resolve(code ?? (signal ? 128 : 1))));
  });
}

function formatValue(f: Figure): string {
  const v = Math.abs(f.value) >= 100 ? Math.round(f.value).toLocaleString('en') : String(Number(f.value.toPrecision(3)));
  return `${v} ${f.unit}`;
}

/** The figures as a plain-text table (columns padded to their widest cell). */
function summaryTable(figures: Figure[]): string {
  const header = ['bench', 'name', 'value', 'target', 'reference', 'ratio', 'meets'];
  const rows = figures.map((f) => [
    f.bench,
    f.name,
    formatValue(f),
    f.target ?? '—',
    f.reference ?? '—',
    f.ratio === null ? '—' : String(Number(f.ratio.toPrecision(3))),
    f.meets === null ? '—' : f.meets ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !benches.some((b) => b.name === w));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benches.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const start = machine();
  const figures: Figure[] = [];
  const runs: { name: string; status: number; seconds: number }[] = [];
  for (const bench of benches) {
    if (wanted.length && !wanted.includes(bench.name)) continue;
    const file = path.join(__dirname, `${bench.name}.ts`);
    if (!fs.existsSync(file)) continue;
    process.stdout.write(`\n=== ${bench.name} ===\n`);
    const started = Date.now();
    const status = await runBench(bench.name, file, bench.args, figures);
    const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
    process.stdout.write(`--- ${bench.name}: ${status === 0 ? 'done' : `failed (${status})`} in ${seconds} s\n`);
    runs.push({ name: bench.name, status, seconds });
  }
  const end = machine();
  const load = (m: Machine) => `load average ${m.loadavg.join(' ')} on ${m.cpus} CPUs (${m.at})`;
  process.stdout.write(`\n=== summary: ${figures.length} figure(s) ===\n${summaryTable(figures)}\n`);
  process.stdout.write(`start: ${load(start)}\nend:   ${load(end)}\n`);
  const out = process.env.BENCH_OUT;
  if (out) {
    fs.writeFileSync(out, `${JSON.stringify({ start, end, runs, figures }, null, 2)}\n`);
    process.stdout.write(`written to ${out}\n`);
  }
  return runs.some((r) => r.status !== 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
