import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { and, eq, sql } from 'drizzle-orm';
import { issueCredential, revokeCredential } from '../../src/badges/credentials';
import { issueRecord } from '../../src/badges/records';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { recordClaims } from '../../src/badges/record-import';
import { creditsOf, importRecord, listImports } from '../../src/coverage/imports';
import { currentRecords } from '../../src/coverage/records';
import { auditEvents, manualCredits } from '../../src/db/schema';
import { openStore, queryRows } from '../../src/db/store';
import { SocleError } from '../../src/domain/errors';
import type { ReferentialVersion } from '../../src/domain/coverage';
import { ensurePlatform, ensureUser, findPlatform, findUser } from '../../src/identity/records';
import { testConfig, testContext } from '../support/app';
import { freePort, runCliInProcess as runCli, startServe, waitForExit } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';
import { arm18, socle28 } from '../domain/coverage-fixtures';
import { fixtureReferentials } from './support';

// the issuing Socle runs as its own process (`socle serve` on loopback, its own embedded database)
jest.setTimeout(120_000);

const ltiKey = 'import-test-lti-key-0123456789abcdef012345';
const OTHER_MOODLE = 'https://moodle.autre-univ.fr';
const HERE = 'https://moodle.univ-exemple.fr';

/**
 * This Socle's copy of the 28 h référentiel: competency 1.3 under another key (matched by its code), 1.4 missing
 * (listed, not credited).
 */
const localSocle28: ReferentialVersion = {
  ...socle28,
  domains: socle28.domains.map((d) =>
    d.code !== '1'
      ? d
      : { ...d, competencies: d.competencies.filter((c) => c.key !== '1.4').map((c) => (c.key === '1.3' ? { ...c, key: 'donnees_3' } : c)) },
  ),
};
const services = { referentials: fixtureReferentials([localSocle28, arm18]) };


let dir: string;
let issuerUrl: string;
let serve: ChildProcess | undefined;
/** The records of the issuing Socle, as files a learner brings. */
const files: Record<'ok' | 'tampered' | 'revoked' | 'superseded' | 'newer' | 'unknownVersion' | 'json', string> = {} as never;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-imports-'));
  const dataDir = path.join(dir, 'issuer');
  const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
  if (template) fs.cpSync(template, dataDir, { recursive: true });
  const port = await freePort();
  issuerUrl = `http://127.0.0.1:${port}`;
  const store = await openStore({ dataDir });
  const write = (name: keyof typeof files, content: string) => {
    files[name] = path.join(dir, `${name}.jwt`);
    fs.writeFileSync(files[name], content);
  };
  try {
    const ctx = { config: testConfig({ publicUrl: issuerUrl, ltiKey, dataDir }) };
    const platform = await ensurePlatform(store.db, OTHER_MOODLE);
    const [ines, paul, zoe] = [await ensureUser(store.db, platform.id, '4'), await ensureUser(store.db, platform.id, '5'), await ensureUser(store.db, platform.id, '6')];
    // Inès: domain 2 complete (her badge, embedded with its status), domain 1 partly, on four competencies
    await issueCredential(store.db, ctx, { userId: ines.id, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 });
    const ok = await issueRecord(store.db, ctx, {
      userId: ines.id,
      referential: socle28,
      validatedMinutes: new Map([['1', 150], ['2', 300]]),
      competencyMinutes: new Map([['1.1', 60], ['1.3', 40], ['1.4', 50], ['2.1', 240], ['2.2', 60]]),
    });
    write('ok', ok.record.jwt);
    const [h, p, s] = ok.record.jwt.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as { credentialSubject: { verifiableCredential: { credentialSubject: { creditsEarned: number } }[] } };
    for (const vc of payload.credentialSubject.verifiableCredential) vc.credentialSubject.creditsEarned *= 10;
    write('tampered', `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`);
    // Paul: his record embeds his badge, revoked since by the issuer
    const badge = await issueCredential(store.db, ctx, { userId: paul.id, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 });
    const revoked = await issueRecord(store.db, ctx, {
      userId: paul.id,
      referential: socle28,
      validatedMinutes: new Map([['2', 300]]),
      competencyMinutes: new Map([['2.1', 300]]),
    });
    write('revoked', revoked.record.jwt);
    await revokeCredential(store.db, badge.credential.id, 'Heures retirées par la scolarité');
    // Zoé: an older record, superseded by a newer one
    const older = await issueRecord(store.db, ctx, { userId: zoe.id, referential: socle28, validatedMinutes: new Map([['3', 60]]), competencyMinutes: new Map([['3.1', 60]]) });
    write('superseded', older.record.jwt);
    const newer = await issueRecord(store.db, ctx, { userId: zoe.id, referential: socle28, validatedMinutes: new Map([['3', 120]]), competencyMinutes: new Map([['3.1', 120]]) });
    write('newer', newer.record.jwt);
    // a référentiel version this Socle does not have
    const future = { ...socle28, version: 'V9.9' };
    const unknown = await issueRecord(store.db, ctx, { userId: zoe.id, referential: future, validatedMinutes: new Map([['1', 60]]), competencyMinutes: new Map([['1.1', 60]]) });
    write('unknownVersion', unknown.record.jwt);
  } finally {
    await store.close();
  }
  serve = (await startServe({ DATA_DIR: dataDir, LTI_KEY: ltiKey, PUBLIC_URL: issuerUrl, PORT: String(port) })).child;
  // the JSON of the record's page, as a learner may save it
  const page = await fetch(JSON.parse(Buffer.from(fs.readFileSync(files.newer, 'utf8').split('.')[1] ?? '', 'base64url').toString()).id, { headers: { accept: 'application/json' } });
  files.json = path.join(dir, 'newer.json');
  fs.writeFileSync(files.json, await page.text());
});
afterAll(async () => {
  if (serve) {
    serve.kill('SIGTERM');
    await waitForExit(serve);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('creditsOf (what a record credits here)', () => {
  it('matches by key, else by a code one competency bears; lists the rest; never exceeds the domain’s hours', () => {
    const claims = {
      domains: new Map([['1', 100]]),
      competencies: [
        { domainCode: '1', key: '1.1', code: '1.1', title: '', minutes: 60 },
        { domainCode: '1', key: '1.3', code: '1.3', title: '', minutes: 30 },
        { domainCode: '1', key: '1.9', code: '1.9', title: '', minutes: 20 },
        { domainCode: '1', key: '1.2', code: '1.2', title: '', minutes: 30 },
      ],
    };
    expect(creditsOf(claims, localSocle28)).toEqual({
      credits: [
        { competencyKey: '1.1', minutes: 60 },
        { competencyKey: 'donnees_3', minutes: 30 },
        { competencyKey: '1.2', minutes: 10 },
      ],
      missing: [{ domainCode: '1', key: '1.9', code: '1.9', minutes: 20 }],
    });
  });
});

describe('recordClaims (what a verified record states)', () => {
  const vc = (achievementId: string, creditsEarned: unknown) => ({ credentialSubject: { achievement: { id: achievementId, humanCode: '1.1', name: '1.1 Identifier' }, creditsEarned } });
  const payload = (...credentials: unknown[]) => ({
    id: 'https://socle.autre.fr/records/r',
    iss: 'https://socle.autre.fr/badges/issuer',
    issuer: { id: 'https://socle.autre.fr/badges/issuer', name: 'CHU d’Ailleurs' },
    validFrom: '2026-06-30T08:00:00Z',
    credentialSubject: { identifier: [{ identityType: 'ltiPlatformId', hashed: false, identityHash: OTHER_MOODLE }], verifiableCredential: credentials },
  });
  const base = 'https://socle.autre.fr/achievements/socle/V1/domains';
  it('reads the domains’ and competencies’ hours in whole minutes, never rounding up; skips the référentiel’s badge', () => {
    const claims = recordClaims(payload(vc(`${base}/1`, 1.5), vc(`${base}/1/competencies/1.1`, 0.33), vc('https://socle.autre.fr/achievements/socle/V1', 28)), { id: 'socle', version: 'V1' });
    expect(claims).toMatchObject({ issuer: { name: 'CHU d’Ailleurs' }, subject: { platform: OTHER_MOODLE }, competencies: [{ domainCode: '1', key: '1.1', code: '1.1', title: 'Identifier', minutes: 19 }] });
    expect([...claims.domains]).toEqual([['1', 90]]);
  });
  it('refuses implausible hours and keeps a malformed id segment as it is (4xx, never a crash)', () => {
    expect(() => recordClaims(payload(vc(`${base}/1`, 1e9)), { id: 'socle', version: 'V1' })).toThrow(/not importable: invalid/);
    expect(recordClaims(payload(vc(`${base}/1/competencies/%E0%A4%A`, 1)), { id: 'socle', version: 'V1' }).competencies[0]?.key).toBe('%E0%A4%A');
  });
});

describe.each(drivers)('prior learning from learner records on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  const publicUrl = 'https://socle.univ-exemple.fr';
  const cli = (...args: string[]) => runCli(args, env, services);
  const importFile = (file: string, sub = '40', ...extra: string[]) => cli('credits', 'import', '--platform', HERE, '--user', sub, '--file', file, '--json', ...extra);
  const withStore = async <T>(run: (db: Awaited<ReturnType<typeof openStore>>['db'], store: Awaited<ReturnType<typeof openStore>>) => Promise<T>) => {
    const store = await openStore(database.options);
    try {
      return await run(store.db, store);
    } finally {
      await store.close();
    }
  };
  const validatedIn = async (db: Awaited<ReturnType<typeof openStore>>['db'], sub: string) =>
    (await queryRows<{ v: number }>(db, sql`SELECT coalesce(sum(validated_minutes), 0)::int AS v FROM learner_coverage lc JOIN users u ON u.id = lc.user_id WHERE u.sub = ${sub}`))[0]?.v;
  const validated = (sub: string) => withStore((db) => validatedIn(db, sub));
  const activeCredits = (sub: string) =>
    withStore((db) =>
      db
        .select({ key: manualCredits.competencyKey, minutes: manualCredits.minutes, justification: manualCredits.justification })
        .from(manualCredits)
        .innerJoin(sql`users u`, sql`u.id = ${manualCredits.userId}`)
        .where(and(sql`u.sub = ${sub}`, sql`${manualCredits.revokedAt} IS NULL`))
        .orderBy(manualCredits.competencyKey),
    );

  beforeAll(async () => {
    database = await createTestDatabase(driver);
    env = {
      ...('databaseUrl' in database.options ? { DATABASE_URL: database.options.databaseUrl } : { DATA_DIR: database.options.dataDir }),
      LTI_KEY: ltiKey,
      PUBLIC_URL: publicUrl,
    };
    await withStore(async (db) => {
      const platform = await ensurePlatform(db, HERE);
      for (const sub of ['40', '41', '42']) await ensureUser(db, platform.id, sub);
      const other = await ensurePlatform(db, 'https://moodle.autre-site.univ-exemple.fr');
      await ensureUser(db, other.id, '40');
    });
  });
  afterAll(() => database.destroy());

  it('imports a record of another Socle, verified over HTTP: the matching competencies credited, the rest listed, audited', async () => {
    const res = await importFile(files.ok, '40', '--justification', 'Relevé remis par l’apprenante');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { import: { id: number; issuer: string; status: string; creditedMinutes: number; justification: string }; created: boolean; credits: unknown[]; missing: unknown[] };
    expect(out).toMatchObject({
      created: true,
      import: { issuer: `${issuerUrl}/badges/issuer`, status: 'active', creditedMinutes: 400 },
      credits: [
        { competencyKey: '1.1', minutes: 60 },
        { competencyKey: 'donnees_3', minutes: 40 },
        { competencyKey: '2.1', minutes: 240 },
        { competencyKey: '2.2', minutes: 60 },
      ],
      missing: [{ domainCode: '1', key: '1.4', code: '1.4', minutes: 50 }],
    });
    expect(out.import.justification).toMatch(/^Acquis antérieurs : relevé de Socle — 127\.0\.0\.1:\d+ du \d+ \S+ \d{4} — Relevé remis par l’apprenante$/);
    expect(await validated('40')).toBe(400);
    const credits = await activeCredits('40');
    expect(credits.map((c) => [c.key, c.minutes])).toEqual([['1.1', 60], ['2.1', 240], ['2.2', 60], ['donnees_3', 40]]);
    expect(new Set(credits.map((c) => c.justification))).toEqual(new Set([out.import.justification]));
    const audit = await withStore((db) => db.select().from(auditEvents).where(eq(auditEvents.action, 'record-import.import')));
    expect(audit).toMatchObject([{ actor: 'cli', after: { id: out.import.id, issuer: `${issuerUrl}/badges/issuer`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } }]);
    const listed = await cli('credits', 'imports', 'list', '--platform', HERE);
    expect(listed.stdout).toContain(`${out.import.id}\t40\tSocle — 127.0.0.1:`);
    expect(listed.stdout).toContain('\t6\u00a0h\u00a040\tactive\t');
  });

  it('imports the same record once: again for the learner changes nothing, for another learner is refused', async () => {
    const again = await importFile(files.ok);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, import: { creditedMinutes: 400 } });
    expect(await validated('40')).toBe(400);
    const other = await importFile(files.ok, '41');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/^socle: --file: this record is already imported for another learner/);
    expect(await validated('41')).toBe(0);
  });

  it('refuses a tampered record, one whose badge was revoked, a superseded one and one of an unknown référentiel version; nothing stored', async () => {
    const tampered = await importFile(files.tampered, '41');
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/^socle: --file: the record is not importable: invalid \(signature or dates rejected/);
    const revoked = await importFile(files.revoked, '41');
    expect(revoked.stderr).toMatch(/^socle: --file: the record is not importable: revoked \(an embedded credential: revoked by its issuer\)/);
    const superseded = await importFile(files.superseded, '41');
    expect(superseded.stderr).toMatch(/^socle: --file: the record is not importable: superseded/);
    const unknown = await importFile(files.unknownVersion, '41');
    expect(unknown.stderr).toMatch(/^socle: this Socle has no référentiel socle-sante-28h version V9\.9/);
    expect(await validated('41')).toBe(0);
    expect(await withStore((db) => queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM imported_records`))).toEqual([{ n: 1 }]);
  });

  it('imports the JSON of the record’s page (its newer record); revoking the import removes its hours', async () => {
    const res = await importFile(files.json, '42');
    expect(res.stderr).toBe('');
    const id = (JSON.parse(res.stdout) as { import: { id: number } }).import.id;
    expect(await validated('42')).toBe(120);
    const revoke = await cli('credits', 'imports', 'revoke', String(id), '--reason', 'Relevé d’une autre personne');
    expect(revoke.stdout.trim()).toBe(`Revoked imported record ${id} and its credits.`);
    expect(await validated('42')).toBe(0);
    expect(await activeCredits('42')).toEqual([]);
    expect((await cli('credits', 'imports', 'revoke', String(id))).stderr).toContain(`no active imported record ${id}`);
    const listed = JSON.parse((await cli('credits', 'imports', 'list', '--platform', HERE, '--user', '42', '--json')).stdout) as { status: string; revocationReason: string }[];
    expect(listed).toMatchObject([{ status: 'revoked', revocationReason: 'Relevé d’une autre personne' }]);
    // another platform of this Socle sees none of these imports
    expect((await cli('credits', 'imports', 'list', '--platform', 'https://moodle.autre-site.univ-exemple.fr')).stdout.trim()).toBe('No imported record.');
  });

  it('two platforms of one Socle: a record issued for platform A imported on B (verified by its signature, read from the store); a newer one replaces it', async () => {
    await withStore(async (db, store) => {
      const ctx = testContext(store, services, testConfig({ publicUrl, ltiKey }));
      const found = <T>(value: T | undefined): T => {
        if (value === undefined) throw new Error('not found');
        return value;
      };
      const a = found(await findPlatform(db, 'https://moodle.autre-site.univ-exemple.fr'));
      const b = found(await findPlatform(db, HERE));
      const onA = found(await findUser(db, a.id, '40'));
      const onB = await ensureUser(db, b.id, '50');
      const grant = (competencyKey: string, minutes: number) =>
        db.transaction((tx) =>
          grantManualCredit(tx, coverageDeps(ctx, tx), { platformId: a.id, userId: onA.id, referentialId: socle28.id, competencyKey, minutes, justification: 'Présentiel', actor: 'test' }),
        );
      const record = async () => found((await db.transaction((tx) => currentRecords(tx, ctx, { platformId: a.id, userId: onA.id })))[0]).record;
      const importOn = (platformId: number, userId: number, jwt: string) =>
        importRecord(db, ctx, ctx, { platformId, userId, record: jwt, actor: 'test' });
      await grant('5.1', 90);
      const first = await record();
      const imported = await importOn(b.id, onB.id, first.jwt);
      expect(imported).toMatchObject({ created: true, credits: [{ competencyKey: '5.1', minutes: 90 }], missing: [] });
      expect(imported.import.issuer).toBe(`${publicUrl}/badges/issuer`);
      expect(await validatedIn(db, '50')).toBe(90);
      // back on platform A, the record is the learner's own (or another learner's): refused
      await expect(importOn(a.id, onA.id, first.jwt)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already theirs/) });
      const someoneElse = await ensureUser(db, a.id, '99');
      await expect(importOn(a.id, someoneElse.id, first.jwt)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/another learner's/) });
      // more hours on A: its newer record replaces the import on B (the older one, now superseded, is refused)
      await grant('5.2', 30);
      const second = await record();
      expect(second.id).not.toBe(first.id);
      const replaced = await importOn(b.id, onB.id, second.jwt);
      expect(replaced).toMatchObject({ created: true, replaced: imported.import.id });
      expect(await validatedIn(db, '50')).toBe(120);
      await expect(importOn(b.id, onB.id, first.jwt)).rejects.toBeInstanceOf(SocleError);
      const imports = await listImports(db, { platformId: b.id, userId: onB.id });
      expect(imports.map((i) => i.status)).toEqual(['active', 'replaced']);
    });
  });
});
