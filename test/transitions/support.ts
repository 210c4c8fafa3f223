/**
 * A second version of the 28 h référentiel for transition tests: V2.0.2027, where competency 1.1 is renumbered 1.0
 * (same title), 2.1 is split into 2.1a and 2.1b (new titles) and 3.3 is removed. Everything else is unchanged.
 */
import { bundledReferentials } from '../../src/referentials/catalogue';
import type { Referential } from '../../src/domain/referential';

export const OLD = { id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022' };
export const NEW = { id: OLD.id, version: 'V2.0.2027' };

export function nextVersion(): Referential {
  const old = bundledReferentials().find((r) => r.id === OLD.id && r.version === OLD.version);
  if (!old) throw new Error('no bundled référentiel');
  return {
    ...old,
    version: NEW.version,
    domains: old.domains.map((d) => ({
      ...d,
      competencies: d.competencies.flatMap((c) => {
        if (c.key === '1.1') return [{ ...c, key: '1.0', code: '1.0' }];
        if (c.key === '2.1') {
          return [
            { ...c, key: '2.1a', code: '2.1a', title: 'Concevoir son environnement numérique professionnel' },
            { ...c, key: '2.1b', code: '2.1b', title: 'Maintenir sécurisé son environnement numérique' },
          ];
        }
        return c.key === '3.3' ? [] : [c];
      }),
    })),
  };
}
