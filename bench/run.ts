/**
 * `npm run bench [-- name …]`: every benchmark of the project, one after the other, each in its own process so
 * their memory figures do not mix. Figures only: benchmarks are not tests and assert nothing.
 *   xapi             inbound statements/s (batches of 30) and outbox delivery to a loopback LRS, real PostgreSQL
 *   coverage-engine  the pure coverage rules on a 70,000-learner cohort (in memory)
 *   coverage-db      coverage at national scale in PostgreSQL: full recompute, incremental cost, read latencies
 *   reports          compliance exports of 70,000 learners (CSV, XLSX, PDF) and 5,000 attestation PDFs in a ZIP
 *   rate-limit       what the rate-limit counter adds to a request, PostgreSQL and PGlite
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const benches: { name: string; args: string[] }[] = [
  { name: 'xapi', args: [] },
  { name: 'coverage-engine', args: ['70000', '1'] },
  { name: 'coverage-db', args: [] },
  { name: 'reports', args: [] },
  { name: 'rate-limit', args: [] },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !benches.some((b) => b.name === w));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benches.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}
const tsx = path.join(__dirname, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
let failed = 0;
for (const bench of benches) {
  if (wanted.length && !wanted.includes(bench.name)) continue;
  const file = path.join(__dirname, `${bench.name}.ts`);
  if (!fs.existsSync(file)) continue;
  process.stdout.write(`\n=== ${bench.name} ===\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', tsx, file, ...bench.args], { stdio: 'inherit' });
  process.stdout.write(`--- ${bench.name}: ${result.status === 0 ? 'done' : `failed (${result.status})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
