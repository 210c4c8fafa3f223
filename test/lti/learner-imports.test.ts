import { and, eq, isNull, sql } from 'drizzle-orm';
import nock from 'nock';
import { decodeJwt } from 'jose';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { importRecord } from '../../src/coverage/imports';
import { currentRecords } from '../../src/coverage/records';
import { auditEvents, importedRecords, manualCredits } from '../../src/db/schema';
import { createApiToken } from '../../src/identity/api-tokens';
import { ensurePlatform, ensureUser, findUser, type User } from '../../src/identity/records';
import { fixtureReferentials } from '../coverage/support';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';

const REF = 'socle-sante-28h';
/** Another platform of the same institution, on the same Socle: its learner's record is imported on Moodle's. */
const SITE_A = 'https://moodle.site-a.univ-exemple.fr';

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('importing a learner record on the learner’s page on %s', (driver) => {
  let server: TestServer;
  let admin: Client;
  let learner: Client;
  let sam: User;
  let onA: User;
  let recordJwt: string;
  const db = () => server.ctx.store.db;
  const postRecord = (client: Client, userId: number, content: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('record', new Blob([content], { type: 'application/octet-stream' }), 'record.jwt');
    return fetch(`${server.url}/lti/learners/${userId}/imports`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
      headers: { Authorization: `Bearer ${client.ltik}`, Cookie: client.cookieHeader(), Accept: 'application/json', ...headers },
    });
  };
  const activeMinutes = async (userId: number) =>
    (await db().select({ minutes: manualCredits.minutes }).from(manualCredits).where(and(eq(manualCredits.userId, userId), isNull(manualCredits.revokedAt)))).reduce(
      (sum, c) => sum + c.minutes,
      0,
    );

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    learner = (await moodle.launch(server, 'learner', { locale: 'fr' })).client; // Sam Student (4)
    admin = (await moodle.launch(server, 'administrator', { locale: 'fr', sub: '2' })).client;
    const here = await ensurePlatform(db(), moodle.issuer);
    sam = (await findUser(db(), here.id, '4')) as User;
    // the learner's account on site A: hours there, and its record
    const a = await ensurePlatform(db(), SITE_A);
    onA = await ensureUser(db(), a.id, '804', { name: 'Sam sur le site A' });
    await db().transaction(async (tx) => {
      for (const [competencyKey, minutes] of [['2.1', 120], ['4.1', 45]] as const) {
        await grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: a.id, userId: onA.id, referentialId: REF, competencyKey, minutes, justification: 'Présentiel', actor: 'cli' });
      }
    });
    const [current] = await db().transaction((tx) => currentRecords(tx, server.ctx, { platformId: a.id, userId: onA.id }));
    recordJwt = current?.record.jwt ?? '';
  }, 60_000);
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('keeps the learner out, and refuses a tampered record or no file: 4xx, nothing stored', async () => {
    expect((await postRecord(learner, sam.id, recordJwt)).status).toBe(403);
    const [h, , s] = recordJwt.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(recordJwt), name: 'Autre' })).toString('base64url')}.${s}`;
    const tampered = await postRecord(admin, sam.id, forged, {}, { 'HX-Request': 'true', Accept: 'text/html' });
    expect(tampered.status).toBe(400);
    expect(text(await tampered.text())).toContain('the record is not importable: invalid');
    const none = await fetch(`${server.url}/lti/learners/${sam.id}/imports`, {
      method: 'POST',
      body: new FormData(),
      headers: { Authorization: `Bearer ${admin.ltik}`, Cookie: admin.cookieHeader(), Accept: 'application/json' },
    });
    expect(none.status).toBe(400);
    expect(await db().select().from(importedRecords)).toEqual([]);
  });

  it('imports a record of the learner’s account on another platform of this Socle, lists it on the page, revokes it (audited)', async () => {
    const res = await postRecord(admin, sam.id, recordJwt, { justification: 'Mutation du site A' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { import: { id: number; jwt?: string }; credits: { competencyKey: string; minutes: number }[] };
    expect(body.credits).toEqual([
      { competencyKey: '2.1', minutes: 120 },
      { competencyKey: '4.1', minutes: 45 },
    ]);
    expect(body.import.jwt).toBeUndefined();
    expect(await activeMinutes(sam.id)).toBe(165);
    // the same file again: nothing more
    expect((await postRecord(admin, sam.id, recordJwt)).status).toBe(200);
    expect(await activeMinutes(sam.id)).toBe(165);

    const page = text(await (await admin.get(`/lti/learners/${sam.id}?done=imported`)).text());
    expect(page).toContain('Relevé importé : les heures de l’apprenant sont à jour.');
    expect(page).toContain('Acquis d’un autre établissement');
    expect(page).toContain(`n° ${body.import.id} · relevé de Socle — ${new URL(server.ctx.config.publicUrl).host} du `);
    expect(page).toContain('· 2 h 45 (socle-sante-28h V1.1.2022) Importé le');
    expect(page).toContain('Acquis antérieurs : relevé de Socle');
    expect(page).toContain('Mutation du site A');

    // the learner's page of site A is not reachable from here, nor its imports
    expect((await postRecord(admin, onA.id, recordJwt)).status).toBe(404);
    const revoke = (userId: number, id: number) =>
      fetch(`${server.url}/lti/learners/${userId}/imports/${id}/revoke`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin.ltik}`, Cookie: admin.cookieHeader(), Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ reason: 'Erreur de dossier' }),
      });
    expect((await revoke(onA.id, body.import.id)).status).toBe(404);
    const ok = await revoke(sam.id, body.import.id);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ revoked: body.import.id });
    expect(await activeMinutes(sam.id)).toBe(0);
    expect((await revoke(sam.id, body.import.id)).status).toBe(404);
    const audit = await db().select({ action: auditEvents.action }).from(auditEvents).where(sql`${auditEvents.action} LIKE 'record-import.%'`).orderBy(auditEvents.id);
    expect(audit.map((a) => a.action)).toEqual(['record-import.import', 'record-import.revoke']);
    expect(text(await (await admin.get(`/lti/learners/${sam.id}`)).text())).toContain('Révoqué le');
  });

  it('an import of another platform stays invisible and unrevocable from this one', async () => {
    // a learner of site A gets an import there (from the service, as site A's administrator would): Sam's record of
    // this platform, which passes on the hours earned here only (30 min), not those imported from site A
    const a = await ensurePlatform(db(), SITE_A);
    const other = await ensureUser(db(), a.id, '805');
    const here = (await findUser(db(), sam.platformId, '4')) as User;
    const [samRecord] = await db().transaction(async (tx) => {
      await grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: here.platformId, userId: here.id, referentialId: REF, competencyKey: '3.1', minutes: 30, justification: 'Présentiel', actor: 'cli' });
      return currentRecords(tx, server.ctx, { platformId: here.platformId, userId: here.id });
    });
    const imported = await importRecord(db(), server.ctx, server.ctx, { platformId: a.id, userId: other.id, record: samRecord?.record.jwt ?? '', actor: 'cli' });
    const page = text(await (await admin.get(`/lti/learners/${sam.id}`)).text());
    expect(page).not.toContain(`n° ${imported.import.id} `);
    const res = await fetch(`${server.url}/lti/learners/${sam.id}/imports/${imported.import.id}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin.ltik}`, Cookie: admin.cookieHeader(), Accept: 'application/json' },
    });
    expect(res.status).toBe(404);
    expect(await activeMinutes(other.id)).toBe(30);
  });

  it('POST /api/v1/records/imports: an administrator’s API token of the platform imports; another platform’s token, a learner or no token cannot', async () => {
    const here = (await findUser(db(), sam.platformId, '4')) as User;
    const a = await ensurePlatform(db(), SITE_A);
    const apiLearner = await ensureUser(db(), a.id, '806');
    const post = (authorization: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/api/v1/records/imports`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}), ...headers },
        body: JSON.stringify(body),
      });
    const record = async () => (await db().transaction((tx) => currentRecords(tx, server.ctx, { platformId: here.platformId, userId: here.id })))[0]?.record.jwt;
    // the record imported for another learner of site A just before: refused for this one
    const taken = await record();
    const mine = (await createApiToken(db(), { name: 'site-a', role: 'admin', platformId: a.id })).token;
    expect((await post(mine, { platform: SITE_A, user: '806', record: taken })).status).toBe(409);
    await db().transaction((tx) =>
      grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: here.platformId, userId: here.id, referentialId: REF, competencyKey: '3.2', minutes: 15, justification: 'Présentiel', actor: 'cli' }),
    );
    const samRecord = await record();
    // superseded by now
    expect((await post(mine, { platform: SITE_A, user: '806', record: taken })).status).toBe(400);
    const theirs = (await createApiToken(db(), { name: 'moodle', role: 'admin', platformId: here.platformId })).token;
    const body = { platform: SITE_A, user: '806', record: samRecord, justification: 'Dossier de mutation' };
    expect((await post(undefined, body)).status).toBe(401);
    // a learner's own LTI session (or any session: the binding is an administrator's word)
    expect((await post(String(learner.ltik), body, { Cookie: learner.cookieHeader() })).status).toBe(403);
    expect((await post(theirs, body)).status).toBe(403);
    expect((await post(mine, { ...body, record: 'not a record' })).status).toBe(400);
    expect((await post(mine, { ...body, user: '999' })).status).toBe(404);
    expect(await activeMinutes(apiLearner.id)).toBe(0);
    const res = await post(mine, body);
    expect(res.status).toBe(201);
    const out = (await res.json()) as { import: { importedBy: string; jwt?: string; justification: string }; credits: unknown[] };
    expect(out.import).toMatchObject({ importedBy: 'api-token:site-a', justification: expect.stringMatching(/^Acquis antérieurs : relevé de .+ — Dossier de mutation$/) });
    expect(out.import.jwt).toBeUndefined();
    expect(out.credits).toEqual([
      { competencyKey: '3.1', minutes: 30 },
      { competencyKey: '3.2', minutes: 15 },
    ]);
    expect((await post(mine, body)).status).toBe(200);
    expect(await activeMinutes(apiLearner.id)).toBe(45);
  });
});
