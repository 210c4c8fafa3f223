import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { grantManualCredit, hoursToMinutes, listManualCredits, revokeManualCredit } from '../coverage/credits';
import { MAX_EVIDENCE_BYTES } from '../coverage/evidence';
import { recomputeAll } from '../coverage/recompute';
import { coverageDeps } from '../coverage/deps';
import { findPlatform, findUser } from '../identity/records';
import type { Executor } from '../db/store';
import { invalid, notFound, SocleError } from '../domain/errors';
import { output, type WithContext } from './command';
import { formatMinutes } from '../domain/format';
import { registerImports } from './imports';

async function platformOf(ex: Executor, issuer: string) {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`--platform: no platform ${issuer}`);
  return platform;
}


/** `socle credits grant|revoke|list|import|imports` and `socle coverage recompute`. */
export function registerCoverage(program: Command, withContext: WithContext): void {
  const credits = program.command('credits').description('manual credits (recognition of prior learning, face-to-face attendance)');
  credits
    .command('grant')
    .description('grant hours on a competency to a learner, with a justification (audited)')
    .requiredOption('--platform <issuer>', 'the LTI issuer of the platform')
    .requiredOption('--user <sub>', 'the learner (LTI sub = Moodle user id)')
    .requiredOption('--referential <id>', 'the référentiel id')
    .option('--version <version>', 'the référentiel version (default: the current one)')
    .requiredOption('--competency <key>', 'the competency key')
    .requiredOption('--hours <hours>', 'hours granted, e.g. 2 or 1,5')
    .requiredOption('--justification <text>', 'why (shown with the credit everywhere)')
    .option('--evidence <file>', `an evidence file kept with the credit: a PDF or an image (PNG, JPEG, WebP), at most ${MAX_EVIDENCE_BYTES / 1024 / 1024} MiB`)
    .option('--json', 'print the credit as JSON')
    .action(async (opts: { platform: string; user: string; referential: string; version?: string; competency: string; hours: string; justification: string; evidence?: string; json?: boolean }) => {
      const minutes = hoursToMinutes(opts.hours);
      if (minutes === undefined || minutes <= 0) throw invalid(`--hours: expected a positive number of hours such as 2 or 1,5, got "${opts.hours}"`);
      if (!opts.justification.trim()) throw invalid('--justification: a manual credit needs a justification');
      let evidence: { fileName: string; data: Buffer } | undefined;
      if (opts.evidence) {
        const file = opts.evidence;
        const size = fs.statSync(file, { throwIfNoEntry: false });
        if (!size?.isFile()) throw invalid(`--evidence: no file ${file}`);
        if (size.size > MAX_EVIDENCE_BYTES) throw new SocleError('payload_too_large', `--evidence: ${file} is larger than ${MAX_EVIDENCE_BYTES / 1024 / 1024} MiB`);
        evidence = { fileName: path.basename(file), data: fs.readFileSync(file) };
      }
      const record = await withContext((ctx) =>
        ctx.store.db.transaction(async (tx) => {
          const platform = await platformOf(tx, opts.platform);
          const user = await findUser(tx, platform.id, opts.user);
          if (!user) throw notFound(`--user: no user ${opts.user} on ${platform.issuer}`);
          try {
            return await grantManualCredit(tx, coverageDeps(ctx, tx), {
              platformId: platform.id,
              userId: user.id,
              referentialId: opts.referential,
              referentialVersion: opts.version,
              competencyKey: opts.competency,
              minutes,
              justification: opts.justification,
              actor: 'cli',
              ...(evidence ? { evidence } : {}),
            });
          } catch (error) {
            // The detail names the option: `--competency: no competency "9.9" in …`.
            if (error instanceof SocleError && error.details[0]) throw new SocleError(error.code, `--${error.details[0].path}: ${error.message}`);
            throw error;
          }
        }),
      );
      output(record, Boolean(opts.json), () => `Manual credit ${record.id}: ${formatMinutes(record.minutes)} on ${record.competencyKey} (${record.referentialId} ${record.referentialVersion}).`);
    });
  credits
    .command('revoke <id>')
    .description('revoke a manual credit (audited)')
    .option('--reason <text>', 'why it is revoked')
    .action(async (id: string, opts: { reason?: string }) => {
      if (!/^\d+$/.test(id)) throw invalid(`id: expected the credit number shown by socle credits list, got "${id}"`);
      const record = await withContext((ctx) =>
        ctx.store.db.transaction((tx) => revokeManualCredit(tx, coverageDeps(ctx, tx), { id: Number(id), actor: 'cli', reason: opts.reason })),
      );
      if (!record) throw notFound(`no active manual credit ${id}`);
      output({ revoked: record.id }, false, () => `Revoked manual credit ${record.id}.`);
    });
  credits
    .command('list')
    .description("a learner's manual credits, revoked ones included")
    .requiredOption('--platform <issuer>', 'the LTI issuer of the platform')
    .requiredOption('--user <sub>', 'the learner (LTI sub)')
    .option('--json', 'print JSON')
    .action(async (opts: { platform: string; user: string; json?: boolean }) => {
      const rows = await withContext(async ({ store }) => {
        const platform = await platformOf(store.db, opts.platform);
        const user = await findUser(store.db, platform.id, opts.user);
        if (!user) throw notFound(`--user: no user ${opts.user} on ${platform.issuer}`);
        return listManualCredits(store.db, user.id);
      });
      output(rows, Boolean(opts.json), () =>
        rows.length
          ? rows
              .map((r) => `${r.id}\t${r.referentialId} ${r.referentialVersion}\t${r.competencyKey}\t${formatMinutes(r.minutes)}\t${r.revokedAt ? 'revoked' : 'active'}\t${r.justification}`)
              .join('\n')
          : 'No manual credit.',
      );
    });

  registerImports(credits, withContext);

  const coverage = program.command('coverage').description('stored coverage of the learners');
  coverage
    .command('recompute')
    .description('recompute every stored coverage from the facts (progress on stderr)')
    .option('--platform <issuer>', 'only this platform')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { platform?: string; json?: boolean }) => {
      const result = await withContext(async (ctx) => {
        const platformId = opts.platform ? (await platformOf(ctx.store.db, opts.platform)).id : undefined;
        return recomputeAll(ctx.store.db, coverageDeps(ctx, ctx.store.db), {
          platformId,
          onProgress: (p) => process.stderr.write(`${p.platform}: ${p.learners}/${p.total} learners\n`),
        });
      });
      output(result, Boolean(opts.json), () =>
        [
          `Recomputed ${result.learners} learners (${result.coverages} coverages) on ${result.platforms} platform(s) in ${(result.ms / 1000).toFixed(1)} s.`,
          ...(result.missingReferentials.length ? [`Référentiels not found (not computed): ${result.missingReferentials.join(', ')}`] : []),
        ].join('\n'),
      );
    });
}
