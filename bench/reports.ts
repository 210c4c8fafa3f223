// Benchmarks the report writers at national scale: `npx tsx bench/reports.ts [learners] [attestations]`, or the
// environment: BENCH_REPORT_LEARNERS (default 70,000: CSV, XLSX and the compliance PDF) and BENCH_ATTESTATIONS
// (default 5,000 attestations into one ZIP; 70,000 is extrapolated from it, and said so, unless run at that size).
// Each measure runs in its own child process so its peak RSS is its own (ru_maxrss); output goes to a temporary
// file, checked for size. References measured in the same run: the rows alone (generated, not written) for CSV
// and XLSX, the CSV of the same rows for the compliance PDF, a one-line PDF per learner into the same kind of ZIP
// for the attestations. Targets (issue 16): attestations ≥ 50/s at ≤ 400 MB, the compliance PDF without a row cap
// at ≤ 400 MB, CSV ≤ 20 s, XLSX ≤ 90 s.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import '../src/reports/font-cache'; // before pdfkit, as in the application
import PDFDocument from 'pdfkit';
import yazl from 'yazl';
import { writeAttestationsZipInThreads } from '../src/reports/attestation-render';
import { writeCompliancePdf } from '../src/reports/compliance-pdf';
import { writeComplianceCsv } from '../src/reports/csv';
import { drained, type ComplianceRow } from '../src/reports/rows';
import { writeComplianceXlsx } from '../src/reports/xlsx';
import { attestationOf, streamRows, testMeta } from '../test/support/compliance-rows';
import { figure } from './figure';

type Task = 'rows' | 'csv' | 'xlsx' | 'compliance-pdf' | 'attestations' | 'trivial-pdfs';
interface Result {
  task: Task;
  rows: number;
  seconds: number;
  bytes: number;
  peakRssMb: number;
  /** CPU time of the child (user + system): the machine is shared, so wall time alone says little. */
  cpuSeconds: number;
}

async function* attestations(n: number) {
  for await (const row of streamRows(n)) yield attestationOf(row as ComplianceRow);
}

/**
 * The reference of the attestations: one PDF per learner holding one line of text in the same embedded font
 * (DejaVu Sans, parsed once), stored in a ZIP the same way.
 */
async function trivialPdfsZip(n: number, out: Writable): Promise<number> {
  const font = fs.readFileSync(path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf'));
  const zip = new yazl.ZipFile();
  const piped = pipeline(zip.outputStream, out);
  let count = 0;
  for await (const row of streamRows(n)) {
    const doc = new PDFDocument({ size: 'A4' });
    doc.registerFont('DejaVuSans', font).font('DejaVuSans', 10);
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => doc.on('end', resolve));
    doc.text(`Attestation ${row.learner.sub} ${row.learner.name ?? ''}`);
    doc.end();
    await ended;
    zip.addBuffer(Buffer.concat(chunks), `${row.learner.sub}.pdf`, { compress: false });
    count++;
    await drained(out);
  }
  zip.end();
  await piped;
  return count;
}

async function child(task: Task, n: number): Promise<void> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'socle-bench-')), `out.${task}`);
  const out = fs.createWriteStream(file);
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  let rows = 0;
  if (task === 'rows') {
    for await (const _ of streamRows(n)) rows++;
    out.end();
  } else if (task === 'csv') rows = await writeComplianceCsv(testMeta(), streamRows(n), out, { variant: 'excel-fr' });
  else if (task === 'xlsx') rows = await writeComplianceXlsx(testMeta(), streamRows(n), out);
  else if (task === 'compliance-pdf') rows = await writeCompliancePdf(testMeta(), streamRows(n), out);
  else if (task === 'attestations') rows = await writeAttestationsZipInThreads(attestations(n), out);
  else rows = await trivialPdfsZip(n, out);
  if (!out.writableFinished) await new Promise<void>((resolve) => out.on('finish', () => resolve()));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = fs.statSync(file).size;
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({ task, rows, seconds, bytes, peakRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds } satisfies Result));
}

function run(task: Task, n: number): Result {
  const result = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', task, String(n)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) throw new Error(`${task} failed:\n${result.stderr}`);
  const r = JSON.parse(result.stdout) as Result;
  process.stdout.write(
    `${task.padEnd(15)} ${String(r.rows).padStart(7)} rows  ${r.seconds.toFixed(1).padStart(7)} s (CPU ${r.cpuSeconds.toFixed(1).padStart(6)} s)  ` +
      `${(r.bytes / 1e6).toFixed(1).padStart(6)} MB out  peak RSS ${r.peakRssMb.toFixed(0).padStart(4)} MB  load ${loadavg()}\n`,
  );
  return r;
}

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');


async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1] as Task, Number(args[2]));
  const learners = Number(args[0] ?? process.env.BENCH_REPORT_LEARNERS ?? 70_000);
  const count = Number(args[1] ?? process.env.BENCH_ATTESTATIONS ?? 5_000);
  process.stdout.write(`${learners} learners (CSV, XLSX, compliance PDF), ${count} attestations; load average ${loadavg()}\n`);

  const rows = run('rows', learners);
  const csv = run('csv', learners);
  const rowsRef = `the same rows generated, not written: ${rows.seconds.toFixed(2)} s`;
  figure({ name: `CSV ${learners} rows`, value: csv.seconds, unit: 's', target: '<= 20 s', reference: rowsRef, ratio: csv.seconds / rows.seconds, meets: csv.seconds <= 20 && csv.peakRssMb <= 400 });
  const xlsx = run('xlsx', learners);
  figure({ name: `XLSX ${learners} rows`, value: xlsx.seconds, unit: 's', target: '<= 90 s', reference: rowsRef, ratio: xlsx.seconds / rows.seconds, meets: xlsx.seconds <= 90 && xlsx.peakRssMb <= 400 });

  const pdf = run('compliance-pdf', learners);
  const csvRef = `CSV of the same ${learners} rows: ${csv.seconds.toFixed(1)} s`;
  figure({ name: `compliance PDF ${learners} rows`, value: pdf.seconds, unit: 's', target: 'no row cap (all rows printed)', reference: csvRef, ratio: pdf.seconds / csv.seconds, meets: pdf.rows === learners });
  figure({ name: `compliance PDF ${learners} rows, CPU`, value: pdf.cpuSeconds, unit: 'CPU s', target: 'no row cap (all rows printed)', reference: `CSV of the same rows: ${csv.cpuSeconds.toFixed(1)} CPU s`, ratio: pdf.cpuSeconds / csv.cpuSeconds, meets: pdf.rows === learners });
  figure({ name: `compliance PDF ${learners} rows peak RSS`, value: pdf.peakRssMb, unit: 'MB', target: '<= 400 MB', reference: `CSV of the same rows: ${csv.peakRssMb.toFixed(0)} MB`, ratio: pdf.peakRssMb / csv.peakRssMb, meets: pdf.peakRssMb <= 400 });

  const trivial = run('trivial-pdfs', count);
  const zip = run('attestations', count);
  const perSecond = zip.rows / zip.seconds;
  const trivialPerSecond = trivial.rows / trivial.seconds;
  const trivialRef = `a one-line PDF per learner into the same ZIP: ${trivialPerSecond.toFixed(0)}/s`;
  figure({ name: `attestations into a ZIP (${count})`, value: perSecond, unit: 'attestations/s', target: '>= 50', reference: trivialRef, ratio: perSecond / trivialPerSecond, meets: perSecond >= 50 });
  const perCpuSecond = zip.rows / zip.cpuSeconds;
  const trivialPerCpuSecond = trivial.rows / trivial.cpuSeconds;
  figure({
    name: `attestations per CPU second (${count})`,
    value: perCpuSecond,
    unit: 'attestations/CPU s',
    target: '>= 50',
    reference: `the one-line PDFs: ${trivialPerCpuSecond.toFixed(0)}/CPU s`,
    ratio: perCpuSecond / trivialPerCpuSecond,
    meets: perCpuSecond >= 50,
  });
  figure({ name: `attestations ZIP (${count}) peak RSS`, value: zip.peakRssMb, unit: 'MB', target: '<= 400 MB', reference: `the one-line PDFs: ${trivial.peakRssMb.toFixed(0)} MB`, ratio: zip.peakRssMb / trivial.peakRssMb, meets: zip.peakRssMb <= 400 });
  const minutes70k = 70_000 / perSecond / 60;
  figure({
    name: count >= 70_000 ? '70,000 attestations' : `70,000 attestations (extrapolated from ${count})`,
    value: count >= 70_000 ? (zip.seconds * 70_000) / zip.rows / 60 : minutes70k,
    unit: 'min',
    target: '< 25 min',
    reference: trivialRef,
    ratio: null,
    meets: minutes70k < 25,
  });
  process.stdout.write(`load average at the end ${loadavg()}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
