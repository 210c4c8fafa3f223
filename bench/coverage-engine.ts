/**
 * Micro-benchmark of the pure coverage rules (no database): a national-scale cohort generated in memory.
 *
 *   npx tsx bench/coverage-engine.ts [learners=70000] [rounds=3]    # or BENCH_LEARNERS, BENCH_ROUNDS
 *
 * 28 h référentiel, 40 activities over the 5 domains in 2 courses (some split across two competencies, one
 * course requiring success and capping to the measured duration), ~20 facts per learner (completions,
 * Moodle's uncompleted+completed pairs, retractions, voided statements) and a few manual credits. Reports the
 * cohort full recompute in learners/s, and the incremental update (one statement → new coverage) in µs. The cohort
 * is generated and computed in chunks of 5,000 learners, as the recompute reads them from the store: the figure
 * is the whole process's peak RSS, not a cohort held in memory. The reference is generating the same facts.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  cohortCoverage,
  compileRules,
  type CompletionEvent,
  type CoursePolicy,
  type ManualCredit,
  type Mapping,
  type ReferentialVersion,
} from '../src/domain/coverage';
import { applyChange, applyToState, learnerStateFrom } from '../src/domain/coverage-incremental';
import { figure } from './figure';

const LEARNERS = Number(process.env.BENCH_LEARNERS ?? process.argv[2] ?? 70_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? process.argv[3] ?? 3);
const CHUNK = 5_000;
const WWWROOT = 'https://moodle.univ-exemple.fr';

let seed = 42;
/** Deterministic PRNG (mulberry32) so every run measures the same cohort. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);

const domainShape: [string, string, number, string[]][] = [
  ['1', 'Données de santé', 6, ['1.1', '1.2', '1.3', '1.4']],
  ['2', 'Cybersécurité en santé', 5, ['2.1', '2.2']],
  ['3', 'Communication en santé', 5, ['3.1', '3.2', '3.3']],
  ['4', 'Outils numériques en santé', 6, ['4.1', '4.2', '4.3', '4.4']],
  ['5', 'Télésanté', 6, ['5.1', '5.2']],
];
const referential: ReferentialVersion = {
  id: 'socle-sante-28h',
  version: 'V1.1.2022',
  title: 'Référentiel socle (28 h)',
  requiredMinutes: 28 * 60,
  domains: domainShape.map(([code, title, hours, keys]) => ({
    code,
    title,
    requiredMinutes: hours * 60,
    competencies: keys.map((key) => ({ key, code: key, title: key, requiredMinutes: null })),
  })),
};

/** 40 activities, 8 per domain, in courses 2 and 3; one in four split across two competencies. */
const activities: { courseId: number; activityId: string }[] = [];
const mappings: Mapping[] = [];
domainShape.forEach(([, , hours, keys], d) => {
  for (let i = 0; i < 8; i++) {
    const cmid = 100 + d * 8 + i;
    const courseId = i < 5 ? 2 : 3;
    const activityId = `${WWWROOT}/mod/${i % 2 === 0 ? 'page' : 'quiz'}/view.php?id=${cmid}`;
    activities.push({ courseId, activityId });
    const minutes = Math.round((hours * 60) / 5);
    const first = keys[i % keys.length] ?? '';
    if (i % 4 === 3) {
      const other = domainShape[(d + 1) % 5]?.[3][0] ?? '';
      mappings.push({ courseId, activityId, competencyKey: first, minutes: Math.round(minutes * 0.7) });
      mappings.push({ courseId, activityId, competencyKey: other, minutes: Math.round(minutes * 0.3) });
    } else {
      mappings.push({ courseId, activityId, competencyKey: first, minutes });
    }
  }
});
const policies: CoursePolicy[] = [{ courseId: 3, requireSuccess: true, capToMeasuredDuration: true }];

interface Learner {
  learnerId: number;
  events: CompletionEvent[];
  manualCredits: ManualCredit[];
}

function generateLearner(learnerId: number): Learner {
  const events: CompletionEvent[] = [];
  let t = 1_725_000_000_000 + int(90) * 86_400_000;
  let statement = 0;
  const progress = random(); // some learners barely start, most are well on their way
  for (const { courseId, activityId } of activities) {
    if (random() > 0.1 + 0.7 * progress) continue;
    t += 60_000 + int(3_600_000);
    const base = { activityId, courseId, success: courseId === 3 ? random() < 0.85 : null, timestamp: t, voided: false };
    const durationSeconds = courseId === 3 ? 300 + int(3600) : null;
    if (courseId === 2 && random() < 0.2) {
      // Moodle's view completion: uncompleted then completed, same second, positions 0 and 1 of one batch
      events.push({ ...base, id: `${learnerId}-${statement++}`, kind: 'uncompleted', durationSeconds, sequence: 0 });
    }
    events.push({ ...base, id: `${learnerId}-${statement++}`, kind: 'completed', durationSeconds, sequence: 1 });
    const r = random();
    if (r < 0.03) events.push({ ...base, id: `${learnerId}-${statement++}`, kind: 'uncompleted', durationSeconds, timestamp: t + 1000, sequence: 0 });
    else if (r < 0.05) {
      const last = events[events.length - 1];
      if (last) last.voided = true;
    }
  }
  // shuffle: arrival order is not timestamp order
  for (let i = events.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [events[i], events[j]] = [events[j] as CompletionEvent, events[i] as CompletionEvent];
  }
  const manualCredits: ManualCredit[] =
    random() < 0.05 ? [{ id: learnerId, competencyKey: '5.2', minutes: 120, justification: 'Formation en présentiel', revoked: false }] : [];
  return { learnerId, events, manualCredits };
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** The cohort, chunk after chunk (the same learners every time: the PRNG restarts). */
function* chunks(): Generator<Learner[]> {
  seed = 42;
  for (let from = 0; from < LEARNERS; from += CHUNK) {
    const chunk: Learner[] = [];
    for (let i = from; i < Math.min(LEARNERS, from + CHUNK); i++) chunk.push(generateLearner(i));
    yield chunk;
  }
}
out(`load average ${load()}; ${os.cpus().length} CPUs; node ${process.version}`);

const g0 = performance.now();
let facts = 0;
let sample: Learner[] = [];
for (const chunk of chunks()) {
  for (const l of chunk) facts += l.events.length;
  if (sample.length === 0) sample = chunk;
}
const generation = performance.now() - g0;
out(`cohort: ${LEARNERS} learners, ${facts} facts (${(facts / LEARNERS).toFixed(1)}/learner), 40 activities, ${mappings.length} mappings; generated in ${(generation / 1000).toFixed(1)} s (chunks of ${CHUNK})`);

const rules = compileRules(referential, mappings, policies);
const timings: number[] = [];
const cpu: number[] = [];
let summary = '';
for (let round = 0; round < ROUNDS; round++) {
  const status = { not_started: 0, in_progress: 0, complete: 0 };
  let validated = 0;
  let rulesMs = 0;
  let cpuMs = 0;
  for (const chunk of chunks()) {
    // only the rules are timed; generating the chunk is the reference
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const { coverage } of cohortCoverage(rules, chunk)) {
      status[coverage.status]++;
      validated += coverage.validatedMinutes;
    }
    rulesMs += performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    cpuMs += (c1.user + c1.system) / 1000;
  }
  timings.push(rulesMs);
  cpu.push(cpuMs);
  summary = `statuses ${JSON.stringify(status)}, mean validated ${(validated / LEARNERS / 60).toFixed(1)} h`;
}
const sorted = [...timings].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
const rss = process.resourceUsage().maxRSS / 1024;
out(`full recompute (cohortCoverage): median ${(median / 1000).toFixed(2)} s of ${ROUNDS} rounds → ${Math.round(LEARNERS / (median / 1000))} learners/s, ${Math.round(facts / (median / 1000))} facts/s; load average ${load()}`);
out(`  process CPU time of those rounds: ${cpu.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s (wall time suffers when other processes share the 2 cores)`);
out(`  ${summary}; whole-process peak RSS ${rss.toFixed(0)} MB`);
figure({
  name: `coverage rules, ${LEARNERS} learners (pure engine)`,
  value: median / 1000,
  unit: 's',
  target: '<= 20 s',
  reference: `generating the same ${facts.toLocaleString('en')} facts: ${(generation / 1000).toFixed(2)} s`,
  ratio: median / generation,
  meets: median <= 20_000,
});
figure({
  name: 'coverage rules, whole-process peak RSS',
  value: rss,
  unit: 'MB',
  target: '<= 500 MB',
  reference: `the cohort streamed in chunks of ${CHUNK} learners`,
  ratio: null,
  meets: rss <= 500,
});

// Incremental: for a sample of learners, their state from all facts but one, then that one statement.
const prepared = sample.flatMap((l) => {
  const last = l.events[l.events.length - 1];
  return last ? [{ state: learnerStateFrom(l.events.slice(0, -1), l.manualCredits), event: last }] : [];
});
const i0 = performance.now();
let check = 0;
for (const { state, event } of prepared) {
  check += applyChange(rules, state, { type: 'event', event }).coverage.validatedMinutes;
}
const perStatement = (performance.now() - i0) / prepared.length;
const u0 = performance.now();
let changed = 0;
for (const { state, event } of prepared) if (applyToState(state, { type: 'event', event }) !== state) changed++;
const perUpdate = (performance.now() - u0) / prepared.length;
out(`incremental (one statement → new state and coverage): ${(perStatement * 1000).toFixed(1)} µs per statement over ${prepared.length} learners (checksum ${check}); of which the state update alone: ${(perUpdate * 1000).toFixed(1)} µs (${changed} changed)`);
const m0 = performance.now();
const remapped = applyChange(rules, prepared[0]?.state ?? learnerStateFrom([]), {
  type: 'mappings',
  courseId: 2,
  activityId: activities[0]?.activityId ?? '',
  mappings: [{ competencyKey: '1.2', minutes: 45 }],
});
out(`mapping change (recompile 50 mappings + one learner's coverage): ${((performance.now() - m0) * 1000).toFixed(0)} µs (checksum ${remapped.coverage.validatedMinutes})`);
out(`heap used: ${Math.round(process.memoryUsage().heapUsed / 1024 / 1024)} MB; node ${process.version}`);
