import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import nock from 'nock';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { identityHash } from '../../src/badges/credentials';
import { type RecordSummary, verifyRecord } from '../../src/badges/records';
import { httpResolver, type Resolve, verifyRecordJwt } from '../../src/badges/verify';
import { type Attestation, renderAttestationPdf } from '../../src/reports/attestation';
import { recordedAttestations } from '../../src/reports/service';
import { pdfText } from '../support/pdf';
import { createApiToken } from '../../src/identity/api-tokens';
import { ensurePlatform, ensureUser, findUser } from '../../src/identity/records';
import { socle28 } from '../domain/coverage-fixtures';
import { fixtureReferentials } from '../coverage/support';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { MOODLE } from '../xapi/support';

const publicUrl = 'https://socle.univ-exemple.fr';

/** What `GET /api/v1/records` lists (the type the API answers with). */
type RecordItem = RecordSummary;

type Clr = {
  '@context': string[];
  id: string;
  type: string[];
  issuer: { id: string };
  credentialSubject: {
    type: string[];
    identifier: { identityType: string; hashed: boolean; identityHash: string; salt?: string }[];
    achievement: { id: string; creditsAvailable?: number; humanCode: string }[];
    verifiableCredential: { id: string; type: string[]; credentialSubject: { achievement: { id: string }; creditsEarned: number } }[];
    association: { type: string; associationType: string; sourceId: string; targetId: string }[];
  };
  credentialSchema: { id: string; type: string }[];
};

describe.each(drivers)('Learner records (CLR 2.0) on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let learner: Client;
  let admin: string;
  let scopedOther: string;
  let platformId: number;
  let learnerId: number;
  const local = (url: string) => url.replace(publicUrl, '');
  const records = async (auth: Client | string, sub = '4'): Promise<Response> => {
    const url = `/api/v1/records?platform=${encodeURIComponent(MOODLE)}&user=${sub}`;
    return typeof auth === 'string' ? fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${auth}` } }) : auth.get(url);
  };
  const grant = (competencyKey: string, minutes: number) =>
    server.ctx.store.db.transaction((tx) =>
      grantManualCredit(tx, coverageDeps(server.ctx, tx), {
        platformId,
        userId: learnerId,
        referentialId: socle28.id,
        competencyKey,
        minutes,
        justification: 'Formation suivie en présentiel',
        actor: 'test',
      }),
    );

  beforeAll(async () => {
    server = await startTestServer(driver, { publicUrl }, { referentials: fixtureReferentials() });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    const other = await ensurePlatform(db, 'https://other.example.org');
    admin = (await createApiToken(db, { name: 'warehouse', role: 'admin', platformId: null })).token;
    scopedOther = (await createApiToken(db, { name: 'other', role: 'admin', platformId: other.id })).token;
    learner = (await moodle.launch(server, 'learner', { locale: 'fr' })).client;
    const platform = await ensurePlatform(db, MOODLE);
    platformId = platform.id;
    learnerId = (await findUser(db, platform.id, '4'))?.id ?? 0;
    await ensureUser(db, platform.id, '5', { name: 'Autre Apprenant' });
    // domain 2 complete (5 h: its badge), domain 1 partly (1 h 30)
    await grant('2.1', 240);
    await grant('2.2', 60);
    await grant('1.1', 90);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('lists the learner’s record with its signed VC-JWT, a ClrCredential of their hours, badges and associations', async () => {
    const res = await records(learner);
    expect(res.status).toBe(200);
    const list = (await res.json()) as RecordItem[];
    expect(list).toHaveLength(1);
    const [item] = list as [RecordItem];
    expect(item).toMatchObject({ referential: { id: socle28.id, version: socle28.version }, creditsEarnedMinutes: 390, verifyUrl: `${publicUrl}/records/${item.id}` });
    // signed by the badges' key (RS256 by default), named by its URL as for badges
    expect(decodeProtectedHeader(item.jwt)).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.stringMatching(new RegExp(`^${publicUrl}/badges/keys/`)) });
    const clr = decodeJwt(item.jwt) as unknown as Clr & { iss: string; jti: string; nbf: number };
    expect(clr['@context']).toEqual([
      'https://www.w3.org/ns/credentials/v2',
      'https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json',
      'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
    ]);
    expect(clr.type).toEqual(['VerifiableCredential', 'ClrCredential']);
    expect(clr.id).toBe(item.verifyUrl);
    expect(clr.jti).toBe(clr.id);
    expect(clr.iss).toBe(`${publicUrl}/badges/issuer`);
    expect(clr.issuer.id).toBe(clr.iss);
    expect(clr.credentialSchema).toEqual([{ id: 'https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json', type: '1EdTechJsonSchemaValidator2019' }]);
    const subject = clr.credentialSubject;
    expect(subject.type).toEqual(['ClrSubject']);
    expect(subject.identifier.map((i) => [i.identityType, i.hashed])).toEqual([['ltiPlatformId', false], ['ltiUserId', true]]);
    const hashed = subject.identifier[1] as { identityHash: string; salt?: string };
    expect(hashed.identityHash).toBe(identityHash('4', hashed.salt ?? ''));
    // every domain's achievement and the référentiel's, with the hours they need
    expect(subject.achievement.map((a) => [a.humanCode, a.creditsAvailable])).toEqual([['1', 6], ['2', 5], ['3', 5], ['4', 6], ['5', 6], [socle28.id, 28]]);
    const [d1, d2, , , , whole] = subject.achievement;
    // domain 2: the learner's Open Badge itself; domain 1: the hours validated so far, asserted by the record
    const badges = (await (await learner.get(`/api/v1/credentials?platform=${encodeURIComponent(MOODLE)}&user=4`)).json()) as { id: string; verifyUrl: string }[];
    expect(badges).toHaveLength(1);
    // then the breakdown: one credential per competency with validated hours, its achievement under its domain's
    expect(subject.verifiableCredential.map((c) => [c.credentialSubject.achievement.id, c.credentialSubject.creditsEarned])).toEqual([
      [d1?.id, 1.5],
      [d2?.id, 5],
      [`${d1?.id}/competencies/1.1`, 1.5],
      [`${d2?.id}/competencies/2.1`, 4],
      [`${d2?.id}/competencies/2.2`, 1],
    ]);
    expect(subject.verifiableCredential[2]).toMatchObject({
      id: `${item.verifyUrl}#1/1.1`,
      type: ['VerifiableCredential', 'AchievementCredential'],
      credentialSubject: {
        type: ['AchievementSubject'],
        identifier: subject.identifier,
        achievement: {
          type: ['Achievement'],
          achievementType: 'Competency',
          humanCode: '1.1',
          alignment: [{ targetType: 'CFItem', targetCode: '1.1', targetUrl: `${publicUrl}/api/v1/referentials/${socle28.id}?version=${socle28.version}#1.1` }],
        },
      },
    });
    expect(subject.verifiableCredential[0]).toMatchObject({ id: `${item.verifyUrl}#1`, type: ['VerifiableCredential', 'AchievementCredential'] });
    expect(subject.verifiableCredential[1]).toMatchObject({ id: badges[0]?.verifyUrl, type: ['VerifiableCredential', 'OpenBadgeCredential'] });
    // the credentials the record asserts itself (hours short of a badge, the breakdown) are OB 3.0 AchievementCredentials
    const ajv = new Ajv2019({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
    addFormats(ajv);
    // the schema stated from the OB 3.0 data model, less Socle's own stricter rule that every badge has a status
    // list entry (the data model does not require one): these credentials' status is the record's, at its id
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../support/ob3/achievement-credential.schema.json'), 'utf8')) as { required: string[] };
    const validate = ajv.compile({ ...schema, required: schema.required.filter((r) => r !== 'credentialStatus') });
    const asserted = subject.verifiableCredential.filter((c) => c.id.startsWith(`${item.verifyUrl}#`));
    expect(asserted).toHaveLength(4);
    for (const vc of asserted) expect(validate(vc) ? [] : validate.errors).toEqual([]);
    expect(subject.association).toHaveLength(5);
    expect(subject.association[1]).toEqual({ type: 'Association', associationType: 'isParentOf', sourceId: whole?.id, targetId: d2?.id });
  });

  it('offers the record on “Ma progression” and on the learner’s page of their teacher', async () => {
    const [item] = (await (await records(learner)).json()) as [RecordItem];
    const me = await (await learner.get('/lti/me?tab=badges')).text();
    expect(me).toContain('Mon relevé de formation');
    expect(me).toContain(`href="/records/${item.id}/record.jwt" download>Télécharger le relevé (CLR 2.0)</a>`);
    expect(me).toContain(`href="${item.verifyUrl}"`);
    const teacher = (await moodle.launch(server, 'instructor', { locale: 'fr', sub: '77' })).client;
    const page = await (await teacher.get(`/lti/learners/${learnerId}`)).text();
    expect(page).toContain('Mon relevé de formation');
    expect(page).toContain(`href="/records/${item.id}/record.jwt"`);
    // a learner with no hours has no record to offer
    const other = (await moodle.launch(server, 'learner', { locale: 'fr', sub: '6' })).client;
    expect(await (await other.get('/lti/me?tab=badges')).text()).not.toContain('Mon relevé de formation');
  });

  it('issues a record again only when what it says changes; the older one stays verifiable as superseded', async () => {
    const [first] = (await (await records(admin)).json()) as RecordItem[];
    const [same] = (await (await records(learner)).json()) as RecordItem[];
    expect(same?.id).toBe(first?.id);
    await grant('1.2', 30);
    const [next] = (await (await records(learner)).json()) as RecordItem[];
    expect(next?.id).not.toBe(first?.id);
    expect(next?.creditsEarnedMinutes).toBe(420);
    const old = await fetch(`${server.url}/records/${first?.id}`, { headers: { accept: 'application/json' } });
    expect(await old.json()).toMatchObject({ status: 'superseded' });
    const current = await fetch(`${server.url}/records/${next?.id}`, { headers: { accept: 'application/json' } });
    // the domains' hours, then the competencies' (1.1, 1.2, 2.1, 2.2)
    const credited = [2, 5, 1.5, 0.5, 4, 1].map((creditsEarned) => ({ creditsEarned }));
    expect(await current.json()).toMatchObject({ status: 'valid', referential: { id: socle28.id }, credentials: credited });

    // a third party, over HTTP only (PUBLIC_URL answered by the test server): the key of the header's kid URL, the
    // record's status at its id
    expect(decodeProtectedHeader(next?.jwt ?? '').kid).toMatch(new RegExp(`^${publicUrl}/badges/keys/`));
    const http = httpResolver();
    const overHttp: Resolve = (url, accept) => http(url.replace(publicUrl, server.url), accept);
    await expect(verifyRecordJwt(next?.jwt ?? '', { resolve: overHttp })).resolves.toMatchObject({
      status: 'valid',
      recordId: next?.id,
      referential: { id: socle28.id, version: socle28.version },
      credentials: credited,
    });
    await expect(verifyRecordJwt(first?.jwt ?? '', { resolve: overHttp })).resolves.toMatchObject({ status: 'superseded', recordId: first?.id });
    // signed by Socle but not the record it holds at that id: not vouched for
    const [h, , s] = (next?.jwt ?? '').split('.');
    const moved = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(next?.jwt ?? ''), name: 'Autre' })).toString('base64url')}.${s}`;
    expect((await verifyRecordJwt(moved, { resolve: overHttp })).status).toBe('invalid');
    // the issuer out of reach: nothing can be said
    const unreachable = await verifyRecordJwt(next?.jwt ?? '', { resolve: () => Promise.reject(new Error('connection refused')) });
    expect(unreachable.status).toBe('unknown');
  });

  it('prints the current record’s URL on the learner’s attestation PDF', async () => {
    const [item] = (await (await records(learner)).json()) as [RecordItem];
    const out: Attestation[] = [];
    for await (const a of recordedAttestations(server.ctx, { platformId, filters: { referential: { id: socle28.id } } })) out.push(a);
    const mine = out.find((a) => a.learner.sub === '4');
    expect(mine?.recordUrl).toBe(item.verifyUrl);
    const [text] = await pdfText(await renderAttestationPdf(mine as Attestation));
    expect(text).toContain(`Relevé de formation numérique vérifiable (CLR 2.0) : ${item.verifyUrl}`);
  });

  it('answers an API token of another platform 403, a learner asking for someone else 403, no token 401', async () => {
    expect((await records(scopedOther)).status).toBe(403);
    expect((await records(learner, '5')).status).toBe(403);
    expect((await records(admin, '5')).status).toBe(200);
    expect(await (await records(admin, '5')).json()).toEqual([]);
    expect((await fetch(`${server.url}/api/v1/records?platform=${encodeURIComponent(MOODLE)}&user=4`)).status).toBe(401);
    expect((await records(admin, '404')).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/records?user=4`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(400);
  });

  it('serves the public verification page, the signed record, and refuses a changed or foreign record', async () => {
    const [item] = (await (await records(learner)).json()) as [RecordItem];
    const page = await fetch(`${server.url}${local(item.verifyUrl)}`, { headers: { accept: 'text/html', 'accept-language': 'fr' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Relevé valide');
    expect(html).toContain('Données de santé');
    expect(html).toContain('7\u00a0h');
    const english = await (await fetch(`${server.url}${local(item.verifyUrl)}`, { headers: { accept: 'text/html', 'accept-language': 'en' } })).text();
    expect(english).toContain('Valid record');
    const download = await fetch(`${server.url}${local(item.verifyUrl)}/record.jwt`);
    expect(download.headers.get('content-disposition')).toContain('attachment');
    expect(await download.text()).toBe(item.jwt);
    const unknown = await fetch(`${server.url}/records/00000000-0000-4000-8000-000000000000`, { headers: { accept: 'application/json' } });
    expect(unknown.status).toBe(404);
    expect((await fetch(`${server.url}/records/not-a-uuid`, { headers: { accept: 'text/html' } })).status).toBe(404);

    const db = server.ctx.store.db;
    await expect(verifyRecord(db, publicUrl, item.jwt)).resolves.toMatchObject({ status: 'valid', recordId: item.id });
    // a changed payload under the same signature
    const [h, , s] = item.jwt.split('.');
    const changed = { ...decodeJwt(item.jwt), name: 'Relevé modifié' };
    const forged = `${h}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${s}`;
    expect((await verifyRecord(db, publicUrl, forged)).status).toBe('invalid');
    // a ClrCredential signed by someone else's key, with Socle's key id
    const { privateKey } = await (await import('jose')).generateKeyPair('ES256');
    const foreign = await new SignJWT(changed).setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(item.jwt).kid ?? '' }).sign(privateKey);
    expect((await verifyRecord(db, publicUrl, foreign)).errors.join(' ')).toMatch(/signature/);
    expect((await verifyRecord(db, publicUrl, 'not a jwt')).status).toBe('invalid');
  });
});
