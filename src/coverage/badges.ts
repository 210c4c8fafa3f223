/**
 * Badges follow the stored coverage. Called by `writeCoverage` (the single place where `learner_coverage` is
 * written) in the same transaction: a domain whose validated hours reach its required hours, or a référentiel whose
 * status becomes complete, gets its Open Badges credential (idempotent, `earned` statement queued in the xAPI
 * outbox); an active credential whose achievement is no longer met is revoked with the reason.
 *
 * Issuing needs the public URL and the key sealing secret: the context's `badges` (the server's and the CLI's
 * carry them). Without them (contexts for the rules only), nothing is issued or revoked.
 */
import { sql } from 'drizzle-orm';
import { type Executor, queryRows } from '../db/store';
import type { LearnerCoverage } from '../domain/coverage';
import { achievementDefinition, achievementPath, urls } from '../badges/achievements';
import { formatMinutes } from '../domain/format';
import type { ReferentialOutline } from '../domain/referential';
import type { XapiStatement } from '../domain/xapi';
import { type BadgeIssuing, issueCredentials, revokeCredentials } from '../badges/credentials';
import { buildBadgeEarnedStatement } from '../forwarding/emit';
import { enqueueStatements } from '../forwarding/outbox';

/** The référentiel as the badge module needs it, from a computed coverage (same codes, titles and minutes). */
export function referentialOf(c: LearnerCoverage): ReferentialOutline {
  return {
    id: c.referential.id,
    version: c.referential.version,
    title: c.referential.title,
    requiredMinutes: c.requiredMinutes,
    domains: c.domains.map((d) => ({
      code: d.code,
      title: d.title,
      requiredMinutes: d.requiredMinutes,
      competencies: d.competencies.map((k) => ({ key: k.key, code: k.code, title: k.title, requiredMinutes: k.requiredMinutes })),
    })),
  };
}

interface Earned {
  userId: number;
  path: string;
  referential: ReferentialOutline;
  domainCode: string | null;
  minutes: number;
}

/** The achievements a coverage meets: domains with hours whose validated ≥ required, the référentiel when complete. */
export function earnedAchievements(userId: number, c: LearnerCoverage): Earned[] {
  const referential = referentialOf(c);
  const out: Earned[] = [];
  for (const d of c.domains) {
    if (d.requiredMinutes === null || d.requiredMinutes <= 0 || d.validatedMinutes < d.requiredMinutes) continue;
    const def = achievementDefinition(referential, d.code);
    if (def) out.push({ userId, path: def.path, referential, domainCode: d.code, minutes: d.validatedMinutes });
  }
  if (c.status === 'complete') {
    const def = achievementDefinition(referential, null);
    if (def) out.push({ userId, path: def.path, referential, domainCode: null, minutes: c.validatedMinutes });
  }
  return out;
}

export interface BadgePlan {
  issue: Earned[];
  revoke: { id: string; reason: string }[];
}

const pairKey = (userId: number, path: string) => `${userId} ${path}`;
const idArray = (ids: readonly number[]) => sql`string_to_array(${ids.join(',')}, ',')::int[]`;

/**
 * Before the coverage of `userIds` is replaced by `coverages`: which credentials to issue and which to revoke.
 * An achievement met without an active credential is issued when the learner never had one, or when the coverage
 * stored until now did not meet it (so a credential an administrator revoked is not re-issued by a mere recompute).
 */
export async function planBadges(
  ex: Executor,
  userIds: readonly number[],
  coverages: readonly { userId: number; coverage: LearnerCoverage }[],
): Promise<BadgePlan> {
  if (userIds.length === 0) return { issue: [], revoke: [] };
  const ids = idArray(userIds);
  const active = await queryRows<{ id: string; user_id: number; path: string; required_minutes: number | null; name: string }>(
    ex,
    sql`SELECT c.id::text AS id, c.user_id, a.path, a.required_minutes, a.name FROM badge_credentials c
        JOIN badge_achievements a ON a.id = c.achievement_id WHERE c.user_id = ANY(${ids}) AND c.status = 'active'`,
  );
  const earned = new Map<string, Earned>();
  for (const { userId, coverage } of coverages) for (const e of earnedAchievements(userId, coverage)) earned.set(pairKey(e.userId, e.path), e);
  const activePairs = new Set(active.map((a) => pairKey(a.user_id, a.path)));
  const revoke = active
    .filter((a) => !earned.has(pairKey(a.user_id, a.path)))
    .map((a) => ({
      id: a.id,
      reason:
        a.required_minutes === null
          ? `coverage no longer complete for « ${a.name} »`
          : `credits dropped below the threshold of « ${a.name} » (${formatMinutes(a.required_minutes)} required)`,
    }));
  const candidates = [...earned.values()].filter((e) => !activePairs.has(pairKey(e.userId, e.path)));
  if (candidates.length === 0) return { issue: [], revoke };

  const candidateUsers = [...new Set(candidates.map((c) => c.userId))];
  const everHeld = new Set(
    (
      await queryRows<{ user_id: number; path: string }>(
        ex,
        sql`SELECT DISTINCT c.user_id, a.path FROM badge_credentials c JOIN badge_achievements a ON a.id = c.achievement_id
            WHERE c.user_id = ANY(${idArray(candidateUsers)})`,
      )
    ).map((r) => pairKey(r.user_id, r.path)),
  );
  const heldBefore = candidates.filter((c) => everHeld.has(pairKey(c.userId, c.path)));
  const metBefore = new Set<string>();
  if (heldBefore.length) {
    const rows = await queryRows<{ user_id: number; referential_id: string; referential_version: string; status: string; domains: { code: string; requiredMinutes: number | null; validatedMinutes: number }[] }>(
      ex,
      sql`SELECT user_id, referential_id, referential_version, status, domains FROM learner_coverage
          WHERE user_id = ANY(${idArray([...new Set(heldBefore.map((c) => c.userId))])})`,
    );
    for (const r of rows) {
      if (r.status === 'complete') metBefore.add(pairKey(r.user_id, achievementPath(r.referential_id, r.referential_version, null)));
      for (const d of r.domains ?? []) {
        if (d.requiredMinutes !== null && d.requiredMinutes > 0 && d.validatedMinutes >= d.requiredMinutes) {
          metBefore.add(pairKey(r.user_id, achievementPath(r.referential_id, r.referential_version, d.code)));
        }
      }
    }
  }
  const issue = candidates.filter((c) => !everHeld.has(pairKey(c.userId, c.path)) || !metBefore.has(pairKey(c.userId, c.path)));
  return { issue, revoke };
}

/** Statements an outbox INSERT carries (2 parameters each). */
const OUTBOX_CHUNK = 1_000;

/**
 * Carries out a plan in the caller's transaction: revocations (one UPDATE), then credentials (issued as one batch)
 * and their `earned` statements.
 */
export async function applyBadges(ex: Executor, setting: BadgeIssuing, plan: BadgePlan, now: Date): Promise<{ issued: number; revoked: number }> {
  const revoked = await revokeCredentials(ex, plan.revoke, now);
  if (plan.issue.length === 0) return { issued: 0, revoked };
  const results = await issueCredentials(
    ex,
    setting,
    plan.issue.map((e) => ({ userId: e.userId, referential: e.referential, domainCode: e.domainCode, creditsEarnedMinutes: e.minutes, now })),
  );
  // each chunk of statements is queued while the next one is built
  let statements: XapiStatement[] = [];
  let queuing: Promise<void> | undefined;
  let issued = 0;
  const flush = async () => {
    if (queuing) await queuing;
    queuing = statements.length ? enqueueStatements(ex, statements) : undefined;
    queuing?.catch(() => undefined); // awaited at the next flush or at the end
    statements = [];
  };
  for (const [i, result] of results.entries()) {
    const e = plan.issue[i] as Earned;
    if (!result.created || !result.learner) continue;
    issued++;
    statements.push(
      buildBadgeEarnedStatement({
        learner: result.learner,
        badge: { iri: urls.achievement(setting.config.publicUrl, result.achievement.path), name: result.achievement.name },
        referential: { id: e.referential.id, version: e.referential.version, ...(e.domainCode ? { domain: e.domainCode } : {}) },
        timestamp: result.credential.issuedAt,
      }),
    );
    if (statements.length >= OUTBOX_CHUNK) await flush();
  }
  await flush();
  await queuing;
  return { issued, revoked };
}
