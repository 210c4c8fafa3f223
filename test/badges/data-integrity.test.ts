import { eq } from 'drizzle-orm';
import { extractCredential } from '../../src/badges/baking';
import { issueCredential, revokeCredential } from '../../src/badges/credentials';
import { listIssuerKeys } from '../../src/badges/keys';
import { didDocumentUrl, didWebDocumentUrl, issuerDid, verifyEmbeddedCredential } from '../../src/badges/proofs';
import { httpResolver, type Resolve } from '../../src/badges/verify';
import { verifyWithSocle } from '../../src/badges/service';
import { badgeKeys } from '../../src/db/schema';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { socle28 } from './referential';
import { documentLoader, generateMultikey, type JsonObject, signDataIntegrity, verificationMethod, verifyDataIntegrity } from '../../src/badges/data-integrity';

/**
 * The eddsa-rdfc-2022 test vector of W3C vc-di-eddsa (its "TestVectors": the key pair, the unsigned credential, the
 * proof options and the expected proofValue). The examples context it names is one line: every term in its vocab.
 */
const EXAMPLES_CONTEXT = 'https://www.w3.org/ns/credentials/examples/v2';
const examples = { '@context': { '@vocab': 'https://www.w3.org/ns/credentials/examples#' } };
const vectorKey = {
  publicKeyMultibase: 'z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2',
  secretKeyMultibase: 'z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq',
};
const did = `did:key:${vectorKey.publicKeyMultibase}`;
const vectorPair = { id: `${did}#${vectorKey.publicKeyMultibase}`, controller: did, ...vectorKey };
const unsigned = {
  '@context': ['https://www.w3.org/ns/credentials/v2', EXAMPLES_CONTEXT],
  id: 'urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33',
  type: ['VerifiableCredential', 'AlumniCredential'],
  name: 'Alumni Credential',
  description: 'A minimum viable example of an Alumni Credential.',
  issuer: 'https://vc.example/issuers/5678',
  validFrom: '2023-01-01T00:00:00Z',
  credentialSubject: { id: 'did:example:abcdefgh', alumniOf: 'The School of Examples' },
};
const expectedProof = {
  type: 'DataIntegrityProof',
  cryptosuite: 'eddsa-rdfc-2022',
  created: '2023-02-24T23:36:38Z',
  verificationMethod: vectorPair.id,
  proofPurpose: 'assertionMethod',
  proofValue: 'z2YwC8z3ap7yx1nZYCg4L3j3ApHsF8kgPdSb5xoS1VR7vPG3F561B52hYnQF9iseabecm3ijx4K1FBTQsCZahKZme',
};

/** The did:key document of the vector's key, and the examples context (the loader's only other documents). */
const resolveVector = (url: string): JsonObject | undefined => {
  if (url === EXAMPLES_CONTEXT) return examples;
  const method = { '@context': 'https://w3id.org/security/multikey/v1', ...verificationMethod(vectorPair) };
  if (url === vectorPair.id) return method;
  if (url === did) return { '@context': ['https://www.w3.org/ns/did/v1'], id: did, verificationMethod: [method], assertionMethod: [vectorPair.id] };
  return undefined;
};

// signing with the vector's contexts needs the examples context too: sign through a document with it inlined
const inlined = (doc: JsonObject): JsonObject => ({ ...doc, '@context': ['https://www.w3.org/ns/credentials/v2', examples['@context']] });

describe('eddsa-rdfc-2022', () => {
  test('the specification vector verifies, and its proofValue is reproduced from its key pair', async () => {
    const signed = { ...unsigned, proof: expectedProof };
    await expect(verifyDataIntegrity(signed, resolveVector)).resolves.toEqual({ verified: true, errors: [], verificationMethod: vectorPair.id });

    // an inline context expands exactly as the examples context: same canonical form, so the same signature
    const reproduced = await signDataIntegrity(inlined(unsigned), vectorPair, new Date(expectedProof.created));
    expect(reproduced.proof).toEqual(expectedProof);
  });

  test('a changed claim or a changed proof option is refused', async () => {
    const signed = { ...unsigned, proof: expectedProof };
    const changedClaim = { ...signed, credentialSubject: { ...unsigned.credentialSubject, alumniOf: 'Another School' } };
    const claim = await verifyDataIntegrity(changedClaim, resolveVector);
    expect(claim.verified).toBe(false);
    expect(claim.errors.join(' ')).toMatch(/signature rejected/);
    const changedDate = { ...signed, proof: { ...expectedProof, created: '2023-02-24T23:36:39Z' } };
    expect((await verifyDataIntegrity(changedDate, resolveVector)).verified).toBe(false);
    expect((await verifyDataIntegrity(unsigned, resolveVector)).errors).toEqual(['no proof']);
    const otherSuite = { ...signed, proof: { ...expectedProof, cryptosuite: 'eddsa-jcs-2022' } };
    expect((await verifyDataIntegrity(otherSuite, resolveVector)).errors[0]).toMatch(/eddsa-rdfc-2022/);
  });

  test('a new key signs an Open Badges credential that verifies; another key or an unknown method is refused', async () => {
    const controller = 'did:web:socle.example.fr';
    const key = await generateMultikey(controller);
    expect(key.publicKeyMultibase).toMatch(/^z6Mk/);
    expect(key.id).toBe(`${controller}#${key.publicKeyMultibase}`);
    const badge = {
      '@context': ['https://www.w3.org/ns/credentials/v2', 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'],
      id: 'https://socle.example.fr/badges/5b0f8c36-4a57-4c2b-9d3e-0d6f9a1b2c3d',
      type: ['VerifiableCredential', 'OpenBadgeCredential'],
      name: 'Domaine 1 — 15 h',
      issuer: { id: 'https://socle.example.fr/badges/issuer', type: ['Profile'], name: 'CHU' },
      validFrom: '2026-12-01T10:00:00Z',
      credentialSubject: { type: ['AchievementSubject'], achievement: { id: 'https://socle.example.fr/achievements/x', type: ['Achievement'], name: 'Domaine 1', description: 'd', criteria: { narrative: 'n' } } },
    };
    const signed = await signDataIntegrity(badge, key, new Date('2026-12-01T10:00:00Z'));
    const publish = (k: typeof key) => (url: string): JsonObject | undefined => {
      const method = { '@context': 'https://w3id.org/security/multikey/v1', ...verificationMethod(k) };
      if (url === k.id) return method;
      if (url === controller) return { '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'], id: controller, verificationMethod: [method], assertionMethod: [k.id] };
      return undefined;
    };
    expect(await verifyDataIntegrity(signed, publish(key))).toMatchObject({ verified: true, errors: [] });

    const tampered = { ...signed, name: 'Domaine 1 — 150 h' };
    expect((await verifyDataIntegrity(tampered, publish(key))).verified).toBe(false);

    // the same method id with another public key: the signature does not match
    const other = await generateMultikey(controller);
    expect((await verifyDataIntegrity(signed, publish({ ...other, id: key.id }))).verified).toBe(false);
    // a method its controller does not publish, or that cannot be resolved
    const unpublished = (url: string) => (url === controller ? { '@context': ['https://www.w3.org/ns/did/v1'], id: controller, assertionMethod: [] } : publish(key)(url));
    expect((await verifyDataIntegrity(signed, unpublished)).verified).toBe(false);
    const nothing = await verifyDataIntegrity(signed, () => undefined);
    expect(nothing.verified).toBe(false);
    expect(nothing.errors.join(' ')).toMatch(/not available offline/);
  });

  test('the document loader is offline: bundled contexts only, every other URL refused', async () => {
    const load = documentLoader();
    await expect(load('https://www.w3.org/ns/credentials/v2')).resolves.toMatchObject({ documentUrl: 'https://www.w3.org/ns/credentials/v2' });
    await expect(load('https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json')).resolves.toBeDefined();
    await expect(load('https://w3id.org/security/data-integrity/v2')).resolves.toBeDefined();
    await expect(load('https://example.org/context.json')).rejects.toThrow(/not available offline/);
  });
});

describe('did:web', () => {
  it('reads a DID document at /.well-known/did.json, or <path>/did.json; over http only on a loopback host', () => {
    expect(didWebDocumentUrl('did:web:socle.univ-exemple.fr')).toBe('https://socle.univ-exemple.fr/.well-known/did.json');
    expect(didWebDocumentUrl('did:web:socle.univ-exemple.fr%3A8443')).toBe('https://socle.univ-exemple.fr:8443/.well-known/did.json');
    expect(didWebDocumentUrl('did:web:univ-exemple.fr:apps:socle')).toBe('https://univ-exemple.fr/apps/socle/did.json');
    expect(didWebDocumentUrl('did:web:127.0.0.1%3A3000')).toBe('http://127.0.0.1:3000/.well-known/did.json');
    expect(didWebDocumentUrl('did:web:localhost')).toBe('http://localhost/.well-known/did.json');
    expect(didWebDocumentUrl(issuerDid('https://univ-exemple.fr/apps/socle'))).toBe(didDocumentUrl('https://univ-exemple.fr/apps/socle'));
    expect(didWebDocumentUrl('did:key:z6Mk')).toBeUndefined();
    expect(didWebDocumentUrl('did:web:user%40host')).toBeUndefined();
  });
});

describe.each(drivers)('BADGE_PROOF=data-integrity on %s', (driver) => {
  const publicUrl = 'https://socle.univ-exemple.fr:8443';
  let server: TestServer;
  let userId: number;
  const db = () => server.ctx.store.db;

  beforeAll(async () => {
    server = await startTestServer(driver, { publicUrl, badgeProof: 'data-integrity' });
    const platform = await ensurePlatform(db(), 'https://moodle.univ-exemple.fr');
    userId = (await ensureUser(db(), platform.id, '4')).id;
  });
  afterAll(() => server.destroy());

  it('issues the credential JSON with an eddsa-rdfc-2022 proof by the key its did:web document publishes', async () => {
    const { credential } = await issueCredential(db(), server.ctx, { userId, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 });
    const signed = JSON.parse(credential.jwt) as JsonObject & { proof: JsonObject; credentialSubject: { creditsEarned: number } };
    expect(signed).toMatchObject({ id: `${publicUrl}/badges/${credential.id}`, type: ['VerifiableCredential', 'OpenBadgeCredential'], credentialSubject: { creditsEarned: 5 } });
    const did = 'did:web:socle.univ-exemple.fr%3A8443';
    expect(issuerDid(publicUrl)).toBe(did);
    expect(signed.proof).toMatchObject({ type: 'DataIntegrityProof', cryptosuite: 'eddsa-rdfc-2022', proofPurpose: 'assertionMethod', verificationMethod: `${did}#${credential.kid}` });

    const res = await fetch(`${server.url}/.well-known/did.json`);
    expect(res.headers.get('content-type')).toContain('application/did+json');
    const document = (await res.json()) as { id: string; verificationMethod: { id: string; type: string; publicKeyMultibase: string }[]; assertionMethod: string[] };
    expect(document.id).toBe(did);
    expect(document.verificationMethod).toEqual([{ id: `${did}#${credential.kid}`, type: 'Multikey', controller: did, publicKeyMultibase: credential.kid }]);
    expect(document.assertionMethod).toEqual([`${did}#${credential.kid}`]);
    // the secret stays sealed: no multibase secret in the store's row, none published
    const [row] = await db().select().from(badgeKeys).where(eq(badgeKeys.kid, credential.kid));
    expect(row?.sealedPrivateJwk).not.toContain('secretKeyMultibase');
    expect(JSON.stringify(document)).not.toContain('secretKey');
    // a third party verifies it with the published document only
    const fromDocument = (url: string): JsonObject | undefined =>
      url === did ? (document as unknown as JsonObject) : document.verificationMethod.find((m) => m.id === url) && { '@context': 'https://w3id.org/security/multikey/v1', ...document.verificationMethod.find((m) => m.id === url) };
    expect(await verifyDataIntegrity(signed, fromDocument)).toMatchObject({ verified: true });

    // Socle's own verification: the page, the JSON status, then a changed copy and a revoked credential
    const own = await verifyWithSocle(db(), server.ctx, credential.jwt);
    expect(own.errors).toEqual([]);
    expect(own).toMatchObject({ status: 'valid', credentialId: signed.id, kid: credential.kid });
    const page = await fetch(`${server.url}/badges/${credential.id}`, { headers: { accept: 'application/json' } });
    expect(await page.json()).toMatchObject({ status: 'valid' });
    const tampered = JSON.stringify({ ...signed, credentialSubject: { ...signed.credentialSubject, creditsEarned: 50 } });
    const refused = await verifyWithSocle(db(), server.ctx, tampered);
    expect(refused.status).toBe('invalid');
    expect(refused.errors.join(' ')).toMatch(/signature rejected/);
    expect((await verifyWithSocle(db(), server.ctx, '{"not": "a credential"')).status).toBe('invalid');
    // baked as the JSON itself
    const png = await (await fetch(`${server.url}/badges/${credential.id}/badge.png`)).arrayBuffer();
    expect(extractCredential(Buffer.from(png))).toBe(credential.jwt);

    // a third party over HTTP only (PUBLIC_URL answered by the test server): the did:web document, then the status list
    const http = httpResolver();
    const overHttp: Resolve = (url, accept) => http(url.replace(publicUrl, server.url), accept);
    const list = `${publicUrl}/badges/status/${credential.statusListId}`;
    // the issuer is the DID controlling the proof's key; its status list, signed under the profile URL its document
    // is also known as
    expect(signed.issuer).toMatchObject({ id: did });
    expect(document).toMatchObject({ alsoKnownAs: [`${publicUrl}/badges/issuer`] });
    await expect(verifyEmbeddedCredential(credential.jwt, { resolve: overHttp })).resolves.toMatchObject({
      status: 'valid',
      issuer: did,
      kid: credential.kid,
      statusList: { url: list, index: credential.statusListIndex, revoked: false },
    });
    expect((await verifyEmbeddedCredential(tampered, { resolve: overHttp })).errors.join(' ')).toMatch(/signature rejected/);
    // a proof by another did:web than the issuer's is refused before anything is read
    const elsewhere = JSON.stringify({ ...signed, proof: { ...signed.proof, verificationMethod: `did:web:attacker.example#${credential.kid}` } });
    expect(await verifyEmbeddedCredential(elsewhere, { resolve: () => Promise.reject(new Error('no network')) })).toMatchObject({
      status: 'invalid',
      errors: [`the proof's key did:web:attacker.example is not the issuer's (${did})`],
    });
    // the issuer out of reach: nothing can be said
    expect((await verifyEmbeddedCredential(credential.jwt, { resolve: () => Promise.reject(new Error('connection refused')) })).status).toBe('unknown');

    await revokeCredential(db(), credential.id, 'erreur de saisie');
    await expect(verifyWithSocle(db(), server.ctx, credential.jwt)).resolves.toMatchObject({ status: 'revoked', statusList: { url: list, revoked: true } });
    await expect(verifyEmbeddedCredential(credential.jwt, { resolve: overHttp })).resolves.toMatchObject({ status: 'revoked', statusList: { url: list, revoked: true } });
    const revokedPage = await fetch(`${server.url}/badges/${credential.id}`, { headers: { accept: 'application/json' } });
    expect(await revokedPage.json()).toMatchObject({ status: 'revoked', revocationReason: 'erreur de saisie' });

    // the next credential uses the same key; the VC-JWT key stays the JWT key
    const next = await issueCredential(db(), server.ctx, { userId, referential: socle28, domainCode: '1', creditsEarnedMinutes: 360 });
    expect(next.credential.kid).toBe(credential.kid);
    expect((await listIssuerKeys(db())).map((k) => k.alg).sort()).toEqual(['EdDSA', 'RS256']);
  });
});
