/**
 * Full, set-based recompute of the stored coverage (`socle coverage recompute`): per platform, the rules compiled once
 * per référentiel version, then the learners in user-id chunks read by keyset (their events read by range, computed
 * with `cohortCoverage`, written back in one statement), one transaction per chunk: the process holds one chunk's
 * facts at a time, whatever the platform's size.
 */
import { sql } from 'drizzle-orm';
import { cohortCoverage, type LearnerCoverage } from '../domain/coverage';
import { type Database, queryRows } from '../db/store';
import { creditingLock, type DirtyMark, dirtyMarksQuery, type LearnerFacts, loadFacts, loadVersionRules, versionsOf, writeCoverage, toManualCredit } from './engine';
import type { Executor } from '../db/store';
import type { CoverageDeps } from './deps';
import { versionKey } from './referentials';

export interface RecomputeProgress {
  platform: string;
  learners: number;
  total: number;
}

export interface RecomputeResult {
  platforms: number;
  learners: number;
  coverages: number;
  missingReferentials: string[];
  ms: number;
}

/** A digest of what crediting reads for a platform: its mappings, course policies and default policy. */
async function rulesFingerprint(ex: Executor, platformId: number): Promise<string> {
  const [row] = await queryRows<{ f: string | null }>(
    ex,
    sql`SELECT md5(coalesce((SELECT string_agg(concat_ws('|', m.course_id, m.activity_iri, m.referential_id, m.referential_version, m.competency_key, m.minutes), E'\n'
                                     ORDER BY m.course_id, m.activity_iri, m.referential_id, m.referential_version, m.competency_key)
                              FROM activity_mappings m JOIN courses c ON c.id = m.course_id WHERE c.platform_id = ${platformId}), '')
               || coalesce((SELECT string_agg(concat_ws('|', s.course_id, s.require_success, s.cap_to_measured_duration), E'\n' ORDER BY s.course_id)
                              FROM course_settings s JOIN courses c ON c.id = s.course_id WHERE c.platform_id = ${platformId}), '')
               || coalesce((SELECT concat_ws('|', require_success, cap_to_measured_duration) FROM platform_settings WHERE platform_id = ${platformId}), '')) AS f`,
  );
  return row?.f ?? '';
}

export async function recomputeAll(
  db: Database,
  deps: CoverageDeps,
  options: { platformId?: number; chunk?: number; onProgress?: (p: RecomputeProgress) => void } = {},
): Promise<RecomputeResult> {
  const started = Date.now();
  // 2,000 learners (~42,000 facts) a chunk: at 70,000 learners about 350 MB peak RSS for the whole process, 5,000 about 510 MB
  const chunk = options.chunk ?? 2_000;
  const platforms = await queryRows<{ id: number; issuer: string }>(
    db,
    options.platformId === undefined
      ? sql`SELECT id, issuer FROM platforms ORDER BY id`
      : sql`SELECT id, issuer FROM platforms WHERE id = ${options.platformId}`,
  );
  const missing = new Set<string>();
  let learners = 0;
  let coverages = 0;
  for (const platform of platforms) {
    let rules = await loadVersionRules(db, deps.lookup, platform.id, null);
    let rulesOf = await rulesFingerprint(db, platform.id);
    const [counted] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM users WHERE platform_id = ${platform.id}`);
    const total = counted?.n ?? 0;
    let done = 0;
    let after = 0;
    for (;;) {
      // the next chunk of learners by keyset (user id), their facts read by range: never the whole platform at once
      const userIds = (
        await queryRows<{ id: number }>(db, sql`SELECT id FROM users WHERE platform_id = ${platform.id} AND id > ${after} ORDER BY id LIMIT ${chunk}`)
      ).map((r) => r.id);
      if (userIds.length === 0) break;
      const from = userIds[0] as number;
      const to = userIds[userIds.length - 1] as number;
      const current = rules;
      const written = await db.transaction(async (tx) => {
        // as every crediting: the mappings and policies cannot change until this chunk commits, and if they
        // changed since the rules were compiled, the chunk is computed again with the new ones
        await creditingLock(tx, platform.id, 'shared');
        if ((await rulesFingerprint(tx, platform.id)) !== rulesOf) return undefined;
        // the marks before the facts: a mark set after this read stays (its batch may be missing from the facts)
        const [read] = await queryRows<{ marks: DirtyMark[] }>(
          tx,
          dirtyMarksQuery(sql`platform_id = ${platform.id} AND user_id BETWEEN ${from} AND ${to}`),
        );
        const facts = await loadFacts(tx, { platformId: platform.id, fromUserId: from, toUserId: to });
        const rows: { userId: number; coverage: LearnerCoverage }[] = [];
        // group learners by référentiel version, then run the cohort helper once per version
        const byVersion = new Map<string, number[]>();
        for (const [userId, f] of facts) {
          for (const key of versionsOf(current, f)) {
            const members = byVersion.get(key);
            if (members) members.push(userId);
            else byVersion.set(key, [userId]);
          }
        }
        for (const [key, members] of byVersion) {
          const [id, version] = key.split('\u0000') as [string, string];
          const compiled = await current.rules(id, version);
          if (!compiled) continue;
          const cohort = members.map((userId) => {
            const f = facts.get(userId) as LearnerFacts;
            return {
              learnerId: userId,
              events: f.events,
              manualCredits: f.credits.filter((c) => versionKey(c.referential_id, c.referential_version) === key).map(toManualCredit),
            };
          });
          for (const { learnerId, coverage } of cohortCoverage(compiled, cohort)) rows.push({ userId: learnerId, coverage });
        }
        await writeCoverage(tx, deps, platform.id, userIds, rows, read?.marks ?? []);
        return rows.length;
      });
      if (written === undefined) {
        // compiled again outside any transaction (a référentiel lookup must not run inside one), then this chunk again
        for (const m of rules.missing) missing.add(m);
        rules = await loadVersionRules(db, deps.lookup, platform.id, null);
        rulesOf = await rulesFingerprint(db, platform.id);
        continue;
      }
      coverages += written;
      learners += userIds.length;
      done += userIds.length;
      after = to;
      options.onProgress?.({ platform: platform.issuer, learners: Math.min(done, total), total });
    }
    for (const m of rules.missing) missing.add(m);
  }
  return { platforms: platforms.length, learners, coverages, missingReferentials: [...missing], ms: Date.now() - started };
}
