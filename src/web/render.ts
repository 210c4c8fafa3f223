import path from 'node:path';
import { Eta } from 'eta';
import express, { type Response, type Router } from 'express';
import { type Locale, translator } from './i18n';

export const viewsDir = path.join(__dirname, 'views');
const eta = new Eta({ views: viewsDir, autoEscape: true, cache: process.env.NODE_ENV === 'production' });

/** Where the page's assets are served (self-hosted: the Content-Security-Policy allows nothing from another origin). */
export const ASSETS = '/assets';

export interface PageData {
  title: string;
  /** The LTI session token: sent by htmx as `Authorization: Bearer` and in forms, never only a cookie. */
  ltik?: string;
  /** URL of this page to open outside Moodle's iframe (with the ltik). */
  newWindowUrl?: string;
  [key: string]: unknown;
}

/**
 * Renders `views/<view>.eta` inside the layout (skip link, `lang`, "open in a new window", self-hosted CSS and
 * htmx). Templates get `it` (the data), `t` (texts in `locale`) and `locale`.
 */
export function render(res: Response, view: string, data: PageData, locale: Locale, status = 200): void {
  const t = translator(locale);
  const body = eta.render(view, { ...data, t, locale });
  const html = eta.render('layout', { ...data, t, locale, body, assets: ASSETS });
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

/** Renders `views/<view>.eta` alone (an htmx fragment), without the layout. */
export function renderFragment(res: Response, view: string, data: Record<string, unknown>, locale: Locale, status = 200): void {
  const t = translator(locale);
  res.status(status).type('html').set('Cache-Control', 'no-store').send(eta.render(view, { ...data, t, locale }));
}

/** Serves Socle's CSS and htmx 2 from node_modules under /assets. */
export function assetsRouter(): Router {
  const router = express.Router();
  const htmx = path.dirname(require.resolve('htmx.org/dist/htmx.min.js'));
  router.get(`${ASSETS}/htmx.min.js`, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').sendFile(path.join(htmx, 'htmx.min.js'));
  });
  // Browsers ask for /favicon.ico on every site: a small icon, not a 404 in the logs.
  router.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').type('image/png').sendFile(path.join(__dirname, 'assets', 'favicon.png'));
  });
  router.use(ASSETS, express.static(path.join(__dirname, 'assets'), { maxAge: '1d', index: false }));
  return router;
}
