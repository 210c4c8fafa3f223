import type { Command } from 'commander';
import { outboxStatus, retryDead } from '../forwarding/outbox';
import { createXapiKey, listXapiKeys, revokeXapiKey } from '../xapi/keys';
import { notFound } from '../domain/errors';
import { output, type WithContext } from './command';

export function registerXapi(program: Command, withContext: WithContext): void {
  const keys = program.command('xapi-keys').description("credentials for a platform's xAPI emitter (Moodle logstore_xapi) to POST to /xapi/statements");
  keys
    .command('create')
    .description('issue a key and secret for a platform (the secret is shown once)')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot), as registered")
    .option('--json', 'print {"key","secret"} as JSON')
    .action(async (opts: { platform: string; json?: boolean }) => {
      const created = await withContext((ctx) => createXapiKey(ctx.store.db, opts.platform));
      output({ key: created.key, secret: created.secret }, Boolean(opts.json), () =>
        [
          `xAPI credentials for ${created.platform} (the secret is not stored and cannot be shown again):`,
          `  key:    ${created.key}`,
          `  secret: ${created.secret}`,
          'In Moodle (logstore_xapi settings): endpoint = <PUBLIC_URL>/xapi/, username = key, password = secret.',
        ].join('\n'),
      );
    });
  keys
    .command('list')
    .description('list keys (never secrets)')
    .option('--platform <issuer>', 'only the keys of this platform')
    .option('--json', 'print JSON')
    .action(async (opts: { platform?: string; json?: boolean }) => {
      const rows = await withContext((ctx) => listXapiKeys(ctx.store.db, opts.platform));
      output(rows, Boolean(opts.json), () =>
        rows.length === 0
          ? 'No xAPI keys.'
          : rows.map((r) => `${r.key}  ${r.platform}  created ${r.createdAt.toISOString()}${r.revokedAt ? `  revoked ${r.revokedAt.toISOString()}` : ''}`).join('\n'),
      );
    });
  keys
    .command('revoke <key>')
    .description('revoke a key: requests using it are refused from now on')
    .option('--json', 'print JSON')
    .action(async (key: string, opts: { json?: boolean }) => {
      const revoked = await withContext((ctx) => revokeXapiKey(ctx.store.db, key, { verified: ctx.xapiKeys }));
      if (!revoked) throw notFound(`no active xAPI key ${key}`);
      output({ key, revoked: true }, Boolean(opts.json), () => `Revoked ${key}.`);
    });

  const outbox = program.command('outbox').description("statements waiting for the institution's LRS");
  outbox
    .command('status')
    .description('count pending, delivered and dead-lettered statements')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const status = await withContext((ctx) => outboxStatus(ctx.store.db));
      output(status, Boolean(opts.json), () =>
        `pending: ${status.pending}${status.oldestPending ? ` (oldest ${status.oldestPending})` : ''}\ndelivered: ${status.delivered}\ndead: ${status.dead}`,
      );
    });
  outbox
    .command('retry-dead')
    .description('put dead-lettered statements back in the queue')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const requeued = await withContext((ctx) => retryDead(ctx.store.db));
      output({ requeued }, Boolean(opts.json), () => `${requeued} statement(s) queued again.`);
    });
}
