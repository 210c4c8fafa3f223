/**
 * The forecasts of a programme's learners: their stored coverage of the programme's référentiel version (which
 * already aggregates every course, per version), the minutes the programme's courses still offer each of them
 * (mapped activities they have not completed, per domain: computed in SQL), then the pure rules of
 * `domain/forecast.ts`.
 *
 * A learner belongs to a programme through its courses: on a course's roster (not deleted) or with events in it
 * (`course_learners`), unless their roles in that course are known and include no Learner role (a teacher).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { CoverageDeps } from '../coverage/deps';
import { refreshLearners, type StoredDomain } from '../coverage/engine';
import { type Executor, queryRows } from '../db/store';
import { compileRules, computeCoverage, type ReferentialVersion } from '../domain/coverage';
import { type Forecast, forecast, isoDateSchema, isoDay } from '../domain/forecast';
import { wallClock } from '../domain/format';
import { institutionTimeZone } from '../identity/institution';
import { getReferential } from '../referentials/catalogue';

/** Today (YYYY-MM-DD) at `now` in the platform's institution's time zone: the day forecasts are counted at. */
export async function forecastDay(ex: Executor, platformId: number, now: Date): Promise<string> {
  return isoDay(wallClock(now, await institutionTimeZone(ex, platformId)));
}

/** The required minutes of a référentiel version (its total, else its domains' or competencies'); null: no hours. */
export function requiredMinutesOf(referential: ReferentialVersion): number | null {
  return computeCoverage(compileRules(referential), [], []).requiredMinutes;
}

export interface LearnerForecast extends Forecast {
  programmeId: number;
  programmeName: string;
  userId: number;
  user: { sub: string; name: string | null };
  referential: { id: string; version: string };
  /** Per domain of the référentiel: required, validated and still-mappable minutes. */
  domains: { code: string; requiredMinutes: number; validatedMinutes: number; mappableMinutes: number }[];
}

/**
 * A course member who is a teacher there: roles known and none of them Learner (as the cohort's `inCohort`).
 * `courseId` and `userId` are SQL expressions.
 */
export const teacherIn = (courseId: SQL, userId: SQL) =>
  sql`EXISTS (SELECT 1 FROM course_members t WHERE t.course_id = ${courseId} AND t.user_id = ${userId} AND cardinality(t.roles) > 0
                AND NOT EXISTS (SELECT 1 FROM unnest(t.roles) r WHERE r = 'Learner' OR r LIKE '%#Learner'))`;

interface Filter {
  programmeId?: number;
  userIds?: readonly number[];
  referential?: { id: string; version: string };
}

interface Row {
  programme_id: number;
  programme_name: string;
  referential_id: string;
  referential_version: string;
  intake_year: number;
  due_date: string;
  user_id: number;
  sub: string;
  name: string | null;
  validated_minutes: number | null;
  domains: StoredDomain[] | null;
  mappable: Record<string, number> | null;
}

/** The learners of the programmes matching `filter` with their figures, in one query. */
function forecastQuery(platformId: number, filter: Filter): SQL {
  const users = filter.userIds ? sql`string_to_array(${filter.userIds.join(',')}, ',')::int[]` : undefined;
  const mine = (column: SQL) => (users ? sql`AND ${column} = ANY(${users})` : sql``);
  return sql`
    WITH prog AS (
      SELECT id, name, referential_id, referential_version, intake_year, due_date FROM programmes
       WHERE platform_id = ${platformId}
         ${filter.programmeId !== undefined ? sql`AND id = ${filter.programmeId}` : sql``}
         ${filter.referential ? sql`AND referential_id = ${filter.referential.id} AND referential_version = ${filter.referential.version}` : sql``}
    ), pc AS (
      SELECT pc.programme_id, pc.course_id FROM programme_courses pc JOIN prog ON prog.id = pc.programme_id
    ), candidates AS (
      SELECT pc.programme_id, pc.course_id, cm.user_id FROM pc JOIN course_members cm ON cm.course_id = pc.course_id AND cm.status <> 'deleted' ${mine(sql`cm.user_id`)}
      UNION
      SELECT pc.programme_id, pc.course_id, cl.user_id FROM pc JOIN course_learners cl ON cl.course_id = pc.course_id ${mine(sql`cl.user_id`)}
    ), members AS (
      SELECT DISTINCT c.programme_id, c.user_id FROM candidates c WHERE NOT ${teacherIn(sql`c.course_id`, sql`c.user_id`)}
    ), mapped AS (
      SELECT pc.programme_id, m.activity_iri, rc.domain_code, m.minutes
        FROM pc JOIN prog ON prog.id = pc.programme_id
        JOIN activity_mappings m ON m.course_id = pc.course_id AND m.referential_id = prog.referential_id AND m.referential_version = prog.referential_version
        JOIN referential_competencies rc ON rc.referential_id = m.referential_id AND rc.version = m.referential_version AND rc.key = m.competency_key
        LEFT JOIN course_activities ca ON ca.course_id = m.course_id AND ca.iri = m.activity_iri
       WHERE ca.gone_at IS NULL
    ), offered AS (
      SELECT programme_id, domain_code, sum(minutes)::int AS minutes FROM mapped GROUP BY programme_id, domain_code
    ), latest AS (
      SELECT DISTINCT ON (e.user_id, e.activity_iri) e.user_id, e.activity_iri, e.kind
        FROM completion_events e
       WHERE NOT e.voided AND e.user_id IN (SELECT user_id FROM members) AND e.activity_iri IN (SELECT activity_iri FROM mapped)
       ORDER BY e.user_id, e.activity_iri, e.statement_timestamp DESC, e.id DESC, e.position DESC
    ), completed AS (
      SELECT mb.programme_id, mb.user_id, mp.domain_code, sum(mp.minutes)::int AS minutes
        FROM members mb JOIN latest lt ON lt.user_id = mb.user_id AND lt.kind = 'completed'
        JOIN mapped mp ON mp.programme_id = mb.programme_id AND mp.activity_iri = lt.activity_iri
       GROUP BY mb.programme_id, mb.user_id, mp.domain_code
    )
    SELECT p.id AS programme_id, p.name AS programme_name, p.referential_id, p.referential_version, p.intake_year, p.due_date,
           mb.user_id, u.sub, u.name, lc.validated_minutes, lc.domains,
           (SELECT jsonb_object_agg(o.domain_code, o.minutes - coalesce(c.minutes, 0)) FROM offered o
              LEFT JOIN completed c ON c.programme_id = o.programme_id AND c.user_id = mb.user_id AND c.domain_code = o.domain_code
             WHERE o.programme_id = mb.programme_id) AS mappable
      FROM members mb
      JOIN prog p ON p.id = mb.programme_id
      JOIN users u ON u.id = mb.user_id AND u.platform_id = ${platformId}
      LEFT JOIN learner_coverage lc ON lc.user_id = mb.user_id AND lc.referential_id = p.referential_id AND lc.referential_version = p.referential_version
     ORDER BY p.id, mb.user_id`;
}

/**
 * With `deps`, learners whose stored coverage is stale are recomputed first (as the course views do); without, the
 * stored coverage is read as it is.
 */
async function forecasts(ex: Executor, platformId: number, filter: Filter, today: string, deps?: CoverageDeps): Promise<LearnerForecast[]> {
  const day = isoDateSchema.parse(today);
  if (filter.userIds && filter.userIds.length === 0) return [];
  let rows = await queryRows<Row>(ex, forecastQuery(platformId, filter));
  if (deps && rows.length) {
    const list = sql`string_to_array(${[...new Set(rows.map((r) => r.user_id))].join(',')}, ',')::int[]`;
    const dirty = (await queryRows<{ user_id: number }>(ex, sql`SELECT user_id FROM coverage_dirty WHERE user_id = ANY(${list})`)).map((r) => r.user_id);
    if (dirty.length) {
      await refreshLearners(ex, deps, platformId, dirty);
      rows = await queryRows<Row>(ex, forecastQuery(platformId, filter));
    }
  }
  const empties = new Map<string, ReturnType<typeof computeCoverage> | null>();
  const out: LearnerForecast[] = [];
  for (const r of rows) {
    const key = `${r.referential_id}@${r.referential_version}`;
    if (!empties.has(key)) {
      const referential = await getReferential(ex, r.referential_id, r.referential_version);
      empties.set(key, referential ? computeCoverage(compileRules(referential), [], []) : null);
    }
    const empty = empties.get(key);
    if (!empty) continue;
    const stored = new Map((r.domains ?? []).map((d) => [d.code, d]));
    const domains = empty.domains.map((d) => ({
      code: d.code,
      requiredMinutes: d.requiredMinutes ?? 0,
      validatedMinutes: stored.get(d.code)?.validatedMinutes ?? 0,
      mappableMinutes: Math.max(0, r.mappable?.[d.code] ?? 0),
    }));
    const f = forecast({
      requiredMinutes: empty.requiredMinutes ?? 0,
      validatedMinutes: r.validated_minutes ?? 0,
      mappableMinutes: domains.reduce((s, d) => s + d.mappableMinutes, 0),
      domains,
      intakeYear: r.intake_year,
      dueDate: r.due_date,
      today: day,
    });
    out.push({
      programmeId: r.programme_id,
      programmeName: r.programme_name,
      userId: r.user_id,
      user: { sub: r.sub, name: r.name },
      referential: { id: r.referential_id, version: r.referential_version },
      ...f,
      domains,
    });
  }
  return out;
}

/** The forecast of every learner of one programme of the platform (by user id), at `today` (YYYY-MM-DD). */
export function programmeForecasts(ex: Executor, platformId: number, programmeId: number, today: string, deps?: CoverageDeps): Promise<LearnerForecast[]> {
  return forecasts(ex, platformId, { programmeId }, today, deps);
}

/** The forecasts of one learner of the platform: one per programme they belong to. */
export function learnerForecasts(ex: Executor, platformId: number, userId: number, today: string, deps?: CoverageDeps): Promise<LearnerForecast[]> {
  return forecasts(ex, platformId, { userIds: [userId] }, today, deps);
}

/**
 * The forecast of each of these learners for one référentiel version: from the programme of that version they
 * belong to (the one due first when they are in several). Learners in none are absent from the map.
 */
export async function referentialForecasts(
  ex: Executor,
  platformId: number,
  referential: { id: string; version: string },
  userIds: readonly number[],
  today: string,
  deps?: CoverageDeps,
): Promise<Map<number, LearnerForecast>> {
  const all = await forecasts(ex, platformId, { referential, userIds }, today, deps);
  const byUser = new Map<number, LearnerForecast>();
  for (const f of all) {
    const known = byUser.get(f.userId);
    if (!known || f.dueDate < known.dueDate || (f.dueDate === known.dueDate && f.programmeId < known.programmeId)) byUser.set(f.userId, f);
  }
  return byUser;
}
