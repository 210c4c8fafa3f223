import { count, eq } from 'drizzle-orm';
import { referentialCompetencies, referentials } from '../../src/db/schema';
import {
  bundledReferentials,
  getReferential,
  listReferentials,
  loadBundledReferentials,
  saveReferential,
} from '../../src/referentials/catalogue';
import type { Referential } from '../../src/domain/referential';
import { openStore } from '../../src/db/store';
import { startTestServer, type TestServer } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';

const rowCounts = async (t: { store: TestStore['store'] }) => {
  const [r] = await t.store.db.select({ n: count() }).from(referentials);
  const [c] = await t.store.db.select({ n: count() }).from(referentialCompetencies);
  return { referentials: r?.n, competencies: c?.n };
};

// One real server per driver (one PGlite start): the HTTP API first, then the catalogue functions on its store.
describe.each(drivers)('référentiels on %s', (driver) => {
  let server: TestServer;
  let t: { store: TestServer['ctx']['store'] };
  beforeAll(async () => {
    server = await startTestServer(driver);
    t = { store: server.ctx.store };
  });
  afterAll(() => server?.destroy());

  it('lists the ten référentiels loaded at start', async () => {
    const res = await fetch(`${server.url}/api/v1/referentials`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { referentials: { id: string; version: string; requiredMinutes: number | null }[] };
    expect(body.referentials).toHaveLength(10);
    expect(body.referentials.filter((r) => r.requiredMinutes !== null).map((r) => (r.requiredMinutes ?? 0) / 60).sort((a, b) => a - b)).toEqual(
      [12, 18, 18, 21, 28, 28],
    );
  });

  it('gives one référentiel, a given version, its exports, and precise errors', async () => {
    const res = await fetch(`${server.url}/api/v1/referentials/socle-sante-niveaux-4-8`);
    expect(res.status).toBe(200);
    const ref = (await res.json()) as Referential;
    expect(ref.domains.map((d) => d.requiredMinutes)).toEqual([360, 300, 300, 360, 360]);

    const versioned = await fetch(`${server.url}/api/v1/referentials/socle-sante-niveaux-4-8?version=V1.1.2022`);
    expect(((await versioned.json()) as Referential).version).toBe('V1.1.2022');

    const missing = await fetch(`${server.url}/api/v1/referentials/socle-sante-niveaux-4-8?version=V9`, {
      headers: { 'X-Request-Id': 'r-9' },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: {
        status: 404,
        code: 'not_found',
        message: 'The référentiel socle-sante-niveaux-4-8 has no version V9; its versions: V1.1.2022.',
        requestId: 'r-9',
      },
    });
    const bad = await fetch(`${server.url}/api/v1/referentials/socle-ambulanciers?format=pdf`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe('query.format');

    const csv = await fetch(`${server.url}/api/v1/referentials/socle-ambulanciers?format=moodle-csv`);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect((await csv.text()).startsWith('"Parent id number","Id number",Shortname,')).toBe(true);
    const pkg = await fetch(`${server.url}/api/v1/referentials/socle-ambulanciers?format=case`);
    expect(((await pkg.json()) as { CFDocument: { version: string } }).CFDocument.version).toBe('V1.1.2023');
  });

  it('loads the ten bundled référentiels once, then changes nothing', async () => {
    // The PGlite test template already holds them (as after a first start): start from an empty catalogue.
    await t.store.db.delete(referentials);
    const first = await loadBundledReferentials(t.store.db);
    expect(first.added).toHaveLength(10);
    const after = await rowCounts(t);
    const totalCompetencies = bundledReferentials().reduce((n, r) => n + r.domains.reduce((m, d) => m + d.competencies.length, 0), 0);
    expect(after).toEqual({ referentials: 10, competencies: totalCompetencies });

    const started = performance.now();
    const second = await loadBundledReferentials(t.store.db);
    const ms = performance.now() - started;
    expect(second).toEqual({ added: [], unchanged: 10, conflicts: [] });
    expect(await rowCounts(t)).toEqual(after);
    expect(ms).toBeLessThan(500);
  });

  it('reads back the same référentiel, with keys and integer minutes, and lists them', async () => {
    const bundled = bundledReferentials().find((r) => r.id === 'socle-assistants-regulation-medicale');
    expect(await getReferential(t.store.db, 'socle-assistants-regulation-medicale')).toEqual(bundled);
    const rows = await t.store.db
      .select({ key: referentialCompetencies.key, code: referentialCompetencies.code })
      .from(referentialCompetencies)
      .where(eq(referentialCompetencies.referentialId, 'socle-assistants-regulation-medicale'));
    expect(rows.filter((r) => r.code === '4.1').map((r) => r.key).sort()).toEqual(['4.1', '4.1b']);
    const list = await listReferentials(t.store.db);
    expect(list.find((r) => r.id === 'socle-sante-niveaux-4-8')).toMatchObject({
      version: 'V1.1.2022',
      requiredMinutes: 1680,
      domains: 5,
      competencies: 15,
      origin: 'bundled',
      latest: true,
    });
    expect(await getReferential(t.store.db, 'nothing')).toBeUndefined();
    expect(await getReferential(t.store.db, 'socle-ambulanciers', 'V9')).toBeUndefined();
  });

  it('adds a new version beside the old one, and refuses to overwrite a version with another content', async () => {
    const old = (await getReferential(t.store.db, 'socle-ambulanciers')) as Referential;
    const next: Referential = { ...old, version: 'V1.2.2025', requiredMinutes: 13 * 60 };
    next.domains = old.domains.map((d, i) => (i === 0 ? { ...d, requiredMinutes: 3 * 60 } : d));
    expect(await saveReferential(t.store.db, next, 'import')).toBe('added');
    expect(await saveReferential(t.store.db, next, 'import')).toBe('unchanged');
    expect((await getReferential(t.store.db, 'socle-ambulanciers'))?.version).toBe('V1.2.2025');
    expect(await getReferential(t.store.db, 'socle-ambulanciers', 'V1.1.2023')).toEqual(old);

    const before = await rowCounts(t);
    const changed = { ...old, title: 'Autre titre' };
    await expect(saveReferential(t.store.db, changed, 'import')).rejects.toMatchObject({ code: 'conflict' });
    expect(await rowCounts(t)).toEqual(before);
    const versions = (await listReferentials(t.store.db)).filter((r) => r.id === 'socle-ambulanciers');
    expect(versions.map((v) => [v.version, v.latest])).toEqual([
      ['V1.1.2023', false],
      ['V1.2.2025', true],
    ]);
    // The bundled version is still the stored one: loading at start keeps reporting nothing to do.
    expect(await loadBundledReferentials(t.store.db)).toEqual({ added: [], unchanged: 10, conflicts: [] });
  });
});

// PGlite has one connection, so only PostgreSQL can see two starts race.
const servers = drivers.filter((d) => d === 'postgres');
if (servers.length === 0) {
  describe('bundled référentiels loaded by concurrent starts', () => {
    it.skip('needs a PostgreSQL server: set TEST_DATABASE_URL (.ci/run does)', () => undefined);
  });
} else describe.each(servers)('bundled référentiels loaded by concurrent starts on %s', (driver) => {
  it('inserts each version once when two loads race', async () => {
    const a = await openTestStore(driver);
    try {
      await a.store.db.delete(referentials);
      const b = await openStore(a.options);
      try {
        const [first, second] = await Promise.all([loadBundledReferentials(a.store.db), loadBundledReferentials(b.db)]);
        expect(first.added.length + second.added.length).toBe(10);
        expect(first.conflicts.concat(second.conflicts)).toEqual([]);
        expect((await rowCounts(a)).referentials).toBe(10);
      } finally {
        await b.close();
      }
    } finally {
      await a.destroy();
    }
  });
});
