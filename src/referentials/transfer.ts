import { fromCase, toCase } from './formats/case';
import { ReferentialFormatError } from './errors';
import type { Referential } from '../domain/referential';
import { fromMoodleCsv, toMoodleCsv } from './formats/moodle-csv';

export const EXPORT_FORMATS = ['case', 'moodle-csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A référentiel version as a CASE 1.1 package (JSON text) or a Moodle competency framework CSV. */
export function exportReferential(ref: Referential, format: ExportFormat, baseUrl: string): string {
  return format === 'case' ? `${JSON.stringify(toCase(ref, baseUrl), null, 2)}\n` : toMoodleCsv(ref);
}

export const contentTypes: Record<ExportFormat, string> = {
  case: 'application/json; charset=utf-8',
  'moodle-csv': 'text/csv; charset=utf-8',
};

/** Reads an import file: a CASE package when it is JSON (starts with "{"), a Moodle CSV otherwise. */
export function parseReferentialFile(text: string): { format: ExportFormat; referential: Referential } {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (error) {
      throw new ReferentialFormatError('The file is not valid JSON', [{ path: 'file', message: (error as Error).message }]);
    }
    return { format: 'case', referential: fromCase(json) };
  }
  return { format: 'moodle-csv', referential: fromMoodleCsv(body) };
}
