import { Router } from 'express';
import type { AppContext } from '../context';
import { toolConfig } from '../lms/tool-config';
import { asyncHandler } from '../web/http';
import { requestLocale, translator } from '../web/i18n';
import { render } from '../web/render';
import '../web/texts/home';
import { healthStatus } from './health';

/**
 * `GET /`: what Socle is, its status (what `/health` says) and, for a Moodle administrator, where to start (the
 * registration URL and the commands `socle lti config` prints its values with). Public: no LTI session needed.
 */
export function homeRouter(ctx: AppContext): Router {
  const router = Router();
  router.get(
    '/',
    asyncHandler(async (req, res) => {
      const locale = requestLocale(req);
      res.vary('Accept-Language');
      render(
        res,
        'home',
        {
          title: translator(locale)('home.title'),
          health: await healthStatus(ctx),
          config: toolConfig(ctx.config),
          otherLocale: locale === 'fr' ? 'en' : 'fr',
        },
        locale,
      );
    }),
  );
  return router;
}
