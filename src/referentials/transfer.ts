import { invalidReferential } from './errors';
import type { Referential } from '../domain/referential';
import { FORMAT_NAMES, FORMATS, type FormatName, formatNamed } from './formats';

/** An exported référentiel file. */
export interface ReferentialFile {
  /** `<id>@<version>` and the format's extension: `socle-ambulanciers@V1.1.2023.case.json`. */
  name: string;
  contentType: string;
  text: string;
}

/** A référentiel version as a file of one of the registered formats; `baseUrl` is Socle's public URL. */
export function exportReferential(ref: Referential, format: FormatName, baseUrl: string): ReferentialFile {
  const f = formatNamed(format);
  return { name: `${ref.id}@${ref.version}${f.extension}`, contentType: f.contentType, text: f.export(ref, baseUrl) };
}

/** Reads an import file with the first registered format that accepts it (Socle JSON, CASE JSON, Moodle CSV). */
export function parseReferentialFile(text: string): { format: FormatName; referential: Referential } {
  const body = text.replace(/^\uFEFF/, '');
  const format = FORMATS.find((f) => f.accepts(body));
  if (!format) throw invalidReferential(`The file is in none of the référentiel formats ${FORMAT_NAMES.join(', ')}`);
  return { format: format.name, referential: format.import(body) };
}
