/**
 * A change of référentiel version (old → new): the correspondence of competencies an administrator reviews, the
 * move of the mappings it implies, and the per-learner difference of validated hours it reports. Pure rules; the
 * storage, the dry run with the coverage rules and the application are in src/transitions/.
 */
import { z } from 'zod';
import { KEY_PATTERN, type ReferentialOutline } from './referential';

/** Why an old competency maps to a new one (or to none). */
export const matchReason = z.enum(['same_key', 'same_code_and_title', 'same_title', 'edited', 'none']);
export type MatchReason = z.infer<typeof matchReason>;

const key = z.string().regex(KEY_PATTERN, 'a competency key');

/** One row of the table: an old competency and its new counterpart (`null`: none, its hours would drop). */
export const correspondenceEntrySchema = z.object({ from: key, to: key.nullable(), reason: matchReason });
export type CorrespondenceEntry = z.infer<typeof correspondenceEntrySchema>;
export const correspondenceSchema = z.array(correspondenceEntrySchema);
export type Correspondence = z.infer<typeof correspondenceSchema>;

/** An administrator's change to one row: the new key, or `null` for none. */
export const correspondenceEditSchema = z.object({ from: key, to: key.nullable() });
export type CorrespondenceEdit = z.infer<typeof correspondenceEditSchema>;

/** A title compared without case, accents, punctuation or repeated spaces. */
export function normaliseTitle(title: string): string {
  return title
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

const competenciesOf = (outline: Pick<ReferentialOutline, 'domains'>) => outline.domains.flatMap((d) => d.competencies);

/**
 * The proposed table, one row per competency of the old version in its order: the same key in the new version;
 * else the one competency with the same code and the same normalised title; else the one with the same normalised
 * title; else none. Several candidates are never guessed between.
 */
export function proposeCorrespondence(from: Pick<ReferentialOutline, 'domains'>, to: Pick<ReferentialOutline, 'domains'>): Correspondence {
  const targets = competenciesOf(to);
  const keys = new Set(targets.map((c) => c.key));
  const only = <T>(list: T[]): T | undefined => (list.length === 1 ? list[0] : undefined);
  return competenciesOf(from).map((old): CorrespondenceEntry => {
    if (keys.has(old.key)) return { from: old.key, to: old.key, reason: 'same_key' };
    const title = normaliseTitle(old.title);
    const sameTitle = targets.filter((c) => normaliseTitle(c.title) === title);
    const byCode = only(sameTitle.filter((c) => c.code === old.code));
    if (byCode) return { from: old.key, to: byCode.key, reason: 'same_code_and_title' };
    const byTitle = only(sameTitle);
    if (byTitle) return { from: old.key, to: byTitle.key, reason: 'same_title' };
    return { from: old.key, to: null, reason: 'none' };
  });
}

export interface CorrespondenceProblem {
  path: string;
  message: string;
}

/**
 * What is wrong with a table for these two versions: every old competency exactly once, every target a competency
 * of the new version (or none). Empty when it can be applied.
 */
export function correspondenceProblems(
  from: Pick<ReferentialOutline, 'domains'>,
  to: Pick<ReferentialOutline, 'domains'>,
  table: Correspondence,
): CorrespondenceProblem[] {
  const problems: CorrespondenceProblem[] = [];
  const olds = new Set(competenciesOf(from).map((c) => c.key));
  const news = new Set(competenciesOf(to).map((c) => c.key));
  const seen = new Set<string>();
  table.forEach((entry, i) => {
    if (!olds.has(entry.from)) problems.push({ path: `correspondence[${i}].from`, message: `"${entry.from}" is not a competency of the old version` });
    else if (seen.has(entry.from)) problems.push({ path: `correspondence[${i}].from`, message: `"${entry.from}" is listed twice` });
    seen.add(entry.from);
    if (entry.to !== null && !news.has(entry.to)) problems.push({ path: `correspondence[${i}].to`, message: `"${entry.to}" is not a competency of the new version` });
  });
  for (const old of olds) if (!seen.has(old)) problems.push({ path: 'correspondence', message: `the old competency "${old}" has no row` });
  return problems;
}

/** The table with these rows changed (reason `edited`), or the problems: an unknown old key, a target not in the new version. */
export function editCorrespondence(
  to: Pick<ReferentialOutline, 'domains'>,
  table: Correspondence,
  edits: readonly CorrespondenceEdit[],
): { table: Correspondence; problems: CorrespondenceProblem[] } {
  const news = new Set(competenciesOf(to).map((c) => c.key));
  const rows = new Map(table.map((e) => [e.from, e]));
  const problems: CorrespondenceProblem[] = [];
  edits.forEach((edit, i) => {
    if (!rows.has(edit.from)) problems.push({ path: `edits[${i}].from`, message: `"${edit.from}" is not a competency of the old version` });
    else if (edit.to !== null && !news.has(edit.to)) problems.push({ path: `edits[${i}].to`, message: `"${edit.to}" is not a competency of the new version` });
    else rows.set(edit.from, { from: edit.from, to: edit.to, reason: 'edited' });
  });
  return { table: table.map((e) => rows.get(e.from) ?? e), problems };
}

/** An activity's mapping to one competency with minutes, in one course. */
export interface MappedMinutes {
  courseId: number;
  activityIri: string;
  competencyKey: string;
  minutes: number;
}

/**
 * The mappings of the old version moved to the new one's keys. A pair already mapped on the new version (a course
 * remapped by hand) is kept as it is (`kept`); two old competencies that became one add their minutes on the
 * activity (`merged`); an old competency mapped to none drops its pairs (`dropped`).
 */
export function moveMappings(
  old: readonly MappedMinutes[],
  existing: readonly MappedMinutes[],
  table: Correspondence,
): { moved: MappedMinutes[]; dropped: MappedMinutes[]; kept: MappedMinutes[]; merged: number } {
  const target = new Map(table.map((e) => [e.from, e.to]));
  const pairKey = (m: { courseId: number; activityIri: string; competencyKey: string }) => `${m.courseId}\u0000${m.activityIri}\u0000${m.competencyKey}`;
  const already = new Set(existing.map(pairKey));
  const moved = new Map<string, MappedMinutes>();
  const dropped: MappedMinutes[] = [];
  const kept: MappedMinutes[] = [];
  let merged = 0;
  for (const m of old) {
    const to = target.get(m.competencyKey) ?? null;
    if (to === null) {
      dropped.push(m);
      continue;
    }
    const next = { ...m, competencyKey: to };
    const k = pairKey(next);
    if (already.has(k)) kept.push(m);
    else {
      const prior = moved.get(k);
      if (prior) {
        prior.minutes += m.minutes;
        merged++;
      } else moved.set(k, next);
    }
  }
  return { moved: [...moved.values()], dropped, kept, merged };
}

/** One domain's validated minutes of a learner before (old version) and after (new version). */
export const domainDifferenceSchema = z.object({ code: z.string(), before: z.number().int(), after: z.number().int() });
export type DomainDifference = z.infer<typeof domainDifferenceSchema>;

/** A learner whose figures change: totals, covered competencies, per domain; `lost` when anything drops. */
export const learnerDifferenceSchema = z.object({
  userId: z.number().int(),
  before: z.number().int(),
  after: z.number().int(),
  coveredBefore: z.number().int(),
  coveredAfter: z.number().int(),
  domains: z.array(domainDifferenceSchema),
  lost: z.boolean(),
});
export type LearnerDifference = z.infer<typeof learnerDifferenceSchema>;

/** What a transition changes (the preview, and the report stored when applied). */
export const transitionReportSchema = z.object({
  /** The learners with facts on the old version (events on its mapped activities, active credits, stored coverage). */
  learners: z.number().int(),
  /** Those whose figures change, with the differences; the others keep exactly what they had. */
  changed: z.array(learnerDifferenceSchema),
  losses: z.number().int(),
  mappings: z.object({ moved: z.number().int(), merged: z.number().int(), kept: z.number().int(), dropped: z.number().int() }),
  credits: z.object({ moved: z.number().int(), revoked: z.number().int() }),
  /**
   * The Open Badges the recompute would issue and revoke (when the platform issues them): a badge of the old version
   * is revoked, as its coverage is gone; the new version's are issued where met.
   */
  badges: z.object({ issued: z.number().int(), revoked: z.number().int() }),
});
export type TransitionReport = z.infer<typeof transitionReportSchema>;

/** The figures of one coverage the difference reads (a learner without coverage: undefined, all zero). */
export interface CoverageFigures {
  validatedMinutes: number;
  coveredCompetencies: number;
  domains: readonly { code: string; validatedMinutes: number }[];
}

/**
 * A learner's difference between their coverage of the old version and of the new one, or undefined when nothing
 * changes. Domains are compared by code (those of the old version first); a domain absent from a side counts 0.
 */
export function learnerDifference(userId: number, before: CoverageFigures | undefined, after: CoverageFigures | undefined): LearnerDifference | undefined {
  const codes = [...new Set([...(before?.domains ?? []), ...(after?.domains ?? [])].map((d) => d.code))];
  const minutesOf = (c: CoverageFigures | undefined, code: string) => c?.domains.find((d) => d.code === code)?.validatedMinutes ?? 0;
  const domains = codes.map((code) => ({ code, before: minutesOf(before, code), after: minutesOf(after, code) }));
  const difference = {
    userId,
    before: before?.validatedMinutes ?? 0,
    after: after?.validatedMinutes ?? 0,
    coveredBefore: before?.coveredCompetencies ?? 0,
    coveredAfter: after?.coveredCompetencies ?? 0,
    domains,
  };
  const same = difference.before === difference.after && difference.coveredBefore === difference.coveredAfter && domains.every((d) => d.before === d.after);
  if (same) return undefined;
  const lost = difference.after < difference.before || difference.coveredAfter < difference.coveredBefore || domains.some((d) => d.after < d.before);
  return { ...difference, lost };
}
