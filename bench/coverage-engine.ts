/**
 * Micro-benchmark of the pure coverage rules (no database): a national-scale cohort generated in memory.
 *
 *   npx tsx bench/coverage-engine.ts [learners=70000] [rounds=3]
 *
 * 28 h référentiel, 40 activities over the 5 domains in 2 courses (some split across two competencies, one
 * course requiring success and capping to the measured duration), ~20 facts per learner (completions,
 * Moodle's uncompleted+completed pairs, retractions, voided statements) and a few manual credits. Reports the
 * cohort full recompute in learners/s, and the incremental update (one statement → new coverage) in µs.
 */
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

const LEARNERS = Number(process.argv[2] ?? 70_000);
const ROUNDS = Number(process.argv[3] ?? 3);
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

const g0 = performance.now();
const cohort: Learner[] = [];
for (let i = 0; i < LEARNERS; i++) cohort.push(generateLearner(i));
const facts = cohort.reduce((s, l) => s + l.events.length, 0);
out(`cohort: ${LEARNERS} learners, ${facts} facts (${(facts / LEARNERS).toFixed(1)}/learner), 40 activities, ${mappings.length} mappings; generated in ${((performance.now() - g0) / 1000).toFixed(1)} s`);

const rules = compileRules(referential, mappings, policies);
const timings: number[] = [];
const cpu: number[] = [];
let summary = '';
for (let round = 0; round < ROUNDS; round++) {
  const status = { not_started: 0, in_progress: 0, complete: 0 };
  let validated = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const { coverage } of cohortCoverage(rules, cohort)) {
    status[coverage.status]++;
    validated += coverage.validatedMinutes;
  }
  timings.push(performance.now() - t0);
  const c1 = process.cpuUsage(c0);
  cpu.push((c1.user + c1.system) / 1000);
  summary = `statuses ${JSON.stringify(status)}, mean validated ${(validated / LEARNERS / 60).toFixed(1)} h`;
}
const sorted = [...timings].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
out(`full recompute (cohortCoverage): median ${(median / 1000).toFixed(2)} s of ${ROUNDS} rounds → ${Math.round(LEARNERS / (median / 1000))} learners/s, ${Math.round(facts / (median / 1000))} facts/s`);
out(`  process CPU time of those rounds: ${cpu.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s (wall time suffers when other processes share the 2 cores)`);
out(`  ${summary}`);

// Incremental: for a sample of learners, their state from all facts but one, then that one statement.
const SAMPLE = Math.min(5_000, LEARNERS);
const prepared = cohort.slice(0, SAMPLE).flatMap((l) => {
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
