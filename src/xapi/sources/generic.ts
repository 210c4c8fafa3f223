import { type ActivityObject, languageValue, type ReceivedStatement, type StatementSource, type XapiActivity } from './source';

/** Activity types that name a course in `contextActivities` (cmi5's, which Moodle sends, and ADL's). */
const COURSE_TYPES = new Set(['https://w3id.org/xapi/cmi5/activitytype/course', 'http://adlnet.gov/expapi/activities/course']);
/** Objects that are not learning activities a teacher would map (the site, a course, a section, an attempt…). */
const NOT_MAPPABLE_TYPES = new Set([
  ...COURSE_TYPES,
  'http://id.tincanapi.com/activitytype/lms',
  'http://id.tincanapi.com/activitytype/section',
  'http://adlnet.gov/expapi/activities/attempt',
  'http://adlnet.gov/expapi/activities/cmi.interaction',
  'http://adlnet.gov/expapi/activities/question',
]);

/** The first context activity typed as a course, in `contextActivities.parent` then `grouping`. */
export function courseActivity(statement: ReceivedStatement): ActivityObject | undefined {
  const ca = (statement.context as ReceivedStatement | undefined)?.contextActivities as Record<string, unknown> | undefined;
  if (!ca) return undefined;
  for (const key of ['parent', 'grouping']) {
    const list = ca[key];
    const items = Array.isArray(list) ? list : list ? [list] : [];
    for (const item of items as XapiActivity[]) {
      if (typeof item?.id === 'string' && COURSE_TYPES.has(item.definition?.type as string)) return item as ActivityObject;
    }
  }
  return undefined;
}

/**
 * Any activity provider (H5P, cmi5, SCORM-to-xAPI…): the object is mappable unless its xAPI activity type says
 * it is not a learning activity; the course is the course-typed context activity, by its IRI.
 */
export const generic: StatementSource = {
  name: 'generic',
  accepts: () => true,
  activity(object) {
    const type = typeof object.definition?.type === 'string' ? object.definition.type : null;
    if (type && NOT_MAPPABLE_TYPES.has(type)) return undefined;
    return { iri: object.id, name: languageValue(object.definition?.name), moduleType: type };
  },
  course(statement) {
    const item = courseActivity(statement);
    return item ? { contextId: item.id, title: languageValue(item.definition?.name) } : undefined;
  },
};
