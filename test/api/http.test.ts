import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { startServer } from '../../src/app/server';
import { createLogger, redactUrl } from '../../src/logger';
import { startTestServer, testConfig, type TestServer } from '../support/app';
import { createTestDatabase, drivers } from '../support/db';
import { toolConfig } from '../../src/lms/tool-config';
import { version } from '../../src/version';

/** What a browser sends when it opens a page. */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe.each(drivers)('HTTP service on %s', (driver) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(driver);
  });
  afterAll(() => server?.destroy());

  it('answers /health with the database status', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ status: 'ok', database: 'ok', driver });
  });

  it('keeps a well-formed incoming request id and replaces a malformed one', async () => {
    const kept = await fetch(`${server.url}/health`, { headers: { 'X-Request-Id': 'moodle-42' } });
    expect(kept.headers.get('x-request-id')).toBe('moodle-42');
    const replaced = await fetch(`${server.url}/health`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).not.toBe('bad id with spaces');
  });

  it('answers unknown routes with the stable JSON error shape', async () => {
    const res = await fetch(`${server.url}/nothing-here`, { headers: { 'X-Request-Id': 'r-1' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { status: 404, code: 'not_found', message: 'No route for GET /nothing-here.', requestId: 'r-1' },
    });
  });

  it('serves the home page in French: what Socle is, its status and where an administrator starts', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('Socle est un outil LTI 1.3 pour Moodle');
    expect(html).toMatch(/<dd class="ok">disponible \(\w+\)<\/dd>/);
    expect(html).toContain(`<dd>${version}</dd>`);
    // the values `socle lti config` prints
    expect(html).toContain(`<code data-testid="registration-url">${toolConfig(server.ctx.config).dynamicRegistrationUrl}</code>`);
    expect(toolConfig(server.ctx.config).dynamicRegistrationUrl).toBe(`${server.ctx.config.publicUrl}/lti/register`);
    expect(html).toContain('npx socle lti config');
    expect(html).toContain('docs/guide-administrateur.md');
    expect(html).toContain('href="/api/openapi.json"');
  });

  it('serves the home page in English by ?lang=en or Accept-Language', async () => {
    for (const res of [await fetch(`${server.url}/?lang=en`), await fetch(`${server.url}/`, { headers: { 'Accept-Language': 'en-US,en;q=0.9' } })]) {
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('<html lang="en">');
      expect(html).toContain('Socle is an LTI 1.3 tool for Moodle');
      expect(html).toContain('Moodle administrator: where to start');
    }
    expect(await (await fetch(`${server.url}/`, { headers: { 'Accept-Language': 'fr-FR,en;q=0.5' } })).text()).toContain('<html lang="fr">');
  });

  it('answers a browser with a French not-found page, and the APIs with JSON whatever is accepted', async () => {
    const page = await fetch(`${server.url}/nothing-here`, { headers: { Accept: BROWSER, 'X-Request-Id': 'r-2' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<h1 id="error-title">Page introuvable</h1>');
    expect(html).toContain('<code>r-2</code>');
    expect(html).toContain('<a href="/">Accueil de Socle</a>');
    const api = await fetch(`${server.url}/api/v1/nothing-here`, { headers: { Accept: BROWSER } });
    expect([api.status, api.headers.get('content-type')]).toEqual([404, expect.stringMatching(/json/)]);
    expect(await api.json()).toMatchObject({ error: { status: 404, code: 'not_found' } });
  });
});

describe('HTTP service when the database is gone', () => {
  it('answers /health 503 naming the database', async () => {
    const server = await startTestServer('pglite');
    try {
      await server.ctx.store.close();
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(503);
      // the home page still answers, and says the database is unreachable
      const home = await fetch(`${server.url}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('<dd class="warn">injoignable (pglite)</dd>');
      const body = (await res.json()) as { status: string; database: string };
      expect(body.status).toBe('error');
      expect(body.database).toMatch(/^unreachable/);
    } finally {
      await server.destroy().catch(() => undefined);
    }
  });
});

describe.each(drivers)('readiness and metrics on %s', (driver) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(driver);
  });
  afterAll(() => server?.destroy());

  it('is ready when every migration of this build is applied', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', migrations: { upToDate: true } });
  });

  it('is not ready when the database lacks the latest migration', async () => {
    await server.ctx.store.db.execute(sql`DELETE FROM drizzle.__drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM drizzle.__drizzle_migrations)`);
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not_ready', migrations: { upToDate: false } });
  });

  it('serves Prometheus metrics with request latency by route pattern', async () => {
    await fetch(`${server.url}/health`);
    await fetch(`${server.url}/no/such/page/42`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/socle_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} \d+/);
    expect(text).toContain('route="unmatched",status="404"');
    expect(text).not.toContain('/no/such/page/42');
    expect(text).toContain('socle_process_resident_memory_bytes');
  });
});

describe('metrics behind METRICS_TOKEN', () => {
  let server: TestServer;
  const token = 'metrics-token-0123456789';
  beforeAll(async () => {
    server = await startTestServer('pglite', { metricsToken: token });
  });
  afterAll(() => server?.destroy());

  it('answers 401 with WWW-Authenticate without the token or with another, and the metrics with it', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not-the-token-at-all' }, { Authorization: `Basic ${token}` }] as Record<string, string>[]) {
      const res = await fetch(`${server.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="socle-metrics"');
      expect(await res.json()).toMatchObject({ error: { status: 401, code: 'unauthorized' } });
    }
    const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('socle_process_resident_memory_bytes');
  });

  it('leaves /metrics open when METRICS_TOKEN is unset', async () => {
    const open = await startTestServer('pglite');
    try {
      const res = await fetch(`${open.url}/metrics`);
      expect(res.status).toBe(200);
    } finally {
      await open.destroy();
    }
  });
});

describe('request logs', () => {
  it('never show the ltik of a page URL or a redirect, whatever the level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const database = await createTestDatabase('pglite');
    const server = await startServer(testConfig('dataDir' in database.options ? { dataDir: database.options.dataDir } : {}), {
      logger: createLogger('trace', sink),
    });
    try {
      const secret = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWx0aWs.signature-of-the-session';
      expect((await fetch(`${server.url}/lti/me?ltik=${secret}&tab=badges`)).status).toBe(401);
      expect((await fetch(`${server.url}/nothing?lang=fr&ltik=${secret}`)).status).toBe(404);
      const logged = lines.join('');
      expect(logged).toContain('/lti/me?ltik=[redacted]&tab=badges');
      expect(logged).toContain('/nothing?lang=fr&ltik=[redacted]');
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain('c2VjcmV0LWx0aWs');
    } finally {
      await server.close(1_000);
      await database.destroy();
    }
  });

  it('redacts the ltik of any URL, as in a redirect Location', () => {
    expect(redactUrl('/lti/me?ltik=abc.def.ghi')).toBe('/lti/me?ltik=[redacted]');
    expect(redactUrl('https://socle.univ.fr/lti/course?x=1&LTIK=abc#top')).toBe('https://socle.univ.fr/lti/course?x=1&LTIK=[redacted]#top');
    expect(redactUrl('/lti/me?tab=badges')).toBe('/lti/me?tab=badges');
  });
});
