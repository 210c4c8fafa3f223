/**
 * A fast acceptance of the common statement (what Moodle's logstore_xapi and most activity providers send): an
 * Agent identified by its account, a verb, an Activity object (a question among them), a result, a context with
 * context activities and an instructor. It answers `true` only when the xAPI structural checks of
 * `@learninglocker/xapi-validation` would find nothing; anything it does not recognise (a Group, a SubStatement, a
 * StatementRef, attachments, interaction components, a team…) or any fault answers `false`, and the caller runs the
 * library, which names the faults. So the answer to a client is the library's, always; the library's cost (its
 * path arrays and concatenations, about 90 µs a statement) is only paid for the statements that need it.
 *
 * The leaf checks (IRI, language tag, timestamp, duration, UUID, version, interaction type) are the library's own
 * rules; the structure follows its schemas: the same type test (`constructor`), the same allowed keys, the same
 * score bounds. `test/xapi/fast-check.test.ts` compares both on the captured Moodle statements and on changes of them.
 */
// the rules' own modules: the library's factory require()s its module at every call of a rule
import duration from '@learninglocker/xapi-validation/dist/regexValues/duration';
import interactionType from '@learninglocker/xapi-validation/dist/regexValues/interactionType';
import iri from '@learninglocker/xapi-validation/dist/regexValues/iri';
import language from '@learninglocker/xapi-validation/dist/regexValues/language';
import timestamp from '@learninglocker/xapi-validation/dist/regexValues/timestamp';
import uuid from '@learninglocker/xapi-validation/dist/regexValues/uuid';
import version from '@learninglocker/xapi-validation/dist/regexValues/version';
import { VERBS } from '../domain/xapi';

type Rule = (data: unknown, path: string[]) => unknown[];
type Json = Record<string, unknown>;

const NO_PATH: string[] = [];
const passes = (rule: Rule, value: unknown) => rule(value, NO_PATH).length === 0;
/** The library's type test (`rulr`'s checkType): the value's constructor, so `{"constructor": 1}` is not an object. */
const is = (value: unknown, type: unknown) => value !== undefined && value !== null && (value as { constructor?: unknown }).constructor === type;
const isObject = (value: unknown): value is Json => is(value, Object);

function onlyKeys(value: Json, allowed: ReadonlySet<string>): boolean {
  for (const key of Object.keys(value)) if (!allowed.has(key)) return false;
  return true;
}

const isIri = (value: unknown) => passes(iri as Rule, value);
const optionalString = (value: unknown) => value === undefined || is(value, String);
const optionalNumber = (value: unknown) => value === undefined || is(value, Number);

function languageMap(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key of Object.keys(value)) if (!passes(language as Rule, key) || !is(value[key], String)) return false;
  return true;
}

function extensions(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key of Object.keys(value)) if (!isIri(key)) return false;
  return true;
}

const ACCOUNT = new Set(['homePage', 'name']);
const AGENT = new Set(['objectType', 'name', 'account']);
function agentWithAccount(value: unknown): boolean {
  if (!isObject(value) || !onlyKeys(value, AGENT)) return false;
  if (value.objectType !== undefined && value.objectType !== 'Agent') return false;
  if (!optionalString(value.name)) return false;
  const account = value.account;
  return isObject(account) && onlyKeys(account, ACCOUNT) && isIri(account.homePage) && is(account.name, String);
}

const VERB = new Set(['id', 'display']);
function verb(value: unknown): boolean {
  return isObject(value) && onlyKeys(value, VERB) && isIri(value.id) && (value.display === undefined || languageMap(value.display));
}

function strings(value: unknown): boolean {
  if (!is(value, Array)) return false;
  for (const item of value as unknown[]) if (!is(item, String)) return false;
  return true;
}

// An interaction's components (choices, scale, source, target, steps) are left to the library.
const DEFINITION = new Set(['name', 'description', 'type', 'moreInfo', 'extensions', 'interactionType', 'correctResponsesPattern']);
function definition(value: unknown): boolean {
  return (
    isObject(value) &&
    onlyKeys(value, DEFINITION) &&
    (value.interactionType === undefined || passes(interactionType as Rule, value.interactionType)) &&
    (value.correctResponsesPattern === undefined || (value.interactionType !== undefined && strings(value.correctResponsesPattern))) &&
    (value.name === undefined || languageMap(value.name)) &&
    (value.description === undefined || languageMap(value.description)) &&
    (value.type === undefined || isIri(value.type)) &&
    (value.moreInfo === undefined || isIri(value.moreInfo)) &&
    (value.extensions === undefined || extensions(value.extensions))
  );
}

const ACTIVITY = new Set(['objectType', 'id', 'definition']);
function activity(value: unknown): boolean {
  return (
    isObject(value) &&
    onlyKeys(value, ACTIVITY) &&
    (value.objectType === undefined || value.objectType === 'Activity') &&
    isIri(value.id) &&
    (value.definition === undefined || definition(value.definition))
  );
}

const SCORE = new Set(['scaled', 'raw', 'min', 'max']);
function score(value: unknown): boolean {
  if (!isObject(value) || !onlyKeys(value, SCORE)) return false;
  const { scaled, raw, min, max } = value as { scaled?: number; raw?: number; min?: number; max?: number };
  if (scaled !== undefined && !(is(scaled, Number) && scaled >= -1 && scaled <= 1)) return false;
  if (!optionalNumber(raw) || !optionalNumber(min) || !optionalNumber(max)) return false;
  if (raw !== undefined && min !== undefined && raw < min) return false;
  if (raw !== undefined && max !== undefined && raw > max) return false;
  return !(min !== undefined && max !== undefined && min > max);
}

const RESULT = new Set(['score', 'success', 'completion', 'response', 'duration', 'extensions']);
function result(value: unknown): boolean {
  return (
    isObject(value) &&
    onlyKeys(value, RESULT) &&
    (value.score === undefined || score(value.score)) &&
    (value.success === undefined || is(value.success, Boolean)) &&
    (value.completion === undefined || is(value.completion, Boolean)) &&
    optionalString(value.response) &&
    (value.duration === undefined || passes(duration as Rule, value.duration)) &&
    (value.extensions === undefined || extensions(value.extensions))
  );
}

function activities(value: unknown): boolean {
  if (!is(value, Array)) return false;
  for (const item of value as unknown[]) if (!activity(item)) return false;
  return true;
}

const CONTEXT_ACTIVITIES = new Set(['parent', 'category', 'grouping', 'other']);
const CONTEXT = new Set(['registration', 'instructor', 'contextActivities', 'revision', 'platform', 'language', 'extensions']);
function context(value: unknown): boolean {
  if (!isObject(value) || !onlyKeys(value, CONTEXT)) return false;
  const ca = value.contextActivities;
  if (ca !== undefined) {
    if (!isObject(ca) || !onlyKeys(ca, CONTEXT_ACTIVITIES)) return false;
    for (const key of CONTEXT_ACTIVITIES) if (ca[key] !== undefined && !activities(ca[key])) return false;
  }
  return (
    (value.registration === undefined || passes(uuid as Rule, value.registration)) &&
    (value.instructor === undefined || agentWithAccount(value.instructor)) &&
    optionalString(value.revision) &&
    optionalString(value.platform) &&
    (value.language === undefined || passes(language as Rule, value.language)) &&
    (value.extensions === undefined || extensions(value.extensions))
  );
}

const STATEMENT = new Set(['id', 'actor', 'verb', 'object', 'result', 'context', 'timestamp', 'stored', 'version']);
/** True when the statement is of the common shape and the library's structural checks would find no fault. */
export function commonStatementValid(statement: unknown): boolean {
  if (!isObject(statement) || !onlyKeys(statement, STATEMENT)) return false;
  // a voiding statement needs a StatementRef object: left to the library
  if (!verb(statement.verb) || (statement.verb as Json).id === VERBS.voided) return false;
  return (
    agentWithAccount(statement.actor) &&
    activity(statement.object) &&
    (statement.result === undefined || result(statement.result)) &&
    (statement.context === undefined || context(statement.context)) &&
    (statement.timestamp === undefined || passes(timestamp as Rule, statement.timestamp)) &&
    (statement.stored === undefined || passes(timestamp as Rule, statement.stored)) &&
    (statement.id === undefined || passes(uuid as Rule, statement.id)) &&
    (statement.version === undefined || passes(version as Rule, statement.version))
  );
}
