import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { issueCredential } from '../../src/badges/credentials';
import { findPlatform, findUser } from '../../src/identity/records';
import { socle28 } from '../badges/referential';
import { startTestServer, type TestServer } from '../support/app';
import { launchChromium } from '../support/browser';
import { drivers } from '../support/db';
import { type LaunchResult, SimulatedMoodle } from '../support/moodle';

const READ = 'https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly';

/**
 * A wallet's connection in a real browser (Debian chromium + playwright-core) at a 390 px phone width: the wallet's
 * tab opens Socle's authorize page, the learner enters its code in "Ma progression" (their LTI session, in another
 * tab), accepts, and the wallet's tab continues to the wallet's own callback (a real HTTP server on loopback) with
 * the code, which the wallet exchanges for the learner's badges.
 */
describe('connecting a badge wallet in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let launched: LaunchResult;
  let wallet: http.Server;
  let walletUrl: string;
  const driver = drivers[0] ?? 'pglite';
  let jwt: string;

  beforeAll(async () => {
    server = await startTestServer(driver);
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    launched = await moodle.launch(server, 'learner', { locale: 'fr', sub: '51' });
    const db = server.ctx.store.db;
    const platform = await findPlatform(db, moodle.issuer);
    const user = platform && (await findUser(db, platform.id, '51'));
    if (!user) throw new Error('no learner');
    // the course uses the bundled référentiel of the badge: "Ma progression" shows it
    await db.execute(sql`UPDATE courses SET referential_id = ${socle28.id}, referential_version = ${socle28.version}`);
    jwt = (await issueCredential(db, server.ctx, { userId: user.id, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 })).credential.jwt;
    // the wallet's site: its callback page says it got an answer
    wallet = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Wallet</title><h1>Wallet callback</h1>'));
    await new Promise<void>((resolve) => wallet.listen(0, '127.0.0.1', resolve));
    walletUrl = `http://127.0.0.1:${(wallet.address() as AddressInfo).port}`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => wallet?.close(resolve));
    await server?.destroy();
  });

  async function phone(withSession: boolean): Promise<{ context: BrowserContext; page: Page; violations: string[] }> {
    const url = new URL(server.url);
    const context = await browser.newContext({ viewport: { width: 390, height: 800 }, locale: 'fr-FR' });
    if (withSession) await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))");
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /CSP violation|Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    return { context, page, violations };
  }
  const fits = async (page: Page) => {
    const w = (await page.evaluate(`(() => ({ doc: document.documentElement.scrollWidth, main: document.querySelector('main').scrollWidth, mainWidth: document.querySelector('main').clientWidth }))()`)) as { doc: number; main: number; mainWidth: number };
    expect(w.doc).toBe(390);
    expect(w.main).toBeLessThanOrEqual(w.mainWidth);
  };

  it('registers, asks, is approved in Ma progression, and reads the learner’s badge', async () => {
    const registered = await fetch(`${server.url}/ims/ob/v3p0/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Mon portefeuille',
        client_uri: `${walletUrl}/`,
        logo_uri: `${walletUrl}/logo.png`,
        tos_uri: `${walletUrl}/terms`,
        policy_uri: `${walletUrl}/privacy`,
        software_id: 'wallet-test',
        software_version: '1',
        redirect_uris: [`${walletUrl}/callback`],
        scope: READ,
      }),
    });
    expect(registered.status).toBe(201);
    const client = (await registered.json()) as { client_id: string; client_secret: string };
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${server.url}/ims/ob/v3p0/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: `${walletUrl}/callback`, scope: READ, state: 'st4te', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' })) {
      authorize.searchParams.set(k, v);
    }

    // the wallet's tab: no LTI session, the steps and the code
    const tab = await phone(false);
    await tab.page.goto(authorize.toString());
    expect(await tab.page.locator('h1').innerText()).toBe('Connecter un portefeuille de badges');
    expect(await tab.page.locator('main').innerText()).toContain('Ouvrez d’abord Socle depuis votre cours Moodle');
    const code = await tab.page.locator('[data-testid="user-code"]').innerText();
    expect(code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    await fits(tab.page);

    // the learner's tab, in their LTI session: "Mes badges", the code by its label, then the consent
    const learner = await phone(true);
    await learner.page.goto(`${server.url}/lti/me?tab=badges&ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    await fits(learner.page);
    const linkedin = learner.page.locator('a.linkedin');
    expect(await linkedin.getAttribute('target')).toBe('_blank');
    expect(await linkedin.getAttribute('href')).toMatch(/^https:\/\/www\.linkedin\.com\/profile\/add\?startTask=CERTIFICATION_NAME&/);
    await learner.page.getByLabel('Code affiché par le portefeuille').fill(code.toLowerCase());
    await learner.page.getByRole('button', { name: 'Continuer' }).click();
    await learner.page.waitForURL(/\/lti\/wallet\/code/);
    expect(await learner.page.locator('main').innerText()).toContain('Le portefeuille « Mon portefeuille »');
    await fits(learner.page);
    await learner.page.getByRole('button', { name: 'Accepter' }).click();
    await learner.page.waitForURL(/\/lti\/wallet\/decision/);
    expect(await learner.page.locator('[role="status"]').innerText()).toContain('C’est accepté');

    // back in the wallet's tab: on to the wallet with the code
    await tab.page.getByRole('link', { name: 'Continuer vers le portefeuille' }).click();
    await tab.page.waitForURL(/\/callback\?/);
    const back = new URL(tab.page.url());
    expect(back.searchParams.get('state')).toBe('st4te');
    expect(await tab.page.locator('h1').innerText()).toBe('Wallet callback');
    const tokens = await fetch(`${server.url}/ims/ob/v3p0/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code') ?? '', redirect_uri: `${walletUrl}/callback`, code_verifier: verifier }),
    });
    expect(tokens.status).toBe(200);
    const { access_token } = (await tokens.json()) as { access_token: string };
    const credentials = await fetch(`${server.url}/ims/ob/v3p0/credentials`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(await credentials.json()).toEqual({ compactJwsStrings: [jwt] });
    expect(tab.violations).toEqual([]);
    // "Ma progression" draws its upcoming badges as data: images, which img-src 'self' refuses (not a page of the
    // wallet flow): every other violation there fails this test
    expect(learner.violations.filter((v) => !/img-src data|'data:image\/svg\+xml;base64,/.test(v))).toEqual([]);
    await tab.context.close();
    await learner.context.close();
  });
});
