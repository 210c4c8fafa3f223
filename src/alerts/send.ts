/**
 * Sending the weekly digests: for each platform whose sending time has come this week (ALERTS_DAY / ALERTS_HOUR in
 * its institution's time zone), each recipient's digest of the week is claimed (a row keyed by recipient and week,
 * with a lease), built, sent and recorded with the learners it found at risk. Several Socle processes on one
 * database send each digest once: the claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE` that only one of them
 * wins, and a claim whose process died is taken over once its lease has passed (the digest may then go out twice,
 * never zero times).
 */
import { and, asc, eq, lt, sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { alertDigests, platforms } from '../db/schema';
import { SocleError } from '../domain/errors';
import { institutionTimeZone } from '../identity/institution';
import { loggableError } from '../logger';
import { startWorker, type Worker } from '../worker';
import { buildDigest, type Digest, type Recipient, recipients } from './digest';
import { optOutToken } from './preferences';
import { renderDigest } from './render';
import { digestWeek } from './schedule';

/** How long a claimed digest is reserved for the process that claimed it. */
const LEASE_MS = 5 * 60_000;
/** After this many failed attempts a week's digest is given up (`failed`). */
const MAX_ATTEMPTS = 5;
/** The worker looks for due digests this often. */
const INTERVAL_MS = 5 * 60_000;

export const DEFAULT_SCHEDULE = { weekday: 1, hour: 7 };

export type DigestOutcome = 'sent' | 'empty' | 'failed' | 'taken' | 'would_send' | 'would_skip';

export interface DigestResult {
  platform: string;
  userId: number;
  name: string | null;
  week: string;
  outcome: DigestOutcome;
  newlyAtRisk: number;
  uncoveredDomains: number;
  neverCompleted: number;
}

export interface SendOptions {
  /** Only this platform (its issuer). */
  platform?: string;
  /** Build and report, send and record nothing. */
  dryRun?: boolean;
  /** The worker sends only once the week's time has come; the command sends this week's digests now. */
  onSchedule?: boolean;
}

const noMail = () => new SocleError('invalid_config', 'SMTP_URL and MAIL_FROM are not set: digests cannot be e-mailed (they are shown on Socle’s pages; --dry-run says what would be sent).');

/** The opt-out link of a recipient's e-mails (a public page: no login). */
export const optOutUrl = (ctx: AppContext, userId: number) => `${ctx.config.publicUrl}/alerts/opt-out?token=${optOutToken(ctx.config.ltiKey, userId)}`;

/** What the recipient's previous digest found at risk (scope → user ids), or nothing before their first one. */
export async function previousAtRisk(ctx: AppContext, userId: number, week: string): Promise<Record<string, number[]>> {
  const [row] = await ctx.store.db
    .select({ atRisk: alertDigests.atRisk })
    .from(alertDigests)
    .where(and(eq(alertDigests.userId, userId), lt(alertDigests.week, week), sql`${alertDigests.status} IN ('sent', 'empty')`))
    .orderBy(sql`${alertDigests.week} DESC`)
    .limit(1);
  return row?.atRisk ?? {};
}

/** Claims a recipient's digest of the week: the number of the attempt, or undefined when another has it or it is done. */
async function claim(ctx: AppContext, userId: number, week: string): Promise<number | undefined> {
  const lease = sql`now() + make_interval(secs => ${LEASE_MS / 1000})`;
  const [row] = await ctx.store.db
    .insert(alertDigests)
    .values({ userId, week, status: 'sending', leaseUntil: lease })
    .onConflictDoUpdate({
      target: [alertDigests.userId, alertDigests.week],
      set: { leaseUntil: lease, attempts: sql`${alertDigests.attempts} + 1` },
      where: sql`${alertDigests.status} = 'sending' AND ${alertDigests.leaseUntil} < now()`,
    })
    .returning({ attempts: alertDigests.attempts });
  return row?.attempts;
}

async function finish(ctx: AppContext, digest: Digest, status: 'sent' | 'empty') {
  const atRisk = Object.fromEntries(digest.sections.map((s) => [s.scope, s.atRisk.map((l) => l.userId)]));
  await ctx.store.db
    .update(alertDigests)
    .set({ status, atRisk, leaseUntil: null, sentAt: sql`now()` })
    .where(and(eq(alertDigests.userId, digest.userId), eq(alertDigests.week, digest.week)));
}

/** A failed attempt: tried again after a growing delay, given up after MAX_ATTEMPTS. */
async function failed(ctx: AppContext, userId: number, week: string, attempts: number) {
  const retry = sql`now() + make_interval(secs => ${Math.min(attempts, 4) * 15 * 60})`;
  await ctx.store.db
    .update(alertDigests)
    .set(attempts >= MAX_ATTEMPTS ? { status: 'failed', leaseUntil: null } : { leaseUntil: retry })
    .where(and(eq(alertDigests.userId, userId), eq(alertDigests.week, week)));
}

const NOTHING = { newlyAtRisk: 0, uncoveredDomains: 0, neverCompleted: 0 };
const counts = (digest: Digest) => ({
  newlyAtRisk: digest.sections.reduce((n, s) => n + s.newlyAtRisk.length, 0),
  uncoveredDomains: digest.sections.reduce((n, s) => n + s.uncoveredDomains.length, 0),
  neverCompleted: digest.sections.reduce((n, s) => n + s.neverCompleted.length, 0),
});

/** One recipient's digest of the week: claimed, built, sent (when it says something) and recorded. */
async function sendOne(ctx: AppContext, issuer: string, r: Recipient, week: string, today: string, dryRun: boolean): Promise<DigestResult> {
  const base = { platform: issuer, userId: r.userId, name: r.name, week };
  const mail = ctx.mail;
  if (dryRun) {
    const digest = await buildDigest(ctx, ctx.store.db, r, { week, today, previous: await previousAtRisk(ctx, r.userId, week) });
    return { ...base, ...counts(digest), outcome: digest.empty ? 'would_skip' : 'would_send' };
  }
  if (!mail) throw noMail();
  const attempt = await claim(ctx, r.userId, week);
  if (attempt === undefined) return { ...base, ...NOTHING, outcome: 'taken' };
  let digest: Digest | undefined;
  try {
    digest = await buildDigest(ctx, ctx.store.db, r, { week, today, previous: await previousAtRisk(ctx, r.userId, week) });
    if (digest.empty || !r.email) {
      await finish(ctx, digest, 'empty');
      return { ...base, ...counts(digest), outcome: 'empty' };
    }
    const optOut = optOutUrl(ctx, r.userId);
    await mail.send({
      to: r.email,
      ...renderDigest(digest, optOut),
      headers: { 'List-Unsubscribe': `<${optOut}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click', 'Auto-Submitted': 'auto-generated' },
    });
    await finish(ctx, digest, 'sent');
    return { ...base, ...counts(digest), outcome: 'sent' };
  } catch (error) {
    // never the address or the message: the user id and the error's codes
    ctx.logger.warn({ userId: r.userId, week, attempt, error: loggableError(error) }, 'weekly digest not sent; tried again later');
    await failed(ctx, r.userId, week, attempt);
    return { ...base, ...(digest ? counts(digest) : NOTHING), outcome: 'failed' };
  }
}

/** Sends the digests of the week that are due (or, from the command, of this week now). */
export async function sendDigests(ctx: AppContext, options: SendOptions = {}): Promise<DigestResult[]> {
  if (!options.dryRun && !ctx.mail) throw noMail();
  const schedule = ctx.config.alerts ?? DEFAULT_SCHEDULE;
  const rows = await ctx.store.db
    .select({ id: platforms.id, issuer: platforms.issuer })
    .from(platforms)
    .where(options.platform ? eq(platforms.issuer, options.platform) : sql`true`)
    .orderBy(asc(platforms.id));
  if (options.platform && !rows.length) throw new SocleError('not_found', `No platform ${options.platform}.`);
  const results: DigestResult[] = [];
  for (const platform of rows) {
    const { week, today, due } = digestWeek(ctx.clock(), await institutionTimeZone(ctx.store.db, platform.id), schedule);
    if (options.onSchedule && !due) continue;
    for (const r of await recipients(ctx.store.db, platform.id, options.dryRun ? {} : { pendingWeek: week })) {
      results.push(await sendOne(ctx, platform.issuer, r, week, today, options.dryRun ?? false));
    }
  }
  return results;
}

/** The alerts worker: without SMTP_URL there is nothing to send (the digests are on the pages), so none starts. */
export function startAlertsWorker(ctx: AppContext): Worker | undefined {
  if (!ctx.mail) return undefined;
  return startWorker({
    name: 'alerts',
    logger: ctx.logger,
    intervalMs: INTERVAL_MS,
    firstDelayMs: 30_000,
    tick: async () => {
      const results = await sendDigests(ctx, { onSchedule: true });
      const sent = results.filter((r) => r.outcome === 'sent').length;
      if (sent) ctx.logger.info({ sent, empty: results.filter((r) => r.outcome === 'empty').length }, 'weekly digests sent');
    },
  });
}
