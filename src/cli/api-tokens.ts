import type { Command } from 'commander';
import { z } from 'zod';
import { createApiToken, listApiTokens, revokeApiToken } from '../identity/api-tokens';
import { findPlatform } from '../identity/records';
import { conflict, invalid, notFound, SocleError } from '../domain/errors';
import { output, type WithContext } from './command';

const tokenName = z.string().regex(/^[\w.-]{1,64}$/, 'expected 1 to 64 letters, digits, ".", "_" or "-"');

export function registerApiTokens(program: Command, withContext: WithContext): void {
  const tokens = program.command('api-tokens').description('API tokens for machine callers of /api/v1 (sent as Authorization: Bearer)');
  tokens
    .command('create')
    .description('create a token; it is printed once and only its digest is kept')
    .requiredOption('--name <name>', 'a name to recognise and revoke it by')
    .requiredOption('--role <role>', 'the role it acts with: admin')
    .option('--platform <issuer>', 'limit it to one platform (its LTI issuer)')
    .option('--json', 'print {"token"} as JSON')
    .action(async (opts: { name: string; role: string; platform?: string; json?: boolean }) => {
      const name = tokenName.safeParse(opts.name);
      if (!name.success) throw invalid(`--name: ${name.error.issues[0]?.message}`);
      if (opts.role !== 'admin') throw invalid(`--role: expected admin, got "${opts.role}"`);
      const { token } = await withContext(async ({ store }) =>
        store.db.transaction(async (tx) => {
          let platformId: number | null = null;
          if (opts.platform) {
            const platform = await findPlatform(tx, opts.platform);
            if (!platform) throw notFound(`--platform: no platform ${opts.platform} (see socle platforms list)`);
            platformId = platform.id;
          }
          return createApiToken(tx, { name: name.data, role: 'admin', platformId }).catch((error: unknown) => {
            // A taken name is the option's fault: say which option, as for the other refusals.
            throw SocleError.is(error, 'conflict') ? conflict(`--name: ${error.message}`, error.details) : error;
          });
        }),
      );
      output({ token }, Boolean(opts.json), () => `${token}\nKeep it secret: it is shown only once.`);
    });
  tokens
    .command('list')
    .description('list tokens (never their value)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withContext(({ store }) => listApiTokens(store.db));
      output(rows, Boolean(opts.json), () =>
        rows.length
          ? rows
              .map((r) => `${r.name}\t${r.role}\t${r.platform ?? 'all platforms'}\t${r.revokedAt ? 'revoked' : 'active'}`)
              .join('\n')
          : 'No API token yet: socle api-tokens create --name NAME --role admin',
      );
    });
  tokens
    .command('revoke <name>')
    .description('revoke a token')
    .action(async (name: string) => {
      const done = await withContext(({ store }) => revokeApiToken(store.db, name));
      if (!done) throw notFound(`no active token named ${name}`);
      output({ revoked: name }, false, () => `Revoked ${name}.`);
    });
}
