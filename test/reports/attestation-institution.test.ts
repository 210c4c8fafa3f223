import { renderAttestationPdf, type Attestation } from '../../src/reports/attestation';
import { attestationIssuerOf } from '../../src/reports/institution';
import type { InstitutionRow } from '../../src/identity/institution';
import { attestationOf, generatedRows, must } from '../support/compliance-rows';
import { pdfText } from '../support/pdf';
import { solidPng } from '../support/png';

const row = must(generatedRows(6).find((r) => r.status === 'in_progress'));
const LONG_TITLE = 'Sécuriser l’accès aux données de santé et protéger la donnée à caractère personnel dans les usages professionnels quotidiens';

function profile(overrides: Partial<InstitutionRow> = {}): InstitutionRow {
  return {
    platformId: 1,
    legalName: 'Université de La Réunion',
    shortName: 'UR',
    uai: '9740478B',
    siret: null,
    signatoryName: 'Camille Hoarau',
    signatoryTitle: 'Directrice de l’UFR Santé',
    city: 'Saint-Denis',
    timeZone: 'Indian/Reunion',
    url: null,
    email: null,
    logo: solidPng(300, 120),
    logoType: 'image/png',
    logoWidth: 300,
    logoHeight: 120,
    updatedAt: new Date(),
    ...overrides,
  };
}

async function attestationWith(p: InstitutionRow | undefined, more: Partial<Attestation> = {}): Promise<{ pdf: Buffer; text: string; a: Attestation }> {
  const issuer = await attestationIssuerOf({ name: p?.legalName ?? 'moodle https://moodle.example', timeZone: p?.timeZone ?? 'Europe/Paris', profile: p });
  const a: Attestation = {
    ...attestationOf({ ...row, learner: { sub: '17', name: 'Inès Payet' } }),
    institution: p?.legalName ?? 'moodle https://moodle.example',
    issuer,
    // 22:30 in Paris' winter is already the next day in La Réunion (UTC+4)
    issuedAt: new Date('2026-03-14T22:30:00Z'),
    ...more,
  };
  const pdf = await renderAttestationPdf(a);
  return { pdf, text: (await pdfText(pdf)).join('\n'), a };
}

const images = (pdf: Buffer) => pdf.toString('latin1').match(/\/Subtype\s*\/Image/g)?.length ?? 0;

describe('an attestation of an institution', () => {
  it('prints the logo, the legal name with its UAI, "atteste qu’Inès", the signatory, city and date in the institution’s time zone', async () => {
    const { pdf, text } = await attestationWith(profile());
    expect(images(pdf)).toBe(1);
    expect(text).toContain('Université de La Réunion');
    expect(text).toContain('UAI 9740478B');
    expect(text).toContain('Université de La Réunion atteste qu’Inès Payet (identifiant 17) a validé');
    expect(text).not.toContain('atteste que Inès');
    expect(text).toContain('Fait à Saint-Denis, le 15 mars 2026');
    expect(text).toContain('Camille Hoarau');
    expect(text).toContain('Directrice de l’UFR Santé');
    expect(text).toContain('Délivrée le 15/03/2026 02:30 par Université de La Réunion.');
    expect(text).toMatch(/\d+ h( \d\d)? sur les 28 h requises/);
    expect(text).not.toMatch(/\d,\d+ h/);
  });

  it('renders an SVG logo as an image, and without a profile keeps the name alone, dates in Europe/Paris', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80"><rect width="200" height="80" fill="#0f7b6c"/></svg>');
    const withSvg = await attestationWith(profile({ logo: svg, logoType: 'image/svg+xml', logoWidth: 200, logoHeight: 80 }));
    // the rendered PNG has an alpha channel: its image and its soft mask
    expect(images(withSvg.pdf)).toBeGreaterThanOrEqual(1);
    const bare = await attestationWith(undefined);
    expect(images(bare.pdf)).toBe(0);
    expect(bare.text).toContain('moodle https://moodle.example atteste qu’Inès Payet');
    expect(bare.text).toContain('Fait le 14 mars 2026');
    expect(bare.text).toContain('Délivrée le 14/03/2026 23:30');
  });

  it('writes full competency titles, wrapped, and hours as "1 h 30"', async () => {
    const { text } = await attestationWith(profile(), {
      activities: [{ title: 'Module RGPD', domainCode: '1', competency: { code: '1.2', title: LONG_TITLE }, minutes: 90, date: new Date('2026-02-02T10:00:00Z'), manual: false }],
    });
    // the title is on several lines of the cell: every word is there, in order
    expect(text.replace(/\s+/g, ' ')).toContain(`1.2 ${LONG_TITLE}`);
    expect(text).toContain('1 h 30');
  });

  it('for a period, states the hours of the period and those cumulated since the start of the training', async () => {
    const { text } = await attestationWith(profile(), {
      period: { from: '2026-01-01', to: '2026-02-28', periodMinutes: 930, cumulatedMinutes: 1290 },
      validatedMinutes: 1290,
    });
    expect(text).toContain('pour une période');
    expect(text).toContain('a validé 15 h 30 entre le 1 janvier 2026 et le 28 février 2026, soit 21 h 30 cumulées depuis le début de la formation, sur les 28 h requises');
    expect(text).toContain('Heures par domaine au 28 février 2026');
  });
});
