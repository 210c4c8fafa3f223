/**
 * LinkedIn's "add to profile" link for a badge: a certification with its name, issuing organization, month of issue,
 * verification URL and id, filled in on LinkedIn when the learner opens it (LinkedIn's documented `startTask`).
 */
export function linkedInAddUrl(badge: { name: string; organizationName: string; issuedAt: Date | string; verifyUrl: string; id: string }): string {
  const issued = new Date(badge.issuedAt);
  const url = new URL('https://www.linkedin.com/profile/add');
  url.searchParams.set('startTask', 'CERTIFICATION_NAME');
  url.searchParams.set('name', badge.name);
  url.searchParams.set('organizationName', badge.organizationName);
  url.searchParams.set('issueYear', String(issued.getUTCFullYear()));
  url.searchParams.set('issueMonth', String(issued.getUTCMonth() + 1));
  url.searchParams.set('certUrl', badge.verifyUrl);
  url.searchParams.set('certId', badge.id);
  return url.toString();
}
