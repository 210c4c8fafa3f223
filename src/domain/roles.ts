/** Socle's three audiences, from the LTI roles of a launch (Moodle sends full URIs; NRPS sends short names). */
export type SocleRole = 'administrator' | 'instructor' | 'learner';

const ADMIN = [
  'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator',
];
const INSTRUCTOR = ['Instructor', 'ContentDeveloper', 'TeachingAssistant', 'Mentor'];

/** A short NRPS role ("Learner") becomes its membership URI; full URIs are kept. */
export function fullRole(role: string): string {
  return role.includes('://') ? role : `http://purl.imsglobal.org/vocab/lis/v2/membership#${role}`;
}

function membership(role: string): string | undefined {
  const m = /^http:\/\/purl\.imsglobal\.org\/vocab\/lis\/v2\/membership(?:\/[^#]*)?#(\w+)$/.exec(fullRole(role));
  return m?.[1];
}

/** Every Socle role the LTI roles grant (an administrator launching from a course may also be its instructor). */
export function socleRoles(ltiRoles: readonly string[] | undefined): SocleRole[] {
  const roles = new Set<SocleRole>();
  for (const role of ltiRoles ?? []) {
    const full = fullRole(role);
    if (ADMIN.includes(full)) roles.add('administrator');
    const m = membership(full);
    if (m && INSTRUCTOR.includes(m)) roles.add('instructor');
    if (m === 'Learner') roles.add('learner');
  }
  return [...roles];
}

/** The page a launch lands on: administrator, then instructor, then learner. */
export function landingRole(roles: readonly SocleRole[]): SocleRole | undefined {
  return (['administrator', 'instructor', 'learner'] as const).find((r) => roles.includes(r));
}
