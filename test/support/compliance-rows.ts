import type { Attestation } from '../../src/reports/attestation';
import type { ComplianceRow, ReportMeta, ReportReferential } from '../../src/reports/rows';

/** The 28 h référentiel (annex of the France 2030 call, V1.1.2022): 6/5/5/6/6 h over five domains. */
export const socle28: ReportReferential = {
  id: 'socle-sante-niv4-8',
  version: 'V1.1.2022',
  title: 'Référentiel socle et transversal de compétences du numérique en santé (niveaux 4 à 8)',
  domains: [
    { code: 'D1', title: 'Données de santé', requiredMinutes: 360 },
    { code: 'D2', title: 'Cybersécurité en santé', requiredMinutes: 300 },
    { code: 'D3', title: 'Communication en santé', requiredMinutes: 300 },
    { code: 'D4', title: 'Outils numériques en santé', requiredMinutes: 360 },
    { code: 'D5', title: 'Télésanté', requiredMinutes: 360 },
  ],
};

/** A smaller one, so reports mix référentiels (hours per domain as in the 12 h ambulanciers one). */
export const socle12: ReportReferential = {
  id: 'socle-ambulanciers',
  version: 'V1.1.2023',
  title: 'Référentiel socle du numérique en santé des ambulanciers',
  domains: [
    { code: 'D1', title: 'Données de santé', requiredMinutes: 150 },
    { code: 'D2', title: 'Cybersécurité en santé', requiredMinutes: 150 },
    { code: 'D3', title: 'Communication en santé', requiredMinutes: 120 },
    { code: 'D4', title: 'Outils numériques en santé', requiredMinutes: 120 },
    { code: 'D5', title: 'Télésanté', requiredMinutes: 180 },
  ],
};

export function testMeta(overrides: Partial<ReportMeta> = {}): ReportMeta {
  return {
    institution: 'Université de Test — Faculté de santé',
    platform: { issuer: 'https://moodle.univ-test.fr', name: 'Moodle Santé' },
    filters: [
      { label: 'Cours', value: 'Tous' },
      { label: 'Période', value: '01/09/2025 – 30/06/2026' },
    ],
    generatedAt: new Date('2026-03-14T10:20:00Z'),
    referentials: [socle28, socle12],
    ...overrides,
  };
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const firstNames = ['Camille', 'Léa', 'Chloé', 'Inès', 'Manon', 'Hugo', 'Noé', 'Zoé', 'Éloïse', 'Gaëlle', 'Loïc', 'Anaïs'];
const lastNames = ['Martin', 'Bernard', 'Dubois', 'Lefèvre', 'Moreau', 'Girard', 'Roussel', 'Fontaine', 'Chevalier', 'Mercier'];

/** Row `i` of a generated cohort: validated minutes in steps of 10 (so 12,5 h and 0,17 h both occur). */
export function generatedRow(i: number, random: () => number, referentials: ReportReferential[] = [socle28, socle12]): ComplianceRow {
  const referential = referentials[i % 7 === 6 && referentials.length > 1 ? 1 : 0] ?? socle28;
  const profile = random();
  const domains = referential.domains.map((d) => {
    const validated =
      profile < 0.15 ? 0 : profile > 0.7 ? d.requiredMinutes : Math.min(d.requiredMinutes, Math.floor(random() * (d.requiredMinutes / 10 + 1)) * 10);
    return { code: d.code, title: d.title, validatedMinutes: validated, requiredMinutes: d.requiredMinutes };
  });
  const validatedMinutes = domains.reduce((s, d) => s + d.validatedMinutes, 0);
  const requiredMinutes = domains.reduce((s, d) => s + d.requiredMinutes, 0);
  const status = validatedMinutes === 0 ? 'not_started' : validatedMinutes >= requiredMinutes ? 'complete' : 'in_progress';
  return {
    learner: {
      sub: String(1000 + i),
      name: random() < 0.05 ? null : `${firstNames[i % firstNames.length]} ${lastNames[(i * 7) % lastNames.length]}`,
    },
    courses: [{ contextId: String(2 + (i % 3)), title: `Socle numérique — groupe ${1 + (i % 3)}` }],
    referential: { id: referential.id, version: referential.version },
    domains,
    validatedMinutes,
    requiredMinutes,
    status,
    completedAt: status === 'complete' ? new Date(Date.UTC(2026, 0, 1 + (i % 60), 9, i % 60)) : null,
    hasManualCredits: random() < 0.1,
    // every fifth learner in no programme; the others' status from their row number (done when complete)
    forecast:
      i % 5 === 4 ? null : { status: status === 'complete' ? 'done' : FORECASTS[i % 3] ?? 'behind', dueDate: i % 2 ? '2028-08-31' : '2029-06-30' },
  };
}

const FORECASTS = ['on_track', 'behind', 'at_risk'] as const;

export function generatedRows(n: number, seed = 42, referentials?: ReportReferential[]): ComplianceRow[] {
  const random = prng(seed);
  return Array.from({ length: n }, (_, i) => generatedRow(i, random, referentials));
}

/** Streams `n` generated rows without holding them (for the large exports). */
export async function* streamRows(n: number, seed = 42, referentials?: ReportReferential[]): AsyncGenerator<ComplianceRow> {
  const random = prng(seed);
  for (let i = 0; i < n; i++) yield generatedRow(i, random, referentials);
}

export async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

export function attestationOf(row: ComplianceRow, referential: ReportReferential = socle28): Attestation {
  return {
    learner: row.learner,
    referential: { id: referential.id, version: referential.version, title: referential.title },
    domains: row.domains,
    validatedMinutes: row.validatedMinutes,
    requiredMinutes: row.requiredMinutes,
    status: row.status,
    completedAt: row.completedAt,
    activities: row.domains
      .filter((d) => d.validatedMinutes > 0)
      .map((d, k) => ({
        title: `${d.title} : module ${k + 1}`,
        domainCode: d.code,
        minutes: d.validatedMinutes,
        date: new Date(Date.UTC(2025, 9, 1 + k * 7)),
        manual: row.hasManualCredits && k === 0,
      })),
    institution: 'Université de Test — Faculté de santé',
    issuedAt: new Date('2026-03-14T10:20:00Z'),
    verificationUrl: `https://socle.univ-test.fr/attestations/${row.learner.sub}-c0ffee`,
  };
}

/** The value, or a failed test naming what was missing (the lint forbids `!`). */
export function must<T>(value: T | undefined | null, what = 'value'): T {
  if (value === undefined || value === null) throw new Error(`expected a ${what}`);
  return value;
}
