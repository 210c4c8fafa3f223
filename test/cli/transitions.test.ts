/**
 * `socle referentials transition …`: a new version imported with `socle referentials import`, then propose → set →
 * preview → apply (refused without --accept-losses) → report as CSV, on a platform with a mapping and two credits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { openStore } from '../../src/db/store';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { getReferential, loadBundledReferentials } from '../../src/referentials/catalogue';
import { testContext } from '../support/app';
import { runCliInProcess as runCli } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';
import { NEW, nextVersion, OLD } from '../transitions/support';

const driver = drivers.includes('postgres') ? 'postgres' : 'pglite';
const ISSUER = 'https://moodle.example.fr';

describe(`socle referentials transition (in process, ${driver})`, () => {
  let env: Record<string, string>;
  let destroy: () => Promise<void>;
  let work: string;
  const which = ['--platform', ISSUER, '--from', `${OLD.id}@${OLD.version}`, '--to', `${NEW.id}@${NEW.version}`];

  beforeAll(async () => {
    const database = await createTestDatabase(driver);
    destroy = database.destroy;
    env = 'dataDir' in database.options ? { DATA_DIR: database.options.dataDir } : { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789' };
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-transition-cli-'));
    const store = await openStore(database.options);
    try {
      const db = store.db;
      const ctx = testContext(store, { badges: undefined });
      await loadBundledReferentials(db);
      const old = await getReferential(db, OLD.id, OLD.version);
      if (!old) throw new Error('no bundled version');
      const platform = await ensurePlatform(db, ISSUER);
      const course = await ensureCourse(db, platform.id, '7');
      const iri = `${ISSUER}/mod/page/view.php?id=1`;
      await saveMapping(db, ctx, { courseId: course.id, referential: old, activityIris: new Set([iri]), entries: [{ activityIri: iri, competencyKey: '2.1', minutes: 60 }], actor: 'test' });
      const learner = await ensureUser(db, platform.id, '42', { name: 'Inès Martin' });
      for (const [competencyKey, minutes] of [['1.1', 90], ['3.3', 30]] as const) {
        await db.transaction((tx) =>
          grantManualCredit(tx, coverageDeps(ctx, tx), { platformId: platform.id, userId: learner.id, referentialId: OLD.id, referentialVersion: OLD.version, competencyKey, minutes, justification: 'Présentiel', actor: 'test' }),
        );
      }
    } finally {
      await store.close();
    }
  });
  afterAll(async () => {
    await destroy?.();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('imports the new version, proposes, edits, previews, refuses the losses, applies once and reports them as CSV', async () => {
    const file = path.join(work, 'next.json');
    fs.writeFileSync(file, JSON.stringify(nextVersion()));
    expect((await runCli(['referentials', 'import', file], env)).code).toBe(0);

    const proposed = await runCli(['referentials', 'transition', 'propose', ...which, '--json'], env);
    expect(proposed.stderr).toBe('');
    const table = JSON.parse(proposed.stdout) as { status: string; correspondence: { from: string; to: string | null; reason: string }[] };
    expect(table.status).toBe('draft');
    expect(table.correspondence.filter((r) => r.from !== r.to)).toEqual([
      expect.objectContaining({ from: '1.1', to: '1.0', reason: 'same_title' }),
      expect.objectContaining({ from: '2.1', to: null, reason: 'none' }),
      expect.objectContaining({ from: '3.3', to: null, reason: 'none' }),
    ]);

    const bad = await runCli(['referentials', 'transition', 'set', '2.1=9.9', ...which], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"9.9" is not a competency of the new version');
    const set = await runCli(['referentials', 'transition', 'set', '2.1=2.1a', '3.3=none', ...which], env);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('2.1 Concevoir et maintenir sécurisé son environnement');
    expect(set.stdout).toContain('→ 2.1a Concevoir son environnement numérique professionnel [modifié à la main]');

    const preview = await runCli(['referentials', 'transition', 'preview', ...which], env);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain('1 apprenant(s) concerné(s), 1 dont les heures changent, 1 qui perdent des heures.');
    expect(preview.stdout).toContain('PERTE 42 (Inès Martin)\u00a0: 2\u00a0h → 1\u00a0h\u00a030\u00a0; domaine 3\u00a0: 0\u00a0h\u00a030 → 0\u00a0h');

    const refused = await runCli(['referentials', 'transition', 'apply', ...which], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('1 learner(s) would lose validated hours');
    expect(refused.stderr).toContain('--accept-losses');

    const applied = await runCli(['referentials', 'transition', 'apply', '--accept-losses', ...which, '--json'], env);
    expect(applied.stderr).toBe('');
    expect(JSON.parse(applied.stdout)).toMatchObject({ transition: { status: 'applied', appliedBy: 'cli' }, report: { losses: 1, credits: { moved: 1, revoked: 1 } } });

    const csv = await runCli(['referentials', 'transition', 'report', ...which, '--format', 'csv'], env);
    expect(csv.stdout.split('\r\n')).toEqual([
      '\uFEFFancienne_version;nouvelle_version;apprenant;nom;domaine;heures_avant;heures_apres;heures_perdues;heures_gagnees',
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};42;Inès Martin;total;2,00;1,50;0,50;0,00`,
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};42;Inès Martin;3;0,50;0,00;0,50;0,00`,
      '',
    ]);
    const again = await runCli(['referentials', 'transition', 'apply', '--accept-losses', ...which], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('was applied on');
    const show = await runCli(['referentials', 'transition', 'show', ...which], env);
    expect(show.stdout).toMatch(/appliquée le .* par cli/);
  });
});
