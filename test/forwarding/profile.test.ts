import { structuralErrors } from '../../src/xapi/validate';
import { buildBadgeEarnedStatement, buildHoursCreditedStatement, SOCLE_XAPI } from '../../src/forwarding/emit';
import { checkProfile, evaluateJsonPath, loadSocleProfile, matchTemplate, type Profile, templateById } from '../../src/forwarding/profile';
import { MOODLE, moodleBatches } from '../xapi/support';

const profile = loadSocleProfile();
const T = (name: string) => templateById(profile, `https://w3id.org/xapi/socle/templates/${name}`);
const mutate = (change: (p: Profile) => void): Profile => {
  const copy = structuredClone(profile);
  change(copy);
  return copy;
};

const learner = { issuer: `${MOODLE}/`, sub: '4' };
const referential = { id: 'https://socle.example/referentiels/socle-28h', version: '2024-1' };
const credited = () =>
  buildHoursCreditedStatement({
    learner,
    competency: { iri: 'https://socle.example/referentiels/socle-28h/2024-1/competencies/D1-C1', name: 'Protéger les données de santé' },
    minutes: 90,
    referential,
    activityIri: `${MOODLE}/mod/page/view.php?id=4`,
    timestamp: new Date('2026-11-22T16:47:11Z'),
  });
const badge = () =>
  buildBadgeEarnedStatement({
    learner,
    badge: { iri: 'https://socle.example/badges/D1', name: 'Domaine 1 couvert' },
    referential: { ...referential, domain: 'D1' },
    timestamp: new Date('2026-11-22T17:00:00Z'),
  });

describe("Socle's xAPI Profile", () => {
  it('is valid: required properties, unique ids, references defined, inScheme = version, no pattern cycle', () => {
    expect(checkProfile(profile)).toEqual([]);
    expect(profile.versions[0]?.id).toBe(SOCLE_XAPI.version);
  });

  it.each<[string, (p: Profile) => void, RegExp]>([
    ['a missing prefLabel', (p) => delete (p as Partial<Profile>).prefLabel, /^prefLabel: must be a language map/],
    ['a duplicate id', (p) => p.concepts?.push({ ...(p.concepts[0] as NonNullable<Profile['concepts']>[number]) }), /concepts\[\d+\]\.id: duplicate id/],
    ['a concept in another version', (p) => ((p.concepts?.[1] as { inScheme: string }).inScheme = 'https://w3id.org/xapi/socle/v0.9'), /concepts\[1\]\.inScheme: must be the profile version/],
    ['an undefined verb', (p) => ((p.templates?.[0] as { verb: string }).verb = 'https://w3id.org/xapi/socle/verbs/nope'), /templates\[0\]\.verb: .*nope is not a Verb/],
    ['a verb used as an activity type', (p) => ((p.templates?.[0] as { objectActivityType: string }).objectActivityType = SOCLE_XAPI.verbs.earned), /templates\[0\]\.objectActivityType/],
    ['an undefined template in a pattern', (p) => p.patterns?.[0]?.sequence?.push('https://w3id.org/xapi/socle/templates/nope'), /patterns\[0\]: .*templates\/nope is neither/],
    ['a pattern with two kinds', (p) => ((p.patterns?.[2] as { zeroOrMore?: string }).zeroOrMore = SOCLE_XAPI.templates.badgeEarned), /patterns\[2\]: must have exactly one of/],
    ['a pattern cycle', (p) => ((p.patterns?.[2] as { optional: string }).optional = 'https://w3id.org/xapi/socle/patterns/credit'), /patterns: cycle .*optional-badge → .*patterns\/credit → .*optional-badge/],
    ['an unused non-primary pattern', (p) => delete (p.patterns?.[3] as { primary?: boolean }).primary, /patterns\[3\]: .* neither primary nor used/],
    ['a bad JSONPath', (p) => ((p.templates?.[0]?.rules?.[0] as { location: string }).location = 'id'), /templates\[0\]\.rules\[0\]\.location: "id" must start with \$/],
    ['a rule with nothing to check', (p) => p.templates?.[0]?.rules?.push({ location: '$.id' }), /rules\[9\]: needs presence, any, all or none/],
    ['an extension schema that is not JSON', (p) => ((p.concepts?.[4] as { inlineSchema: string }).inlineSchema = '{type:'), /concepts\[4\]\.inlineSchema/],
    ['an alternates member that is optional', (p) => p.patterns?.[1]?.alternates?.push('https://w3id.org/xapi/socle/patterns/optional-badge'), /alternates: .*optional-badge is optional/],
  ])('reports %s', (_name, change, expected) => {
    const errors = checkProfile(mutate(change));
    expect(errors.some((e) => expected.test(e))).toBe(true);
  });
});

describe('statement templates', () => {
  it('every statement Socle emits follows its template and is a valid xAPI 1.0.3 statement', () => {
    for (const [statement, template] of [
      [credited(), T('hours-credited')],
      [badge(), T('badge-earned')],
    ] as const) {
      expect(matchTemplate(template, statement)).toEqual([]);
      expect(structuralErrors(statement, 'statement')).toEqual([]);
      expect(statement.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(credited().id).toBe(credited().id); // fixed before sending: building again gives the same id
    expect(credited()).toMatchObject({ actor: { account: { homePage: MOODLE, name: '4' } }, result: { extensions: { [SOCLE_XAPI.extensions.creditedMinutes]: 90 } } });
  });

  it('reports missing, excluded and unexpected values with their JSONPath location', () => {
    const statement = credited() as unknown as Record<string, unknown> & { result: { extensions: Record<string, unknown> }; context: { contextActivities: { category: { id: string }[] } } };
    delete statement.result.extensions[SOCLE_XAPI.extensions.creditedMinutes];
    (statement.actor as Record<string, unknown>).mbox = 'mailto:sam@example.org';
    (statement.context.contextActivities.category[0] as { id: string }).id = 'https://w3id.org/xapi/socle/v0.9';
    const errors = matchTemplate(T('hours-credited'), statement);
    expect(errors).toEqual(
      expect.arrayContaining([
        { location: `$.result.extensions['${SOCLE_XAPI.extensions.creditedMinutes}']`, message: 'is required (presence included) and missing' },
        { location: '$.actor.mbox', message: 'must not be present (presence excluded)' },
        { location: '$.context.contextActivities.category[*].id', message: expect.stringContaining('needs one of') },
      ]),
    );
    expect(matchTemplate(T('badge-earned'), credited()).map((e) => e.location)).toEqual(
      expect.arrayContaining(['$.verb.id', '$.object.definition.type', '$.result']),
    );
  });

  it("Moodle's captured completion statements follow the accepted-completion templates", () => {
    let completed = 0;
    let uncompleted = 0;
    for (const { body } of moodleBatches()) {
      for (const s of body) {
        const verb = (s.verb as { id: string }).id;
        if (verb === 'http://adlnet.gov/expapi/verbs/completed') {
          expect(matchTemplate(T('moodle-completed'), s)).toEqual([]);
          completed++;
        } else if (verb.endsWith('/uncompleted')) {
          expect(matchTemplate(T('moodle-uncompleted'), s)).toEqual([]);
          uncompleted++;
        } else {
          expect(matchTemplate(T('moodle-completed'), s)[0]?.location).toBe('$.verb.id');
        }
      }
    }
    expect([completed > 10, uncompleted > 5]).toEqual([true, true]);
  });

  it('evaluates the JSONPath subset of the specification', () => {
    const s = { a: { 'x.y': [1, 2], b: [{ c: 1 }, { c: 2 }] } };
    expect(evaluateJsonPath(s, "$.a['x.y'][*]")).toEqual([1, 2]);
    expect(evaluateJsonPath(s, '$.a.b[1].c')).toEqual([2]);
    expect(evaluateJsonPath(s, '$.a.b[*].c | $.a.nope')).toEqual([1, 2]);
    expect(evaluateJsonPath(s, '$.a.*')).toHaveLength(2);
  });
});
