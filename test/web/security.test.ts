import fs from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import type { Browser, Page } from 'playwright-core';
import { framingOrigins, registerPlatform } from '../../lti/registration';
import { cachedOrigins, contentSecurityPolicy, type FramingOrigins } from '../../src/web/security';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type LaunchResult, SimulatedMoodle } from '../support/moodle';
import { launchChromium } from '../support/browser';

const MOODLE_ORIGIN = 'http://127.0.0.1:8181';
const directive = (csp: string | null, name: string) =>
  (csp ?? '')
    .split(';')
    .map((d) => d.trim())
    .find((d) => d.startsWith(`${name} `));

describe('security headers and the Content-Security-Policy', () => {
  let server: TestServer;
  let learner: LaunchResult;
  const driver = drivers[0] ?? 'pglite';

  beforeAll(async () => {
    server = await startTestServer(driver);
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    // another active platform, whose login is on another host, and an inactive one
    const other = { clientId: 'c2', deploymentIds: ['1'], tokenEndpoint: 'https://auth.other.example/token', jwksUrl: 'https://other.example/certs' };
    await registerPlatform(server.ctx, server.lti.provider, { ...other, issuer: 'https://other.example', authEndpoint: 'https://auth.other.example/auth', active: true });
    await registerPlatform(server.ctx, server.lti.provider, { ...other, issuer: 'https://inactive.example', authEndpoint: 'https://inactive.example/auth', active: false });
    learner = await moodle.launch(server, 'learner', { locale: 'fr' });
    expect(learner.landedOn).toBe('/lti/me');
  }, 60_000);
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('reads the origins of the active platforms, issuer and authentication endpoint', async () => {
    const origins = await framingOrigins(server.ctx.store.db);
    expect(origins.all).toEqual(['http://127.0.0.1:8181', 'https://auth.other.example', 'https://other.example']);
    expect(origins.byIssuer.get('https://other.example')).toEqual(['https://auth.other.example', 'https://other.example']);
    expect(origins.byIssuer.has('https://inactive.example')).toBe(false);
  });

  it("frames an LTI session's page by its own platform only, with self-hosted scripts and styles and Socle's headers over ltijs'", async () => {
    const res = await learner.client.get(`/lti/me?ltik=${encodeURIComponent(String(learner.client.ltik))}`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy');
    expect(directive(csp, 'frame-ancestors')).toBe(`frame-ancestors 'self' ${MOODLE_ORIGIN}`);
    expect(directive(csp, 'default-src')).toBe("default-src 'self'");
    expect(directive(csp, 'script-src')).toBe("script-src 'self'");
    expect(directive(csp, 'style-src')).toBe("style-src 'self'");
    expect(csp).not.toMatch(/unsafe|\*/);
    // one policy header, Socle's; ltijs' helmet headers that Socle does not send are gone
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBeNull();
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('strict-transport-security')).toBeNull();
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style/);
  });

  it('lets every active platform frame the public verification pages, and embed their images', async () => {
    const res = await fetch(`${server.url}/badges/nope`, { headers: { Accept: 'text/html' } });
    expect(res.status).toBe(404);
    expect(directive(res.headers.get('content-security-policy'), 'frame-ancestors')).toBe(
      `frame-ancestors 'self' ${MOODLE_ORIGIN} https://auth.other.example https://other.example`,
    );
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(await res.text()).toContain('/assets/verify.css');
    const attestation = await fetch(`${server.url}/attestations/nope`, { headers: { Accept: 'text/html' } });
    expect(directive(attestation.headers.get('content-security-policy'), 'frame-ancestors')).toContain(MOODLE_ORIGIN);
    expect((await fetch(`${server.url}/assets/verify.css`)).status).toBe(200);
    expect((await fetch(`${server.url}/assets/socle.js`)).status).toBe(200);
  });

  it('sends no policy on JSON and keeps other resources to the same origin', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.headers.get('content-security-policy')).toBeNull();
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const ltiJson = await fetch(`${server.url}/lti/keys`);
    expect(ltiJson.headers.get('cross-origin-embedder-policy')).toBeNull();
    expect(ltiJson.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses framing outside platform contexts', () => {
    expect(directive(contentSecurityPolicy(["'none'"]), 'frame-ancestors')).toBe("frame-ancestors 'none'");
    expect(directive(contentSecurityPolicy(["'self'", 'https://m.example']), 'form-action')).toBe("form-action 'self' https://m.example");
  });

  it('reuses the origins for the cache time, then reads them again', async () => {
    let clock = 0;
    let loads = 0;
    const empty: FramingOrigins = { all: [], byIssuer: new Map() };
    const cache = cachedOrigins(async () => {
      loads += 1;
      return empty;
    }, 30_000, () => clock);
    await Promise.all([cache.get(), cache.get()]);
    clock = 29_999;
    await cache.get();
    expect(loads).toBe(1);
    clock = 30_000;
    await cache.get();
    expect(loads).toBe(2);
    // a failed refresh keeps the last list; with none yet, the failure is the request's
    const failing = cachedOrigins(async () => {
      loads += 1;
      if (loads > 3) throw new Error('database away');
      return empty;
    }, 30_000, () => clock);
    expect(await failing.get()).toBe(empty);
    clock = 90_000;
    expect(await failing.get()).toBe(empty);
    await expect(cachedOrigins(() => Promise.reject(new Error('away')), 30_000).get()).rejects.toThrow('away');
  });

  it('has no inline script or style in any view (the policy would refuse them)', () => {
    const views = path.join(__dirname, '..', '..', 'src', 'web', 'views');
    for (const file of fs.readdirSync(views)) {
      const text = fs.readFileSync(path.join(views, file), 'utf8');
      expect({ file, inline: /<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style|\shx-on/.test(text) }).toEqual({ file, inline: false });
    }
  });

  describe('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      // the platform's page is answered by the browser itself (route), which Chromium counts as a public
      // address: its local-network checks would then refuse any frame on loopback, whatever the CSP says
      browser = await launchChromium(['--disable-features=LocalNetworkAccessChecks']);
    });
    afterAll(() => browser?.close());

    /** A page of `parentOrigin` (answered by the browser itself) that frames `src`; collects CSP reports and console errors. */
    async function framed(parentOrigin: string, src: string): Promise<{ page: Page; violations: string[]; errors: string[] }> {
      const url = new URL(server.url);
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'fr-FR' });
      await context.addCookies([...learner.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
      // in every frame, before the page's scripts: report each CSP violation
      await context.addInitScript(
        "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
      );
      await context.route(`${parentOrigin}/**`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: `<!doctype html><title>Moodle</title><iframe id="socle" src="${src}" width="1000" height="800"></iframe>` }),
      );
      const page = await context.newPage();
      const violations: string[] = [];
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        (m.text().startsWith('CSP violation') ? violations : errors).push(m.text());
      });
      await page.goto(`${parentOrigin}/mod/lti/view.php?id=1`);
      return { page, violations, errors };
    }

    it('renders a learner page and a verification page in the frame of the registered platform, with no CSP violation', async () => {
      const me = `${server.url}/lti/me?ltik=${encodeURIComponent(String(learner.client.ltik))}`;
      const { page, violations, errors } = await framed(MOODLE_ORIGIN, me);
      const frame = page.frameLocator('#socle');
      await frame.locator('h1').first().waitFor({ state: 'attached' });
      const inner = page.frames().find((f) => f.url().startsWith(server.url));
      if (!inner) throw new Error('the frame did not load Socle');
      await inner.waitForFunction('Boolean(window.htmx)');
      // the self-hosted stylesheet applies
      expect(await inner.evaluate("getComputedStyle(document.querySelector('header.bar')).display")).toBe('flex');
      // the verification page, opened from inside the frame as a learner would
      await inner.goto(`${server.url}/badges/nope`);
      expect(await inner.evaluate("getComputedStyle(document.querySelector('.status')).borderLeftStyle")).toBe('solid');
      expect(violations).toEqual([]);
      expect(errors.filter((e) => /Content Security Policy|Refused/.test(e))).toEqual([]);
      await page.context().close();
    });

    it('is refused by frame-ancestors in the frame of a site that is not a registered platform', async () => {
      // a public page: the session's page would not even get its cookie there (SameSite=Lax), and answer 401
      const { page, errors } = await framed('http://evil.example', `${server.url}/badges/nope`);
      await page.waitForTimeout(1_000);
      expect(errors.join('\n')).toMatch(/violates the following Content Security Policy directive: "frame-ancestors 'self' http:\/\/127\.0\.0\.1:8181/);
      const inner = page.frames().find((f) => f !== page.mainFrame());
      expect(inner?.url()).toBe('chrome-error://chromewebdata/');
      expect(await page.frameLocator('#socle').locator('[data-status]').count()).toBe(0);
      await page.context().close();
    });
  });
});
