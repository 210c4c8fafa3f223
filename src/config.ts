import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { SocleError } from './domain/errors';

/**
 * Socle's whole configuration comes from the environment, parsed here and nowhere else.
 * Defaults make a bare `npm start` work: embedded PGlite in ./data, 127.0.0.1 port 3000.
 */
const port = z
  .string()
  .regex(/^\d+$/, 'expected a whole number between 0 and 65535')
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(0, 'expected a whole number between 0 and 65535')
      .max(65535, 'expected a whole number between 0 and 65535'),
  );

/** An interface address to listen on: an IP address, or a host name such as localhost. */
const host = z
  .string()
  .refine((v) => isIP(v) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/.test(v), 'expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name');

const httpUrl = z
  .string()
  .refine(
    (v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
    'expected an http(s) URL such as https://socle.example.fr',
  );

/** A whole number of requests per window; 0 turns that limit off. */
const rateLimit = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number of requests per window (0 = no limit)')
    .transform(Number)
    .pipe(z.number().int().min(0).max(1_000_000_000, 'expected at most 1000000000'))
    .default(fallback);

/**
 * Default limits, per client and per window of RATE_LIMIT_WINDOW_SECONDS (60 s). Generous: Moodle's logstore_xapi
 * sends its batches (30 statements) one after the other, about 10 per second here, far below 3,000 a minute; a
 * hospital behind one address launching a course at 9:00 stays under 600 logins a minute.
 */
/** The days of the week, Monday first (ISO 8601: Monday is day 1). */
export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

export const DEFAULT_RATE_LIMITS = { windowSeconds: 60, xapi: 3000, api: 600, login: 600, public: 600 } as const;

const envSchema = z
  .object({
    PORT: port.default(3000),
    HOST: host.default('127.0.0.1'),
    PUBLIC_URL: httpUrl.optional(),
    DATABASE_URL: z
      .string()
      .refine((v) => URL.canParse(v) && /^postgres(ql)?:$/.test(new URL(v).protocol), 'expected a postgres:// URL')
      .optional(),
    DATA_DIR: z.string().min(1, 'expected a directory path').default('./data'),
    LTI_KEY: z.string().min(32, 'expected a secret of at least 32 characters').optional(),
    LRS_ENDPOINT: httpUrl.optional(),
    LRS_KEY: z.string().min(1).optional(),
    LRS_SECRET: z.string().min(1).optional(),
    XAPI_PSEUDONYM_KEY: z.string().min(32, 'expected a secret of at least 32 characters').optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    RETENTION_YEARS: z
      .string()
      .regex(/^\d+$/, 'expected a whole number of years from 1 to 50')
      .transform(Number)
      .pipe(z.number().int().min(1, 'expected a whole number of years from 1 to 50').max(50, 'expected a whole number of years from 1 to 50'))
      .optional(),
    LTI_SESSION: z.enum(['same-site', 'cross-site', 'ltiaas']).default('same-site'),
    METRICS_TOKEN: z.string().min(16, 'expected a secret of at least 16 characters').optional(),
    RATE_LIMIT_WINDOW_SECONDS: z
      .string()
      .regex(/^\d+$/, 'expected a whole number of seconds from 1 to 3600')
      .transform(Number)
      .pipe(z.number().int().min(1, 'expected a whole number of seconds from 1 to 3600').max(3600, 'expected a whole number of seconds from 1 to 3600'))
      .default(DEFAULT_RATE_LIMITS.windowSeconds),
    RATE_LIMIT_XAPI: rateLimit(DEFAULT_RATE_LIMITS.xapi),
    RATE_LIMIT_API: rateLimit(DEFAULT_RATE_LIMITS.api),
    RATE_LIMIT_LOGIN: rateLimit(DEFAULT_RATE_LIMITS.login),
    RATE_LIMIT_PUBLIC: rateLimit(DEFAULT_RATE_LIMITS.public),
    BADGE_PROOF: z.enum(['jwt', 'data-integrity'], { message: 'expected jwt or data-integrity' }).default('jwt'),
    // the message never repeats the value: an SMTP URL carries its password
    SMTP_URL: z
      .string()
      .refine((v) => URL.canParse(v) && /^smtps?:$/.test(new URL(v).protocol), 'expected an smtp:// or smtps:// URL such as smtp://user:password@smtp.example.fr:587')
      .optional(),
    MAIL_FROM: z
      .string()
      .max(320)
      .regex(/^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, 'expected an address such as socle@chu.example.fr or "Socle <socle@chu.example.fr>"')
      .optional(),
    ALERTS_DAY: z
      .enum(WEEKDAYS, { message: `expected one of ${WEEKDAYS.join(', ')}` })
      .default('monday'),
    ALERTS_HOUR: z
      .string()
      .regex(/^\d{1,2}$/, 'expected a whole hour from 0 to 23')
      .transform(Number)
      .pipe(z.number().int().min(0, 'expected a whole hour from 0 to 23').max(23, 'expected a whole hour from 0 to 23'))
      .default(7),
  })
  .superRefine((env, ctx) => {
    if (env.LRS_ENDPOINT && !(env.LRS_KEY && env.LRS_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['LRS_KEY'],
        message: 'LRS_KEY and LRS_SECRET are required when LRS_ENDPOINT is set',
      });
    }
    if (env.SMTP_URL && !env.MAIL_FROM) {
      ctx.addIssue({ code: 'custom', path: ['MAIL_FROM'], message: 'required when SMTP_URL is set (the sender of the weekly digests)' });
    }
    if (env.DATABASE_URL && !env.LTI_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['LTI_KEY'],
        message: 'required when DATABASE_URL is set (every Socle instance on one database must share it)',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** The names of every variable Socle reads. */
export const configVariables = Object.keys(envSchema.shape) as (keyof Env)[];

export interface Config {
  port: number;
  /** The address the HTTP server listens on: loopback by default, 0.0.0.0 in a container. */
  host: string;
  publicUrl: string;
  /** Unset = embedded PGlite in `${dataDir}/pglite`. */
  databaseUrl: string | undefined;
  dataDir: string;
  ltiKey: string;
  lrs: { endpoint: string; key: string; secret: string } | undefined;
  logLevel: Env['LOG_LEVEL'];
  /** When set, statements and completion facts older than this many years are purged daily. */
  retentionYears?: number | undefined;
  /**
   * How LTI sessions travel: `same-site` (Socle on the institution's domain: SameSite=Lax cookies, Secure when
   * PUBLIC_URL is https), `cross-site` (SameSite=None; Secure cookies, needs HTTPS and third-party cookies), or
   * `ltiaas` (no cookie: the `ltik` is sent as `Authorization: Bearer` by pages and API clients).
   */
  ltiSession: Env['LTI_SESSION'];
  /** When set, actors forwarded to the LRS are replaced by HMAC(key, issuer + sub) pseudonyms. */
  xapiPseudonymKey?: string | undefined;
  /** When set, `/metrics` answers only `Authorization: Bearer <token>`; unset, it is open. */
  metricsToken?: string | undefined;
  /** Requests per client and window (0 = no limit): per xAPI key, per API token, per address for the LTI login and the public verification pages. */
  rateLimits: RateLimits;
  /**
   * How issued Open Badges are proven: `jwt` (VC-JWT, ES256, the default) or `data-integrity` (the credential JSON
   * with an embedded `eddsa-rdfc-2022` proof by the Ed25519 key of Socle's did:web). Unset = `jwt`.
   */
  badgeProof?: Env['BADGE_PROOF'] | undefined;
  /** Where the weekly digests are sent from (SMTP_URL, MAIL_FROM); unset: digests are shown on Socle's pages only. */
  mail?: { url: string; from: string } | undefined;
  /** When the weekly digests go out, in each institution's time zone (ALERTS_DAY, ALERTS_HOUR; default Monday 7:00). */
  alerts?: { weekday: number; hour: number } | undefined;
}

export interface RateLimits {
  windowSeconds: number;
  xapi: number;
  api: number;
  login: number;
  public: number;
}

/** The configuration is invalid (`invalid_config`): the message names every wrong variable, never its value. */
const invalidConfig = (message: string) => new SocleError('invalid_config', message);

/** Only Socle's variables are read; empty strings count as unset (as in `PORT= npm start`). */
function pickEnv(source: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of configVariables) {
    const value = source[key];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/** Parses the environment; throws an `invalid_config` SocleError whose message names every wrong variable (never its value). */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(pickEnv(source));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
    throw invalidConfig(`Invalid configuration: ${lines.join('; ')}`);
  }
  return result.data;
}

/**
 * The LTI secret (it encrypts keys and tokens at rest and signs ltijs cookies). In embedded mode it is
 * generated once and kept in DATA_DIR with 0600 permissions; it is never logged.
 */
function embeddedLtiKey(dataDir: string): string {
  const file = path.join(dataDir, 'lti-key');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing.length < 32) throw invalidConfig(`${file} is corrupt: expected a secret of at least 32 characters`);
    // A key file made before (or copied in) with wider permissions is the owner's alone again.
    if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32).toString('base64url');
  try {
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process created it between our read and write: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw error;
  }
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const env = parseEnv(source);
  const dataDir = path.resolve(env.DATA_DIR);
  return {
    port: env.PORT,
    host: env.HOST,
    publicUrl: (env.PUBLIC_URL ?? `http://127.0.0.1:${env.PORT}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL,
    dataDir,
    ltiKey: env.LTI_KEY ?? embeddedLtiKey(dataDir),
    lrs:
      env.LRS_ENDPOINT && env.LRS_KEY && env.LRS_SECRET
        ? { endpoint: env.LRS_ENDPOINT, key: env.LRS_KEY, secret: env.LRS_SECRET }
        : undefined,
    logLevel: env.LOG_LEVEL,
    retentionYears: env.RETENTION_YEARS,
    ltiSession: env.LTI_SESSION,
    xapiPseudonymKey: env.XAPI_PSEUDONYM_KEY,
    metricsToken: env.METRICS_TOKEN,
    rateLimits: {
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      xapi: env.RATE_LIMIT_XAPI,
      api: env.RATE_LIMIT_API,
      login: env.RATE_LIMIT_LOGIN,
      public: env.RATE_LIMIT_PUBLIC,
    },
    badgeProof: env.BADGE_PROOF,
    mail: env.SMTP_URL && env.MAIL_FROM ? { url: env.SMTP_URL, from: env.MAIL_FROM } : undefined,
    alerts: { weekday: WEEKDAYS.indexOf(env.ALERTS_DAY) + 1, hour: env.ALERTS_HOUR },
  };
}
