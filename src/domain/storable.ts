import { z } from 'zod';
import { type ErrorDetail, formatPath } from './errors';

/**
 * What PostgreSQL (text, jsonb, timestamptz, integer columns) can store, checked at the boundary so that no input
 * reaches the store only to fail there: a bad value is a 400 naming its path, never a 5xx.
 */
export const STORABLE = {
  /** Deepest nesting of objects and arrays in one value (a statement counts as depth 1). */
  maxDepth: 32,
  /** Most problems reported for one value: the rest are summed up by the message. */
  maxIssues: 10,
  /** The timestamptz range Socle accepts: years 1 to 9999 in UTC (ISO 8601's four-digit years). */
  minInstant: Date.parse('0001-01-01T00:00:00.000Z'),
  maxInstant: Date.parse('9999-12-31T23:59:59.999Z'),
  /** A PostgreSQL `integer`. */
  maxInteger: 2_147_483_647,
} as const;

/** A NUL character (text and jsonb refuse it) or a lone surrogate (not Unicode: jsonb refuses `\ud800`, text alters it). */
const UNSTORABLE = /[\0\p{Cs}]/u;

/** Why PostgreSQL cannot store `text`, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  if (!UNSTORABLE.test(text)) return undefined;
  return text.includes('\0')
    ? 'contains a NUL character (\\u0000), which cannot be stored'
    : 'contains a lone surrogate (an unpaired \\ud800-\\udfff), which is not valid Unicode';
}

/** Whether an instant (ms since the epoch) lies in the storable range (years 1 to 9999 in UTC). */
export function storableInstant(ms: number): boolean {
  return Number.isFinite(ms) && ms >= STORABLE.minInstant && ms <= STORABLE.maxInstant;
}

export const OUT_OF_RANGE_INSTANT = 'outside the storable range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';

/** An ISO 8601 date and time that PostgreSQL's timestamptz can hold (query parameters, bodies). */
export const storableDateTime = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'expected an ISO 8601 date and time')
  .refine((v) => Number.isNaN(Date.parse(v)) || storableInstant(Date.parse(v)), OUT_OF_RANGE_INSTANT);

/** A calendar date (`YYYY-MM-DD`) PostgreSQL's date can hold: year 0000 is not one. */
export const storableDate = z.iso
  .date()
  .refine((v) => Number.isNaN(Date.parse(`${v}T00:00:00Z`)) || storableInstant(Date.parse(`${v}T00:00:00Z`)), 'outside the storable range 0001-01-01 to 9999-12-31');

interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

function framePath(prefix: string, frame: Frame | undefined, key?: string | number): string {
  const segments: (string | number)[] = key === undefined ? [] : [key];
  for (let f = frame; f?.parent; f = f.parent) segments.push(f.key);
  return formatPath(prefix, segments.reverse());
}

/**
 * The values of a parsed JSON document that cannot be stored: nesting deeper than `maxDepth`, strings (and
 * property names) with a NUL or a lone surrogate, numbers that are not finite (`1e400` parses to Infinity). One
 * pass with an explicit stack (no recursion, so no stack overflow whatever the depth); paths are built only for
 * the problems found.
 */
export function storableIssues(root: unknown, prefix: string, maxDepth: number = STORABLE.maxDepth): ErrorDetail[] {
  const issues: ErrorDetail[] = [];
  if (root === null || typeof root !== 'object') {
    if (typeof root === 'string') {
      const why = unstorableText(root);
      if (why) issues.push({ path: formatPath(prefix, []), message: why });
    } else if (typeof root === 'number' && !Number.isFinite(root)) {
      issues.push({ path: formatPath(prefix, []), message: 'a number beyond the range of a double' });
    }
    return issues;
  }
  const stack: Frame[] = [{ value: root, depth: 1, parent: undefined, key: '' }];
  const visit = (child: unknown, frame: Frame, key: string | number) => {
    if (typeof child === 'string') {
      if (UNSTORABLE.test(child)) issues.push({ path: framePath(prefix, frame, key), message: unstorableText(child) as string });
    } else if (typeof child === 'number') {
      if (!Number.isFinite(child)) issues.push({ path: framePath(prefix, frame, key), message: 'a number beyond the range of a double' });
    } else if (child !== null && typeof child === 'object') {
      if (frame.depth >= maxDepth) {
        issues.push({ path: framePath(prefix, frame, key), message: `nested deeper than ${maxDepth} levels` });
      } else {
        stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
      }
    }
  };
  while (stack.length && issues.length < STORABLE.maxIssues) {
    const frame = stack.pop() as Frame;
    const value = frame.value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i], frame, i);
    } else {
      for (const key of Object.keys(value)) {
        if (UNSTORABLE.test(key)) {
          issues.push({ path: framePath(prefix, frame, key), message: `property name ${unstorableText(key) as string}` });
          continue;
        }
        visit((value as Record<string, unknown>)[key], frame, key);
      }
    }
  }
  return issues.slice(0, STORABLE.maxIssues);
}
