/**
 * The learner's side of connecting a badge wallet (the Open Badges API, src/api/ob-api.ts): in "Ma progression"
 * they enter the short code the wallet's request page showed, see which wallet asks what, and approve or deny. The
 * LTI session is what authenticates the learner: a request is tied to the session's user when decided.
 */
import type { Express } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { LTI_BASE } from '../src/lms/tool-config';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { translator } from '../src/web/i18n';
import { enforceRateLimit } from '../src/web/rate-limit';
import { render } from '../src/web/render';
import '../src/web/texts/wallet';
import { decide, pendingByUserCode, type PendingRequest } from '../src/wallet/codes';
import { OB_SCOPES } from '../src/wallet/oauth';
import { disconnectWallet } from '../src/wallet/tokens';
import { type LtiSession, requireRole } from './session';

export const WALLET_CODE_PATH = `${LTI_BASE}/wallet/code`;
const DECISION_PATH = `${LTI_BASE}/wallet/decision`;
export const WALLET_DISCONNECT_PATH = `${LTI_BASE}/wallet/disconnect`;
/** Where the browser that opened the wallet's request continues (the public side of the flow). */
const continuePath = (id: string) => `/ims/ob/v3p0/authorize/continue?request=${id}`;

const codeBody = z.object({ code: z.string().max(40) });
const decisionBody = z.object({ request: z.string().max(64), decision: z.enum(['approve', 'deny']) });
const disconnectBody = z.object({ client: z.string().min(1).max(200) });

const metadataUrl = (pending: PendingRequest, key: string) => {
  const value = pending.client.metadata[key];
  return typeof value === 'string' ? value : undefined;
};

export function walletRoutes(ctx: AppContext, app: Express): void {
  const db = ctx.store.db;
  const page = (s: LtiSession, data: Record<string, unknown>, status = 200) => (res: Parameters<typeof render>[0]) =>
    render(
      res,
      'wallet-consent',
      { title: translator(s.locale)('wallet.consentTitle'), ltik: s.ltik, progressUrl: `${LTI_BASE}/me?ltik=${encodeURIComponent(s.ltik)}&tab=badges`, ...data },
      s.locale,
      status,
    );

  app.post(
    '/wallet/code',
    requireRole(ctx, 'learner', 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      // a short code is guessable only by many tries: they are counted per learner
      await enforceRateLimit(ctx, 'public', `wallet-code:${s.user.id}`);
      const { code } = parseOr400(codeBody, req.body, 'body');
      const pending = await pendingByUserCode(db, code);
      if (!pending) {
        page(s, { state: 'unknown' }, 404)(res);
        return;
      }
      const clientUri = metadataUrl(pending, 'client_uri');
      page(s, {
        state: 'ask',
        client: pending.client.clientName,
        host: clientUri ? new URL(clientUri).host : new URL(pending.authorization.redirectUri).host,
        scopes: pending.authorization.scope.split(' ').filter((x) => OB_SCOPES.includes(x)),
        tosUri: metadataUrl(pending, 'tos_uri'),
        policyUri: metadataUrl(pending, 'policy_uri'),
        requestId: pending.authorization.id,
        decisionUrl: DECISION_PATH,
      })(res);
    }),
  );

  app.post(
    '/wallet/decision',
    requireRole(ctx, 'learner', 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      const { request, decision } = parseOr400(decisionBody, req.body, 'body');
      const decided = await decide(db, request, s.user.id, decision === 'approve');
      if (!decided) {
        page(s, { state: 'decided' }, 409)(res);
        return;
      }
      req.log?.info({ walletClient: decided.client.clientId, decision }, 'wallet request decided');
      page(s, { state: decision === 'approve' ? 'approved' : 'denied', continueUrl: continuePath(decided.authorization.id) })(res);
    }),
  );

  app.post(
    '/wallet/disconnect',
    requireRole(ctx, 'learner', 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      const { client } = parseOr400(disconnectBody, req.body, 'body');
      const revoked = await disconnectWallet(db, s.user.id, client);
      page(s, { state: revoked ? 'disconnected' : 'decided' }, revoked ? 200 : 404)(res);
    }),
  );
}
