/** The xAPI vocabulary Socle reads and writes: plain data, no I/O. */

/** A statement as stored and forwarded: any xAPI object with its id. */
export type XapiStatement = Record<string, unknown> & { id: string };

/** The verbs that carry completion facts (Moodle's logstore_xapi and any activity provider). */
export const VERBS = {
  completed: 'http://adlnet.gov/expapi/verbs/completed',
  passed: 'http://adlnet.gov/expapi/verbs/passed',
  uncompleted: 'https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted',
  voided: 'http://adlnet.gov/expapi/verbs/voided',
} as const;

/** IRIs of Socle's xAPI Profile (`xapi-profiles/socle.jsonld`). */
export const SOCLE_XAPI = {
  profile: 'https://w3id.org/xapi/socle',
  version: 'https://w3id.org/xapi/socle/v1.0',
  verbs: { credited: 'https://w3id.org/xapi/socle/verbs/credited', earned: 'https://w3id.org/xapi/socle/verbs/earned' },
  activityTypes: {
    competency: 'https://w3id.org/xapi/socle/activity-types/competency',
    badge: 'https://w3id.org/xapi/socle/activity-types/badge',
  },
  extensions: {
    creditedMinutes: 'https://w3id.org/xapi/socle/extensions/credited-minutes',
    referential: 'https://w3id.org/xapi/socle/extensions/referential',
  },
  templates: {
    hoursCredited: 'https://w3id.org/xapi/socle/templates/hours-credited',
    badgeEarned: 'https://w3id.org/xapi/socle/templates/badge-earned',
  },
} as const;
