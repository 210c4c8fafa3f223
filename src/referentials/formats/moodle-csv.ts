import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { invalidReferential } from '../errors';
import {
  competencySchema,
  domainFieldsSchema,
  type Referential,
  referentialFieldsSchema,
  uniqueKey,
} from '../../domain/referential';
import { formatMinutes } from '../../domain/format';
import { defineFormat, looksLikeJson, validReferential } from './format';

/**
 * Moodle's competency framework CSV, the format of the `tool_lpimportcsv` admin tool (Site administration →
 * Competencies → Import competency framework): one row for the framework (`Is framework` = 1, with its scale and
 * taxonomy), then one row per competency with the id number of its parent. Socle writes the domains as top-level
 * competencies (taxonomy "domain") and the competencies under them (taxonomy "competency").
 *
 * - Id numbers: framework `<id>@<version>`, domain `domaine-<code>`, competency its key (keys have no "-", so
 *   they cannot collide with domains).
 * - Shortname: `<code> <title>`, cut at Moodle's 100 characters; the full title is in the description.
 * - Description (HTML): title, hours, capacities, evaluation, notes for people, then an HTML comment
 *   `<!--socle:<base64url JSON>-->` holding the fields Moodle has no column for, so a Socle export re-imports
 *   losslessly. A CSV exported by Moodle from another framework (no comment) imports with codes, titles and tree.
 */
export const MOODLE_CSV_HEADER = [
  'Parent id number',
  'Id number',
  'Shortname',
  'Description',
  'Description format',
  'Scale values',
  'Scale configuration',
  'Rule type (optional)',
  'Rule outcome (optional)',
  'Rule config (optional)',
  'Cross referenced competency id numbers',
  'Exported id (optional)',
  'Is framework',
  'Taxonomy',
] as const;

/** Moodle's FORMAT_HTML. */
const FORMAT_HTML = '1';
const SCALE_VALUES = 'Non acquis,Acquis';
/** Default "Non acquis", proficient "Acquis" (Moodle creates the scale from the values when importing). */
const SCALE_CONFIGURATION = '[{"scaleid":"0"},{"id":1,"scaledefault":1,"proficient":0},{"id":2,"scaledefault":0,"proficient":1}]';
const TAXONOMY = 'domain,competency';
const MAX_SHORTNAME = 100;
const MAX_IDNUMBER = 100;
const MARKER = /<!--socle:([A-Za-z0-9_-]+)-->/;

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function shortname(code: string | undefined, title: string): string {
  const full = code ? `${code} ${title}` : title;
  return full.length <= MAX_SHORTNAME ? full : `${full.slice(0, MAX_SHORTNAME - 1).trimEnd()}…`;
}

function description(
  title: string,
  minutes: number | null,
  extra: { capacities?: string[]; evaluation?: { modalities?: string; criteria?: string }; notes?: { location: string; text: string }[] },
  data: unknown,
): string {
  const parts = [`<p>${escapeHtml(title)}</p>`];
  if (minutes !== null) parts.push(`<p>Heures : ${formatMinutes(minutes)}</p>`);
  if (extra.capacities?.length) parts.push(`<ul>${extra.capacities.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>`);
  if (extra.evaluation?.modalities) parts.push(`<p>Modalités d'évaluation : ${escapeHtml(extra.evaluation.modalities)}</p>`);
  if (extra.evaluation?.criteria) parts.push(`<p>Critères d'évaluation : ${escapeHtml(extra.evaluation.criteria)}</p>`);
  for (const note of extra.notes ?? []) parts.push(`<p><em>Note (${escapeHtml(note.location)}) : ${escapeHtml(note.text)}</em></p>`);
  parts.push(`<!--socle:${Buffer.from(JSON.stringify(data), 'utf8').toString('base64url')}-->`);
  return parts.join('');
}

const domainIdnumber = (code: string) => `domaine-${code}`;

/** The CSV text (UTF-8, header line first, "\n" line ends, fields quoted like PHP's fputcsv). */
export function toMoodleCsv(ref: Referential): string {
  const rows: string[][] = [[...MOODLE_CSV_HEADER]];
  const frameworkId = `${ref.id}@${ref.version}`;
  const row = (parent: string, idnumber: string, name: string, desc: string, isFramework: boolean) => {
    if (idnumber.length > MAX_IDNUMBER) throw invalidReferential(`Id number longer than ${MAX_IDNUMBER}: ${idnumber}`);
    rows.push([
      parent,
      idnumber,
      name,
      desc,
      FORMAT_HTML,
      isFramework ? SCALE_VALUES : '',
      isFramework ? SCALE_CONFIGURATION : '',
      '',
      '',
      '',
      '',
      '',
      isFramework ? '1' : '',
      isFramework ? TAXONOMY : '',
    ]);
  };
  const { domains: _domains, ...framework } = ref;
  row('', frameworkId, shortname(undefined, ref.title), description(ref.title, ref.requiredMinutes, { notes: ref.notes }, framework), true);
  for (const domain of ref.domains) {
    const { competencies, ...domainData } = domain;
    const did = domainIdnumber(domain.code);
    row('', did, shortname(domain.code, domain.title), description(domain.title, domain.requiredMinutes, domain, domainData), false);
    for (const competency of competencies) {
      row(did, competency.key, shortname(competency.code, competency.title), description(competency.title, competency.requiredMinutes, competency, competency), false);
    }
  }
  return stringify(rows, { quoted_match: /[\s"]/, record_delimiter: 'unix' });
}

interface Row {
  line: number;
  parent: string;
  idnumber: string;
  shortname: string;
  description: string;
  isFramework: boolean;
}

function stripHtml(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Reads a Moodle competency framework CSV; an `invalid_request` error gives the line and column of every problem. */
export function fromMoodleCsv(text: string): Referential {
  const problems: { path: string; message: string }[] = [];
  const fail = (path: string, message: string) => problems.push({ path, message });
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as typeof records;
  } catch (error) {
    throw invalidReferential('Invalid CSV', [{ path: 'file', message: (error as Error).message }]);
  }
  const [header, ...body] = records;
  if (!header || header.record.join('\u0000') !== MOODLE_CSV_HEADER.join('\u0000')) {
    throw invalidReferential('Not a Moodle competency framework CSV', [
      { path: 'line 1', message: `expected the header ${MOODLE_CSV_HEADER.map((h) => JSON.stringify(h)).join(',')}` },
    ]);
  }
  const rows: Row[] = [];
  for (const { record, info } of body) {
    const line = info.lines;
    if (record.length !== MOODLE_CSV_HEADER.length) {
      fail(`line ${line}`, `expected ${MOODLE_CSV_HEADER.length} columns, found ${record.length}`);
      continue;
    }
    const [parent = '', idnumber = '', name = '', desc = '', , , , , , , , , isFramework = ''] = record;
    if (!idnumber.trim()) fail(`line ${line}, column "Id number"`, 'must not be empty');
    if (!name.trim()) fail(`line ${line}, column "Shortname"`, 'must not be empty');
    if (!['', '0', '1'].includes(isFramework)) fail(`line ${line}, column "Is framework"`, 'expected 1, 0 or empty');
    rows.push({ line, parent, idnumber, shortname: name, description: desc, isFramework: isFramework === '1' });
  }
  const frameworks = rows.filter((r) => r.isFramework);
  if (frameworks.length !== 1) fail('file', `expected exactly one row with "Is framework" = 1, found ${frameworks.length}`);
  const frameworkRow = frameworks[0];
  const competencyRows = rows.filter((r) => !r.isFramework);
  const byId = new Map<string, Row>();
  for (const row of competencyRows) {
    if (byId.has(row.idnumber)) fail(`line ${row.line}, column "Id number"`, `duplicate id number "${row.idnumber}"`);
    byId.set(row.idnumber, row);
  }
  const topLevel = competencyRows.filter((r) => r.parent === '' || r.parent === frameworkRow?.idnumber);
  for (const row of competencyRows) {
    if (row.parent === '' || row.parent === frameworkRow?.idnumber) continue;
    const parent = byId.get(row.parent);
    if (!parent) fail(`line ${row.line}, column "Parent id number"`, `no row has id number "${row.parent}"`);
    else if (!topLevel.includes(parent)) {
      fail(`line ${row.line}, column "Parent id number"`, 'Socle reads two levels (domains → competencies); this row is a third level');
    }
  }
  if (!topLevel.length) fail('file', 'no competency at the top level of the framework');
  if (problems.length || !frameworkRow) throw invalidReferential('Invalid Moodle competency framework CSV', problems);

  /** The fields of the `<!--socle:…-->` comment of a row: those of the framework, domain or competency it is. */
  const embedded = <S extends z.ZodType>(schema: S, row: Row): z.infer<S> | undefined => {
    const match = MARKER.exec(row.description);
    if (!match?.[1]) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
    } catch {
      fail(`line ${row.line}, column "Description"`, 'the socle data comment is not valid JSON');
      return undefined;
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      for (const issue of result.error.issues) {
        fail(`line ${row.line}, column "Description", socle.${issue.path.join('.')}`, issue.message);
      }
      return undefined;
    }
    return result.data;
  };
  const codeOf = (row: Row) => /^(\S+)\s/.exec(row.shortname)?.[1] ?? row.idnumber;
  const titleOf = (row: Row) => stripHtml(/^<p>(.*?)<\/p>/.exec(row.description)?.[1] ?? '') || row.shortname;
  const usedKeys = new Set<string>();
  const fw = embedded(referentialFieldsSchema, frameworkRow);
  const [frameworkId, frameworkVersion] = frameworkRow.idnumber.split('@');
  // Without the comments, the référentiel's defaults (no hours, no notes…) apply.
  const candidate = {
    ...fw,
    id: fw?.id ?? frameworkId,
    version: fw?.version ?? frameworkVersion ?? 'sans-version',
    title: fw?.title ?? titleOf(frameworkRow),
    kind: fw?.kind ?? 'modules',
    domains: topLevel.map((domainRow) => {
      const d = embedded(domainFieldsSchema, domainRow);
      return {
        ...d,
        code: d?.code ?? codeOf(domainRow),
        title: d?.title ?? titleOf(domainRow),
        competencies: competencyRows
          .filter((r) => r.parent === domainRow.idnumber)
          .map((row) => {
            const c = embedded(competencySchema.strip(), row);
            return c ?? { key: uniqueKey(row.idnumber, usedKeys), code: codeOf(row), title: titleOf(row) };
          }),
      };
    }),
  };
  if (problems.length) throw invalidReferential('Invalid Moodle competency framework CSV', problems);
  return validReferential(candidate, 'The Moodle CSV is not a valid référentiel');
}

export const moodleCsvFormat = defineFormat({
  name: 'moodle-csv',
  description: 'a Moodle competency framework CSV (tool_lpimportcsv)',
  extension: '.csv',
  contentType: 'text/csv; charset=utf-8',
  export: (ref) => toMoodleCsv(ref),
  // Any text that is not JSON: a CSV with the wrong header is told so.
  accepts: (text) => !looksLikeJson(text),
  import: fromMoodleCsv,
});
