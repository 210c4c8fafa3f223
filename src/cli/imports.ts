import fs from 'node:fs';
import type { Command } from 'commander';
import { coverageDeps } from '../coverage/deps';
import { importRecord, listImports, revokeImport } from '../coverage/imports';
import type { Executor } from '../db/store';
import { invalid, notFound, SocleError } from '../domain/errors';
import { formatMinutes } from '../domain/format';
import { findPlatform, findUser } from '../identity/records';
import { output, type WithContext } from './command';

/** The largest record file read (a record of a whole référentiel with its badges is some tens of kB). */
const MAX_RECORD_BYTES = 2 * 1024 * 1024;

async function learnerOf(ex: Executor, issuer: string, sub: string) {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`--platform: no platform ${issuer}`);
  const user = await findUser(ex, platform.id, sub);
  if (!user) throw notFound(`--user: no user ${sub} on ${platform.issuer}`);
  return { platform, user };
}

/** `socle credits import` and `socle credits imports list|revoke`: prior learning from another Socle's learner record. */
export function registerImports(credits: Command, withContext: WithContext): void {
  credits
    .command('import')
    .description("import a learner record (CLR 2.0) of another Socle as prior learning, after verifying it (audited): its competencies' hours become credits")
    .requiredOption('--platform <issuer>', 'the LTI issuer of the learner’s platform')
    .requiredOption('--user <sub>', 'the learner (LTI sub = Moodle user id) the record is of: you vouch for it')
    .requiredOption('--file <file>', 'the record: its VC-JWT (record.jwt) or the JSON of its /records/<id> page')
    .option('--justification <text>', 'added to the justification of the credits')
    .option('--json', 'print the import as JSON')
    .action(async (opts: { platform: string; user: string; file: string; justification?: string; json?: boolean }) => {
      const stat = fs.statSync(opts.file, { throwIfNoEntry: false });
      if (!stat?.isFile()) throw invalid(`--file: no file ${opts.file}`);
      if (stat.size > MAX_RECORD_BYTES) throw new SocleError('payload_too_large', `--file: ${opts.file} is larger than ${MAX_RECORD_BYTES / 1024 / 1024} MiB`);
      const record = fs.readFileSync(opts.file, 'utf8');
      const result = await withContext(async (ctx) => {
        const { platform, user } = await learnerOf(ctx.store.db, opts.platform, opts.user);
        try {
          return await importRecord(ctx.store.db, ctx, ctx, {
            platformId: platform.id,
            userId: user.id,
            record,
            actor: 'cli',
            ...(opts.justification ? { justification: opts.justification } : {}),
          });
        } catch (error) {
          if (error instanceof SocleError && error.details[0]?.path === 'record') throw new SocleError(error.code, `--file: ${error.message}`, error.details);
          throw error;
        }
      });
      const { import: row, ...rest } = result;
      const { jwt: _jwt, ...summary } = row;
      output({ import: summary, ...rest }, Boolean(opts.json), () =>
        [
          result.created
            ? `Imported record ${row.recordId} (${row.issuerName}) as import ${row.id}: ${formatMinutes(row.creditedMinutes)} on ${result.credits.length} competenc${result.credits.length > 1 ? 'ies' : 'y'} (${row.referentialId} ${row.referentialVersion}).`
            : `Record ${row.recordId} already imported for this learner (import ${row.id}): nothing changed.`,
          ...(result.replaced ? [`It replaces import ${result.replaced}.`] : []),
          ...result.missing.map((m) => `Not credited (no competency ${m.key} "${m.code}" here): ${formatMinutes(m.minutes)}.`),
        ].join('\n'),
      );
    });

  const imports = credits.command('imports').description('learner records imported as prior learning');
  imports
    .command('list')
    .description("a platform's imported records (one learner's with --user), revoked and replaced ones included")
    .requiredOption('--platform <issuer>', 'the LTI issuer of the platform')
    .option('--user <sub>', 'only this learner')
    .option('--json', 'print JSON')
    .action(async (opts: { platform: string; user?: string; json?: boolean }) => {
      const rows = await withContext(async ({ store }) => {
        const platform = await findPlatform(store.db, opts.platform);
        if (!platform) throw notFound(`--platform: no platform ${opts.platform}`);
        const userId = opts.user === undefined ? undefined : (await learnerOf(store.db, opts.platform, opts.user)).user.id;
        return listImports(store.db, { platformId: platform.id, ...(userId === undefined ? {} : { userId }) });
      });
      output(rows, Boolean(opts.json), () =>
        rows.length
          ? rows
              .map((r) => `${r.id}\t${r.sub}\t${r.issuerName}\t${r.referentialId} ${r.referentialVersion}\t${formatMinutes(r.creditedMinutes)}\t${r.status}\t${r.recordId}`)
              .join('\n')
          : 'No imported record.',
      );
    });
  imports
    .command('revoke <id>')
    .description('revoke an imported record and its credits (audited)')
    .option('--reason <text>', 'why it is revoked')
    .action(async (id: string, opts: { reason?: string }) => {
      if (!/^\d+$/.test(id)) throw invalid(`id: expected the import number shown by socle credits imports list, got "${id}"`);
      const row = await withContext((ctx) =>
        ctx.store.db.transaction((tx) => revokeImport(tx, coverageDeps(ctx, tx), { id: Number(id), actor: 'cli', ...(opts.reason ? { reason: opts.reason } : {}) })),
      );
      if (!row) throw notFound(`no active imported record ${id}`);
      output({ revoked: row.id }, false, () => `Revoked imported record ${row.id} and its credits.`);
    });
}
