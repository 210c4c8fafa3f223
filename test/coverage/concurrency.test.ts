/**
 * A mapping changed while an ingestion transaction is in flight, on a real PostgreSQL server (two connections, the
 * interleaving controlled): the ingestion has credited its new fact against the mapping it read and is not committed
 * yet; the mapping change and the coverage worker run; then the ingestion commits. The stored coverage must equal a
 * full recompute. (PGlite has one connection: its transactions never interleave.)
 */
import { sql } from 'drizzle-orm';
import { afterCompletionStatements, drainDirty } from '../../src/coverage/freshness';
import { recomputeAll } from '../../src/coverage/recompute';
import type { AppContext } from '../../src/context';
import { coverageDeps } from '../../src/coverage/deps';
import { queryRows } from '../../src/db/store';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { socle28 } from '../domain/coverage-fixtures';
import { testContext } from '../support/app';
import { type Driver, openTestStore, drivers, type TestStore } from '../support/db';
import { MOODLE } from '../xapi/support';
import { fixtureReferentials, pageIri, storedCoverage, uuidOf } from './support';

const servers = drivers.filter((d) => d === 'postgres');
const maybe = servers.length ? describe.each(servers) : describe.skip.each<Driver>(['postgres']);

maybe('coverage under concurrent transactions on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  beforeAll(async () => {
    t = await openTestStore(driver);
    ctx = testContext(t.store, { referentials: fixtureReferentials(), badges: undefined });
  });
  afterAll(() => t.destroy());

  /** Resolves once `promise` settled or `waiting` backends of this database wait for a lock. */
  async function settledOrWaiting(promise: Promise<unknown>, waiting: number): Promise<void> {
    let settled = false;
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 200 && !settled; i++) {
      const [row] = await queryRows<{ n: number }>(
        t.store.db,
        sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if ((row?.n ?? 0) >= waiting) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('a mapping change committed while an ingestion is in flight leaves the coverage a full recompute gives', async () => {
    const db = t.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const user = await ensureUser(db, platform.id, 's1');
    const course = await ensureCourse(db, platform.id, '2');
    const activityIris = new Set([pageIri(1), pageIri(2)]);
    const save = (minutes1: number, minutes2: number) =>
      saveMapping(db, ctx, {
        courseId: course.id,
        referential: socle28,
        activityIris,
        entries: [
          { activityIri: pageIri(1), competencyKey: '2.1', minutes: minutes1 },
          { activityIri: pageIri(2), competencyKey: '1.1', minutes: minutes2 },
        ],
        actor: 'test',
        // the worker recomputes the learners of the change
        coverageImmediateLimit: 0,
      });
    await save(90, 60);
    const event = async (ex: typeof db, n: number, cmid: number) => {
      await ex.execute(sql`INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, statement_timestamp, position)
                           VALUES (${uuidOf(n)}::uuid, ${platform.id}, ${user.id}, ${course.id}, ${pageIri(cmid)}, 'completed', now(), 0)`);
      await afterCompletionStatements(ex, coverageDeps(ctx, ex), platform.id, [uuidOf(n)]);
    };
    // page 1 completed and committed: the learner has events on the activities the change touches
    await db.transaction((tx) => event(tx, 1, 1));

    // the ingestion: page 2 completed and credited with the mapping it read (90 + 60), held open
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let credited!: () => void;
    const creditedNow = new Promise<void>((r) => (credited = r));
    const ingestion = db.transaction(async (tx) => {
      await event(tx, 2, 2);
      credited();
      await gate;
    });
    await creditedNow;

    const change = save(30, 120);
    await settledOrWaiting(change, 1);
    const worker = db.transaction((tx) => drainDirty(tx, coverageDeps(ctx, tx)));
    await settledOrWaiting(worker, 2);
    release();
    await Promise.all([ingestion, change, worker]);
    while ((await db.transaction((tx) => drainDirty(tx, coverageDeps(ctx, tx)))) > 0) {
      // whatever is still marked
    }

    const incremental = await storedCoverage(db);
    await recomputeAll(db, coverageDeps(ctx, db));
    const full = await storedCoverage(db);
    expect(full).toEqual([expect.objectContaining({ sub: 's1', validated_minutes: 150 })]);
    expect(incremental).toEqual(full);
  });
});
