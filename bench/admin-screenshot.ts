// Renders the administrator's page with generated learners and saves docs/admin-reports.png:
// `npx tsx bench/admin-screenshot.ts [learners]`. Needs Debian's chromium (/usr/bin/chromium) and playwright-core.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';

import { createLogger } from '../src/logger';
import { ensureCourse, findPlatform } from '../src/identity/records';
import { startServer } from '../src/app/server';
import { testConfig } from '../test/support/app';
import { generatedRows } from '../test/support/compliance-rows';
import { arraySource } from '../test/support/compliance-source';
import { SimulatedMoodle } from '../test/support/moodle';
import { launchChromium } from '../test/support/browser';

async function main() {
  const learners = Number(process.argv[2] ?? 20_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-shot-'));
  const server = await startServer(testConfig({ dataDir }), { logger: createLogger('warn'), services: { compliance: arraySource(generatedRows(learners)) } });
  const browser = await launchChromium(['--lang=fr-FR']);
  try {
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const admin = await moodle.launch(server, 'administrator', { sub: '2', locale: 'fr-FR', context: '2', contextTitle: 'Socle numérique — groupe 1' });
    const platform = await findPlatform(server.ctx.store.db, moodle.issuer);
    if (!platform) throw new Error('no platform');
    await ensureCourse(server.ctx.store.db, platform.id, '3', 'Socle numérique — groupe 2');
    await ensureCourse(server.ctx.store.db, platform.id, '4', 'Socle numérique — groupe 3');
    // Two finished exports for the "recent exports" list.
    for (const format of ['csv-excel', 'xlsx']) {
      const res = await admin.client.post('/lti/api/reports/exports', { json: { kind: 'compliance', format, filters: { courses: ['3'] } } });
      const job = (await res.json()) as { url: string };
      for (let i = 0; i < 600; i++) {
        const state = (await (await admin.client.get(job.url)).json()) as { status: string };
        if (state.status === 'done' || state.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const context = await browser.newContext({ viewport: { width: 1100, height: 1500 }, locale: 'fr-FR' });
    const url = new URL(server.url);
    await context.addCookies([...admin.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    const page = await context.newPage();
    await page.goto(`${server.url}/lti/admin?ltik=${encodeURIComponent(String(admin.client.ltik))}`);
    // A platform-wide XLSX: the progress bar polls while it runs.
    await page.click('button[value="xlsx"]');
    await page.waitForSelector('#exports-live progress', { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await page.evaluate('document.querySelector("main").scrollTop = 0');
    const file = path.join(__dirname, '..', 'docs', 'admin-reports.png');
    await page.screenshot({ path: file, fullPage: true });
    process.stdout.write(`${file}\n`);
  } finally {
    await browser.close();
    nock.cleanAll();
    await server.close(1_000);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
