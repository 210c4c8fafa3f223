import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { registerPlatform } from '../../lti/registration';
import { launchChromium } from '../support/browser';


interface Audit {
  lang: string;
  main: number;
  banner: number;
  h1: number;
  skipLink: string | null | undefined;
  lowestContrast: number;
  scrollWidth: number;
  mainScrollWidth: number;
  mainWidth: number;
}

/**
 * What the page offers a screen reader and a phone: its language, landmarks, one h1, the lowest contrast of its
 * visible text against the page (WCAG 2 relative luminance), its width.
 */
const AUDIT = `(() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => { const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x); return (l1 + 0.05) / (l2 + 0.05); };
  const background = (e) => { for (let n = e; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (!/rgba\\(0, 0, 0, 0\\)|transparent/.test(c)) return c; } return 'rgb(255, 255, 255)'; };
  const texts = [...document.querySelectorAll('main p, main li, main dd, main dt, main h1, main h2, main h3, main a, main code, main summary, header span')]
    .filter((e) => e.textContent.trim() && e.getClientRects().length);
  return {
    lang: document.documentElement.lang,
    main: document.querySelectorAll('main').length,
    banner: document.querySelectorAll('header').length,
    h1: document.querySelectorAll('h1').length,
    skipLink: document.querySelector('a.skip')?.getAttribute('href'),
    lowestContrast: Math.round(Math.min(...texts.map((e) => contrast(getComputedStyle(e).color, background(e)))) * 10) / 10,
    scrollWidth: document.documentElement.scrollWidth,
    // main scrolls inside the fixed-height frame: what is too wide scrolls there, not in the document
    mainScrollWidth: document.querySelector('main').scrollWidth,
    mainWidth: document.querySelector('main').clientWidth,
  };
})()`;

function expectAccessible(audit: Audit, lang: string) {
  expect(audit).toEqual({ lang, main: 1, banner: 1, h1: 1, skipLink: '#main', lowestContrast: expect.any(Number), scrollWidth: expect.any(Number), mainScrollWidth: audit.mainWidth, mainWidth: expect.any(Number) });
  expect(audit.lowestContrast).toBeGreaterThanOrEqual(4.5);
  expect(audit.scrollWidth).toBeLessThanOrEqual(390);
}

/** The home page and an error page in a real browser (Debian chromium + playwright-core), at a 390 px phone width. */
describe('home and error pages in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let parent: http.Server;
  let moodleOrigin: string;

  beforeAll(async () => {
    // a long public URL, as an institution's: it must wrap on a phone, not widen the page
    server = await startTestServer(drivers[0] ?? 'pglite', { publicUrl: 'http://formationsoclenumeriqueensantecentrehospitalieruniversitaire.example.fr' });
    // Moodle's page, on another site (localhost, not 127.0.0.1; a real loopback server, as Chromium refuses a public
    // page framing a local one), embeds Socle in an iframe: Socle's page must render there (no frame-busting), and
    // Socle lets only registered platforms frame it, so this "Moodle" is one.
    parent = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>Moodle</title><iframe id="socle" src="${server.url}/lti/me" style="width:100%;height:700px;border:0"></iframe>`);
    });
    await new Promise<void>((resolve) => parent.listen(0, '127.0.0.1', resolve));
    moodleOrigin = `http://localhost:${(parent.address() as AddressInfo).port}`;
    await registerPlatform(server.ctx, server.lti.provider, {
      issuer: moodleOrigin,
      clientId: 'socle',
      deploymentIds: ['1'],
      authEndpoint: `${moodleOrigin}/mod/lti/auth.php`,
      tokenEndpoint: `${moodleOrigin}/mod/lti/token.php`,
      jwksUrl: `${moodleOrigin}/mod/lti/certs.php`,
      active: true,
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    parent?.close();
    await server?.destroy();
  });

  it('fits a 390 px phone with landmarks, one heading 1 and readable contrast, in French then English', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'fr-FR' });
    const page = await context.newPage();
    const home = await page.goto(`${server.url}/`);
    expect(home?.status()).toBe(200);
    expectAccessible((await page.evaluate(AUDIT)) as Audit, 'fr');
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForURL(/lang=en/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Socle, the hours');
    expectAccessible((await page.evaluate(AUDIT)) as Audit, 'en');
    await context.close();
  });

  it('shows the no-session page inside an iframe of another origin, on a phone, without sideways scroll', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'fr-FR' });
    const page = await context.newPage();
    const moodle = `${moodleOrigin}/mod/lti/view.php?id=3`;
    try {
      await page.goto(moodle);
      const frame = page.frameLocator('#socle');
      await frame.getByRole('heading', { level: 1, name: 'Session expirée' }).waitFor();
      expect(page.url()).toBe(moodle);
      const inner = page.frames().find((f) => f.url().startsWith(server.url));
      if (!inner) throw new Error('no Socle frame');
      expectAccessible((await inner.evaluate(AUDIT)) as Audit, 'fr');
    } finally {
      await context.close();
    }
  });
});
