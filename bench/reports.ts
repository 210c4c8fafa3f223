// Benchmarks the report writers at national scale: `npx tsx bench/reports.ts [learners] [attestations]`.
// Each measure runs in its own child process so its peak RSS is its own (ru_maxrss); output goes to /dev/null
// (or a temporary file, checked for size). Targets (issue 9): CSV ≤ 20 s, XLSX ≤ 90 s, peak RSS ≤ 400 MB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAttestationsZip } from '../src/reports/attestation';
import { writeComplianceCsv } from '../src/reports/csv';
import type { ComplianceRow } from '../src/reports/rows';
import { writeComplianceXlsx } from '../src/reports/xlsx';
import { attestationOf, streamRows, testMeta } from '../test/support/compliance-rows';

type Task = 'csv' | 'xlsx' | 'attestations';

async function* attestations(n: number) {
  for await (const row of streamRows(n)) yield attestationOf(row as ComplianceRow);
}

async function child(task: Task, n: number): Promise<void> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'socle-bench-')), `out.${task}`);
  const out = fs.createWriteStream(file);
  const started = process.hrtime.bigint();
  let rows = 0;
  if (task === 'csv') rows = await writeComplianceCsv(testMeta(), streamRows(n), out, { variant: 'excel-fr' });
  else if (task === 'xlsx') rows = await writeComplianceXlsx(testMeta(), streamRows(n), out);
  else rows = await writeAttestationsZip(attestations(n), out);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = fs.statSync(file).size;
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ task, rows, seconds, bytes, peakRssMb }));
}

function run(task: Task, n: number) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', task, String(n)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (result.status !== 0) throw new Error(`${task} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as { task: Task; rows: number; seconds: number; bytes: number; peakRssMb: number };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1] as Task, Number(args[2]));
  const learners = Number(args[0] ?? 70_000);
  const count = Number(args[1] ?? 1_000);
  const targets: Record<Task, number | undefined> = { csv: 20, xlsx: 90, attestations: undefined };
  const lines: string[] = [];
  for (const [task, n] of [
    ['csv', learners],
    ['xlsx', learners],
    ['attestations', count],
  ] as const) {
    const r = run(task, n);
    const target = targets[task];
    const ok = (target === undefined || r.seconds <= target) && r.peakRssMb <= 400;
    lines.push(
      `${task.padEnd(13)} ${String(r.rows).padStart(7)} rows  ${r.seconds.toFixed(1).padStart(6)} s  ` +
        `${(r.bytes / 1e6).toFixed(1).padStart(6)} MB out  peak RSS ${r.peakRssMb.toFixed(0).padStart(4)} MB` +
        `${target ? `  (target ≤ ${target} s, ≤ 400 MB)` : ''}  ${ok ? 'ok' : 'OVER TARGET'}`,
    );
    process.stdout.write(`${lines[lines.length - 1]}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
