import express, { type Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { invalid } from '../domain/errors';
import { preferenceOf, setOptOut, verifyOptOutToken } from '../alerts/preferences';
import { asyncHandler, parseOr400 } from '../web/http';
import { requestLocale, translator } from '../web/i18n';
import { render } from '../web/render';
import '../web/texts/alerts';

export const OPT_OUT_PATH = '/alerts/opt-out';

const tokenSchema = z.object({ token: z.string().min(1).max(100) });

/**
 * The opt-out link of every digest e-mail (no login: the signed token names the recipient). `GET` asks to confirm
 * (mail scanners open links: a GET changes nothing); `POST` turns the digests off, from the page's button or from
 * the mail client's one-click unsubscribe (RFC 8058: `List-Unsubscribe=One-Click`, the token in the URL).
 */
export function alertsRouter(ctx: AppContext): Router {
  const router = express.Router();
  const recipientOf = async (token: string) => {
    const userId = verifyOptOutToken(ctx.config.ltiKey, token);
    const preference = userId === undefined ? undefined : await preferenceOf(ctx.store.db, userId);
    if (!preference) throw invalid('This opt-out link is not valid (incomplete or altered): use the link of a recent e-mail, or the toggle on your Socle page.', [{ path: 'token', message: 'not a token of Socle' }]);
    return preference;
  };

  router.get(
    OPT_OUT_PATH,
    asyncHandler(async (req, res) => {
      const { token } = parseOr400(tokenSchema, req.query, 'query');
      const preference = await recipientOf(token);
      const locale = requestLocale(req);
      const t = translator(locale);
      render(res, 'alerts-opt-out', { title: t('alerts.optOutTitle'), token, action: OPT_OUT_PATH, done: preference.optedOutAt !== null }, locale);
    }),
  );

  router.post(
    OPT_OUT_PATH,
    express.urlencoded({ extended: false, limit: '4kb' }),
    asyncHandler(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const { token } = parseOr400(tokenSchema, { token: body.token ?? req.query.token }, 'form');
      const preference = await recipientOf(token);
      await setOptOut(ctx.store.db, preference.platformId, preference.userId, true);
      const locale = requestLocale(req);
      const t = translator(locale);
      render(res, 'alerts-opt-out', { title: t('alerts.optOutTitle'), token, action: OPT_OUT_PATH, done: true }, locale);
    }),
  );
  return router;
}
