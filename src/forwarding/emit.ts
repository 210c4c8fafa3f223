import { normalizeIssuer } from '../identity/records';
import { deterministicStatementId } from '../domain/statement-ids';
import type { ReferentialRef } from '../domain/referential';
import { SOCLE_XAPI, type XapiStatement } from '../domain/xapi';
export { SOCLE_XAPI };
import { loadSocleProfile, matchTemplate, type Profile, templateById } from './profile';


export class TemplateMismatchError extends Error {
  override name = 'TemplateMismatchError';
}

let profile: Profile | undefined;
function socleProfile(): Profile {
  profile ??= loadSocleProfile();
  return profile;
}

/** The learner as the platform knows it (LTI `iss` + `sub` = xAPI account homePage + name). */
export interface Learner {
  issuer: string;
  sub: string;
}

/** The référentiel context every Socle statement carries. */
export interface StatementReferential extends ReferentialRef {
  competency?: string;
  domain?: string;
}

/** The profile version in `contextActivities.category`, as the xAPI Profiles specification asks (a new object each time). */
const profileCategory = () => ({
  objectType: 'Activity',
  id: SOCLE_XAPI.version,
  definition: { type: 'http://adlnet.gov/expapi/activities/profile' },
});

function finish(template: string, statement: Omit<XapiStatement, 'id'>): XapiStatement {
  const withId: XapiStatement = { id: deterministicStatementId(statement), ...statement };
  const errors = matchTemplate(templateById(socleProfile(), template), withId);
  if (errors.length) {
    throw new TemplateMismatchError(`statement does not follow ${template}: ${errors.map((e) => `${e.location} ${e.message}`).join('; ')}`);
  }
  return withId;
}

function names(fr: string, en?: string): Record<string, string> {
  return en ? { 'fr-FR': fr, 'en-US': en } : { 'fr-FR': fr };
}

export interface HoursCredited {
  learner: Learner;
  competency: { iri: string; name: string; nameEn?: string };
  minutes: number;
  referential: StatementReferential;
  /** The completed activity that caused the credit (Moodle course module IRI). */
  activityIri?: string;
  /** When the credit was granted (the completion time). */
  timestamp: Date;
}

/**
 * "<learner> credited <competency>" with the minutes credited and the référentiel, following the profile's
 * hours-credited template. Its id is derived from its content, so building it again gives the same statement.
 */
export function buildHoursCreditedStatement(input: HoursCredited): XapiStatement {
  if (!Number.isInteger(input.minutes) || input.minutes < 0) throw new RangeError('minutes must be a whole number ≥ 0');
  return finish(SOCLE_XAPI.templates.hoursCredited, {
    actor: { objectType: 'Agent', account: { homePage: normalizeIssuer(input.learner.issuer), name: input.learner.sub } },
    verb: { id: SOCLE_XAPI.verbs.credited, display: names('a été crédité de', 'credited') },
    object: {
      objectType: 'Activity',
      id: input.competency.iri,
      definition: { type: SOCLE_XAPI.activityTypes.competency, name: names(input.competency.name, input.competency.nameEn) },
    },
    result: { extensions: { [SOCLE_XAPI.extensions.creditedMinutes]: input.minutes } },
    context: {
      contextActivities: {
        category: [profileCategory()],
        ...(input.activityIri ? { other: [{ objectType: 'Activity', id: input.activityIri }] } : {}),
      },
      extensions: { [SOCLE_XAPI.extensions.referential]: { ...input.referential, competency: input.referential.competency ?? input.competency.iri } },
    },
    timestamp: input.timestamp.toISOString(),
  });
}

export interface BadgeEarned {
  learner: Learner;
  badge: { iri: string; name: string; nameEn?: string };
  referential: StatementReferential;
  timestamp: Date;
}

/** "<learner> earned <badge>", following the profile's badge-earned template. */
export function buildBadgeEarnedStatement(input: BadgeEarned): XapiStatement {
  return finish(SOCLE_XAPI.templates.badgeEarned, {
    actor: { objectType: 'Agent', account: { homePage: normalizeIssuer(input.learner.issuer), name: input.learner.sub } },
    verb: { id: SOCLE_XAPI.verbs.earned, display: names('a obtenu', 'earned') },
    object: {
      objectType: 'Activity',
      id: input.badge.iri,
      definition: { type: SOCLE_XAPI.activityTypes.badge, name: names(input.badge.name, input.badge.nameEn) },
    },
    context: {
      contextActivities: { category: [profileCategory()] },
      extensions: { [SOCLE_XAPI.extensions.referential]: input.referential },
    },
    timestamp: input.timestamp.toISOString(),
  });
}
