import validateStatement from '@learninglocker/xapi-validation';
import { type ErrorDetail, formatPath } from '../domain/errors';
import { normalizeIssuer } from '../identity/records';

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
