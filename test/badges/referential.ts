import type { ReferentialOutline } from '../../src/domain/referential';

/**
 * The 28 h référentiel for health professionals of levels 4 to 8 (V1.1.2022), from the France 2030 call's annex
 * (test/fixtures/seeds/004_3118bb4998137152.txt, "Référentiel socle et transversal…"): hours per domain
 * 6/5/5/6/6, none per competency. "Télesanté" is spelt as in the source.
 */
export const socle28: ReferentialOutline = {
  id: 'socle-sante-niveaux-4-8',
  version: 'V1.1.2022',
  title: 'Socle numérique en santé',
  requiredMinutes: 28 * 60,
  domains: [
    ['1', 'Données de santé', 6, ['Identifier un usager ou un professionnel de santé', 'Caractériser et traiter la donnée à caractère personnel de santé en appliquant la réglementation', 'Accéder aux données de santé en respectant les exigences professionnelles et légales', "Exploiter les données de santé pour l'évaluation, la recherche et l'innovation"]],
    ['2', 'Cybersécurité en santé', 5, ['Concevoir et maintenir sécurisé son environnement numérique de travail', 'Se prémunir et réagir face aux incidents']],
    ['3', 'Communication en santé', 5, ["Utiliser les outils permettant d'interagir avec les usagers pour une transmission efficace de l'information", 'Interagir de manière adaptée entre professionnels, avec l\'utilisateur, avec les aidants et accompagnants', 'Interagir sur internet en maîtrisant son identité numérique']],
    ['4', 'Outils numériques en santé', 6, ['Maîtriser les logiciels métiers et les services numériques', 'Utiliser un objet connecté ou une application mobile et analyser leur fiabilité', "Utiliser les outils et services socles adaptés et identifier leur articulation avec d'autres dossiers", "Chercher de l'information probante en santé"]],
    ['5', 'Télesanté', 6, ['Maîtriser la réglementation de la télésanté', "Pratiquer la télésanté en lien avec l'équipe de soin et l'utilisateur"]],
  ].map(([code, title, hours, competencies]) => ({
    code: code as string,
    title: title as string,
    requiredMinutes: (hours as number) * 60,
    competencies: (competencies as string[]).map((t, i) => ({
      key: `c${code as string}_${i + 1}`,
      code: `${code as string}.${i + 1}`,
      title: t,
      requiredMinutes: null,
    })),
  })),
};
