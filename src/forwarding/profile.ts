import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../domain/statement-ids';

/**
 * Socle's xAPI Profile (ADL xAPI Profiles 1.0, `xapi-profiles/socle.jsonld`) and the two checks built on it:
 * `checkProfile` (the profile itself) and `matchTemplate` (a statement against a statement template).
 */

type LangMap = Record<string, string>;
export interface Concept {
  id: string;
  type: string;
  inScheme: string;
  prefLabel: LangMap;
  definition: LangMap;
  deprecated?: boolean;
  inlineSchema?: string;
  schema?: string;
  recommendedVerbs?: string[];
  recommendedActivityTypes?: string[];
  [key: string]: unknown;
}
export interface Rule {
  location: string;
  selector?: string;
  presence?: 'included' | 'excluded' | 'recommended';
  any?: unknown[];
  all?: unknown[];
  none?: unknown[];
  scopeNote?: LangMap;
}
export interface StatementTemplate {
  id: string;
  type: 'StatementTemplate';
  inScheme: string;
  prefLabel: LangMap;
  definition: LangMap;
  verb?: string;
  objectActivityType?: string;
  contextGroupingActivityType?: string[];
  contextParentActivityType?: string[];
  contextOtherActivityType?: string[];
  contextCategoryActivityType?: string[];
  attachmentUsageType?: string[];
  objectStatementRefTemplate?: string[];
  contextStatementRefTemplate?: string[];
  rules?: Rule[];
}
export interface Pattern {
  id: string;
  type: 'Pattern';
  primary?: boolean;
  inScheme: string;
  prefLabel?: LangMap;
  definition?: LangMap;
  alternates?: string[];
  optional?: string;
  oneOrMore?: string;
  sequence?: string[];
  zeroOrMore?: string;
}
export interface Profile {
  '@context': string;
  id: string;
  type: 'Profile';
  conformsTo: string;
  prefLabel: LangMap;
  definition: LangMap;
  author: { type: string; name: string; url?: string };
  versions: { id: string; generatedAtTime: string; wasRevisionOf?: string[] }[];
  concepts?: Concept[];
  templates?: StatementTemplate[];
  patterns?: Pattern[];
  [key: string]: unknown;
}

const PROFILE_FILE = 'socle.jsonld';

/** Reads Socle's profile from `xapi-profiles/` (a checkout or a built image). */
export function loadSocleProfile(): Profile {
  const candidates = [path.join(__dirname, '..', '..', 'xapi-profiles'), path.join(__dirname, '..', '..', '..', 'xapi-profiles')];
  for (const dir of candidates) {
    const file = path.join(dir, PROFILE_FILE);
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  }
  throw new Error(`cannot find xapi-profiles/${PROFILE_FILE}`);
}

/**
 * Concepts of other published profiles that Socle's templates may reference without defining them (ADL, cmi5,
 * EDLM): type → ids.
 */
export const EXTERNAL_CONCEPTS: Record<string, string[]> = {
  Verb: [
    'http://adlnet.gov/expapi/verbs/completed',
    'http://adlnet.gov/expapi/verbs/passed',
    'http://adlnet.gov/expapi/verbs/voided',
    'https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted',
  ],
  ActivityType: [
    'http://adlnet.gov/expapi/activities/profile',
    'https://w3id.org/xapi/cmi5/activitytype/course',
    'http://adlnet.gov/expapi/activities/course',
  ],
};

const CONCEPT_TYPES = new Set([
  'Verb',
  'ActivityType',
  'AttachmentUsageType',
  'ContextExtension',
  'ResultExtension',
  'ActivityExtension',
  'Activity',
  'Document',
  'StateResource',
  'AgentProfileResource',
  'ActivityProfileResource',
]);
const PATTERN_KINDS = ['alternates', 'optional', 'oneOrMore', 'sequence', 'zeroOrMore'] as const;

function isLangMap(value: unknown): value is LangMap {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.values(value).every((v) => typeof v === 'string' && v.length > 0)
  );
}
function isIri(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z][a-z0-9+.-]*:[^\s]+$/i.test(value);
}

/**
 * Checks a profile against the xAPI Profiles 1.0 requirements Socle relies on. Returns the problems, each
 * prefixed by where it is (`templates[2].rules[0].location`); an empty list means the profile is valid.
 */
export function checkProfile(profile: Profile, external: Record<string, string[]> = EXTERNAL_CONCEPTS): string[] {
  const errors: string[] = [];
  const need = (ok: boolean, where: string, message: string) => {
    if (!ok) errors.push(`${where}: ${message}`);
  };
  need(profile['@context'] === 'https://w3id.org/xapi/profiles/context', '@context', 'must be https://w3id.org/xapi/profiles/context');
  need(isIri(profile.id), 'id', 'must be an IRI');
  need(profile.type === 'Profile', 'type', 'must be "Profile"');
  need(typeof profile.conformsTo === 'string' && profile.conformsTo.startsWith('https://w3id.org/xapi/profiles#'), 'conformsTo', 'must name the xAPI Profiles specification version');
  need(isLangMap(profile.prefLabel), 'prefLabel', 'must be a language map');
  need(isLangMap(profile.definition), 'definition', 'must be a language map');
  need(typeof profile.author?.type === 'string' && ['Organization', 'Person'].includes(profile.author.type) && typeof profile.author.name === 'string', 'author', 'needs type (Organization or Person) and name');
  need(Array.isArray(profile.versions) && profile.versions.length > 0, 'versions', 'must list at least one version');
  const version = profile.versions?.[0]?.id;
  (profile.versions ?? []).forEach((v, i) => {
    need(isIri(v.id), `versions[${i}].id`, 'must be an IRI');
    need(typeof v.generatedAtTime === 'string' && !Number.isNaN(Date.parse(v.generatedAtTime)), `versions[${i}].generatedAtTime`, 'must be a date and time');
  });

  const ids = new Map<string, string>();
  const register = (id: unknown, where: string) => {
    if (typeof id !== 'string') return;
    const previous = ids.get(id);
    need(previous === undefined, `${where}.id`, `duplicate id ${id} (also ${previous})`);
    if (previous === undefined) ids.set(id, where);
  };
  register(profile.id, 'profile');
  (profile.versions ?? []).forEach((v, i) => register(v.id, `versions[${i}]`));

  const concepts = new Map<string, Concept>();
  (profile.concepts ?? []).forEach((c, i) => {
    const where = `concepts[${i}]`;
    register(c.id, where);
    concepts.set(c.id, c);
    need(isIri(c.id), `${where}.id`, 'must be an IRI');
    need(CONCEPT_TYPES.has(c.type), `${where}.type`, `unknown concept type ${String(c.type)}`);
    need(c.inScheme === version, `${where}.inScheme`, `must be the profile version ${version}`);
    if (!c.deprecated) {
      need(isLangMap(c.prefLabel), `${where}.prefLabel`, 'must be a language map');
      need(isLangMap(c.definition), `${where}.definition`, 'must be a language map');
    }
    if (c.type.endsWith('Extension')) {
      need(!(c.inlineSchema && c.schema), where, 'an extension has inlineSchema or schema, not both');
      if (c.inlineSchema !== undefined) {
        try {
          JSON.parse(c.inlineSchema);
        } catch {
          errors.push(`${where}.inlineSchema: must be a JSON Schema as a string`);
        }
      }
      for (const verb of c.recommendedVerbs ?? []) {
        need(isKnown(verb, 'Verb'), `${where}.recommendedVerbs`, `${verb} is not a Verb defined here or known`);
      }
    }
  });
  const templates = new Map<string, StatementTemplate>();
  for (const t of profile.templates ?? []) templates.set(t.id, t);
  const patterns = new Map<string, Pattern>();
  for (const p of profile.patterns ?? []) patterns.set(p.id, p);

  function isKnown(id: string, type: string): boolean {
    const c = concepts.get(id);
    if (c) return c.type === type;
    return (external[type] ?? []).includes(id);
  }

  (profile.templates ?? []).forEach((t, i) => {
    const where = `templates[${i}]`;
    register(t.id, where);
    need(isIri(t.id), `${where}.id`, 'must be an IRI');
    need(t.type === 'StatementTemplate', `${where}.type`, 'must be "StatementTemplate"');
    need(t.inScheme === version, `${where}.inScheme`, `must be the profile version ${version}`);
    need(isLangMap(t.prefLabel), `${where}.prefLabel`, 'must be a language map');
    need(isLangMap(t.definition), `${where}.definition`, 'must be a language map');
    if (t.verb !== undefined) need(isKnown(t.verb, 'Verb'), `${where}.verb`, `${t.verb} is not a Verb defined here or known`);
    if (t.objectActivityType !== undefined) {
      need(isKnown(t.objectActivityType, 'ActivityType'), `${where}.objectActivityType`, `${t.objectActivityType} is not an ActivityType defined here or known`);
    }
    for (const key of ['contextGroupingActivityType', 'contextParentActivityType', 'contextOtherActivityType', 'contextCategoryActivityType'] as const) {
      for (const type of t[key] ?? []) need(isKnown(type, 'ActivityType'), `${where}.${key}`, `${type} is not an ActivityType defined here or known`);
    }
    for (const type of t.attachmentUsageType ?? []) need(isKnown(type, 'AttachmentUsageType'), `${where}.attachmentUsageType`, `${type} is not defined`);
    for (const key of ['objectStatementRefTemplate', 'contextStatementRefTemplate'] as const) {
      for (const ref of t[key] ?? []) need(templates.has(ref), `${where}.${key}`, `${ref} is not a template of this profile`);
    }
    need(!(t.objectActivityType && t.objectStatementRefTemplate), where, 'objectActivityType and objectStatementRefTemplate exclude each other');
    (t.rules ?? []).forEach((r, j) => {
      const rw = `${where}.rules[${j}]`;
      try {
        parseJsonPath(r.location);
        if (r.selector !== undefined) parseJsonPath(r.selector, true);
      } catch (error) {
        errors.push(`${rw}.location: ${(error as Error).message}`);
      }
      need(r.presence !== undefined || r.any !== undefined || r.all !== undefined || r.none !== undefined, rw, 'needs presence, any, all or none');
      need(r.presence === undefined || ['included', 'excluded', 'recommended'].includes(r.presence), `${rw}.presence`, 'must be included, excluded or recommended');
      need(!(r.presence === 'excluded' && (r.any || r.all || r.none)), rw, 'an excluded location cannot have any/all/none');
      for (const key of ['any', 'all', 'none'] as const) {
        const v = r[key];
        need(v === undefined || (Array.isArray(v) && v.length > 0), `${rw}.${key}`, 'must be a non-empty array');
      }
    });
  });

  (profile.patterns ?? []).forEach((p, i) => {
    const where = `patterns[${i}]`;
    register(p.id, where);
    need(isIri(p.id), `${where}.id`, 'must be an IRI');
    need(p.type === 'Pattern', `${where}.type`, 'must be "Pattern"');
    need(p.inScheme === version, `${where}.inScheme`, `must be the profile version ${version}`);
    if (p.primary) {
      need(isLangMap(p.prefLabel), `${where}.prefLabel`, 'a primary pattern needs a language map');
      need(isLangMap(p.definition), `${where}.definition`, 'a primary pattern needs a language map');
    }
    const kinds = PATTERN_KINDS.filter((k) => p[k] !== undefined);
    need(kinds.length === 1, where, `must have exactly one of ${PATTERN_KINDS.join(', ')} (has ${kinds.join(', ') || 'none'})`);
    for (const ref of patternRefs(p)) {
      need(templates.has(ref) || patterns.has(ref), where, `${ref} is neither a template nor a pattern of this profile`);
    }
    if (p.sequence !== undefined) need(p.sequence.length >= 2 || (p.primary === true && p.sequence.length === 1), `${where}.sequence`, 'needs at least two members');
    if (p.alternates !== undefined) {
      need(p.alternates.length >= 2, `${where}.alternates`, 'needs at least two members');
      for (const ref of p.alternates) {
        const sub = patterns.get(ref);
        need(!sub || (sub.optional === undefined && sub.zeroOrMore === undefined), `${where}.alternates`, `${ref} is optional or zeroOrMore, not allowed in alternates`);
      }
    }
  });
  const cycle = findPatternCycle([...patterns.values()]);
  if (cycle) errors.push(`patterns: cycle ${cycle.join(' → ')}`);
  const used = new Set((profile.patterns ?? []).flatMap(patternRefs));
  (profile.patterns ?? []).forEach((p, i) => {
    need(p.primary === true || used.has(p.id), `patterns[${i}]`, `${p.id} is neither primary nor used by another pattern`);
  });
  return errors;
}

function patternRefs(p: Pattern): string[] {
  return [...(p.alternates ?? []), ...(p.sequence ?? []), ...[p.optional, p.oneOrMore, p.zeroOrMore].filter((x): x is string => x !== undefined)];
}

function findPatternCycle(patterns: Pattern[]): string[] | undefined {
  const byId = new Map(patterns.map((p) => [p.id, p]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const p = byId.get(id);
    if (!p) return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    if (state.get(id) === 'done') return undefined;
    state.set(id, 'visiting');
    stack.push(id);
    for (const ref of patternRefs(p)) {
      const found = visit(ref);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const p of patterns) {
    const found = visit(p.id);
    if (found) return found;
  }
  return undefined;
}

type Segment = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

/**
 * The JSONPath subset xAPI Profiles use: `$`, `.name`, `['name']`, `[n]`, `[*]`, `.*`, and `|` between whole paths.
 * A selector is relative (starts with `.`/`[` or `$`).
 */
export function parseJsonPath(expression: string, relative = false): Segment[][] {
  return expression.split('|').map((part) => {
    let rest = part.trim();
    if (rest.startsWith('$')) rest = rest.slice(1);
    else if (!relative) throw new Error(`"${part.trim()}" must start with $`);
    const segments: Segment[] = [];
    while (rest.length) {
      let m: RegExpExecArray | null;
      if ((m = /^\.([A-Za-z_][\w-]*)/.exec(rest))) segments.push({ kind: 'key', key: m[1] as string });
      else if ((m = /^\.\*/.exec(rest)) || (m = /^\[\*\]/.exec(rest))) segments.push({ kind: 'wildcard' });
      else if ((m = /^\[(\d+)\]/.exec(rest))) segments.push({ kind: 'index', index: Number(m[1]) });
      else if ((m = /^\['([^']*)'\]/.exec(rest)) || (m = /^\["([^"]*)"\]/.exec(rest))) segments.push({ kind: 'key', key: m[1] as string });
      else throw new Error(`cannot read "${rest}" in JSONPath "${part.trim()}"`);
      rest = rest.slice(m[0].length);
    }
    return segments;
  });
}

/** The values a JSONPath finds in `value` (none when nothing matches). */
export function evaluateJsonPath(value: unknown, expression: string, relative = false): unknown[] {
  const out: unknown[] = [];
  for (const path of parseJsonPath(expression, relative)) {
    let current: unknown[] = [value];
    for (const segment of path) {
      const next: unknown[] = [];
      for (const v of current) {
        if (v === null || typeof v !== 'object') continue;
        if (segment.kind === 'key') {
          if (!Array.isArray(v) && segment.key in v) next.push((v as Record<string, unknown>)[segment.key]);
        } else if (segment.kind === 'index') {
          if (Array.isArray(v) && segment.index < v.length) next.push(v[segment.index]);
        } else {
          next.push(...(Array.isArray(v) ? v : Object.values(v)));
        }
      }
      current = next;
    }
    out.push(...current.filter((v) => v !== undefined));
  }
  return out;
}

export interface TemplateError {
  /** A JSONPath location in the statement, or the determining property. */
  location: string;
  message: string;
}

function activityTypes(statement: Record<string, unknown>, key: string): unknown[] {
  return evaluateJsonPath(statement, `$.context.contextActivities.${key}[*].definition.type`);
}

/** Checks a statement against a statement template: its determining properties, then every rule. */
export function matchTemplate(template: StatementTemplate, statement: Record<string, unknown>): TemplateError[] {
  const errors: TemplateError[] = [];
  const verb = evaluateJsonPath(statement, '$.verb.id')[0];
  if (template.verb !== undefined && verb !== template.verb) {
    errors.push({ location: '$.verb.id', message: `expected ${template.verb}, got ${String(verb)}` });
  }
  if (template.objectActivityType !== undefined) {
    const type = evaluateJsonPath(statement, '$.object.definition.type')[0];
    if (type !== template.objectActivityType) {
      errors.push({ location: '$.object.definition.type', message: `expected ${template.objectActivityType}, got ${String(type)}` });
    }
  }
  const contextKeys = [
    ['contextGroupingActivityType', 'grouping'],
    ['contextParentActivityType', 'parent'],
    ['contextOtherActivityType', 'other'],
    ['contextCategoryActivityType', 'category'],
  ] as const;
  for (const [property, key] of contextKeys) {
    const present = activityTypes(statement, key);
    for (const type of template[property] ?? []) {
      if (!present.includes(type)) errors.push({ location: `$.context.contextActivities.${key}`, message: `needs an activity of type ${type}` });
    }
  }
  if (template.attachmentUsageType) {
    const usages = evaluateJsonPath(statement, '$.attachments[*].usageType');
    for (const type of template.attachmentUsageType) {
      if (!usages.includes(type)) errors.push({ location: '$.attachments', message: `needs an attachment of usage type ${type}` });
    }
  }
  for (const rule of template.rules ?? []) {
    let values = evaluateJsonPath(statement, rule.location);
    if (rule.selector) values = values.flatMap((v) => evaluateJsonPath(v, rule.selector as string, true));
    const found = values.length > 0;
    if (rule.presence === 'included' && !found) {
      errors.push({ location: rule.location, message: 'is required (presence included) and missing' });
      continue;
    }
    if (rule.presence === 'excluded') {
      if (found) errors.push({ location: rule.location, message: 'must not be present (presence excluded)' });
      continue;
    }
    if (!found) {
      if (rule.presence === undefined && (rule.any || rule.all)) errors.push({ location: rule.location, message: 'matches nothing' });
      continue;
    }
    const keys = (list: unknown[]) => new Set(list.map(canonicalJson));
    if (rule.any) {
      const allowed = keys(rule.any);
      if (!values.some((v) => allowed.has(canonicalJson(v)))) {
        errors.push({ location: rule.location, message: `needs one of ${JSON.stringify(rule.any)}` });
      }
    }
    if (rule.all) {
      const allowed = keys(rule.all);
      const bad = values.filter((v) => !allowed.has(canonicalJson(v)));
      if (bad.length) errors.push({ location: rule.location, message: `${JSON.stringify(bad[0])} is not in ${JSON.stringify(rule.all)}` });
    }
    if (rule.none) {
      const banned = keys(rule.none);
      const bad = values.filter((v) => banned.has(canonicalJson(v)));
      if (bad.length) errors.push({ location: rule.location, message: `${JSON.stringify(bad[0])} is not allowed` });
    }
  }
  return errors;
}

/** The template of `profile` with this id, or an error naming it. */
export function templateById(profile: Profile, id: string): StatementTemplate {
  const template = (profile.templates ?? []).find((t) => t.id === id);
  if (!template) throw new Error(`template ${id} is not in profile ${profile.id}`);
  return template;
}
