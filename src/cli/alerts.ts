import type { Command } from 'commander';
import { notFound } from '../domain/errors';
import { findPlatform, findUser } from '../identity/records';
import { institutionTimeZone } from '../identity/institution';
import { buildDigest, recipients } from '../alerts/digest';
import { renderDigest } from '../alerts/render';
import { digestWeek } from '../alerts/schedule';
import { DEFAULT_SCHEDULE, optOutUrl, previousAtRisk, type DigestResult, sendDigests } from '../alerts/send';
import { output, type WithContext } from './command';

const OUTCOME: Record<DigestResult['outcome'], string> = {
  sent: 'sent',
  empty: 'nothing to report (not sent)',
  failed: 'FAILED (tried again by the worker)',
  taken: 'already sent this week, or being sent by another process',
  would_send: 'would be sent',
  would_skip: 'nothing to report (would not be sent)',
};

function human(results: DigestResult[]): string {
  if (!results.length) return 'No digest to send: no teacher or administrator with an address is waiting for this week’s digest.';
  return results
    .map((r) => `${r.platform}  user ${r.userId}${r.name ? ` (${r.name})` : ''}  week of ${r.week}: ${OUTCOME[r.outcome]}` +
      ` — ${r.newlyAtRisk} newly at risk, ${r.uncoveredDomains} uncovered domain(s), ${r.neverCompleted} activity(ies) never completed`)
    .join('\n');
}

export function registerAlerts(program: Command, withContext: WithContext): void {
  const alerts = program.command('alerts').description('the weekly digests of teachers and programme managers (SMTP_URL, MAIL_FROM)');
  alerts
    .command('send')
    .description('send this week’s digests now (each recipient gets at most one a week; the worker sends them on ALERTS_DAY at ALERTS_HOUR)')
    .option('--platform <issuer>', "only this platform (Moodle wwwroot)")
    .option('--dry-run', 'build the digests and say what would be sent; send and record nothing')
    .option('--json', 'print JSON')
    .action(async (opts: { platform?: string; dryRun?: boolean; json?: boolean }) => {
      const results = await withContext((ctx) => sendDigests(ctx, { ...(opts.platform ? { platform: opts.platform } : {}), dryRun: Boolean(opts.dryRun) }));
      output(results, Boolean(opts.json), () => human(results));
    });
  alerts
    .command('preview')
    .description('print the digest e-mails of this week as they would be sent (nothing is sent or recorded)')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--user <sub>', 'only this recipient (their LTI user id)')
    .option('--html', 'print the HTML part instead of the text')
    .option('--json', 'print the digests as JSON')
    .action(async (opts: { platform: string; user?: string; html?: boolean; json?: boolean }) => {
      const previews = await withContext(async (ctx) => {
        const platform = await findPlatform(ctx.store.db, opts.platform);
        if (!platform) throw notFound(`--platform: no platform ${opts.platform} (see socle platforms list)`);
        const user = opts.user === undefined ? undefined : await findUser(ctx.store.db, platform.id, opts.user);
        if (opts.user !== undefined && !user) throw notFound(`--user: no user ${opts.user} on ${opts.platform}`);
        const { week, today } = digestWeek(ctx.clock(), await institutionTimeZone(ctx.store.db, platform.id), ctx.config.alerts ?? DEFAULT_SCHEDULE);
        const out = [];
        for (const r of await recipients(ctx.store.db, platform.id, user ? { userId: user.id } : {})) {
          const digest = await buildDigest(ctx, ctx.store.db, r, { week, today, previous: await previousAtRisk(ctx, r.userId, week) });
          out.push({ digest, message: renderDigest(digest, optOutUrl(ctx, r.userId)) });
        }
        if (user && !out.length) throw notFound(`--user: ${opts.user} receives no digest (no address from their launches, or opted out)`);
        return out;
      });
      output(
        previews.map((p) => ({ ...p.digest, subject: p.message.subject })),
        Boolean(opts.json),
        () => previews.map((p) => `To: ${p.digest.email ?? '—'}\nSubject: ${p.message.subject}\n\n${opts.html ? p.message.html : p.message.text}`).join('\n\n') || 'No recipient on this platform.',
      );
    });
}
