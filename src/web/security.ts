import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';

/**
 * Socle's security headers, the same on every response whichever router answered: ltijs' helmet sets its own on
 * /lti (COEP, COOP, CORP, …) when its middleware runs; these are set when the headers are written, so they are the
 * final ones, and helmet's headers Socle does not send are removed.
 *
 * - `Content-Security-Policy` on every HTML page: scripts, styles, images and fonts from Socle only (no inline
 *   script or style: htmx is configured without eval and without its injected indicator style, see layout.eta);
 *   forms post to Socle or to the framing platform (the deep-linking return); `frame-ancestors` is
 *   - on an LTI page of a session (or a launch): `'self'` and the origins of that session's platform,
 *   - on other LTI pages and the public verification pages (`/badges`, `/achievements`, `/attestations`, which a
 *     learner may open inside Moodle's frame): `'self'` and the origins of every active registered platform,
 *   - anywhere else: `'none'`.
 *   A platform's origins are those of its issuer and of its authentication endpoint (Moodle's wwwroot).
 * - `Cross-Origin-Opener-Policy: same-origin` on pages (the registration page lets its opener hear the close message),
 *   `Cross-Origin-Resource-Policy` same-origin except the public verification routes (badge images are embedded by
 *   others), `Referrer-Policy: no-referrer` (page URLs carry the ltik), `X-Content-Type-Options: nosniff`,
 *   `Strict-Transport-Security` when PUBLIC_URL is https.
 */

/** The origins allowed to frame pages: every active platform's, and each platform's by (normalised) issuer. */
export interface FramingOrigins {
  all: string[];
  byIssuer: Map<string, string[]>;
}

/** What a route may say about its page's framing (`allowFraming`), read when the headers are written. */
interface Framing {
  /** The platform context of the page, when the route knows it before ltijs or Socle's session does. */
  origins?: string[];
  /** The page talks to its opener (the registration page's close message): no COOP. */
  opener?: boolean;
  /** Where the page's forms may post besides Socle and the framing platform (the deep-linking return URL). */
  formTargets?: string[];
}

interface SecurityLocals {
  socleFraming?: { known: FramingOrigins; route?: Framing };
  token?: { iss?: unknown };
}

const locals = (res: Response) => res.locals as SecurityLocals;

/** Lets `origins` frame this page (for a page shown to a platform that is not active yet: dynamic registration). */
export function allowFraming(res: Response, origins: string[], options: { opener?: boolean } = {}): void {
  const current = locals(res).socleFraming;
  if (current) current.route = { ...current.route, origins, opener: options.opener ?? false };
}

/** Lets this page's forms post to `url`'s origin (the platform's deep-linking return URL). */
export function allowFormTarget(res: Response, url: string): void {
  const current = locals(res).socleFraming;
  const origin = originOf(url);
  if (current && origin) current.route = { ...current.route, formTargets: [...(current.route?.formTargets ?? []), origin] };
}

/** `https://moodle.example.fr` for `https://moodle.example.fr/mod/lti/auth.php`; undefined if not an http(s) URL. */
export function originOf(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
}

/**
 * A source kept for `ttlMs`, refreshed by the first request after that (concurrent requests share one load). When a
 * refresh fails (the database is away), the last list read stays in use.
 */
export function cachedOrigins(load: () => Promise<FramingOrigins>, ttlMs: number, now: () => number = Date.now) {
  let value: { origins: FramingOrigins; at: number } | undefined;
  let loading: Promise<FramingOrigins> | undefined;
  return {
    async get(): Promise<FramingOrigins> {
      if (value && now() - value.at < ttlMs) return value.origins;
      loading ??= load()
        .then(
          (origins) => {
            value = { origins, at: now() };
            return origins;
          },
          (error: unknown) => {
            if (value) return value.origins;
            throw error;
          },
        )
        .finally(() => {
          loading = undefined;
        });
      return loading;
    },
  };
}

/** A middleware for the routes that serve pages a platform may frame: loads the origins for `securityHeaders`. */
export function framedPages(source: { get(): Promise<FramingOrigins> }): RequestHandler {
  return (_req, res, next) => {
    source.get().then(
      (known) => {
        locals(res).socleFraming = { known };
        next();
      },
      next,
    );
  };
}

/** The normalised form the platforms table keeps issuers in (no trailing slash). */
const issuerKey = (issuer: string) => issuer.replace(/\/+$/, '');

function frameAncestors(req: Request, res: Response): string[] {
  const framing = locals(res).socleFraming;
  if (!framing) return ["'none'"];
  if (framing.route?.origins) return ["'self'", ...framing.route.origins];
  const issuer = req.lti?.platform.issuer ?? (typeof locals(res).token?.iss === 'string' ? (locals(res).token?.iss as string) : undefined);
  if (issuer) {
    const own = framing.known.byIssuer.get(issuerKey(issuer)) ?? [originOf(issuer)].filter((o): o is string => o !== undefined);
    return ["'self'", ...own];
  }
  return ["'self'", ...framing.known.all];
}

/** The Content-Security-Policy of a page that `ancestors` may frame, whose forms may post to them and `formTargets`. */
export function contentSecurityPolicy(ancestors: string[], formTargets: string[] = []): string {
  const platforms = [...new Set([...ancestors.filter((a) => !a.startsWith("'")), ...formTargets])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `form-action 'self'${platforms.map((o) => ` ${o}`).join('')}`,
    `frame-ancestors ${[...new Set(ancestors)].join(' ')}`,
  ].join('; ');
}

/** Headers ltijs' helmet sets that Socle does not send (COEP would refuse nothing Socle serves, but breaks embedding). */
const DROPPED = ['cross-origin-embedder-policy', 'x-xss-protection', 'x-download-options', 'x-dns-prefetch-control', 'x-frame-options', 'origin-agent-cluster'];

export interface SecurityOptions {
  /** PUBLIC_URL is https: send Strict-Transport-Security. */
  https: boolean;
  /** Paths whose resources others may embed (badge images, the issuer's keys): `Cross-Origin-Resource-Policy: cross-origin`. */
  publicPrefixes: string[];
}

/** Sets Socle's security headers on every response, when its headers are written (see above). */
export function securityHeaders(options: SecurityOptions): RequestHandler {
  return (req, res, next) => {
    const writeHead = res.writeHead;
    // the express response is the node one: its headers are final when writeHead runs (explicitly or implicitly)
    (res as ServerResponse).writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!this.headersSent) {
        for (const name of DROPPED) this.removeHeader(name);
        const html = /^text\/html\b/i.test(String(this.getHeader('content-type') ?? ''));
        const publicPath = options.publicPrefixes.some((p) => req.originalUrl === p || req.originalUrl.startsWith(`${p}/`));
        this.setHeader('X-Content-Type-Options', 'nosniff');
        this.setHeader('Referrer-Policy', 'no-referrer');
        this.setHeader('X-Permitted-Cross-Domain-Policies', 'none');
        this.setHeader('Cross-Origin-Resource-Policy', publicPath ? 'cross-origin' : 'same-origin');
        if (options.https) this.setHeader('Strict-Transport-Security', 'max-age=15552000; includeSubDomains');
        else this.removeHeader('strict-transport-security');
        if (html) {
          this.setHeader('Content-Security-Policy', contentSecurityPolicy(frameAncestors(req, res), locals(res).socleFraming?.route?.formTargets));
          if (locals(res).socleFraming?.route?.opener) this.removeHeader('cross-origin-opener-policy');
          else this.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        } else {
          this.removeHeader('content-security-policy');
          this.removeHeader('cross-origin-opener-policy');
        }
      }
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    next();
  };
}
