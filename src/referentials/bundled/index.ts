// The bundled référentiel versions: one JSON data file per version (their schema: src/domain/referential.ts; see ../README.md).
// Imported statically so the build copies them; a test checks every file of this folder is listed.
import r0 from './certification-chef-projet-ia@sans-version.json';
import r1 from './certification-ia-sante-5-activites@sans-version.json';
import r2 from './certification-projet-ia-sante-4-blocs@sans-version.json';
import r3 from './mediateurs-numeriques-modules@sans-version.json';
import r4 from './socle-aides-soignants-auxiliaires-puericulture@sans-version.json';
import r5 from './socle-ambulanciers@V1.1.2023.json';
import r6 from './socle-assistants-regulation-medicale@V1.1.2023.json';
import r7 from './socle-sante-niveaux-4-8@V1.1.2022.json';
import r8 from './socle-travailleurs-sociaux-accompagnants@sans-version.json';
import r9 from './socle-travailleurs-sociaux-educateurs-assistants@sans-version.json';

/** File name (without .json) → raw content, validated by `referentialFileSchema` at load. */
export const bundledFiles: Record<string, unknown> = {
  'certification-chef-projet-ia@sans-version': r0,
  'certification-ia-sante-5-activites@sans-version': r1,
  'certification-projet-ia-sante-4-blocs@sans-version': r2,
  'mediateurs-numeriques-modules@sans-version': r3,
  'socle-aides-soignants-auxiliaires-puericulture@sans-version': r4,
  'socle-ambulanciers@V1.1.2023': r5,
  'socle-assistants-regulation-medicale@V1.1.2023': r6,
  'socle-sante-niveaux-4-8@V1.1.2022': r7,
  'socle-travailleurs-sociaux-accompagnants@sans-version': r8,
  'socle-travailleurs-sociaux-educateurs-assistants@sans-version': r9,
};
