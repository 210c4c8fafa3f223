/** What reports and attestations print of a platform's institution profile. */
import { renderPng } from '../badges/image';
import type { Executor } from '../db/store';
import { institutionOf, type InstitutionIdentity } from '../identity/institution';
import type { AttestationIssuer } from './attestation';

/** The width, in pixels, an SVG logo is rendered at for the PDF (printed about 5 cm wide at most). */
const LOGO_RENDER_WIDTH = 600;

/** The issuer block of attestations: computed once for a batch (an SVG logo is rendered to PNG here, once). */
export async function attestationIssuerOf(identity: InstitutionIdentity): Promise<AttestationIssuer> {
  const p = identity.profile;
  let logo: AttestationIssuer['logo'] = null;
  if (p?.logo && p.logoType && p.logoWidth && p.logoHeight) {
    const png = p.logoType === 'image/png' ? p.logo : await renderPng(p.logo.toString('utf8'), LOGO_RENDER_WIDTH);
    logo = { png, width: p.logoWidth, height: p.logoHeight };
  }
  return {
    logo,
    signatory: p?.signatoryName ? { name: p.signatoryName, title: p.signatoryTitle } : null,
    city: p?.city ?? null,
    identifiers: [
      ...(p?.uai ? [{ label: 'UAI', value: p.uai }] : []),
      ...(p?.siret ? [{ label: 'SIRET', value: p.siret }] : []),
    ],
    timeZone: identity.timeZone,
  };
}

/** The institution of a platform as documents name it, with its profile's issuer block. */
export async function documentIssuerOf(ex: Executor, platform: { id: number; issuer: string; name: string | null }) {
  const identity = await institutionOf(ex, platform);
  return { name: identity.name, timeZone: identity.timeZone, issuer: await attestationIssuerOf(identity) };
}
