/**
 * The rules of a course's mapping (activity → competency, hours), with no I/O: what makes a mapping valid
 * against the course's référentiel version, and what it covers per domain.
 */

import type { ReferentialOutline } from './referential';

/** The part of a référentiel version that mapping needs; hours are integer minutes. */
export type MappableReferential = Pick<ReferentialOutline, 'id' | 'version' | 'domains'>;

/** One (activity, competency, hours) pair of a course's mapping. */
export interface MappingEntry {
  activityIri: string;
  competencyKey: string;
  minutes: number;
}

export interface MappingProblem {
  /** Index of the entry (or the CSV line number when the caller maps it). */
  index: number;
  field: 'activityIri' | 'competencyKey' | 'minutes';
  message: string;
}

/** The finest granularity of credited time: a quarter of an hour. */
export const MINUTES_STEP = 15;
/** More than this for one pair is a typing mistake (a référentiel needs at most 28 h). */
export const MAX_MINUTES = 100 * 60;

export function competencyIndex(referential: MappableReferential) {
  const byKey = new Map<string, { key: string; code: string; domainCode: string }>();
  for (const domain of referential.domains) {
    for (const c of domain.competencies) byKey.set(c.key, { key: c.key, code: c.code, domainCode: domain.code });
  }
  return byKey;
}

/**
 * Finds the competency a person means by a printed code or a key. A code printed twice in the référentiel
 * (the ARM référentiel has two "4.1") is ambiguous: the key must be used.
 */
export function resolveCompetency(referential: MappableReferential, codeOrKey: string): { key: string } | { error: string } {
  const index = competencyIndex(referential);
  const matches = [...index.values()].filter((c) => c.code === codeOrKey);
  if (matches.length > 1) {
    return {
      error: `code ${codeOrKey} is printed ${matches.length} times in ${referential.id} ${referential.version}: use one of the keys ${matches.map((m) => m.key).join(', ')}`,
    };
  }
  if (matches.length === 1 && matches[0]) return { key: matches[0].key };
  if (index.has(codeOrKey)) return { key: codeOrKey };
  return { error: `no competency ${codeOrKey} in ${referential.id} ${referential.version}` };
}

/**
 * Checks a whole mapping: hours > 0 in quarter hours, competency of this référentiel version, activity among
 * the course's, no duplicate (activity, competency) pair. Returns every problem, not just the first.
 */
export function validateMapping(
  referential: MappableReferential,
  courseActivities: ReadonlySet<string>,
  entries: readonly MappingEntry[],
): MappingProblem[] {
  const index = competencyIndex(referential);
  const seen = new Set<string>();
  const problems: MappingProblem[] = [];
  entries.forEach((entry, i) => {
    if (!courseActivities.has(entry.activityIri)) {
      problems.push({ index: i, field: 'activityIri', message: `activity ${entry.activityIri} is not an activity of this course` });
    }
    if (!index.has(entry.competencyKey)) {
      problems.push({ index: i, field: 'competencyKey', message: `no competency ${entry.competencyKey} in ${referential.id} ${referential.version}` });
    }
    if (!Number.isInteger(entry.minutes) || entry.minutes <= 0) {
      problems.push({ index: i, field: 'minutes', message: 'hours must be greater than 0' });
    } else if (entry.minutes % MINUTES_STEP !== 0) {
      problems.push({ index: i, field: 'minutes', message: 'hours must be a multiple of a quarter hour (0.25)' });
    } else if (entry.minutes > MAX_MINUTES) {
      problems.push({ index: i, field: 'minutes', message: `hours must be at most ${MAX_MINUTES / 60}` });
    }
    const pair = `${entry.activityIri}\n${entry.competencyKey}`;
    if (seen.has(pair)) {
      problems.push({ index: i, field: 'competencyKey', message: `activity ${entry.activityIri} is already mapped to ${entry.competencyKey}` });
    }
    seen.add(pair);
  });
  return problems;
}

export interface DomainMappingSummary {
  code: string;
  title: string;
  mappedMinutes: number;
  requiredMinutes: number | null;
}

/** Hours mapped in the course per domain against what the référentiel requires ("Cybersécurité 3 h / 5 h"). */
export function summarizeByDomain(referential: MappableReferential, entries: readonly MappingEntry[]): DomainMappingSummary[] {
  const index = competencyIndex(referential);
  const mapped = new Map<string, number>();
  for (const e of entries) {
    const c = index.get(e.competencyKey);
    if (c) mapped.set(c.domainCode, (mapped.get(c.domainCode) ?? 0) + e.minutes);
  }
  return referential.domains.map((d) => ({
    code: d.code,
    title: d.title,
    mappedMinutes: mapped.get(d.code) ?? 0,
    requiredMinutes: d.requiredMinutes,
  }));
}
