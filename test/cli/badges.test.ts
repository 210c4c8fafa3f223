import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { issueCredential } from '../../src/badges/credentials';
import { issueRecord } from '../../src/badges/records';
import { bakedPng, bakedSvg } from '../../src/badges/service';
import { auditEvents } from '../../src/db/schema';
import { openStore } from '../../src/db/store';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { testConfig } from '../support/app';
import { runCliInProcess as runCli } from '../support/cli';
import { socle28 } from '../badges/referential';

const publicUrl = 'https://socle.univ-exemple.fr';
const ltiKey = 'cli-test-lti-key-0123456789abcdef0123456789';

// Each step opens the embedded store again (a PGlite reopen): allow for a busy machine.
jest.setTimeout(90_000);

describe('socle badges (real processes on the embedded database)', () => {
  let dir: string;
  let env: Record<string, string>;
  let ids: { cyber: string; data: string; record: string };
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-badges-cli-'));
    const dataDir = file('data');
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
    env = { DATA_DIR: dataDir, LTI_KEY: ltiKey, PUBLIC_URL: publicUrl };
    const store = await openStore({ dataDir });
    try {
      const ctx = { config: testConfig({ publicUrl, ltiKey, dataDir }) };
      const platform = await ensurePlatform(store.db, 'https://moodle.univ-exemple.fr');
      const user = await ensureUser(store.db, platform.id, '4');
      const cyber = await issueCredential(store.db, ctx, { userId: user.id, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 });
      const data = await issueCredential(store.db, ctx, { userId: user.id, referential: socle28, domainCode: '1', creditsEarnedMinutes: 360 });
      ids = { cyber: cyber.credential.id, data: data.credential.id, record: '' };
      const domains = new Map([['1', 360], ['2', 300], ['3', 60]]);
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
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('verifies a baked PNG (exit 0) and refuses a tampered SVG or a missing file (exit 1)', async () => {
    const ok = await runCli(['badges', 'verify', file('cyber.png')], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`valid: Cybersécurité en santé — 5\u00a0h (${publicUrl}/badges/${ids.cyber})`);

    const bad = await runCli(['badges', 'verify', file('tampered.svg'), '--json'], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'invalid', errors: [expect.stringMatching(/signature/)] });

    const missing = await runCli(['badges', 'verify', file('nope.png')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual([`socle: cannot read ${file('nope.png')}: ENOENT`]);
  });

  it('recognises a learner record (CLR 2.0): valid exits 0, a changed one exits 1', async () => {
    const ok = await runCli(['badges', 'verify', file('record.jwt')], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`valid: learner record ${socle28.id} ${socle28.version} (${ids.record})`);
    const json = await runCli(['badges', 'verify', file('record.jwt'), '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'valid', credentials: [{ creditsEarned: 6 }, { creditsEarned: 5 }, { creditsEarned: 1 }] });
    const forged = await runCli(['badges', 'verify', file('forged-record.jwt'), '--json'], env);
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ status: 'invalid', errors: [expect.stringMatching(/signature/)] });
  });

  it('revokes with a reason (audited), after which verification exits 1 and says revoked', async () => {
    const revoke = await runCli(['badges', 'revoke', `${publicUrl}/badges/${ids.cyber}`, '--reason', 'Heures retirées par la scolarité'], env);
    expect(revoke.stderr).toBe('');
    expect(revoke.stdout.trim()).toBe(`revoked ${ids.cyber}`);
    const verify = await runCli(['badges', 'verify', file('cyber.png'), '--json'], env);
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toMatchObject({ status: 'revoked', revocationReason: 'Heures retirées par la scolarité' });

    const store = await openStore({ dataDir: env.DATA_DIR as string });
    try {
      const audit = await store.db.select().from(auditEvents).where(eq(auditEvents.subject, `badge:${ids.cyber}`));
      expect(audit).toMatchObject([{ actor: 'cli', action: 'badge.revoke', after: { status: 'revoked', reason: 'Heures retirées par la scolarité' } }]);
    } finally {
      await store.close();
    }
  });

  it('rotates the signing key; credentials signed by the retired key still verify', async () => {
    const rotate = await runCli(['badges', 'keys', 'rotate', '--alg', 'RS256', '--json'], env);
    expect(rotate.stderr).toBe('');
    const result = JSON.parse(rotate.stdout) as { kid: string; alg: string; retired: string[] };
    expect(result).toMatchObject({ alg: 'RS256', retired: [expect.any(String)] });
    const verify = await runCli(['badges', 'verify', file('data.jwt')], env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('valid: Données de santé — 6\u00a0h');
  });
});
