/** The compliance source over the stored learner coverage (the default of every context). */
import { eq, type SQL, sql } from 'drizzle-orm';
import { type CoverageServices, coverageDeps } from '../coverage/deps';
import { creditMarked } from '../coverage/freshness';
import { learnerView } from '../coverage/read';
import { platforms } from '../db/schema';
import { institutionOf } from '../identity/institution';
import { DEFAULT_TIME_ZONE } from '../domain/format';
import { type Executor, inList, queryRows } from '../db/store';
import { forecastDay, referentialForecasts } from '../programmes/forecasts';
import type { ComplianceRow, ReportReferential } from './rows';
import { type AttestationFigures, type ComplianceQuery, type ComplianceSource, type ComplianceSummary, DEFAULT_REFERENTIAL, reportReferentialOf } from './source';

const CHUNK = 2_000;

interface LearnerRow {
  user_id: number;
  sub: string;
  name: string | null;
  courses: { contextId: string; title: string | null }[] | null;
  validated_minutes: number | null;
  status: ComplianceRow['status'] | null;
  domains: { code: string; validatedMinutes: number }[] | null;
  completed_at: string | Date | null;
  manual: boolean;
}

/**
 * The learners a query is about: the learners of the selected courses' rosters (or of every course of the platform)
 * and everyone with completion facts in those courses, once each, with their stored coverage of the référentiel
 * version (none yet = nothing validated). `completed_at` is when the last fact that counted arrived, for complete
 * learners. Rows come in keyset chunks, non-compliant learners first, so a 70,000-learner export streams.
 */
function queryParts(query: ComplianceQuery) {
  const courses = query.filters.courses;
  const courseFilter = courses?.length ? sql`AND c.context_id IN (${inList(courses)})` : sql``;
  // the window's days are the institution's (its time zone, Europe/Paris without a profile)
  const zone = sql`coalesce((SELECT i.time_zone FROM institutions i WHERE i.platform_id = ${query.platformId}), ${DEFAULT_TIME_ZONE})`;
  const from = query.filters.from ? sql`AND e.statement_timestamp >= (${query.filters.from}::date::timestamp AT TIME ZONE ${zone})` : sql``;
  const to = query.filters.to ? sql`AND e.statement_timestamp < ((${query.filters.to}::date + 1)::timestamp AT TIME ZONE ${zone})` : sql``;
  const windowed = query.filters.from || query.filters.to;
  /**
   * The learners' courses: active Learner members of the rosters, and whoever has completion facts in the courses
   * (`course_learners`, kept from the facts by the database, rather than every fact read).
   */
  const members = (columns: SQL) => sql`
      SELECT cm.user_id${columns} FROM course_members cm JOIN courses c ON c.id = cm.course_id
       WHERE c.platform_id = ${query.platformId} AND cm.status = 'active'
         AND EXISTS (SELECT 1 FROM unnest(cm.roles) r WHERE r LIKE '%Learner') ${courseFilter}
      UNION
      SELECT cl.user_id${columns} FROM course_learners cl JOIN courses c ON c.id = cl.course_id
       WHERE c.platform_id = ${query.platformId} ${courseFilter}`;
  const inWindow = (user: SQL) =>
    windowed ? sql`WHERE EXISTS (SELECT 1 FROM completion_events e WHERE e.user_id = ${user} AND NOT e.voided ${from} ${to})` : sql``;
  return { members, inWindow };
}

function learnersQuery(query: ComplianceQuery, ref: ReportReferential, afterKey: { rank: number; sub: string } | null) {
  const { members, inWindow } = queryParts(query);
  const rank = sql`CASE coalesce(lc.status, 'not_started') WHEN 'not_started' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END`;
  const after = afterKey ? sql`WHERE (rank, sub) > (${afterKey.rank}, ${afterKey.sub})` : sql``;
  return sql`
    WITH members AS (${members(sql`, c.context_id, c.title`)}),
    learners AS (
      SELECT m.user_id, json_agg(json_build_object('contextId', m.context_id, 'title', m.title) ORDER BY m.context_id) AS courses
        FROM members m GROUP BY m.user_id
    ),
    ranked AS (
      SELECT u.id AS user_id, u.sub, u.name, l.courses, lc.validated_minutes, lc.status, lc.domains, ${rank} AS rank,
             CASE WHEN lc.status = 'complete' THEN (SELECT max(e.statement_timestamp) FROM completion_events e WHERE e.user_id = u.id AND NOT e.voided) END AS completed_at,
             EXISTS (SELECT 1 FROM manual_credits mc WHERE mc.user_id = u.id AND mc.revoked_at IS NULL
                       AND mc.referential_id = ${ref.id} AND mc.referential_version = ${ref.version}) AS manual
        FROM learners l JOIN users u ON u.id = l.user_id
        LEFT JOIN learner_coverage lc ON lc.user_id = u.id AND lc.referential_id = ${ref.id} AND lc.referential_version = ${ref.version}
       ${inWindow(sql`u.id`)}
    )
    SELECT * FROM ranked ${after} ORDER BY rank, sub LIMIT ${CHUNK}`;
}

/**
 * The dashboard over the same learners as `learnersQuery`, in one aggregate: how many, how many complete, and per
 * domain how many have validated its required hours (a learner without stored coverage has validated nothing).
 */
async function summaryOf(ex: Executor, query: ComplianceQuery, ref: ReportReferential): Promise<ComplianceSummary> {
  const { members, inWindow } = queryParts(query);
  const perDomain = ref.domains.map((d) =>
    d.requiredMinutes <= 0
      ? sql`count(*)::int`
      : sql`(count(*) FILTER (WHERE lc.complete_domains ? ${d.code}::text))::int`,
  );
  // `complete_domains`: the stored codes of the domains whose validated minutes reach the stored required minutes,
  // those of this référentiel version
  const [row] = await queryRows<{ learners: number; compliant: number; domains: number[] }>(
    ex,
    sql`WITH members AS (${members(sql``)})
        SELECT count(*)::int AS learners, (count(*) FILTER (WHERE lc.status = 'complete'))::int AS compliant,
               ARRAY[${sql.join(perDomain, sql`, `)}]::int[] AS domains
          FROM members m
          LEFT JOIN learner_coverage lc ON lc.user_id = m.user_id AND lc.referential_id = ${ref.id} AND lc.referential_version = ${ref.version}
         ${inWindow(sql`m.user_id`)}`,
  );
  const learners = row?.learners ?? 0;
  return {
    learners,
    compliant: row?.compliant ?? 0,
    // as counted over the rows: no row, no domain
    domains: learners ? ref.domains.map((d, i) => ({ code: d.code, title: d.title, learners, compliant: row?.domains[i] ?? 0 })) : [],
  };
}

function toRow(ref: ReportReferential, r: LearnerRow, forecast: ComplianceRow['forecast'] = null): ComplianceRow {
  const validated = new Map((r.domains ?? []).map((d) => [d.code, d.validatedMinutes]));
  const domains = ref.domains.map((d) => ({
    code: d.code,
    title: d.title,
    validatedMinutes: Math.min(validated.get(d.code) ?? 0, d.requiredMinutes),
    requiredMinutes: d.requiredMinutes,
  }));
  return {
    learner: { sub: r.sub, name: r.name },
    courses: r.courses ?? [],
    referential: { id: ref.id, version: ref.version },
    domains,
    validatedMinutes: r.validated_minutes ?? 0,
    requiredMinutes: ref.domains.reduce((s, d) => s + d.requiredMinutes, 0),
    status: r.status ?? 'not_started',
    completedAt: r.completed_at ? new Date(r.completed_at) : null,
    hasManualCredits: r.manual,
    forecast,
  };
}

async function* learnerChunks(ex: Executor, query: ComplianceQuery, ref: ReportReferential): AsyncGenerator<LearnerRow[]> {
  let after: { rank: number; sub: string } | null = null;
  for (;;) {
    const chunk: (LearnerRow & { rank: number })[] = await queryRows(ex, learnersQuery(query, ref, after));
    if (chunk.length) yield chunk;
    const last = chunk[chunk.length - 1];
    if (!last || chunk.length < CHUNK) return;
    after = { rank: last.rank, sub: last.sub };
  }
}

async function* learnerRows(ex: Executor, query: ComplianceQuery, ref: ReportReferential): AsyncGenerator<LearnerRow> {
  for await (const chunk of learnerChunks(ex, query, ref)) yield* chunk;
}

/**
 * Reports read the stored learner coverage (kept fresh by the coverage module), with the rosters; attestations list
 * each learner's credits as the coverage module computes them, with the context's référentiels.
 */
export function coverageComplianceSource(services: CoverageServices): ComplianceSource {
  return {
    async referentials(ex, query) {
      // first of every read of a report: the learners marked by the last batches are credited before it counts
      await creditMarked(ex, services, query.platformId);
      const { id, version } = query.filters.referential ?? { id: DEFAULT_REFERENTIAL };
      // From the context's référentiel source, as the rows' coverage and the attestations' credits: columns and rows agree.
      const ref = await reportReferentialOf(services.referentials(ex), id, version);
      return ref ? [ref] : [];
    },
    async count(ex, query) {
      const [ref] = await this.referentials(ex, query);
      if (!ref) return 0;
      let n = 0;
      for await (const _ of learnerRows(ex, query, ref)) n++;
      return n;
    },
    async *rows(ex, query) {
      const [ref] = await this.referentials(ex, query);
      if (!ref) return;
      // each chunk's forecasts (their programmes of this version) at today in the institution's time zone
      const today = await forecastDay(ex, query.platformId, services.clock());
      for await (const chunk of learnerChunks(ex, query, ref)) {
        const forecasts = await referentialForecasts(ex, query.platformId, ref, chunk.map((r) => r.user_id), today);
        for (const r of chunk) {
          const f = forecasts.get(r.user_id);
          yield toRow(ref, r, f ? { status: f.status, dueDate: f.dueDate } : null);
        }
      }
    },
    async summary(ex, query) {
      const [ref] = await this.referentials(ex, query);
      return ref ? summaryOf(ex, query, ref) : { learners: 0, compliant: 0, domains: [] };
    },
    async *attestations(ex, query) {
      const [ref] = await this.referentials(ex, query);
      if (!ref) return;
      const [platform] = await ex.select().from(platforms).where(eq(platforms.id, query.platformId));
      if (!platform) return;
      const { timeZone } = await institutionOf(ex, platform);
      const deps = coverageDeps(services, ex);
      for await (const r of learnerRows(ex, query, ref)) {
        const row = toRow(ref, r);
        const view = await learnerView(ex, deps, platform, { id: r.user_id, sub: r.sub, name: r.name }, ref.id, ref.version);
        const granted = new Map<number, Date>();
        if (r.manual) {
          const rows = await queryRows<{ id: number; granted_at: string | Date }>(ex, sql`SELECT id, granted_at FROM manual_credits WHERE user_id = ${r.user_id}`);
          for (const g of rows) granted.set(g.id, new Date(g.granted_at));
        }
        const credited: Credited[] = view.domains.flatMap((d) =>
          d.competencies.flatMap((c) =>
            c.credits.map((x): Credited => ({
              domain: d.code,
              competency: c.key,
              activity: {
                title: x.source === 'activity' ? (x.activity.name ?? x.activity.id) : `Crédit manuel : ${x.justification}`,
                domainCode: d.code,
                competency: { code: c.code, title: c.title },
                minutes: Math.round((x.hours ?? 0) * 60),
                date: x.source === 'activity' ? new Date(x.completedAt) : (granted.get(x.manualCreditId) ?? services.clock()),
                manual: x.source === 'manual',
              },
            })),
          ),
        );
        const referential = { id: ref.id, version: ref.version, title: ref.title };
        const { from, to } = query.filters;
        if (!from && !to) {
          yield { ...row, referential, activities: credited.map((c) => c.activity) };
          continue;
        }
        // For a period: the figures as of its last day, and the hours validated within it.
        const day = (d: Date) => dayIn(d, timeZone);
        const asOf = (last: string | null) => validatedAsOf(view, credited, (c) => last === null || day(c.activity.date) <= last);
        const end = asOf(to ?? null);
        const before = from ? validatedAsOf(view, credited, (c) => day(c.activity.date) < from) : { total: 0, domains: new Map<string, number>() };
        const completedLater = row.completedAt !== null && to !== undefined && day(row.completedAt) > to;
        yield {
          ...row,
          referential,
          domains: row.domains.map((d) => ({ ...d, validatedMinutes: end.domains.get(d.code) ?? 0 })),
          validatedMinutes: end.total,
          status: completedLater ? (end.total > 0 ? 'in_progress' : 'not_started') : row.status,
          completedAt: completedLater ? null : row.completedAt,
          activities: credited.filter((c) => (!from || day(c.activity.date) >= from) && (!to || day(c.activity.date) <= to)).map((c) => c.activity),
          period: { from: from ?? null, to: to ?? null, periodMinutes: Math.max(0, end.total - before.total), cumulatedMinutes: end.total },
        };
      }
    },
  };
}

/** One credit of a learner's coverage, as an attestation line, with its domain and competency. */
interface Credited {
  domain: string;
  competency: string;
  activity: AttestationFigures['activities'][number];
}

type LearnerView = Awaited<ReturnType<typeof learnerView>>;

/**
 * The minutes validated with the credits `counted` keeps (those dated up to a day): per competency capped at its
 * hours, per domain at the domain's, as the coverage rules cap them.
 */
function validatedAsOf(view: LearnerView, credited: readonly Credited[], counted: (c: Credited) => boolean): { total: number; domains: Map<string, number> } {
  const byCompetency = new Map<string, number>();
  for (const c of credited) if (counted(c)) byCompetency.set(c.competency, (byCompetency.get(c.competency) ?? 0) + c.activity.minutes);
  const domains = new Map<string, number>();
  let total = 0;
  for (const d of view.domains) {
    let sum = 0;
    for (const c of d.competencies) {
      const minutes = byCompetency.get(c.key) ?? 0;
      sum += c.requiredHours === null ? minutes : Math.min(minutes, Math.round(c.requiredHours * 60));
    }
    const validated = d.requiredHours === null ? sum : Math.min(sum, Math.round(d.requiredHours * 60));
    domains.set(d.code, validated);
    total += validated;
  }
  return { total, domains };
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** The day (`YYYY-MM-DD`) of an instant in `timeZone`. */
function dayIn(date: Date, timeZone: string): string {
  let format = dayFormats.get(timeZone);
  if (!format) dayFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  return format.format(date);
}
