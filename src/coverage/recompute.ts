/**
 * Full, set-based recompute of the stored coverage (`socle coverage recompute`): per platform, the rules compiled once
 * per référentiel version, then the learners in user-id chunks (their events read by range, computed with
 * `cohortCoverage`, written back in multi-row inserts), one transaction per chunk.
 */
import { sql } from 'drizzle-orm';
import { cohortCoverage, type LearnerCoverage } from '../domain/coverage';
import { type Database, queryRows } from '../db/store';
import { type LearnerFacts, loadFacts, loadVersionRules, versionsOf, writeCoverage, toManualCredit } from './engine';
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

export async function recomputeAll(
  db: Database,
  deps: CoverageDeps,
  options: { platformId?: number; chunk?: number; onProgress?: (p: RecomputeProgress) => void } = {},
): Promise<RecomputeResult> {
  const started = Date.now();
  const chunk = options.chunk ?? 5_000;
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
    const rules = await loadVersionRules(db, deps.lookup, platform.id, null);
    const ids = (await queryRows<{ id: number }>(db, sql`SELECT id FROM users WHERE platform_id = ${platform.id} ORDER BY id`)).map((r) => r.id);
    for (let i = 0; i < ids.length; i += chunk) {
      const userIds = ids.slice(i, i + chunk);
      const from = userIds[0] as number;
      const to = userIds[userIds.length - 1] as number;
      await db.transaction(async (tx) => {
        const facts = await loadFacts(tx, { platformId: platform.id, fromUserId: from, toUserId: to });
        const rows: { userId: number; coverage: LearnerCoverage }[] = [];
        // group learners by référentiel version, then run the cohort helper once per version
        const byVersion = new Map<string, number[]>();
        for (const [userId, f] of facts) {
          for (const key of versionsOf(rules, f)) {
            const members = byVersion.get(key);
            if (members) members.push(userId);
            else byVersion.set(key, [userId]);
          }
        }
        for (const [key, members] of byVersion) {
          const [id, version] = key.split('\u0000') as [string, string];
          const compiled = await rules.rules(id, version);
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
        await writeCoverage(tx, deps, platform.id, userIds, rows);
        coverages += rows.length;
      });
      learners += userIds.length;
      options.onProgress?.({ platform: platform.issuer, learners: Math.min(i + chunk, ids.length), total: ids.length });
    }
    for (const m of rules.missing) missing.add(m);
  }
  return { platforms: platforms.length, learners, coverages, missingReferentials: [...missing], ms: Date.now() - started };
}
