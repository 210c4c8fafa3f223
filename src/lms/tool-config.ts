import type { Config } from '../config';

/** Where the LTI runtime is mounted. */
export const LTI_BASE = '/lti';

export const SCOPES = [
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/score',
  'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
];

/** Custom parameters Socle asks Moodle to send (Moodle substitutes the $ variables). */
export const CUSTOM_PARAMETERS = { moodle_course: '$Context.id', moodle_user: '$User.id' };

/** The values a Moodle administrator pastes into "Configure a tool manually" (also `socle lti config`). */
export function toolConfig(config: Config) {
  const base = `${config.publicUrl}${LTI_BASE}`;
  return {
    toolName: 'Socle',
    toolUrl: `${base}/launch`,
    ltiVersion: 'LTI 1.3',
    publicKeyType: 'Keyset URL',
    jwksUrl: `${base}/keys`,
    loginUrl: `${base}/login`,
    redirectUris: [`${base}/launch`],
    deepLinkingUrl: `${base}/launch`,
    dynamicRegistrationUrl: `${base}/register`,
    customParameters: Object.entries(CUSTOM_PARAMETERS).map(([k, v]) => `${k}=${v}`).join('\n'),
    services: {
      gradeSync: 'Use this service for grade sync and column management',
      memberships: 'Use this service to retrieve members\' information',
      deepLinking: 'Supports Deep Linking (Content-Item Message)',
    },
    privacy: { shareName: 'Always (display only)', shareEmail: 'Always (display only)', acceptGrades: 'Always' },
    domain: new URL(config.publicUrl).host,
    scopes: SCOPES,
  };
}
