import { Provider, type ProviderInstance } from 'ltijs';
import type { AppContext } from '../src/context';
import { hours } from '../src/coverage/read';
import type { ReferentialLookup } from '../src/coverage/referentials';
import { LTI_BASE } from '../src/lms/tool-config';
import type { Logger } from '../src/logger';
import { startWorker, type Worker } from '../src/worker';
import { PgLtiDatabase } from './plugin';

/** Seconds an id_token is accepted after its `iat` (Moodle signs it just before the browser posts it). */
export const TOKEN_MAX_AGE = 60;

/** Seconds a platform's clock may differ from Socle's when `iat` and `exp` are checked. */
export const CLOCK_SKEW = 60;

/** The line item's maximum when the course's référentiel is not known yet: the standard 28 h. */
export const DEFAULT_SCORE_MAXIMUM = 28;

/** The line item's maximum: the required hours of the course's référentiel when known, else the standard 28 h. */
export async function scoreMaximumOf(
  lookup: ReferentialLookup,
  course: { referentialId: string | null; referentialVersion: string | null } | undefined,
): Promise<number> {
  if (!course?.referentialId) return DEFAULT_SCORE_MAXIMUM;
  const referential = await lookup(course.referentialId, course.referentialVersion ?? undefined);
  if (!referential?.requiredMinutes) return DEFAULT_SCORE_MAXIMUM;
  return hours(referential.requiredMinutes) ?? DEFAULT_SCORE_MAXIMUM;
}

export interface LtiRuntime {
  provider: ProviderInstance;
  plugin: PgLtiDatabase;
  close(): Promise<void>;
}

type ProviderClass = new () => ProviderInstance;

/**
 * A new ltijs provider on Socle's store. ltijs exports one instance and `setup()` runs once per instance, so Socle
 * builds its own from that instance's class (one per app: tests run several servers in one process). `deploy()`
 * is not called: it would install a SIGINT handler that exits; Socle owns its shutdown (`close()`).
 */
export function createLtiProvider(ctx: AppContext): LtiRuntime {
  const plugin = new PgLtiDatabase(ctx.store.db, { tokenMaxAgeSeconds: TOKEN_MAX_AGE, clockSkewSeconds: CLOCK_SKEW });
  const provider = new (Provider.constructor as ProviderClass)();
  const session = ctx.config.ltiSession;
  const https = ctx.config.publicUrl.startsWith('https:');
  provider.setup(
    ctx.config.ltiKey,
    { plugin },
    {
      appRoute: '/launch',
      loginRoute: '/login',
      keysetRoute: '/keys',
      dynRegRoute: '/register',
      cors: false,
      tokenMaxAge: TOKEN_MAX_AGE,
      ltiaas: session === 'ltiaas',
      // ltiaas drops the session cookie, but ltijs still checks the one-minute state cookie of the login.
      cookies:
        session === 'cross-site' || (session === 'ltiaas' && https)
          ? { secure: true, sameSite: 'None' }
          : { secure: https, sameSite: 'Lax' },
      dynReg: { url: `${ctx.config.publicUrl}${LTI_BASE}`, name: 'Socle', autoActivate: false },
    },
  );
  return { provider, plugin, close: () => plugin.Close().then(() => undefined) };
}

/** How often the server deletes expired LTI rows (nonces, states, tokens: already invisible to reads). */
export const LTI_PURGE_INTERVAL_MS = 60_000;

/** The worker that deletes the plugin's expired rows, every `intervalMs` (the first time after one interval). */
export function startLtiPurge(plugin: PgLtiDatabase, logger: Logger, intervalMs = LTI_PURGE_INTERVAL_MS): Worker {
  return startWorker({
    name: 'lti-purge',
    logger,
    intervalMs,
    firstDelayMs: intervalMs,
    tick: async () => {
      const purged = await plugin.purge();
      if (purged) logger.debug({ purged }, 'expired LTI rows purged');
    },
  });
}

