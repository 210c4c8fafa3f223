import fs from 'node:fs';
import type { Command } from 'commander';
import { extractCredential } from '../badges/baking';
import { revokeCredential } from '../badges/credentials';
import { BADGE_ALGS, type BadgeAlg, listIssuerKeys, rotateIssuerKey } from '../badges/keys';
import { httpResolver, verifyCredentialJwt, verifyRecordJwt } from '../badges/verify';
import { isRecordJwt } from '../badges/records';
import { isEmbeddedProof, verifyEmbeddedCredential } from '../badges/proofs';
import { auditEvents } from '../db/schema';
import { invalid, notFound } from '../domain/errors';
import { output, type WithContext } from './command';

/** `socle badges …`: verify a badge file, revoke a credential, rotate and list the issuer's signing keys. */
export function registerBadges(program: Command, withContext: WithContext): void {
  const badges = program.command('badges').description('Open Badges 3.0: verify, revoke, issuer keys');

  badges
    .command('verify')
    .description("verify a baked PNG or SVG badge, a VC-JWT or credential JSON file, or a learner record (exit 0 only when valid); checked as a third party does: the issuer's key (kid URL or did:web document), status list and the record's status are read over HTTP from the credential, no store opened")
    .argument('<file>', 'badge.png, badge.svg, a file holding the JWT (a badge or a learner record) or the credential JSON')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (error) {
        throw invalid(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      let jwt: string;
      try {
        const text = bytes.toString('utf8').replace(/^\uFEFF/, '').trim();
        // a credential JSON with an embedded proof (BADGE_PROOF=data-integrity), else a baked image or a JWT
        jwt = text.startsWith('{') ? text : extractCredential(bytes);
      } catch (error) {
        const result = { status: 'invalid', errors: [(error as Error).message] };
        output(result, opts.json ?? false, () => `invalid: ${result.errors.join('; ')}`);
        process.exitCode = 1;
        return;
      }
      if (isRecordJwt(jwt)) {
        // no store, no configuration: the key of its kid and the record's status at its id, over HTTP
        const record = await verifyRecordJwt(jwt, { resolve: httpResolver() });
        output(record, opts.json ?? false, () => {
          const what = `learner record ${record.referential ? `${record.referential.id} ${record.referential.version} ` : ''}(${record.recordId ?? file})`;
          return record.status === 'valid' ? `valid: ${what}` : `${record.status}: ${what}: ${record.errors.join('; ')}`;
        });
        if (record.status !== 'valid') process.exitCode = 1;
        return;
      }
      // no store, no configuration: only what the credential names, over HTTP (a Data Integrity credential's key
      // from the did:web document of its proof's verification method)
      const result = isEmbeddedProof(jwt) ? await verifyEmbeddedCredential(jwt, { resolve: httpResolver() }) : await verifyCredentialJwt(jwt, { resolve: httpResolver() });
      output(result, opts.json ?? false, () => {
        const what = result.achievement ? `${result.achievement.name} (${result.credentialId})` : (result.credentialId ?? file);
        return result.status === 'valid' ? `valid: ${what}` : `${result.status}: ${what}: ${result.errors.join('; ')}`;
      });
      if (result.status !== 'valid') process.exitCode = 1;
    });

  badges
    .command('revoke')
    .description('revoke a credential (its verification page then says revoked)')
    .argument('<id>', 'the credential id (UUID) or its URL')
    .requiredOption('--reason <text>', 'why it is revoked (shown on the verification page)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      if (!opts.reason.trim()) throw invalid('--reason must not be empty');
      const result = await withContext((ctx) =>
        ctx.store.db.transaction(async (tx) => {
          const revoked = await revokeCredential(tx, id, opts.reason, ctx.clock());
          if (revoked?.changed) {
            await tx.insert(auditEvents).values({
              actor: 'cli',
              action: 'badge.revoke',
              subject: `badge:${revoked.credential.id}`,
              before: { status: 'active' },
              after: { status: 'revoked', reason: revoked.credential.revocationReason },
            });
          }
          return revoked;
        }),
      );
      if (!result) throw notFound(`no credential ${id}`);
      const { credential, changed } = result;
      output({ id: credential.id, status: credential.status, changed, revokedAt: credential.revokedAt, reason: credential.revocationReason }, opts.json ?? false, () =>
        changed ? `revoked ${credential.id}` : `${credential.id} was already revoked on ${credential.revokedAt?.toISOString()} (${credential.revocationReason})`,
      );
    });

  const keys = badges.command('keys').description("the issuer's signing keys");
  keys
    .command('rotate')
    .description('make a new signing key active; the old one stays published so its credentials still verify')
    .option('--alg <alg>', `signature algorithm: ${BADGE_ALGS.join(' or ')}`, 'RS256')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { alg: string; json?: boolean }) => {
      if (!(BADGE_ALGS as readonly string[]).includes(opts.alg)) {
        throw invalid(`--alg must be ${BADGE_ALGS.join(' or ')}, got ${opts.alg}`);
      }
      const result = await withContext((ctx) =>
        ctx.store.db.transaction((tx) => rotateIssuerKey(tx, ctx.config.ltiKey, opts.alg as BadgeAlg)),
      );
      output(result, opts.json ?? false, () =>
        `new ${result.alg} key ${result.kid} is active${result.retired.length ? `; retired ${result.retired.join(', ')}` : ''}`,
      );
    });
  keys
    .command('list')
    .description('list the signing keys (public parts only)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withContext((ctx) => listIssuerKeys(ctx.store.db));
      output(rows, opts.json ?? false, () =>
        rows.length ? rows.map((k) => `${k.kid}\t${k.alg}\t${k.status}\t${k.createdAt.toISOString()}`).join('\n') : 'no key yet (one is created at the first issue)',
      );
    });
}
