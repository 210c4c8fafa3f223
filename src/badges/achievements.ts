import type { AlignedCompetency } from '../db/schema';
import { formatMinutes, minutesToHours } from '../domain/format';
import type { ReferentialOutline } from '../domain/referential';

/**
 * Open Badges 3.0 achievements derived from a référentiel version: one per domain that has hours and one for the
 * whole référentiel. Pure: the same référentiel and public URL always give the same achievements.
 */

/** The JSON-LD contexts of the OB 3.0 documents Socle publishes (achievements, issuer profile): VC 2.0 and OB 3.0.3. */
export const OB3_CONTEXT = [
  'https://www.w3.org/ns/credentials/v2',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
] as const;

/**
 * The contexts of a credential: those, then the OB 3.0 extensions context, which defines the
 * `1EdTechJsonSchemaValidator2019` type of `credentialSchema` (without it a JSON-LD processor in safe mode refuses
 * the credential).
 */
export const OB3_CREDENTIAL_CONTEXT = [...OB3_CONTEXT, 'https://purl.imsglobal.org/spec/ob/v3p0/extensions.json'] as const;

/** What Socle keeps of an achievement (a row of `badge_achievements` without its ids and dates). */
export interface AchievementDefinition {
  path: string;
  referentialId: string;
  referentialVersion: string;
  referentialTitle: string;
  domainCode: string | null;
  title: string;
  name: string;
  description: string;
  criteria: string;
  requiredMinutes: number | null;
  alignments: AlignedCompetency[];
}

const enc = encodeURIComponent;

export function achievementPath(referentialId: string, version: string, domainCode: string | null): string {
  const base = `${enc(referentialId)}/${enc(version)}`;
  return domainCode === null ? base : `${base}/domains/${enc(domainCode)}`;
}

export const urls = {
  issuer: (publicUrl: string) => `${publicUrl}/badges/issuer`,
  issuerLogo: (publicUrl: string, platformId: number) => `${publicUrl}/badges/issuer/logo/${platformId}`,
  jwks: (publicUrl: string) => `${publicUrl}/badges/jwks.json`,
  statusList: (publicUrl: string, listId: number) => `${publicUrl}/badges/status/${listId}`,
  credential: (publicUrl: string, id: string) => `${publicUrl}/badges/${id}`,
  achievement: (publicUrl: string, path: string) => `${publicUrl}/achievements/${path}`,
  competency: (publicUrl: string, referentialId: string, version: string, key: string) =>
    `${publicUrl}/api/v1/referentials/${enc(referentialId)}?version=${enc(version)}#${enc(key)}`,
};

function domainDefinition(ref: ReferentialOutline, domain: ReferentialOutline['domains'][number]): AchievementDefinition {
  const hours = domain.requiredMinutes === null ? null : formatMinutes(domain.requiredMinutes);
  const codes = domain.competencies.map((c) => c.code).join(', ');
  return {
    path: achievementPath(ref.id, ref.version, domain.code),
    referentialId: ref.id,
    referentialVersion: ref.version,
    referentialTitle: ref.title,
    domainCode: domain.code,
    title: domain.title,
    name: hours ? `${domain.title} — ${hours}` : domain.title,
    description:
      `Domaine ${domain.code} « ${domain.title} » du référentiel « ${ref.title} » (version ${ref.version}) ` +
      `de la formation socle au numérique en santé.`,
    criteria:
      (hours
        ? `Avoir validé ${hours} de formation dans le domaine « ${domain.title} »`
        : `Avoir validé la formation du domaine « ${domain.title} »`) +
      (codes ? `, au titre des compétences ${codes}` : '') +
      `, suivies par Socle à partir des activités réalisées.`,
    requiredMinutes: domain.requiredMinutes,
    alignments: domain.competencies.map((c) => ({ key: c.key, code: c.code, title: c.title })),
  };
}

function referentialDefinition(ref: ReferentialOutline): AchievementDefinition {
  const total = ref.requiredMinutes;
  const hours = total === null ? null : formatMinutes(total);
  return {
    path: achievementPath(ref.id, ref.version, null),
    referentialId: ref.id,
    referentialVersion: ref.version,
    referentialTitle: ref.title,
    domainCode: null,
    title: ref.title,
    name: hours ? `${ref.title} — ${hours}` : ref.title,
    description:
      `Formation socle au numérique en santé : l'ensemble du référentiel « ${ref.title} » (version ${ref.version}), ` +
      `${ref.domains.length} domaine${ref.domains.length > 1 ? 's' : ''}.`,
    criteria:
      (hours ? `Avoir validé les ${hours} de formation` : 'Avoir validé la formation') +
      ` de chacun des domaines du référentiel : ${ref.domains.map((d) => `${d.code} « ${d.title} »`).join(', ')}.`,
    requiredMinutes: total,
    alignments: ref.domains.flatMap((d) => d.competencies.map((c) => ({ key: c.key, code: c.code, title: c.title }))),
  };
}

/** The achievement of one domain (`domainCode`) or of the whole référentiel (`null`); undefined for an unknown domain. */
export function achievementDefinition(ref: ReferentialOutline, domainCode: string | null): AchievementDefinition | undefined {
  if (domainCode === null) return referentialDefinition(ref);
  const domain = ref.domains.find((d) => d.code === domainCode);
  return domain ? domainDefinition(ref, domain) : undefined;
}

/** Every achievement of a référentiel version: its domains in order, then the whole référentiel. */
export function achievementDefinitions(ref: ReferentialOutline): AchievementDefinition[] {
  return [...ref.domains.map((d) => domainDefinition(ref, d)), referentialDefinition(ref)];
}

/** The OB 3.0 `Achievement` object, as served at its id and embedded in credentials. */
export function achievementJson(def: AchievementDefinition, publicUrl: string) {
  return {
    '@context': [...OB3_CONTEXT],
    id: urls.achievement(publicUrl, def.path),
    type: ['Achievement'],
    achievementType: def.domainCode === null ? 'Certificate' : 'Competency',
    name: def.name,
    description: def.description,
    criteria: { narrative: def.criteria },
    ...(def.requiredMinutes === null ? {} : { creditsAvailable: minutesToHours(def.requiredMinutes) }),
    image: { id: `${urls.achievement(publicUrl, def.path)}/image.png`, type: 'Image', caption: def.name },
    inLanguage: 'fr',
    humanCode: def.domainCode ?? def.referentialId,
    alignment: def.alignments.map((c) => ({
      type: ['Alignment'],
      targetType: 'CFItem',
      targetName: `${c.code} ${c.title}`,
      targetCode: c.code,
      targetFramework: `${def.referentialTitle} (${def.referentialVersion})`,
      targetUrl: urls.competency(publicUrl, def.referentialId, def.referentialVersion, c.key),
    })),
  };
}

export type AchievementJson = ReturnType<typeof achievementJson>;
