import type { Command } from 'commander';
import { outboxStatus, retryDead } from '../forwarding/outbox';
import { XAPI_SCOPES } from '../db/schema';
import { createXapiClient, createXapiKey, DEFAULT_CLIENT_SCOPES, listXapiKeys, revokeXapiKey } from '../xapi/keys';
import { invalid, notFound } from '../domain/errors';
import { output, type WithContext } from './command';

/** Options given more than once, or comma-separated, as one list. */
const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerXapi(program: Command, withContext: WithContext): void {
  const keys = program
    .command('xapi-keys')
    .description("credentials of the xAPI endpoint (/xapi): platform keys (a platform's emitter, Moodle logstore_xapi) and LRS clients with xAPI scopes");
  keys
    .command('create')
    .description('issue a platform key (--platform) or an LRS client (--client); the secret is shown once')
    .option('--platform <issuer>', "the platform's issuer (Moodle wwwroot), as registered: the key acts for it (with --client: the client is restricted to it)")
    .option('--client <name>', 'an LRS client of this name, with the scopes of --scope')
    .option('--scope <scopes>', `xAPI scopes of the client, repeatable or comma-separated: ${XAPI_SCOPES.join(', ')} (default: ${DEFAULT_CLIENT_SCOPES.join(', ')})`, collect, [])
    .option('--json', 'print {"key","secret"} as JSON')
    .action(async (opts: { platform?: string; client?: string; scope: string[]; json?: boolean }) => {
      if (opts.client === undefined) {
        if (opts.platform === undefined) throw invalid('Give --platform <issuer> (a platform key) or --client <name> (an LRS client).', [{ path: '--platform', message: 'required without --client' }]);
        if (opts.scope.length) throw invalid('--scope applies to an LRS client (--client): a platform key has every scope.', [{ path: '--scope', message: 'only with --client' }]);
        const issuer = opts.platform;
        const created = await withContext((ctx) => createXapiKey(ctx.store.db, issuer));
        output({ key: created.key, secret: created.secret }, Boolean(opts.json), () =>
          [
            `xAPI credentials for ${created.platform} (the secret is not stored and cannot be shown again):`,
            `  key:    ${created.key}`,
            `  secret: ${created.secret}`,
            'In Moodle (logstore_xapi settings): endpoint = <PUBLIC_URL>/xapi/, username = key, password = secret.',
          ].join('\n'),
        );
        return;
      }
      const client = { name: opts.client, scopes: opts.scope, ...(opts.platform !== undefined ? { issuer: opts.platform } : {}) };
      const created = await withContext((ctx) => createXapiClient(ctx.store.db, client));
      output(created, Boolean(opts.json), () =>
        [
          `LRS client "${created.name}" (the secret is not stored and cannot be shown again):`,
          `  key:      ${created.key}`,
          `  secret:   ${created.secret}`,
          `  scopes:   ${created.scopes.join(', ')}`,
          `  platform: ${created.platform ?? 'none (its documents and statements are its own)'}`,
          'Endpoint: <PUBLIC_URL>/xapi/, Basic authentication with key and secret.',
        ].join('\n'),
      );
    });
  keys
    .command('list')
    .description('list platform keys and LRS clients (never secrets)')
    .option('--platform <issuer>', 'only the keys and clients acting for this platform')
    .option('--json', 'print JSON')
    .action(async (opts: { platform?: string; json?: boolean }) => {
      const rows = await withContext((ctx) => listXapiKeys(ctx.store.db, opts.platform));
      output(rows, Boolean(opts.json), () =>
        rows.length === 0
          ? 'No xAPI keys.'
          : rows
              .map(
                (r) =>
                  `${r.key}  ${r.kind === 'platform' ? `platform ${r.platform ?? ''}` : `client "${r.name ?? ''}" ${r.platform ?? '(no platform)'} [${r.scopes.join(', ')}]`}` +
                  `  created ${r.createdAt.toISOString()}${r.revokedAt ? `  revoked ${r.revokedAt.toISOString()}` : ''}`,
              )
              .join('\n'),
      );
    });
  keys
    .command('revoke <key>')
    .description('revoke a platform key or an LRS client: requests using it are refused from now on')
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
