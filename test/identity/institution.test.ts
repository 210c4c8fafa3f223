import { eq } from 'drizzle-orm';
import { auditEvents, institutions } from '../../src/db/schema';
import { isTimeZone } from '../../src/domain/institution';
import { elide } from '../../src/domain/format';
import { SocleError } from '../../src/domain/errors';
import { checkLogo, findInstitution, institutionOf, LOGO_MAX_BYTES, prefillInstitution, setInstitution } from '../../src/identity/institution';
import { ensurePlatform } from '../../src/identity/records';
import { drivers, openTestStore, type TestStore } from '../support/db';
import { solidPng } from '../support/png';

const ISSUER = 'https://moodle.univ-lyon.example';
const svg = (inner = '<rect width="120" height="40" fill="#1a4f9c"/>', attrs = 'width="120" height="40"') =>
  Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" ${attrs}>${inner}</svg>\n`);

/** What a refused call threw, to read its code and details. */
async function refusal(promise: Promise<unknown>): Promise<SocleError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SocleError)) throw new Error(`expected a SocleError, got ${String(error)}`);
  return error;
}

describe('logo files', () => {
  it('reads a PNG’s dimensions from its header, an SVG’s from width/height or its viewBox', () => {
    expect(checkLogo(solidPng(200, 80))).toMatchObject({ type: 'image/png', width: 200, height: 80 });
    expect(checkLogo(svg())).toMatchObject({ type: 'image/svg+xml', width: 120, height: 40 });
    expect(checkLogo(svg('<circle r="5"/>', 'viewBox="0 0 300 100"'))).toMatchObject({ width: 300, height: 100 });
  });

  it.each([
    ['not an image', Buffer.from('GIF89a not a logo'), /neither a PNG nor an SVG/],
    ['a truncated PNG', solidPng(64, 64).subarray(0, 40), /truncated PNG/],
    ['a PNG too small', solidPng(8, 8), /width is 8/],
    ['an SVG with a script', svg('<script>alert(1)</script>'), /script/],
    ['an SVG with an event handler', svg('<rect width="9" height="9" onload="alert(1)"/>'), /event handler/],
    ['an SVG with an outside image', svg('<image href="https://evil.example/x.png" width="9" height="9"/>'), /image|outside/],
    ['an SVG with entities', Buffer.from('<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"></svg>'), /no <svg> root|DOCTYPE/],
    ['an SVG without dimensions', svg('<rect/>', ''), /without width and height/],
  ])('refuses %s', (_what, bytes, message) => {
    let error: unknown;
    try {
      checkLogo(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SocleError);
    expect((error as SocleError).code).toBe('invalid_request');
    expect((error as SocleError).message).toMatch(message);
    expect((error as SocleError).details[0]?.path).toBe('logo');
  });

  it('refuses a file over the byte limit as too large', () => {
    const big = Buffer.concat([solidPng(64, 64), Buffer.alloc(LOGO_MAX_BYTES)]);
    expect(() => checkLogo(big)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });
});

describe('French typography and time zones', () => {
  it('elides "que" before a vowel or a mute h', () => {
    expect(['Inès', 'Étienne', 'Hélène', 'Yves', 'Marc', 'Yann'].map((n) => elide('que', n))).toEqual(['qu’Inès', 'qu’Étienne', 'qu’Hélène', 'qu’Yves', 'que Marc', 'que Yann']);
  });
  it('knows IANA time zones through Intl', () => {
    expect(['Europe/Paris', 'Indian/Reunion', 'America/Cayenne', 'Pacific/Noumea'].every(isTimeZone)).toBe(true);
    expect(['Europe/Lyon', 'Paris', 'UTC+2', '+02:00', ''].some(isTimeZone)).toBe(false);
  });
});

describe.each(drivers)('the institution profile on %s', (driver) => {
  let t: TestStore;
  let platform: { id: number; issuer: string; name: string | null };
  beforeAll(async () => {
    t = await openTestStore(driver);
    platform = await ensurePlatform(t.store.db, ISSUER, 'moodle https://moodle.univ-lyon.example');
  }, 60_000);
  afterAll(async () => t?.destroy());

  it('names documents after the platform until a profile exists, then after its legal name', async () => {
    expect(await institutionOf(t.store.db, platform)).toMatchObject({ name: 'moodle https://moodle.univ-lyon.example', timeZone: 'Europe/Paris', profile: undefined });
    const refused = await refusal(setInstitution(t.store.db, platform, { fields: { city: 'Lyon' } }, 'cli'));
    expect(refused).toMatchObject({ code: 'invalid_request', details: [{ path: 'legalName', message: 'required' }] });
    expect(await findInstitution(t.store.db, platform.id)).toBeUndefined();

    const row = await setInstitution(
      t.store.db,
      platform,
      {
        fields: { legalName: 'Université Claude Bernard Lyon 1', shortName: 'UCBL', uai: '0692437z', siret: '196 917 744 00019', city: 'Lyon', timeZone: 'Europe/Paris', email: 'scolarite@univ-lyon1.example' },
        logo: solidPng(240, 96),
      },
      'lti:https://moodle.univ-lyon.example#2',
    );
    expect(row).toMatchObject({ legalName: 'Université Claude Bernard Lyon 1', uai: '0692437Z', siret: '19691774400019', logoType: 'image/png', logoWidth: 240, logoHeight: 96 });
    expect((await institutionOf(t.store.db, platform)).name).toBe('Université Claude Bernard Lyon 1');
  });

  it('refuses a bad time zone, UAI, e-mail or logo with the field named, and changes nothing', async () => {
    const before = await findInstitution(t.store.db, platform.id);
    const audits = (await t.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'institution.set'))).length;
    const cases: [Parameters<typeof setInstitution>[2], string][] = [
      [{ fields: { timeZone: 'Europe/Lyon' } }, 'timeZone'],
      [{ fields: { uai: '069243' } }, 'uai'],
      [{ fields: { siret: '19691774400018' } }, 'siret'],
      [{ fields: { email: 'not an email' } }, 'email'],
      [{ fields: { url: 'javascript:alert(1)' } }, 'url'],
      [{ fields: { legalName: '   ' } }, 'legalName'],
      [{ fields: { city: 'Villeurbanne' }, logo: svg('<script>alert(1)</script>') }, 'logo'],
    ];
    for (const [change, path] of cases) {
      const error = await refusal(setInstitution(t.store.db, platform, change, 'cli'));
      expect(error.code).toBe('invalid_request');
      expect(error.details.map((d) => d.path)).toContain(path);
    }
    expect(await findInstitution(t.store.db, platform.id)).toEqual(before);
    expect((await t.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'institution.set'))).length).toBe(audits);
  });

  it('keeps the fields not given, clears those set to null, and audits each change without the logo’s bytes', async () => {
    const row = await setInstitution(t.store.db, platform, { fields: { timeZone: 'indian/reunion', shortName: null }, logo: svg() }, 'cli');
    expect(row).toMatchObject({ legalName: 'Université Claude Bernard Lyon 1', shortName: null, city: 'Lyon', timeZone: 'Indian/Reunion', logoType: 'image/svg+xml' });
    const [last] = (await t.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'institution.set'))).slice(-1);
    expect(last).toMatchObject({ actor: 'cli', subject: `platform:${ISSUER}` });
    expect(last?.before).toMatchObject({ shortName: 'UCBL', timeZone: 'Europe/Paris', logo: { bytes: solidPng(240, 96).length } });
    expect(last?.after).toMatchObject({ shortName: null, timeZone: 'Indian/Reunion' });
    expect(JSON.stringify(last?.after)).not.toMatch(/<svg|rect/);
    expect(last?.after).toMatchObject({ logo: { bytes: svg().length } });
  });

  it('is pre-filled from what the platform says of itself only while it has no profile', async () => {
    const other = await ensurePlatform(t.store.db, 'https://moodle.other.example');
    expect(await prefillInstitution(t.store.db, other.id, { legalName: 'Moodle LTI Test', shortName: 'ltitest' })).toBe(true);
    expect(await findInstitution(t.store.db, other.id)).toMatchObject({ legalName: 'Moodle LTI Test', shortName: 'ltitest' });
    expect(await prefillInstitution(t.store.db, platform.id, { legalName: 'Moodle LTI Test' })).toBe(false);
    expect((await findInstitution(t.store.db, platform.id))?.legalName).toBe('Université Claude Bernard Lyon 1');
    await t.store.db.delete(institutions).where(eq(institutions.platformId, other.id));
  });
});
