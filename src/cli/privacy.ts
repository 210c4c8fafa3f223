import fs from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { retentionCutoff } from '../privacy/retention';
import { eraseLearner, exportLearner, purgeOlderThan } from '../privacy/service';
import { invalid } from '../domain/errors';
import { checkOutFile, output, toStdout, type WithContext } from './command';

const years = z.coerce.number().int().min(1).max(50);

export function registerPrivacy(program: Command, withContext: WithContext): void {
  const privacy = program.command('privacy').description("GDPR: a learner's data, its erasure, and retention");
  privacy
    .command('export')
    .description('everything Socle holds on a learner, as JSON')
    .requiredOption('--platform <issuer>', "the learner's platform (LTI issuer)")
    .requiredOption('--user <sub>', "the learner's user id on that platform (LTI sub)")
    .option('--out <file>', 'write to a file (created with mode 0600) instead of stdout (-)')
    .action(async (opts: { platform: string; user: string; out?: string }) => {
      checkOutFile(opts.out);
      const data = await withContext(({ store }) => exportLearner(store.db, opts.platform, opts.user));
      const json = `${JSON.stringify(data, null, 2)}\n`;
      if (!toStdout(opts.out) && opts.out) {
        fs.writeFileSync(opts.out, json, { mode: 0o600 });
        process.stderr.write(`Written to ${opts.out}\n`);
      } else process.stdout.write(json);
    });
  privacy
    .command('erase')
    .description("erase a learner: personal data deleted, statements voided in the external LRS, anonymous totals kept")
    .requiredOption('--platform <issuer>', "the learner's platform (LTI issuer)")
    .requiredOption('--user <sub>', "the learner's user id on that platform (LTI sub)")
    .option('--yes', 'confirm: erasure cannot be undone')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { platform: string; user: string; yes?: boolean; json?: boolean }) => {
      if (!opts.yes) throw invalid('erasure cannot be undone: add --yes to confirm');
      const report = await withContext(({ store }) => eraseLearner(store.db, opts.platform, opts.user, { actor: 'cli' }));
      output(report, Boolean(opts.json), () =>
        [
          `Erased user ${opts.user} of ${opts.platform}.`,
          ...Object.entries(report.tables)
            .filter(([, n]) => n > 0)
            .map(([table, n]) => `  ${table}: ${n} row(s) deleted`),
          `  ${report.voidingStatementsQueued} voiding statement(s) queued for the external LRS, ${report.undeliveredStatementsDropped} undelivered statement(s) dropped`,
        ].join('\n'),
      );
    });
  privacy
    .command('purge')
    .description('delete statements and completion facts older than N years (the retention period)')
    .requiredOption('--older-than-years <n>', 'retention period in years (1 to 50)')
    .option('--json', 'print the counts as JSON')
    .action(async (opts: { olderThanYears: string; json?: boolean }) => {
      const parsed = years.safeParse(opts.olderThanYears);
      if (!parsed.success) throw invalid(`--older-than-years: expected a whole number from 1 to 50, got "${opts.olderThanYears}"`);
      const cutoff = retentionCutoff(parsed.data);
      const result = await withContext(({ store }) => purgeOlderThan(store.db, cutoff));
      output({ cutoff: cutoff.toISOString(), ...result, affectedUsers: result.affectedUsers.length }, Boolean(opts.json), () =>
        `Purged before ${cutoff.toISOString()}: ${result.statements} statement(s), ${result.completionEvents} completion fact(s), ${result.outbox} delivered outbox row(s).`,
      );
    });
}
