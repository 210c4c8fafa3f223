import type { z } from 'zod';
import { type Referential, referentialSchema } from '../../domain/referential';
import { invalidReferential } from '../errors';

/**
 * A file format of référentiels. Each format is one file of this folder exporting one `defineFormat({...})`, listed
 * once in `index.ts`: the CLI's `--format`, the API's `?format=` and the recognition of imported files come from there.
 */
export interface ReferentialFormat<Name extends string = string> {
  /** Its value of `socle referentials export --format` and of `GET /api/v1/referentials/:id?format=`. */
  readonly name: Name;
  /** What it is, for people (help texts): "a CASE 1.1 package (JSON)". */
  readonly description: string;
  /** What an exported file's name ends with after `<id>@<version>`: ".case.json". */
  readonly extension: string;
  /** The HTTP Content-Type of an exported file. */
  readonly contentType: string;
  /** The text of the file of a référentiel version; `baseUrl` is Socle's public URL (for identifiers that link back). */
  export(ref: Referential, baseUrl: string): string;
  /**
   * Whether a file's text (byte order mark removed) is in this format, from a glance at it: imports ask the formats
   * in the registry's order and the first that accepts reads the file (and says what is wrong with it).
   */
  accepts(text: string): boolean;
  /** The référentiel of a file's text (byte order mark removed); an invalid_request SocleError names where each problem is. */
  import(text: string): Referential;
}

/** Declares a format, keeping its name's literal type (the registry derives the format enum from the names). */
export const defineFormat = <const Name extends string>(format: ReferentialFormat<Name>): ReferentialFormat<Name> => format;

/** The issues of a failed parse as error details, their paths under `prefix` ("CFItems[1].extensions.socle.key"). */
export function issueDetails(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)', message: i.message }));
}

/** Whether a file's text is a JSON object at a glance (it starts with "{"). */
export const looksLikeJson = (text: string): boolean => text.trimStart().startsWith('{');

/** The value of a JSON file; invalid JSON is an invalid_request SocleError. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidReferential('The file is not valid JSON', [{ path: 'file', message: (error as Error).message }]);
  }
}

/**
 * What a format read, checked by the référentiel schema (the same checks as bundled and stored référentiels);
 * otherwise an invalid_request SocleError with `message` and the path of every problem.
 */
export function validReferential(candidate: unknown, message: string): Referential {
  // JSON round trip: absent optional fields are absent keys, not keys holding undefined.
  const result = referentialSchema.safeParse(JSON.parse(JSON.stringify(candidate)));
  if (!result.success) throw invalidReferential(message, issueDetails(result.error));
  return result.data;
}
