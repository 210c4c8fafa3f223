import {
  achievementDefinition,
  achievementDefinitions,
  achievementJson,
} from '../../src/badges/achievements';
import { formatMinutes, minutesToHours } from '../../src/domain/format';
import { type ReferentialOutline, referentialOutlineSchema } from '../../src/domain/referential';
import { socle28 } from './referential';

const publicUrl = 'https://socle.univ-exemple.fr';

describe('achievements derived from a référentiel', () => {
  it('gives one achievement per domain, in order, then one for the whole référentiel', () => {
    const defs = achievementDefinitions(socle28);
    expect(defs.map((d) => [d.domainCode, d.name])).toEqual([
      ['1', 'Données de santé — 6\u00a0h'],
      ['2', 'Cybersécurité en santé — 5\u00a0h'],
      ['3', 'Communication en santé — 5\u00a0h'],
      ['4', 'Outils numériques en santé — 6\u00a0h'],
      ['5', 'Télesanté — 6\u00a0h'],
      [null, 'Socle numérique en santé — 28\u00a0h'],
    ]);
    expect(new Set(defs.map((d) => d.path)).size).toBe(6);
  });

  it('is an OB 3.0 Achievement with hours, French criteria and CFItem alignments that resolve under PUBLIC_URL', () => {
    const def = achievementDefinition(socle28, '2');
    if (!def) throw new Error('no domain 2');
    const json = achievementJson(def, publicUrl);
    expect(json).toMatchObject({
      id: `${publicUrl}/achievements/socle-sante-niveaux-4-8/V1.1.2022/domains/2`,
      type: ['Achievement'],
      name: 'Cybersécurité en santé — 5\u00a0h',
      creditsAvailable: 5,
      criteria: { narrative: expect.stringContaining('Avoir validé 5\u00a0h de formation dans le domaine « Cybersécurité en santé »') },
      image: { id: `${publicUrl}/achievements/socle-sante-niveaux-4-8/V1.1.2022/domains/2/image.png`, type: 'Image' },
    });
    expect(json['@context']).toEqual([
      'https://www.w3.org/ns/credentials/v2',
      'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
    ]);
    expect(json.alignment).toEqual([
      expect.objectContaining({
        type: ['Alignment'],
        targetType: 'CFItem',
        targetCode: '2.1',
        targetUrl: `${publicUrl}/api/v1/referentials/socle-sante-niveaux-4-8?version=V1.1.2022#c2_1`,
      }),
      expect.objectContaining({ targetCode: '2.2', targetName: '2.2 Se prémunir et réagir face aux incidents' }),
    ]);
  });

  it('aligns the whole référentiel to every competency and credits its total', () => {
    const def = achievementDefinition(socle28, null);
    if (!def) throw new Error('no whole-référentiel achievement');
    const json = achievementJson(def, publicUrl);
    expect(json.creditsAvailable).toBe(28);
    expect(json.alignment).toHaveLength(15);
    expect(json.criteria.narrative).toContain('Avoir validé les 28\u00a0h de formation de chacun des domaines');
  });

  it('handles half hours, domains without hours, unknown domains and odd identifiers', () => {
    expect(formatMinutes(270)).toBe('4\u00a0h\u00a030');
    expect(formatMinutes(1680)).toBe('28\u00a0h');
    expect([330, 320, 1680].map(minutesToHours)).toEqual([5.5, 5.33, 28]);
    const first = socle28.domains[0];
    if (!first) throw new Error('no domain');
    const ref: ReferentialOutline = { ...socle28, id: 'réf/ambulanciers', domains: [{ ...first, code: '1 bis', requiredMinutes: null }] };
    const def = achievementDefinition(ref, '1 bis');
    expect(def?.name).toBe('Données de santé');
    expect(def && achievementJson(def, publicUrl)).not.toHaveProperty('creditsAvailable');
    expect(def?.path).toBe('r%C3%A9f%2Fambulanciers/V1.1.2022/domains/1%20bis');
    expect(achievementDefinition(ref, '9')).toBeUndefined();
  });

  it('rejects hours that are not whole minutes', () => {
    const bad = { ...socle28, domains: [{ ...socle28.domains[0], requiredMinutes: 1.5 }] };
    const result = referentialOutlineSchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['domains', 0, 'requiredMinutes']);
  });
});
