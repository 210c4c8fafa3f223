/**
 * A change of référentiel version on a platform with mappings, completions and manual credits on the old version,
 * towards a version with one renumbered competency (1.1 → 1.0, same title), one split (2.1 → 2.1a + 2.1b) and one
 * removed (3.3): propose → edit → preview (nothing written) → apply; every learner's validated minutes are kept
 * or the difference is in the report, exactly; the audit trail; a second apply refused; another platform untouched.
 */
import { sql } from 'drizzle-orm';
import type { AppContext } from '../../src/context';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { creditMarked } from '../../src/coverage/freshness';
import { recomputeAll } from '../../src/coverage/recompute';
import { programmes } from '../../src/db/schema';
import { queryRows } from '../../src/db/store';
import { SocleError } from '../../src/domain/errors';
import { ensureCourse, ensurePlatform, ensureUser, type Platform } from '../../src/identity/records';
import { setCourseReferential, setPlatformDefaults } from '../../src/mapping/course';
import { mappingHistory, saveMapping } from '../../src/mapping/service';
import { getReferential, loadBundledReferentials, saveReferential } from '../../src/referentials/catalogue';
import {
  applyTransition,
  editTransition,
  getTransition,
  previewTransition,
  proposeTransition,
  reportCsv,
  reportLearners,
} from '../../src/transitions/service';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { testContext } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';
import { MOODLE } from '../xapi/support';
import { NEW, nextVersion, OLD } from './support';

const OTHER = 'https://moodle.autre.example';
const h = (hours: number) => hours * 60;

describe.each(drivers)('référentiel transition on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  let platform: Platform;
  let other: Platform;
  let courseId: number;
  const users = new Map<string, number>();

  /** Validated minutes per learner (sub) and version, with the domains' minutes: what the report must explain. */
  async function figures(platformId: number) {
    const rows = await queryRows<{ sub: string; referential_version: string; validated_minutes: number; covered_competencies: number; domains: { code: string; validatedMinutes: number }[] }>(
      t.store.db,
      sql`SELECT u.sub, lc.referential_version, lc.validated_minutes, lc.covered_competencies, lc.domains FROM learner_coverage lc JOIN users u ON u.id = lc.user_id
          WHERE lc.platform_id = ${platformId} AND lc.referential_id = ${OLD.id} ORDER BY u.sub, lc.referential_version`,
    );
    return rows.map((r) => ({ sub: r.sub, version: r.referential_version, validated: r.validated_minutes, covered: r.covered_competencies, domains: Object.fromEntries(r.domains.map((d) => [d.code, d.validatedMinutes])) }));
  }
  const counts = async () =>
    (
      await queryRows<Record<string, number>>(
        t.store.db,
        sql`SELECT (SELECT count(*)::int FROM audit_events) AS audit, (SELECT count(*)::int FROM activity_mappings) AS mappings,
                   (SELECT count(*)::int FROM manual_credits WHERE revoked_at IS NULL) AS credits, (SELECT count(*)::int FROM coverage_dirty) AS dirty,
                   (SELECT md5(string_agg(user_id || referential_version || validated_minutes, ',' ORDER BY user_id, referential_version)) FROM learner_coverage) AS coverage`,
      )
    )[0];

  beforeAll(async () => {
    t = await openTestStore(driver);
    // badges issued as on a server: the transition's recompute revokes the old version's and issues the new one's
    ctx = testContext(t.store);
    const db = t.store.db;
    await loadBundledReferentials(db);
    const old = await getReferential(db, OLD.id, OLD.version);
    if (!old) throw new Error('no bundled version');
    await saveReferential(db, nextVersion(), 'import');

    platform = await ensurePlatform(db, MOODLE);
    other = await ensurePlatform(db, OTHER);
    await setPlatformDefaults(db, ctx, { platformId: platform.id, referential: OLD, policy: { requireSuccess: false, capToMeasuredDuration: false }, actor: 'test' });
    for (const sub of ['keeps', 'loses', 'credited', 'badged']) users.set(sub, (await ensureUser(db, platform.id, sub)).id);
    const course = await ensureCourse(db, platform.id, '2');
    courseId = course.id;
    await setCourseReferential(db, { course, referentialId: OLD.id, version: OLD.version, actor: 'test' });
    const activities = new Set([1, 2, 3, 4].map(pageIri));
    await saveMapping(db, ctx, {
      courseId,
      referential: old,
      activityIris: activities,
      entries: [
        { activityIri: pageIri(1), competencyKey: '1.1', minutes: h(2) }, // renumbered: kept
        { activityIri: pageIri(2), competencyKey: '2.1', minutes: h(3) }, // split: edited to 2.1a
        { activityIri: pageIri(3), competencyKey: '3.3', minutes: h(1.5) }, // removed: dropped
        { activityIri: pageIri(3), competencyKey: '3.1', minutes: h(1) },
        { activityIri: pageIri(4), competencyKey: '4.2', minutes: h(1) },
      ],
      actor: 'test',
    });
    const at = new Date(Date.UTC(2026, 10, 2, 9));
    const body = [
      completionStatement({ id: uuidOf(1), sub: 'keeps', cmid: 1, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(2), sub: 'keeps', cmid: 2, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(3), sub: 'loses', cmid: 3, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(4), sub: 'loses', cmid: 4, course: 2, kind: 'completed', at }),
    ];
    await storeStatements(db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date()));
    await creditMarked(db, ctx, platform.id);
    const grant = (userId: number, competencyKey: string, minutes: number, platformId = platform.id) =>
      db.transaction((tx) =>
        grantManualCredit(tx, coverageDeps(ctx, tx), { platformId, userId, referentialId: OLD.id, referentialVersion: OLD.version, competencyKey, minutes, justification: 'Présentiel', actor: 'test' }),
      );
    await grant(users.get('credited') as number, '1.1', h(1));
    await grant(users.get('credited') as number, '3.3', h(0.5));
    await grant(users.get('badged') as number, '2.2', h(5)); // domain 2 (5 h) met: its badge

    // another platform: the same course, mapping and credits on the old version
    const otherCourse = await ensureCourse(db, other.id, '2');
    const otherIri = (cmid: number) => pageIri(cmid).replace(MOODLE, OTHER);
    await saveMapping(db, ctx, {
      courseId: otherCourse.id,
      referential: old,
      activityIris: new Set([3].map(otherIri)),
      entries: [{ activityIri: otherIri(3), competencyKey: '3.3', minutes: h(1.5) }],
      actor: 'test',
    });
    const otherBody = [completionStatement({ id: uuidOf(11), sub: 'o1', cmid: 3, course: 2, kind: 'completed', at })].map((s) => JSON.parse(JSON.stringify(s).split(MOODLE).join(OTHER)) as Record<string, unknown>);
    await storeStatements(db, other, prepareStatements(otherBody, other, { objectType: 'Agent', account: { homePage: OTHER, name: 'test' } }, new Date()));
    await creditMarked(db, ctx, other.id);
    await grant((await ensureUser(db, other.id, 'o2')).id, '3.3', h(2), other.id);
  });
  afterAll(() => t.destroy());

  it('proposes, edits, previews without writing, refuses losses unless accepted, applies once with the report and the audit trail', async () => {
    const db = t.store.db;
    const deps = coverageDeps(ctx, db);
    const beforeFigures = await figures(platform.id);
    const otherBefore = await figures(other.id);
    expect(beforeFigures).toEqual([
      { sub: 'badged', version: OLD.version, validated: h(5), covered: 1, domains: { '1': 0, '2': h(5), '3': 0, '4': 0, '5': 0 } },
      { sub: 'credited', version: OLD.version, validated: h(1.5), covered: 2, domains: { '1': h(1), '2': 0, '3': h(0.5), '4': 0, '5': 0 } },
      { sub: 'keeps', version: OLD.version, validated: h(5), covered: 2, domains: { '1': h(2), '2': h(3), '3': 0, '4': 0, '5': 0 } },
      { sub: 'loses', version: OLD.version, validated: h(3.5), covered: 3, domains: { '1': 0, '2': 0, '3': h(2.5), '4': h(1), '5': 0 } },
    ]);

    // propose: the renumbered competency by its title, the split and the removed one with no counterpart
    const proposed = await proposeTransition(db, deps, { platformId: platform.id, from: OLD, to: NEW, actor: 'admin' });
    const row = (key: string) => proposed.correspondence.find((e) => e.from === key);
    expect(row('1.1')).toEqual({ from: '1.1', to: '1.0', reason: 'same_title' });
    expect(row('2.1')).toEqual({ from: '2.1', to: null, reason: 'none' });
    expect(row('3.3')).toEqual({ from: '3.3', to: null, reason: 'none' });
    expect(row('4.2')).toEqual({ from: '4.2', to: '4.2', reason: 'same_key' });
    expect(proposed.correspondence).toHaveLength(15);
    // proposing again gives the same draft
    expect((await proposeTransition(db, deps, { platformId: platform.id, from: OLD, to: NEW, actor: 'admin' })).id).toBe(proposed.id);

    // a bad edit changes nothing; the split is mapped to its first half by hand
    await expect(editTransition(db, deps, proposed, [{ from: '2.1', to: '3.3' }], 'admin')).rejects.toMatchObject({
      code: 'invalid_request',
      details: [{ path: 'edits[0].to', message: '"3.3" is not a competency of the new version' }],
    });
    const edited = await editTransition(db, deps, await getTransition(db, platform.id, { id: proposed.id }), [{ from: '2.1', to: '2.1a' }], 'admin');
    expect(edited.correspondence.find((e) => e.from === '2.1')).toEqual({ from: '2.1', to: '2.1a', reason: 'edited' });

    // the preview writes nothing and names each learner who changes, exactly
    const unchanged = await counts();
    const preview = await previewTransition(db, deps, edited);
    expect(await counts()).toEqual(unchanged);
    expect(preview).toEqual({
      learners: 4,
      losses: 2,
      badges: { issued: 1, revoked: 1 },
      mappings: { moved: 4, merged: 0, kept: 0, dropped: 1 },
      credits: { moved: 2, revoked: 1 },
      changed: [
        {
          userId: users.get('loses'),
          before: h(3.5),
          after: h(2),
          coveredBefore: 3,
          coveredAfter: 2,
          domains: [
            { code: '1', before: 0, after: 0 },
            { code: '2', before: 0, after: 0 },
            { code: '3', before: h(2.5), after: h(1) },
            { code: '4', before: h(1), after: h(1) },
            { code: '5', before: 0, after: 0 },
          ],
          lost: true,
        },
        {
          userId: users.get('credited'),
          before: h(1.5),
          after: h(1),
          coveredBefore: 2,
          coveredAfter: 1,
          domains: [
            { code: '1', before: h(1), after: h(1) },
            { code: '2', before: 0, after: 0 },
            { code: '3', before: h(0.5), after: 0 },
            { code: '4', before: 0, after: 0 },
            { code: '5', before: 0, after: 0 },
          ],
          lost: true,
        },
      ].sort((a, b) => (a.userId as number) - (b.userId as number)),
    });

    // losses must be accepted: refused, nothing changed
    const refused = await applyTransition(db, ctx, { platformId: platform.id, id: edited.id, actor: 'admin', acceptLosses: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SocleError);
    expect(refused).toMatchObject({ code: 'conflict', details: [{ path: 'acceptLosses' }] });
    expect(await counts()).toEqual(unchanged);

    // a programme of this platform on the old version follows it
    const [programme] = await db
      .insert(programmes)
      .values({ platformId: platform.id, name: 'IFSI 2026', referentialId: OLD.id, referentialVersion: OLD.version, intakeYear: 2026, dueDate: '2029-08-31' })
      .returning({ id: programmes.id });
    const [mark] = await queryRows<{ id: number }>(db, sql`SELECT max(id)::int AS id FROM audit_events`);
    const applied = await applyTransition(db, ctx, { platformId: platform.id, id: edited.id, actor: 'admin', acceptLosses: true });
    expect(applied.report).toEqual(preview);
    expect(applied.transition).toMatchObject({ status: 'applied', appliedBy: 'admin' });
    expect(applied.followers).toEqual({ courses: 1, platformDefault: 1, programmes: 1 });
    expect(await queryRows(db, sql`SELECT referential_version FROM programmes WHERE id = ${programme?.id ?? 0}`)).toEqual([{ referential_version: NEW.version }]);
    expect(applied.coverage).toEqual({ learners: 4, deferred: false });

    // every learner's validated minutes: kept exactly, or the report's difference exactly; and a full recompute agrees
    const check = async () => {
      const after = await figures(platform.id);
      expect(after.map((f) => f.version)).toEqual([NEW.version, NEW.version, NEW.version, NEW.version]);
      for (const before of beforeFigures) {
        const now = after.find((f) => f.sub === before.sub);
        const difference = applied.report.changed.find((d) => d.userId === users.get(before.sub));
        if (!difference) {
          expect(now?.validated).toBe(before.validated);
          expect(now?.domains).toEqual(before.domains);
        } else {
          expect({ before: before.validated, after: now?.validated }).toEqual({ before: difference.before, after: difference.after });
          expect(Object.fromEntries(difference.domains.map((d) => [d.code, d.before]))).toEqual(before.domains);
          expect(Object.fromEntries(difference.domains.map((d) => [d.code, d.after]))).toEqual(now?.domains);
        }
      }
    };
    await check();
    await recomputeAll(db, coverageDeps(ctx, db), { platformId: platform.id });
    await check();

    // the mappings and credits now name the new version; the moved credit keeps its id, the removed one is revoked
    const mappings = await queryRows<{ key: string; version: string; minutes: number }>(
      db,
      sql`SELECT competency_key AS key, referential_version AS version, minutes FROM activity_mappings WHERE course_id = ${courseId} ORDER BY competency_key`,
    );
    expect(mappings).toEqual([
      { key: '1.0', version: NEW.version, minutes: h(2) },
      { key: '2.1a', version: NEW.version, minutes: h(3) },
      { key: '3.1', version: NEW.version, minutes: h(1) },
      { key: '4.2', version: NEW.version, minutes: h(1) },
    ]);
    const credits = await queryRows<{ key: string; version: string; revoked: boolean; reason: string | null }>(
      db,
      sql`SELECT competency_key AS key, referential_version AS version, revoked_at IS NOT NULL AS revoked, revocation_reason AS reason
          FROM manual_credits WHERE platform_id = ${platform.id} ORDER BY id`,
    );
    expect(credits).toEqual([
      { key: '1.0', version: NEW.version, revoked: false, reason: null },
      { key: '3.3', version: OLD.version, revoked: true, reason: `référentiel ${OLD.id}@${OLD.version} → ${NEW.id}@${NEW.version}: no counterpart of the competency` },
      { key: '2.2', version: NEW.version, revoked: false, reason: null },
    ]);
    // the badge of domain 2 follows: the old version's revoked, the new one's issued, as the preview said
    const badges = await queryRows<{ path: string; status: string }>(
      db,
      sql`SELECT a.path, c.status FROM badge_credentials c JOIN badge_achievements a ON a.id = c.achievement_id WHERE c.user_id = ${users.get('badged') as number} ORDER BY a.path`,
    );
    expect(badges.map((b) => [b.path.includes(NEW.version) ? 'new' : b.path.includes(OLD.version) ? 'old' : b.path, b.status]).sort()).toEqual([
      ['new', 'active'],
      ['old', 'revoked'],
    ]);
    const audit = await queryRows<{ action: string; subject: string }>(
      db,
      sql`SELECT action, subject FROM audit_events WHERE id > ${mark?.id ?? 0} ORDER BY id`,
    );
    expect(audit).toEqual([
      { action: 'mapping.transition', subject: `course:${courseId}` },
      { action: 'manual-credit.transition', subject: `user:${users.get('credited')}` },
      { action: 'manual-credit.transition', subject: `user:${users.get('badged')}` },
      { action: 'manual-credit.revoke', subject: `user:${users.get('credited')}` },
      { action: 'referential-transition.apply', subject: `platform:${platform.id}` },
    ]);
    // the course's mapping history shows the move, old pairs before, new ones after
    const [history] = await mappingHistory(db, courseId, 1);
    expect(history).toMatchObject({ action: 'mapping.transition', actor: 'admin', before: { referential: `${OLD.id}@${OLD.version}` }, after: { referential: `${NEW.id}@${NEW.version}` } });
    const [courseRow] = await queryRows<{ v: string }>(db, sql`SELECT referential_version AS v FROM courses WHERE id = ${courseId}`);
    expect(courseRow?.v).toBe(NEW.version);

    // the report, for people: losses first, then as CSV with one line per learner and domain that changed
    const people = await reportLearners(db, platform.id, applied.report);
    expect(people.map((p) => p.sub)).toEqual(['credited', 'loses']);
    const csv = reportCsv(applied.transition, people);
    expect(csv.split('\r\n')).toEqual([
      '\uFEFFancienne_version;nouvelle_version;apprenant;nom;domaine;heures_avant;heures_apres;heures_perdues;heures_gagnees',
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};credited;;total;1,50;1,00;0,50;0,00`,
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};credited;;3;0,50;0,00;0,50;0,00`,
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};loses;;total;3,50;2,00;1,50;0,00`,
      `${OLD.id}@${OLD.version};${NEW.id}@${NEW.version};loses;;3;2,50;1,00;1,50;0,00`,
      '',
    ]);

    // applied once: a second apply, an edit or a preview is refused
    const auditNow = (await counts())?.audit;
    await expect(applyTransition(db, ctx, { platformId: platform.id, id: edited.id, actor: 'admin', acceptLosses: true })).rejects.toMatchObject({ code: 'conflict' });
    await expect(editTransition(db, deps, applied.transition, [{ from: '2.1', to: '2.1b' }], 'admin')).rejects.toMatchObject({ code: 'conflict' });
    await expect(previewTransition(db, deps, applied.transition)).rejects.toMatchObject({ code: 'conflict' });
    expect((await counts())?.audit).toBe(auditNow);

    // the other platform is untouched, and cannot reach this platform's transition
    expect(await figures(other.id)).toEqual(otherBefore);
    const [otherMappings] = await queryRows<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM activity_mappings m JOIN courses c ON c.id = m.course_id WHERE c.platform_id = ${other.id} AND m.referential_version = ${OLD.version}`,
    );
    expect(otherMappings?.n).toBe(1);
    await expect(getTransition(db, other.id, { id: edited.id })).rejects.toMatchObject({ code: 'not_found' });
    await expect(applyTransition(db, ctx, { platformId: other.id, id: edited.id, actor: 'admin', acceptLosses: true })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a transition to the same version or to a version not stored', async () => {
    const deps = coverageDeps(ctx, t.store.db);
    await expect(proposeTransition(t.store.db, deps, { platformId: other.id, from: OLD, to: OLD, actor: 'admin' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(proposeTransition(t.store.db, deps, { platformId: other.id, from: OLD, to: { id: OLD.id, version: 'V9' }, actor: 'admin' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
