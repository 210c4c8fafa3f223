import validateStatement from '@learninglocker/xapi-validation';
import { z } from 'zod';
import { type ErrorDetail, formatPath, invalid, zodDetails } from '../domain/errors';
import { OUT_OF_RANGE_INSTANT, STORABLE, storableInstant, storableIssues } from '../domain/storable';
import { normalizeIssuer } from '../identity/records';
import { durationSeconds } from './sources/completion';
import { commonStatementValid } from './fast-check';

/**
 * Limits of the inbound xAPI resource (README, "xAPI"), on top of `STORABLE` (nesting depth, NUL and lone
 * surrogates, storable instants): what the store's columns and indexes can hold.
 */
export const XAPI_LIMITS = {
  /**
   * Statements in one request (Moodle's logstore_xapi sends 30 by default). A statement's position in its batch is
   * a `smallint` column (at most 32,767).
   */
  maxStatements: 10_000,
  /** UTF-8 bytes of an identifier Socle indexes (account name, verb, object and context activity ids): a btree entry holds about 2,700. */
  maxIdentifierBytes: 2_048,
  /** Faults named in one refusal (`details`); the message counts them all. */
  maxDetails: 100,
  /**
   * Bytes of a `multipart/mixed` request (statements and their attachments' contents, which Socle stores): above, 413.
   * An attachment is at most this size; larger contents belong at a `fileUrl`.
   */
  maxMultipartBytes: 16 * 1024 * 1024,
  /** `result.duration` in seconds: an `integer` column (about 68 years). */
  maxDurationSeconds: STORABLE.maxInteger,
} as const;

const fitsIndex = (v: string) => v.length * 3 <= XAPI_LIMITS.maxIdentifierBytes || Buffer.byteLength(v, 'utf8') <= XAPI_LIMITS.maxIdentifierBytes;
const identifier = z.string().refine(fitsIndex, `longer than ${XAPI_LIMITS.maxIdentifierBytes} bytes (UTF-8)`);
const activityRef = z.looseObject({ id: identifier.optional() });
const contextActivity = z.union([z.array(activityRef), activityRef]);

/**
 * What Socle stores in columns of its own (beyond the statement's jsonb), as the store can hold it; applied to
 * statements that passed the xAPI structural checks. Unknown properties pass (the xAPI checks refuse them).
 */
export const storedStatementFields = z.looseObject({
  actor: z.looseObject({
    account: z.looseObject({ homePage: z.string().min(1, 'must not be empty'), name: identifier.min(1, 'must not be empty') }).optional(),
  }),
  verb: z.looseObject({ id: identifier }),
  object: z.looseObject({ id: identifier.optional() }),
  timestamp: z
    .string()
    .refine((v) => Number.isNaN(Date.parse(v)) || storableInstant(Date.parse(v)), OUT_OF_RANGE_INSTANT)
    .optional(),
  result: z
    .looseObject({
      duration: z
        .string()
        .refine((v) => (durationSeconds(v) ?? 0) <= XAPI_LIMITS.maxDurationSeconds, `longer than ${XAPI_LIMITS.maxDurationSeconds} seconds (about 68 years)`)
        .optional(),
    })
    .optional(),
  context: z
    .looseObject({
      contextActivities: z
        .looseObject({ parent: contextActivity.optional(), grouping: contextActivity.optional(), category: contextActivity.optional(), other: contextActivity.optional() })
        .optional(),
    })
    .optional(),
});

/**
 * The statements of a request body (one statement or an array), within the count limit. Beyond it the answer is a
 * 400, not a 413: Moodle's logstore_xapi halves a batch refused with 400 and sends the halves, where a 413 marks
 * its events failed until someone resends them.
 */
export function statementList(body: unknown): unknown[] {
  if (!Array.isArray(body)) {
    if (body === null || typeof body !== 'object') {
      throw invalid('The body must be a statement or an array of statements.', [{ path: 'body', message: 'expected an object or an array' }]);
    }
    return [body];
  }
  if (body.length > XAPI_LIMITS.maxStatements) {
    throw invalid(`At most ${XAPI_LIMITS.maxStatements} statements per request, ${body.length} were sent: nothing was stored.`, [
      { path: 'statements', message: `${body.length} statements, at most ${XAPI_LIMITS.maxStatements} per request` },
    ]);
  }
  return body;
}

/**
 * Every check of one statement before it is prepared, cheapest and most fundamental first: what the store can
 * hold at all (one pass over the whole value, before anything recursive reads it), the xAPI 1.0.3 structure, then
 * the fields Socle stores in columns. Empty when the statement can be stored.
 */
export function statementErrors(statement: unknown, prefix: string, version: '1.0.3' | '2.0.0' = '1.0.3'): ErrorDetail[] {
  const storable = storableIssues(statement, prefix);
  if (storable.length) return storable;
  // The common statement, faultless: the same answer as the checks below, without their cost (`fast-check.ts`).
  if (commonStatementValid(statement) && commonFieldsStorable(statement as CommonStatement)) return [];
  let checked = statement;
  if (version === '2.0.0') {
    const xapi2 = xapi2Errors(statement, prefix);
    if (xapi2.errors.length) return xapi2.errors;
    checked = xapi2.rest;
  }
  const structural = structuralErrors(checked, prefix);
  if (structural.length) return structural;
  const fields = storedStatementFields.safeParse(statement);
  return fields.success ? [] : zodDetails(fields.error, prefix);
}

const iri = z.string().regex(/^[a-z][a-z0-9+.-]*:\S+$/i, 'expected an IRI');
const relevantTypes = z.array(iri).min(1, 'must not be empty').optional();
const contextAgents = z.array(z.strictObject({ objectType: z.literal('contextAgent'), agent: z.unknown(), relevantTypes }));
const contextGroups = z.array(z.strictObject({ objectType: z.literal('contextGroup'), group: z.unknown(), relevantTypes }));
const PROBE = { verb: { id: 'http://adlnet.gov/expapi/verbs/experienced' }, object: { id: 'http://example.org/probe' } };

/** The faults of an Agent (`group` false) or a Group, as the 1.0.3 checks of an actor find them. */
function actorErrors(actor: unknown, group: boolean, path: string): ErrorDetail[] {
  const kind = (actor as { objectType?: unknown } | null)?.objectType;
  if (group ? kind !== 'Group' : kind !== undefined && kind !== 'Agent') return [{ path: `${path}.objectType`, message: `expected ${group ? 'Group' : 'Agent'}` }];
  return structuralErrors({ ...PROBE, actor }, 'probe').map((e) => ({ path: e.path.replace(/^probe\.actor/, path), message: e.message }));
}

/** A context's xAPI 2.0 properties (`contextAgents`, `contextGroups`), checked; `rest`: the context without them. */
function contextXapi2(context: unknown, path: string): { rest: unknown; errors: ErrorDetail[] } {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) return { rest: context, errors: [] };
  const { contextAgents: agents, contextGroups: groups, ...rest } = context as Record<string, unknown>;
  const errors: ErrorDetail[] = [];
  if (agents !== undefined) {
    const parsed = contextAgents.safeParse(agents);
    if (!parsed.success) errors.push(...zodDetails(parsed.error, `${path}.contextAgents`));
    else parsed.data.forEach((a, i) => errors.push(...actorErrors(a.agent, false, `${path}.contextAgents[${i}].agent`)));
  }
  if (groups !== undefined) {
    const parsed = contextGroups.safeParse(groups);
    if (!parsed.success) errors.push(...zodDetails(parsed.error, `${path}.contextGroups`));
    else parsed.data.forEach((g, i) => errors.push(...actorErrors(g.group, true, `${path}.contextGroups[${i}].group`)));
  }
  return { rest, errors };
}

/**
 * What xAPI 2.0 adds to a statement (a `version` of 2.0.0, `context.contextAgents` and `contextGroups`, in the
 * statement and its SubStatement), checked; `rest`: the statement without them, for the 1.0.3 checks.
 */
function xapi2Errors(statement: unknown, prefix: string): { rest: unknown; errors: ErrorDetail[] } {
  if (statement === null || typeof statement !== 'object' || Array.isArray(statement)) return { rest: statement, errors: [] };
  const rest: Record<string, unknown> = { ...(statement as Record<string, unknown>) };
  if (typeof rest.version === 'string' && /^2\.0(\.\d+)?$/.test(rest.version)) delete rest.version;
  const errors: ErrorDetail[] = [];
  if (rest.context !== undefined) {
    const c = contextXapi2(rest.context, `${prefix}.context`);
    rest.context = c.rest;
    errors.push(...c.errors);
  }
  const object = rest.object as Record<string, unknown> | null | undefined;
  if (object && typeof object === 'object' && object.objectType === 'SubStatement' && object.context !== undefined) {
    const c = contextXapi2(object.context, `${prefix}.object.context`);
    rest.object = { ...object, context: c.rest };
    errors.push(...c.errors);
  }
  return { rest, errors };
}

interface CommonActivity {
  id: string;
}
/** A statement `commonStatementValid` accepted: these properties have these types. */
interface CommonStatement {
  actor: { account: { homePage: string; name: string } };
  verb: { id: string };
  object: CommonActivity;
  timestamp?: string;
  result?: { duration?: string };
  context?: { contextActivities?: Partial<Record<'parent' | 'grouping' | 'category' | 'other', CommonActivity[]>> };
}

/** What `storedStatementFields` checks, for a statement `commonStatementValid` accepted: true when it would pass. */
function commonFieldsStorable(s: CommonStatement): boolean {
  const { homePage, name } = s.actor.account;
  if (homePage.length < 1 || name.length < 1 || !fitsIndex(name) || !fitsIndex(s.verb.id) || !fitsIndex(s.object.id)) return false;
  if (s.timestamp !== undefined && !(Number.isNaN(Date.parse(s.timestamp)) || storableInstant(Date.parse(s.timestamp)))) return false;
  if (s.result?.duration !== undefined && (durationSeconds(s.result.duration) ?? 0) > XAPI_LIMITS.maxDurationSeconds) return false;
  const ca = s.context?.contextActivities;
  if (ca) {
    for (const list of [ca.parent, ca.grouping, ca.category, ca.other]) for (const item of list ?? []) if (!fitsIndex(item.id)) return false;
  }
  return true;
}

const MESSAGES: Record<string, string> = {
  TypeWarning: 'wrong type or format',
  RequiredWarning: 'is required',
  RestrictedKeysWarning: 'property not allowed by xAPI 1.0.3',
  NoIfiWarning: 'an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account)',
  IfiCountWarning: 'an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account), several were given',
  ObjectTypeWarning: 'wrong objectType',
  VoidWarning: 'a voiding statement (verb voided) needs a StatementRef object',
  ContextPropWarning: 'context.revision and context.platform are only allowed when the object is an Activity',
  SubStatementWarning: 'a SubStatement cannot contain id, stored, version, authority or another SubStatement',
  RawLessThanMinWarning: 'result.score.raw is less than result.score.min',
  RawMoreThanMaxWarning: 'result.score.raw is more than result.score.max',
  MinMoreThanMaxWarning: 'result.score.min is more than result.score.max',
  RestrictedValueWarning: 'value not allowed',
};

interface Warning {
  name?: string;
  path?: PropertyKey[];
  typeName?: string;
  constructor?: { name?: string };
}

/** Structural xAPI 1.0.3 checks of one statement; the details name `statements[<index>].<property>`. */
export function structuralErrors(statement: unknown, prefix: string): ErrorDetail[] {
  let warnings: Warning[];
  try {
    warnings = validateStatement(statement) as unknown as Warning[];
  } catch (error) {
    return [{ path: prefix, message: `cannot be validated: ${(error as Error).message}` }];
  }
  return warnings.map((w) => {
    const name = w.name && w.name !== 'Error' ? w.name : (w.constructor?.name ?? 'Warning');
    const segments = (w.path ?? []).slice(1);
    const base = MESSAGES[name] ?? name;
    return {
      path: formatPath(prefix, segments),
      message: w.typeName ? `${base}: expected ${w.typeName}` : base,
    };
  });
}

export interface AccountActor {
  homePage: string;
  name: string;
}

/**
 * Socle stores statements of its platforms' learners only: the actor must be an Agent identified by the
 * platform account (`homePage` = the platform's issuer, `name` = its user id, the LTI `sub`).
 */
export function platformActor(statement: Record<string, unknown>, issuer: string, prefix: string): AccountActor | ErrorDetail {
  const actor = statement.actor as { objectType?: unknown; account?: { homePage?: unknown; name?: unknown } } | undefined;
  if (actor?.objectType === 'Group') {
    return { path: `${prefix}.actor`, message: 'a Group actor is not accepted: send one statement per learner' };
  }
  const account = actor?.account;
  if (!account || typeof account.homePage !== 'string' || typeof account.name !== 'string') {
    return {
      path: `${prefix}.actor.account`,
      message: `the actor must be identified by its platform account {homePage: "${issuer}", name: <user id>}`,
    };
  }
  if (normalizeIssuer(account.homePage) !== normalizeIssuer(issuer)) {
    return {
      path: `${prefix}.actor.account.homePage`,
      message: `"${account.homePage}" is not the platform of these credentials (${issuer})`,
    };
  }
  return { homePage: account.homePage, name: account.name };
}
