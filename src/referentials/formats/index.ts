import { caseFormat } from './case';
import type { ReferentialFormat } from './format';
import { jsonFormat } from './json';
import { moodleCsvFormat } from './moodle-csv';

export type { ReferentialFormat } from './format';

/**
 * Every référentiel file format, one line each. `socle referentials export --format`, the API's `?format=` and
 * `parseReferentialFile` (import) take them from here. The order is the one in which an imported file's format is
 * recognised (`accepts`): a format that accepts more files goes after those that accept fewer.
 */
export const FORMATS = [
  jsonFormat,
  caseFormat,
  moodleCsvFormat,
] as const;

export type FormatName = (typeof FORMATS)[number]['name'];

/** The format names, in registry order (the enum of `--format` and `?format=`). */
export const FORMAT_NAMES: readonly FormatName[] = FORMATS.map((f) => f.name);

export function formatNamed(name: FormatName): ReferentialFormat<FormatName> {
  const format = FORMATS.find((f) => f.name === name);
  if (!format) throw new RangeError(`no référentiel format ${name}`);
  return format;
}
