import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { issueCredential } from '../../src/badges/credentials';
import { issueRecord } from '../../src/badges/records';
import { bakedPng, bakedSvg } from '../../src/badges/service';
import { bitAt, decodeBitstring } from '../../src/badges/status-list';
import { auditEvents } from '../../src/db/schema';
import { openStore } from '../../src/db/store';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { testConfig } from '../support/app';
import { freePort, runCliInProcess as runCli, startServe, waitForExit } from '../support/cli';
import { socle28 } from '../badges/referential';

const ltiKey = 'cli-test-lti-key-0123456789abcdef0123456789';

// `socle serve` runs as a real process (twice) on the embedded database: allow for a busy machine.
jest.setTimeout(240_000);


/**
 * `socle badges verify` as a third party: the issuing Socle runs as its own process on loopback, the command reads
 * only the badge file and what the credential names over HTTP (the issuer's key, its status list), never a store.
 */
describe('socle badges (a real socle serve on loopback, the command verifying over HTTP)', () => {
  let dir: string;
  let env: Record<string, string>;
  let publicUrl: string;
  let serve: ChildProcess | undefined;
  let ids: { cyber: string; data: string; list: number; index: number; record: string; di: string; diIndex: number };
  const file = (name: string) => path.join(dir, name);
  const start = async () => {
    serve = (await startServe(env)).child;
  };
  const stop = async () => {
    if (!serve) return;
    serve.kill('SIGTERM');
    await waitForExit(serve);
    serve = undefined;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-badges-cli-'));
    const dataDir = file('data');
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    env = { DATA_DIR: dataDir, LTI_KEY: ltiKey, PUBLIC_URL: publicUrl, PORT: String(port) };
    const store = await openStore({ dataDir });
    try {
      const ctx = { config: testConfig({ publicUrl, ltiKey, dataDir }) };
      const platform = await ensurePlatform(store.db, 'https://moodle.univ-exemple.fr');
      const user = await ensureUser(store.db, platform.id, '4');
      const cyber = await issueCredential(store.db, ctx, { userId: user.id, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 });
      const data = await issueCredential(store.db, ctx, { userId: user.id, referential: socle28, domainCode: '1', creditsEarnedMinutes: 360 });
      ids = { cyber: cyber.credential.id, data: data.credential.id, list: cyber.credential.statusListId as number, index: cyber.credential.statusListIndex as number, record: '', di: '', diIndex: 0 };
      // BADGE_PROOF=data-integrity: the credential JSON with its proof by the key of Socle's did:web document
      const diCtx = { config: testConfig({ publicUrl, ltiKey, dataDir, badgeProof: 'data-integrity' }) };
      const di = await issueCredential(store.db, diCtx, { userId: user.id, referential: socle28, domainCode: '3', creditsEarnedMinutes: 300 });
      ids.di = di.credential.id;
      ids.diIndex = di.credential.statusListIndex as number;
      fs.writeFileSync(file('di.json'), di.credential.jwt);
      const diJson = JSON.parse(di.credential.jwt) as { credentialSubject: Record<string, unknown> };
      fs.writeFileSync(file('tampered-di.json'), JSON.stringify({ ...diJson, credentialSubject: { ...diJson.credentialSubject, creditsEarned: 50 } }));
      const domains = new Map([['1', 360], ['2', 300], ['3', 300]]);
      const { record } = await issueRecord(store.db, ctx, { userId: user.id, referential: socle28, validatedMinutes: domains });
      ids.record = record.id;
      fs.writeFileSync(file('record.jwt'), record.jwt);
      const [rh, rp, rs] = record.jwt.split('.');
      const payload = JSON.parse(Buffer.from(rp ?? '', 'base64url').toString()) as Record<string, unknown>;
      fs.writeFileSync(file('forged-record.jwt'), `${rh}.${Buffer.from(JSON.stringify({ ...payload, name: 'Autre' })).toString('base64url')}.${rs}`);
      fs.writeFileSync(file('cyber.png'), await bakedPng(cyber.achievement, cyber.credential.jwt));
      const svg = bakedSvg(data.achievement, data.credential.jwt);
      fs.writeFileSync(file('data.svg'), svg);
      fs.writeFileSync(file('data.jwt'), `${data.credential.jwt}\n`);
      // Same JWT with its signature changed: verification must fail.
      const [h, p, s] = data.credential.jwt.split('.');
      const otherSig = `${s?.startsWith('A') ? 'B' : 'A'}${s?.slice(1)}`;
      fs.writeFileSync(file('tampered.svg'), svg.replace(`${h}.${p}.${s}`, `${h}.${p}.${otherSig}`));
    } finally {
      await store.close();
    }
    await start();
  });
  afterAll(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies a baked PNG and a JWT file while the server runs, without any Socle variable (no store opened)', async () => {
    const ok = await runCli(['badges', 'verify', file('cyber.png')]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`valid: Cybersécurité en santé — 5\u00a0h (${publicUrl}/badges/${ids.cyber})`);
    const json = await runCli(['badges', 'verify', file('data.jwt'), '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'valid',
      issuer: `${publicUrl}/badges/issuer`,
      kid: expect.stringMatching(new RegExp(`^${publicUrl}/badges/keys/`)),
      statusList: { url: `${publicUrl}/badges/status/${ids.list}`, revoked: false },
    });
  });

  it('verifies a Data Integrity credential over HTTP (its did:web document, its status list) and refuses a changed one', async () => {
    const ok = await runCli(['badges', 'verify', file('di.json'), '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const did = `did:web:127.0.0.1%3A${new URL(publicUrl).port}`;
    expect(JSON.parse(ok.stdout)).toMatchObject({
      status: 'valid',
      credentialId: `${publicUrl}/badges/${ids.di}`,
      issuer: `did:web:127.0.0.1%3A${new URL(publicUrl).port}`,
      statusList: { url: expect.stringMatching(new RegExp(`^${publicUrl}/badges/status/`)), index: ids.diIndex, revoked: false },
    });
    const proof = (JSON.parse(fs.readFileSync(file('di.json'), 'utf8')) as { proof: { verificationMethod: string } }).proof;
    expect(proof.verificationMethod.startsWith(`${did}#`)).toBe(true);
    const bad = await runCli(['badges', 'verify', file('tampered-di.json'), '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'invalid', errors: [expect.stringMatching(/signature rejected/)] });
  });

  it('refuses a tampered SVG or a missing file (exit 1)', async () => {
    const bad = await runCli(['badges', 'verify', file('tampered.svg'), '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'invalid', errors: [expect.stringMatching(/signature/)] });

    const missing = await runCli(['badges', 'verify', file('nope.png')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual([`socle: cannot read ${file('nope.png')}: ENOENT`]);
  });

  it('after a revocation (audited), the status list bit is set, the command exits 1 "revoked" and the page says revoked', async () => {
    const listUrl = `${publicUrl}/badges/status/${ids.list}`;
    const before = await fetch(listUrl);
    expect(before.headers.get('content-type')).toMatch(/^application\/vc\+jwt/);
    const etag = before.headers.get('etag') as string;
    expect((await fetch(listUrl, { headers: { 'If-None-Match': etag } })).status).toBe(304);

    // the embedded database has one process at a time: the administrator stops the server to run the command
    await stop();
    // the issuer out of reach: nothing can be said (exit 1, "unknown")
    const unreachable = await runCli(['badges', 'verify', file('data.jwt'), '--json']);
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.stdout)).toMatchObject({ status: 'unknown', errors: [expect.any(String)] });
    const revoke = await runCli(['badges', 'revoke', `${publicUrl}/badges/${ids.cyber}`, '--reason', 'Heures retirées par la scolarité'], env);
    expect(revoke.stderr).toBe('');
    expect(revoke.stdout.trim()).toBe(`revoked ${ids.cyber}`);
    expect((await runCli(['badges', 'revoke', ids.di, '--reason', 'Erreur de saisie'], env)).stdout.trim()).toBe(`revoked ${ids.di}`);
    const rotate = await runCli(['badges', 'keys', 'rotate', '--alg', 'ES256', '--json'], env);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ alg: 'ES256', retired: [expect.any(String)] });
    const store = await openStore({ dataDir: env.DATA_DIR as string });
    try {
      const audit = await store.db.select().from(auditEvents).where(eq(auditEvents.subject, `badge:${ids.cyber}`));
      expect(audit).toMatchObject([{ actor: 'cli', action: 'badge.revoke', after: { status: 'revoked', reason: 'Heures retirées par la scolarité' } }]);
    } finally {
      await store.close();
    }
    await start();

    const after = await fetch(listUrl, { headers: { 'If-None-Match': etag, Accept: 'application/json' } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
    const list = (await after.json()) as { type: string[]; credentialSubject: { statusPurpose: string; encodedList: string } };
    expect(list).toMatchObject({ type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: { statusPurpose: 'revocation' } });
    const bits = decodeBitstring(list.credentialSubject.encodedList);
    expect(bits.length * 8).toBe(131_072);
    expect(bitAt(bits, ids.index)).toBe(true);
    expect(bitAt(bits, ids.diIndex)).toBe(true);
    expect([...bits].filter((b) => b !== 0).length).toBeGreaterThanOrEqual(1);

    const verify = await runCli(['badges', 'verify', file('cyber.png'), '--json']);
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toMatchObject({ status: 'revoked', statusList: { url: listUrl, index: ids.index, revoked: true } });
    const di = await runCli(['badges', 'verify', file('di.json'), '--json']);
    expect(di.code).toBe(1);
    expect(JSON.parse(di.stdout)).toMatchObject({ status: 'revoked', statusList: { index: ids.diIndex, revoked: true } });
    // the other credential, signed by the key now retired, still verifies
    const other = await runCli(['badges', 'verify', file('data.svg')]);
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('valid: Données de santé — 6\u00a0h');

    const page = await fetch(`${publicUrl}/badges/${ids.cyber}`, { headers: { Accept: 'application/json' } });
    expect(await page.json()).toMatchObject({ status: 'revoked', revocationReason: 'Heures retirées par la scolarité' });
    const html = await (await fetch(`${publicUrl}/badges/${ids.cyber}`, { headers: { Accept: 'text/html' } })).text();
    expect(html).toContain('Badge révoqué');
  });

  it('recognises a learner record (CLR 2.0) and verifies it over HTTP while the server runs: valid exits 0, a changed one exits 1', async () => {
    // no Socle variable: the key of the record's kid and its status at its id, read from the running server
    const ok = await runCli(['badges', 'verify', file('record.jwt')]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`valid: learner record ${socle28.id} ${socle28.version} (${ids.record})`);
    const json = await runCli(['badges', 'verify', file('record.jwt'), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'valid', credentials: [{ creditsEarned: 6 }, { creditsEarned: 5 }, { creditsEarned: 5 }] });
    const forged = await runCli(['badges', 'verify', file('forged-record.jwt'), '--json']);
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ status: 'invalid', errors: [expect.stringMatching(/signature/)] });
  });
});
