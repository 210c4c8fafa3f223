/**
 * Référentiels for the coverage rule tests, transcribed from test/fixtures/seeds/004_3118bb4998137152.txt
 * (annexes: the 28 h référentiel V1.1.2022 with hours per domain 6/5/5/6/6; the assistants de régulation
 * médicale one V1.1.2023, 18 h, which prints two competencies "4.1" and skips 4.3) and
 * 000_5f0c54ac4becd6ca.txt (an RNCP certification without hours, bloc 1 only). Titles are shortened.
 */
import type { CompletionEvent, ReferentialVersion } from '../../src/domain/coverage';

const h = (hours: number) => hours * 60;

export const socle28: ReferentialVersion = {
  id: 'socle-sante-28h',
  version: 'V1.1.2022',
  title: 'Référentiel socle et transversal de compétences du numérique en santé (niveaux 4 à 8)',
  requiredMinutes: h(28),
  domains: [
    {
      code: '1',
      title: 'Données de santé',
      requiredMinutes: h(6),
      competencies: ['1.1', '1.2', '1.3', '1.4'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
    {
      code: '2',
      title: 'Cybersécurité en santé',
      requiredMinutes: h(5),
      competencies: ['2.1', '2.2'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
    {
      code: '3',
      title: 'Communication en santé',
      requiredMinutes: h(5),
      competencies: ['3.1', '3.2', '3.3'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
    {
      code: '4',
      title: 'Outils numériques en santé',
      requiredMinutes: h(6),
      competencies: ['4.1', '4.2', '4.3', '4.4'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
    {
      code: '5',
      title: 'Télésanté',
      requiredMinutes: h(6),
      competencies: ['5.1', '5.2'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
  ],
};

/** ARM référentiel: domain 4 holds two competencies printed "4.1" (keys 4.1a / 4.1b) and no 4.3. */
export const arm18: ReferentialVersion = {
  id: 'socle-sante-arm',
  version: 'V1.1.2023',
  title: 'Référentiel socle de compétences du numérique en santé des assistants de régulation médicale',
  requiredMinutes: h(18),
  domains: [
    { code: '1', title: 'Données de santé', requiredMinutes: h(4), competencies: [{ key: '1.1', code: '1.1', title: 'Identifier un usager', requiredMinutes: null }] },
    { code: '2', title: 'Cybersécurité en santé', requiredMinutes: h(4), competencies: [{ key: '2.1', code: '2.1', title: 'Environnement sécurisé', requiredMinutes: null }] },
    { code: '3', title: 'Communication en santé', requiredMinutes: h(3), competencies: [{ key: '3.1', code: '3.1', title: 'Interagir avec les usagers', requiredMinutes: null }] },
    {
      code: '4',
      title: 'Outils numériques en santé',
      requiredMinutes: h(4),
      competencies: [
        { key: '4.1a', code: '4.1', title: 'Maîtriser les logiciels métiers', requiredMinutes: null },
        { key: '4.1b', code: '4.1', title: 'Utiliser un objet connecté', requiredMinutes: null },
        { key: '4.2', code: '4.2', title: 'Outils et services socles', requiredMinutes: null },
        { key: '4.4', code: '4.4', title: "Chercher de l'information probante", requiredMinutes: null },
      ],
    },
    { code: '5', title: 'Télésanté', requiredMinutes: h(3), competencies: [{ key: '5.1', code: '5.1', title: 'Réglementation', requiredMinutes: null }] },
  ],
};

/** Hours per competency only (domains without hours): the domain requirement is the sum of its competencies. */
export const perCompetency: ReferentialVersion = {
  id: 'per-competency',
  version: '1',
  title: 'Heures par compétence',
  requiredMinutes: null,
  domains: [
    {
      code: 'A',
      title: 'Domaine A',
      requiredMinutes: null,
      competencies: [
        { key: 'A1', code: 'A1', title: 'A1', requiredMinutes: 60 },
        { key: 'A2', code: 'A2', title: 'A2', requiredMinutes: 120 },
      ],
    },
    { code: 'B', title: 'Domaine B', requiredMinutes: null, competencies: [{ key: 'B1', code: 'B1', title: 'B1', requiredMinutes: 90 }] },
  ],
};

/** RNCP certification without hours (blocks → competencies), bloc 1 of 000_5f0c54ac4becd6ca.txt. */
export const rncpBlocks: ReferentialVersion = {
  id: 'rncp-ia-sante',
  version: '2024',
  title: "Référentiel d'activités, de compétences et d'évaluation — projet IA en santé",
  requiredMinutes: null,
  domains: [
    {
      code: '1',
      title: "Définir le besoin pour répondre à une problématique d'un projet IA en santé",
      requiredMinutes: null,
      competencies: ['1.1.1', '1.1.2', '1.1.3'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
    {
      code: '1.2',
      title: 'Détecter et intégrer les dilemmes éthiques au sein du projet en santé',
      requiredMinutes: null,
      competencies: ['1.2.1', '1.2.2', '1.2.3', '1.2.4'].map((code) => ({ key: code, code, title: `Compétence ${code}`, requiredMinutes: null })),
    },
  ],
};

export const MOODLE = 'https://moodle.example.edu';
export const activity = (cmid: number) => `${MOODLE}/mod/page/view.php?id=${cmid}`;

/** A completion event with defaults: completed, no success, no duration, not voided. */
export function ev(over: Partial<CompletionEvent> & { activityId: string; timestamp: number }): CompletionEvent {
  return { courseId: 2, kind: 'completed', success: null, durationSeconds: null, sequence: 0, voided: false, ...over };
}
