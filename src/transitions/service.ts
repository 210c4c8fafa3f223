/**
 * A platform's change of référentiel version: the correspondence table proposed from the two versions, edited by an
 * administrator, previewed with the real coverage rules on a dry run (nothing written), then applied in one
 * transaction: the platform's mappings and active manual credits move to the new version's keys (audited), what
 * follows a version moves too (`VERSION_FOLLOWERS`), the learners concerned are recomputed (or marked), and the
 * difference report is stored. Applying refuses when any learner would lose hours, unless the losses are accepted.
 */
import { stringify } from 'csv-stringify/sync';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { type CoverageDeps, coverageDeps, type CoverageServices } from '../coverage/deps';
import { type CreditRow, creditingLock, learnerCoverages, loadFacts, loadVersionRules, type MappingRow } from '../coverage/engine';
import { planBadges } from '../coverage/badges';
import { afterLearnersChange } from '../coverage/freshness';
import { auditEvents, courses, platformSettings, programmes, referentialTransitions, users } from '../db/schema';
import { type Executor, queryRows } from '../db/store';
import type { LearnerCoverage, ReferentialVersion } from '../domain/coverage';
import { conflict, invalid, notFound } from '../domain/errors';
import { ID_PATTERN, VERSION_PATTERN } from '../domain/referential';
import {
  type CorrespondenceEdit,
  correspondenceProblems,
  editCorrespondence,
  type LearnerDifference,
  learnerDifference,
  type MappedMinutes,
  moveMappings,
  proposeCorrespondence,
  type TransitionReport,
} from '../domain/referential-transition';

export type Transition = typeof referentialTransitions.$inferSelect;

/** A référentiel version, as `<id>@<version>` names it. */
export interface VersionRef {
  id: string;
  version: string;
}

export const refText = (r: VersionRef) => `${r.id}@${r.version}`;

/** Reads `<id>@<version>`, or `invalid_request` at `path`. */
export function parseVersionRef(text: string, path: string): VersionRef {
  const at = text.lastIndexOf('@');
  const id = text.slice(0, at);
  const version = text.slice(at + 1);
  if (at < 1 || !ID_PATTERN.test(id) || !VERSION_PATTERN.test(version)) {
    throw invalid(`${path}: expected <id>@<version> such as socle-ambulanciers@V1.1.2023, got "${text}"`, [{ path, message: 'expected <id>@<version>' }]);
  }
  return { id, version };
}

export const fromOf = (t: Transition): VersionRef => ({ id: t.fromId, version: t.fromVersion });
export const toOf = (t: Transition): VersionRef => ({ id: t.toId, version: t.toVersion });

/** What changes with the version on one platform: each follower moves its own references (returns how many). */
export interface VersionFollower {
  name: string;
  follow(tx: Executor, change: { platformId: number; from: VersionRef; to: VersionRef; actor: string }): Promise<number>;
}

/**
 * Everything that names a référentiel version on a platform, besides the mappings and credits, and follows a
 * transition: the courses' chosen version and the platform's default. Another record naming a version (a
 * programme…) adds its follower here.
 */
export const VERSION_FOLLOWERS: readonly VersionFollower[] = [
  {
    name: 'courses',
    async follow(tx, { platformId, from, to }) {
      const rows = await tx
        .update(courses)
        .set({ referentialId: to.id, referentialVersion: to.version })
        .where(and(eq(courses.platformId, platformId), eq(courses.referentialId, from.id), eq(courses.referentialVersion, from.version)))
        .returning({ id: courses.id });
      return rows.length;
    },
  },
  {
    name: 'platformDefault',
    async follow(tx, { platformId, from, to }) {
      const rows = await tx
        .update(platformSettings)
        .set({ defaultReferentialId: to.id, defaultReferentialVersion: to.version, updatedAt: new Date() })
        .where(
          and(
            eq(platformSettings.platformId, platformId),
            eq(platformSettings.defaultReferentialId, from.id),
            eq(platformSettings.defaultReferentialVersion, from.version),
          ),
        )
        .returning({ id: platformSettings.platformId });
      return rows.length;
    },
  },
  {
    name: 'programmes',
    async follow(tx, { platformId, from, to }) {
      const rows = await tx
        .update(programmes)
        .set({ referentialId: to.id, referentialVersion: to.version, updatedAt: new Date() })
        .where(and(eq(programmes.platformId, platformId), eq(programmes.referentialId, from.id), eq(programmes.referentialVersion, from.version)))
        .returning({ id: programmes.id });
      return rows.length;
    },
  },
];

/** The platform's transition by id, or between two versions; undefined when there is none. */
export async function findTransition(ex: Executor, platformId: number, which: { id: number } | { from: VersionRef; to: VersionRef }): Promise<Transition | undefined> {
  const [row] = await ex
    .select()
    .from(referentialTransitions)
    .where(
      'id' in which
        ? and(eq(referentialTransitions.platformId, platformId), eq(referentialTransitions.id, which.id))
        : and(
            eq(referentialTransitions.platformId, platformId),
            eq(referentialTransitions.fromId, which.from.id),
            eq(referentialTransitions.fromVersion, which.from.version),
            eq(referentialTransitions.toId, which.to.id),
            eq(referentialTransitions.toVersion, which.to.version),
          ),
    );
  return row;
}

/** The transition, or `not_found` telling how to create it. */
export async function getTransition(ex: Executor, platformId: number, which: { id: number } | { from: VersionRef; to: VersionRef }): Promise<Transition> {
  const t = await findTransition(ex, platformId, which);
  if (t) return t;
  throw notFound('id' in which ? `no transition ${which.id} on this platform` : `no transition from ${refText(which.from)} to ${refText(which.to)} on this platform: propose it first`);
}

export async function listTransitions(ex: Executor, platformId: number): Promise<Transition[]> {
  return ex.select().from(referentialTransitions).where(eq(referentialTransitions.platformId, platformId)).orderBy(referentialTransitions.id);
}

/** The two versions' outlines, or `not_found` naming the one missing. */
export async function outlinesOf(deps: Pick<CoverageDeps, 'lookup'>, from: VersionRef, to: VersionRef): Promise<{ from: ReferentialVersion; to: ReferentialVersion }> {
  const [a, b] = await Promise.all([deps.lookup(from.id, from.version), deps.lookup(to.id, to.version)]);
  if (!a) throw notFound(`no référentiel version ${refText(from)} (socle referentials list shows them)`, [{ path: 'from', message: 'unknown version' }]);
  if (!b) throw notFound(`no référentiel version ${refText(to)} (import it first: socle referentials import)`, [{ path: 'to', message: 'unknown version' }]);
  return { from: a, to: b };
}

/** Proposes the table from the two versions (stored as a draft); an existing transition between them is returned as it is. */
export async function proposeTransition(
  ex: Executor,
  deps: Pick<CoverageDeps, 'lookup'>,
  input: { platformId: number; from: VersionRef; to: VersionRef; actor: string },
): Promise<Transition> {
  if (input.from.id === input.to.id && input.from.version === input.to.version) {
    throw invalid('the old and new versions are the same', [{ path: 'to', message: 'another version than --from' }]);
  }
  const existing = await findTransition(ex, input.platformId, input);
  if (existing) return existing;
  const outlines = await outlinesOf(deps, input.from, input.to);
  const correspondence = proposeCorrespondence(outlines.from, outlines.to);
  const [row] = await ex
    .insert(referentialTransitions)
    .values({
      platformId: input.platformId,
      fromId: input.from.id,
      fromVersion: input.from.version,
      toId: input.to.id,
      toVersion: input.to.version,
      correspondence,
      createdBy: input.actor,
      updatedBy: input.actor,
    })
    .returning();
  if (!row) throw new Error('transition not stored');
  await ex.insert(auditEvents).values({
    actor: input.actor,
    action: 'referential-transition.propose',
    subject: `platform:${input.platformId}`,
    after: { transition: row.id, from: refText(input.from), to: refText(input.to), correspondence },
  });
  return row;
}

const refuseApplied = (t: Transition) => {
  if (t.status === 'applied') throw conflict(`the transition from ${refText(fromOf(t))} to ${refText(toOf(t))} was applied on ${t.appliedAt?.toISOString() ?? '?'}: it cannot change any more`);
};

/** Changes rows of a draft's table (audited), or `invalid_request` naming each wrong row; nothing changes then. */
export async function editTransition(
  ex: Executor,
  deps: Pick<CoverageDeps, 'lookup'>,
  t: Transition,
  edits: readonly CorrespondenceEdit[],
  actor: string,
): Promise<Transition> {
  refuseApplied(t);
  const outlines = await outlinesOf(deps, fromOf(t), toOf(t));
  const { table, problems } = editCorrespondence(outlines.to, t.correspondence, edits);
  if (problems.length) throw invalid('The correspondence is invalid: nothing was changed.', problems);
  const [row] = await ex
    .update(referentialTransitions)
    .set({ correspondence: table, updatedBy: actor, updatedAt: new Date() })
    .where(and(eq(referentialTransitions.id, t.id), eq(referentialTransitions.status, 'draft')))
    .returning();
  if (!row) throw conflict('the transition was applied meanwhile: nothing was changed');
  const changed = (list: typeof table) => list.filter((e) => edits.some((x) => x.from === e.from));
  await ex.insert(auditEvents).values({
    actor,
    action: 'referential-transition.edit',
    subject: `platform:${t.platformId}`,
    before: { transition: t.id, rows: changed(t.correspondence) },
    after: { transition: t.id, rows: changed(table) },
  });
  return row;
}

const onVersion = (r: VersionRef) => (m: { referential_id: string; referential_version: string }) => m.referential_id === r.id && m.referential_version === r.version;

/** Everything a transition would change, computed on `ex` with the coverage rules: nothing is written. */
async function dryRun(ex: Executor, deps: CoverageDeps, t: Transition) {
  const from = fromOf(t);
  const to = toOf(t);
  const outlines = await outlinesOf(deps, from, to);
  const problems = correspondenceProblems(outlines.from, outlines.to, t.correspondence);
  if (problems.length) throw invalid('The correspondence does not fit the two versions: edit it first.', problems);
  const target = new Map(t.correspondence.map((e) => [e.from, e.to]));
  const isFrom = onVersion(from);
  const all = await queryRows<MappingRow>(
    ex,
    sql`SELECT m.course_id, m.activity_iri, m.referential_id, m.referential_version, m.competency_key, m.minutes
        FROM activity_mappings m JOIN courses c ON c.id = m.course_id WHERE c.platform_id = ${t.platformId}`,
  );
  const minutesOf = (m: MappingRow): MappedMinutes => ({ courseId: m.course_id, activityIri: m.activity_iri, competencyKey: m.competency_key, minutes: m.minutes });
  const old = all.filter(isFrom);
  const move = moveMappings(old.map(minutesOf), all.filter((m) => !isFrom(m)).map(minutesOf), t.correspondence);
  const movedRows: MappingRow[] = move.moved.map((m) => ({
    course_id: m.courseId,
    activity_iri: m.activityIri,
    referential_id: to.id,
    referential_version: to.version,
    competency_key: m.competencyKey,
    minutes: m.minutes,
  }));
  const before = await loadVersionRules(ex, deps.lookup, t.platformId, null);
  const after = await loadVersionRules(ex, deps.lookup, t.platformId, null, (rows) => [...rows.filter((m) => !isFrom(m)), ...movedRows]);
  const credits = await queryRows<{ id: number; user_id: number; competency_key: string; minutes: number }>(
    ex,
    sql`SELECT id, user_id, competency_key, minutes FROM manual_credits
        WHERE platform_id = ${t.platformId} AND referential_id = ${from.id} AND referential_version = ${from.version} AND revoked_at IS NULL ORDER BY id`,
  );
  // the learners with facts on the old version: events on its mapped activities, active credits, stored coverage
  const learners = (
    await queryRows<{ user_id: number }>(
      ex,
      sql`SELECT ce.user_id FROM completion_events ce
            JOIN activity_mappings m ON m.course_id = ce.course_id AND m.activity_iri = ce.activity_iri
            WHERE ce.platform_id = ${t.platformId} AND m.referential_id = ${from.id} AND m.referential_version = ${from.version}
          UNION SELECT user_id FROM manual_credits
            WHERE platform_id = ${t.platformId} AND referential_id = ${from.id} AND referential_version = ${from.version} AND revoked_at IS NULL
          UNION SELECT user_id FROM learner_coverage
            WHERE platform_id = ${t.platformId} AND referential_id = ${from.id} AND referential_version = ${from.version}
          ORDER BY 1`,
    )
  ).map((r) => r.user_id);
  const moveCredit = (c: CreditRow): CreditRow => {
    if (!isFrom(c) || c.revoked) return c;
    const key = target.get(c.competency_key) ?? null;
    return key === null ? { ...c, revoked: true } : { ...c, referential_id: to.id, referential_version: to.version, competency_key: key };
  };
  const movedCredits = credits.filter((c) => (target.get(c.competency_key) ?? null) !== null);
  const changed: LearnerDifference[] = [];
  const badges = { issued: 0, revoked: 0 };
  for (let i = 0; i < learners.length; i += 1_000) {
    const chunk = learners.slice(i, i + 1_000);
    const facts = await loadFacts(ex, { userIds: chunk });
    const coverages: { userId: number; coverage: LearnerCoverage }[] = [];
    for (const userId of chunk) {
      const f = facts.get(userId) ?? { events: [], credits: [] };
      const was = (await learnerCoverages(before, f)).find((c) => c.referential.id === from.id && c.referential.version === from.version);
      const all = await learnerCoverages(after, { events: f.events, credits: f.credits.map(moveCredit) });
      for (const coverage of all) coverages.push({ userId, coverage });
      const difference = learnerDifference(userId, was, all.find((c) => c.referential.id === to.id && c.referential.version === to.version));
      if (difference) changed.push(difference);
    }
    // what the recompute's badge step would do with these coverages (read only)
    if (deps.badges) {
      const plan = await planBadges(ex, chunk, coverages);
      badges.issued += plan.issue.length;
      badges.revoked += plan.revoke.length;
    }
  }
  const report: TransitionReport = {
    learners: learners.length,
    changed,
    losses: changed.filter((d) => d.lost).length,
    mappings: { moved: move.moved.length, merged: move.merged, kept: move.kept.length, dropped: move.dropped.length },
    credits: { moved: movedCredits.length, revoked: credits.length - movedCredits.length },
    badges,
  };
  return { report, old, movedRows, credits, movedCredits, learners, target, from, to };
}

/** The preview: what applying would change for whom, computed with the real rules on a dry run. */
export async function previewTransition(ex: Executor, deps: CoverageDeps, t: Transition): Promise<TransitionReport> {
  refuseApplied(t);
  return (await dryRun(ex, deps, t)).report;
}

/** Audit events in one statement whatever their number (the rows as one JSON parameter), in order. */
async function insertAudit(tx: Executor, rows: { actor: string; action: string; subject: string; before: unknown; after: unknown }[]) {
  if (rows.length === 0) return;
  await tx.execute(sql`INSERT INTO audit_events (actor, action, subject, before, after)
                       SELECT actor, action, subject, before, after
                       FROM ROWS FROM (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS (actor text, action text, subject text, before jsonb, after jsonb))
                            WITH ORDINALITY AS x(actor, action, subject, before, after, n)
                       ORDER BY n`);
}

export interface ApplyResult {
  transition: Transition;
  report: TransitionReport;
  followers: Record<string, number>;
  coverage: { learners: number; deferred: boolean };
}

/**
 * Applies a draft in one transaction (after the crediting in flight, under the platform's crediting lock): refused
 * when applied already, or when a learner would lose hours and `acceptLosses` is not set (nothing changes then).
 */
export async function applyTransition(
  ex: Executor,
  services: CoverageServices,
  input: { platformId: number; id: number; actor: string; acceptLosses: boolean; coverageImmediateLimit?: number },
): Promise<ApplyResult> {
  return ex.transaction(async (tx) => {
    const deps = coverageDeps(services, tx);
    // no ingest, credit or mapping change commits between the dry run and the move
    await creditingLock(tx, input.platformId, 'exclusive');
    const [t] = await tx
      .select()
      .from(referentialTransitions)
      .where(and(eq(referentialTransitions.platformId, input.platformId), eq(referentialTransitions.id, input.id)))
      .for('update');
    if (!t) throw notFound(`no transition ${input.id} on this platform`);
    refuseApplied(t);
    const run = await dryRun(tx, deps, t);
    const { report, from, to } = run;
    if (report.losses > 0 && !input.acceptLosses) {
      throw conflict(`${report.losses} learner(s) would lose validated hours: read the preview, then apply accepting the losses (--accept-losses)`, [
        { path: 'acceptLosses', message: `${report.losses} learner(s) lose hours` },
      ]);
    }
    // the mappings: the old version's pairs replaced by the moved ones, with a before/after per course
    await tx.execute(sql`DELETE FROM activity_mappings m USING courses c
                         WHERE c.id = m.course_id AND c.platform_id = ${t.platformId}
                           AND m.referential_id = ${from.id} AND m.referential_version = ${from.version}`);
    if (run.movedRows.length) {
      await tx.execute(sql`INSERT INTO activity_mappings (course_id, activity_iri, referential_id, referential_version, competency_key, minutes)
                           SELECT course_id, activity_iri, referential_id, referential_version, competency_key, minutes
                           FROM jsonb_to_recordset(${JSON.stringify(run.movedRows)}::jsonb)
                             AS x(course_id int, activity_iri text, referential_id text, referential_version text, competency_key text, minutes int)`);
    }
    const entries = (rows: MappingRow[], courseId: number) =>
      rows
        .filter((m) => m.course_id === courseId)
        .map((m) => ({ activityIri: m.activity_iri, competencyKey: m.competency_key, minutes: m.minutes }))
        .sort((a, b) => (a.activityIri === b.activityIri ? (a.competencyKey < b.competencyKey ? -1 : 1) : a.activityIri < b.activityIri ? -1 : 1));
    const courseIds = [...new Set(run.old.map((m) => m.course_id))];
    await insertAudit(
      tx,
      courseIds.map((courseId) => ({
        actor: input.actor,
        action: 'mapping.transition',
        subject: `course:${courseId}`,
        before: { referential: refText(from), entries: entries(run.old, courseId) },
        after: { referential: refText(to), entries: entries(run.movedRows, courseId), transition: t.id },
      })),
    );
    // the active credits: moved in place (their evidence stays with them) or, without a counterpart, revoked
    const moved = run.movedCredits;
    const movedIds = new Set(moved.map((c) => c.id));
    const revoked = run.credits.filter((c) => !movedIds.has(c.id));
    // set-based, the rows as one JSON parameter: as many credits as the platform has, in one statement each
    if (moved.length) {
      const rows = moved.map((c) => ({ id: c.id, key: run.target.get(c.competency_key) }));
      await tx.execute(sql`UPDATE manual_credits m SET referential_id = ${to.id}, referential_version = ${to.version}, competency_key = x.key
                           FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id int, key text) WHERE m.id = x.id`);
    }
    if (revoked.length) {
      await tx.execute(sql`UPDATE manual_credits SET revoked_at = ${deps.clock().toISOString()}::timestamptz, revoked_by = ${input.actor},
                             revocation_reason = ${`référentiel ${refText(from)} → ${refText(to)}: no counterpart of the competency`}
                           WHERE id IN (SELECT (jsonb_array_elements_text(${JSON.stringify(revoked.map((c) => c.id))}::jsonb))::int)`);
    }
    await insertAudit(tx, [
      ...moved.map((c) => ({
        actor: input.actor,
        action: 'manual-credit.transition',
        subject: `user:${c.user_id}`,
        before: { id: c.id, referential: refText(from), competencyKey: c.competency_key, minutes: c.minutes },
        after: { id: c.id, referential: refText(to), competencyKey: run.target.get(c.competency_key) ?? null, transition: t.id },
      })),
      ...revoked.map((c) => ({
        actor: input.actor,
        action: 'manual-credit.revoke',
        subject: `user:${c.user_id}`,
        before: { id: c.id, competencyKey: c.competency_key, minutes: c.minutes },
        after: { reason: `référentiel ${refText(from)} → ${refText(to)}: no counterpart`, transition: t.id },
      })),
    ]);
    const followers: Record<string, number> = {};
    for (const f of VERSION_FOLLOWERS) followers[f.name] = await f.follow(tx, { platformId: t.platformId, from, to, actor: input.actor });
    const coverage = await afterLearnersChange(tx, deps, t.platformId, run.learners, input.coverageImmediateLimit);
    const [applied] = await tx
      .update(referentialTransitions)
      .set({ status: 'applied', appliedBy: input.actor, appliedAt: deps.clock(), report, updatedBy: input.actor, updatedAt: deps.clock() })
      .where(eq(referentialTransitions.id, t.id))
      .returning();
    if (!applied) throw new Error('transition not updated');
    const { changed, ...counts } = report;
    await tx.insert(auditEvents).values({
      actor: input.actor,
      action: 'referential-transition.apply',
      subject: `platform:${t.platformId}`,
      before: { transition: t.id, referential: refText(from), correspondence: t.correspondence },
      after: { referential: refText(to), ...counts, changed: changed.length, acceptLosses: input.acceptLosses, followers },
    });
    return { transition: applied, report, followers, coverage };
  });
}

/** A report's learners as people read them: LTI sub and name beside the figures, those losing hours first. */
export async function reportLearners(ex: Executor, platformId: number, report: TransitionReport) {
  const ids = report.changed.map((d) => d.userId);
  const people = ids.length
    ? await ex.select({ id: users.id, sub: users.sub, name: users.name }).from(users).where(and(eq(users.platformId, platformId), inArray(users.id, ids)))
    : [];
  const byId = new Map(people.map((p) => [p.id, p]));
  return report.changed
    .map((d) => ({ ...d, sub: byId.get(d.userId)?.sub ?? String(d.userId), name: byId.get(d.userId)?.name ?? null }))
    .sort((a, b) => Number(b.lost) - Number(a.lost) || a.sub.localeCompare(b.sub));
}

/**
 * The report as CSV for French spreadsheets: per learner a total line, then a line per domain whose minutes differ;
 * hours lost and gained in two columns (never negative: a leading minus would be escaped as a formula).
 */
export function reportCsv(t: Transition, learners: Awaited<ReturnType<typeof reportLearners>>): string {
  const hours = (minutes: number) => (minutes / 60).toFixed(2).replace('.', ',');
  const rows = learners.flatMap((l) =>
    [{ code: 'total', before: l.before, after: l.after }, ...l.domains.filter((d) => d.before !== d.after)].map((r) => [
      refText(fromOf(t)),
      refText(toOf(t)),
      l.sub,
      l.name ?? '',
      r.code,
      hours(r.before),
      hours(r.after),
      hours(Math.max(0, r.before - r.after)),
      hours(Math.max(0, r.after - r.before)),
    ]),
  );
  return stringify(rows, {
    header: true,
    columns: ['ancienne_version', 'nouvelle_version', 'apprenant', 'nom', 'domaine', 'heures_avant', 'heures_apres', 'heures_perdues', 'heures_gagnees'],
    delimiter: ';',
    bom: true,
    record_delimiter: 'windows',
    escape_formulas: true,
  });
}

/**
 * The versions the platform uses (in its mappings, active credits, courses' choice or default) that have a later
 * stored version of the same référentiel: what an administrator may move from, and to which versions.
 */
export async function versionsInUse(ex: Executor, platformId: number): Promise<{ from: VersionRef & { title: string }; later: (VersionRef & { title: string })[] }[]> {
  const rows = await queryRows<{ id: string; version: string; title: string; later: { id: string; version: string; title: string }[] }>(
    ex,
    sql`WITH used AS (
          SELECT m.referential_id AS id, m.referential_version AS version FROM activity_mappings m JOIN courses c ON c.id = m.course_id WHERE c.platform_id = ${platformId}
          UNION SELECT referential_id, referential_version FROM manual_credits WHERE platform_id = ${platformId} AND revoked_at IS NULL
          UNION SELECT referential_id, referential_version FROM courses WHERE platform_id = ${platformId} AND referential_version IS NOT NULL
          UNION SELECT default_referential_id, default_referential_version FROM platform_settings
                WHERE platform_id = ${platformId} AND default_referential_version IS NOT NULL)
        SELECT r.id, r.version, r.title,
               (SELECT coalesce(json_agg(json_build_object('id', n.id, 'version', n.version, 'title', n.title) ORDER BY n.seq DESC), '[]')
                  FROM referentials n WHERE n.id = r.id AND n.seq > r.seq) AS later
        FROM used u JOIN referentials r ON r.id = u.id AND r.version = u.version
        ORDER BY r.id, r.seq`,
  );
  return rows.filter((r) => r.later.length > 0).map((r) => ({ from: { id: r.id, version: r.version, title: r.title }, later: r.later }));
}
