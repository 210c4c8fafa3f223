import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import nock from 'nock';
import { publishScore } from '../../src/lms/ags';
import { nextLink } from '../../src/lms/nrps';
import type { LtiRuntime } from '../../lti/runtime';
import { listPlatforms, setPlatformActive } from '../../lti/registration';
import { courseMembers, courses, platforms, users } from '../../src/db/schema';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { fixture, SimulatedMoodle } from '../support/moodle';

describe('Link header', () => {
  it('finds rel="next" as Moodle writes it, and nothing else', () => {
    const { link } = fixture<Record<string, { response: { headers: { link: string } } }>>('lti-services-http.json')['nrps-memberships-limit2']?.response.headers ?? { link: '' };
    expect(nextLink(link)).toBe('http://127.0.0.1:8181/mod/lti/services.php/CourseSection/2/bindings/1/memberships?limit=2&from=2');
    expect(nextLink('<https://a/x>; rel="differences"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});

describe.each(drivers)('LTI services on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let lti: LtiRuntime;
  beforeAll(async () => {
    server = await startTestServer(driver);
    lti = server.lti;
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  async function course2() {
    const [c] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '2'));
    if (!c) throw new Error('course 2 not recorded');
    return c;
  }

  it('reads every NRPS page on demand and stores the learners who never launched', async () => {
    const launched = await moodle.launch(server, 'instructor');
    expect(launched.res.status).toBe(200);
    const course = await course2();
    await server.ctx.store.db.update(courseMembers).set({ status: 'inactive' });
    moodle.nrpsRequests.length = 0;
    const res = await launched.client.post(`/lti/api/courses/${course.id}/roster/sync`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ pages: 3, members: 3 });
    expect(moodle.nrpsRequests).toEqual([
      '/mod/lti/services.php/CourseSection/2/bindings/1/memberships',
      '/mod/lti/services.php/CourseSection/2/bindings/1/memberships?limit=1&from=1',
      '/mod/lti/services.php/CourseSection/2/bindings/1/memberships?limit=1&from=2',
    ]);
    const roster = await server.ctx.store.db
      .select({ sub: users.sub, name: users.name, roles: courseMembers.roles, status: courseMembers.status })
      .from(courseMembers)
      .innerJoin(users, eq(users.id, courseMembers.userId))
      .where(eq(courseMembers.courseId, course.id))
      .orderBy(users.sub);
    expect(roster).toEqual([
      { sub: '3', name: 'Terry Teacher', roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'], status: 'active' },
      { sub: '4', name: 'Sam Student', roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'], status: 'active' },
      { sub: '5', name: 'Sue Student', roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'], status: 'active' },
    ]);
  });

  it('posts a score on the launch line item with userId, scoreGiven/scoreMaximum and timestamp', async () => {
    await moodle.launch(server, 'instructor');
    const course = await course2();
    const [learner] = await server.ctx.store.db.select().from(users).where(eq(users.sub, '4'));
    moodle.scores.length = 0;
    const at = new Date('2026-11-22T16:48:49.671Z');
    const result = await publishScore(server.ctx, lti.provider, {
      courseId: course.id,
      userId: Number(learner?.id),
      scoreGiven: 10.5,
      scoreMaximum: 28,
      timestamp: at,
    });
    const lineItem = fixture('lti-launch-instructor.claims.json')['https://purl.imsglobal.org/spec/lti-ags/claim/endpoint'] as { lineitem: string };
    expect(result).toEqual({ status: 'published', lineItem: lineItem.lineitem });
    expect(moodle.scores).toHaveLength(1);
    expect(moodle.scores[0]?.url).toBe('http://127.0.0.1:8181/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1');
    const captured = fixture('ags-score-post.request.json');
    expect(Object.keys(moodle.scores[0]?.body ?? {}).sort()).toEqual(Object.keys(captured).filter((k) => k !== 'comment').sort());
    expect(moodle.scores[0]?.body).toEqual({
      userId: '4',
      scoreGiven: 10.5,
      scoreMaximum: 28,
      activityProgress: 'Completed',
      gradingProgress: 'FullyGraded',
      timestamp: '2026-11-22T16:48:49.671Z',
    });
  });

  it('logs and skips a 400 for a user who cannot be graded, without retrying', async () => {
    const course = await course2();
    const [teacher] = await server.ctx.store.db.select().from(users).where(eq(users.sub, '3'));
    moodle.notGradable.add('3');
    moodle.scores.length = 0;
    const result = await publishScore(server.ctx, lti.provider, { courseId: course.id, userId: Number(teacher?.id), scoreGiven: 1, scoreMaximum: 28 });
    expect(result).toMatchObject({ status: 'skipped', reason: 'not-gradable' });
    expect(moodle.scores).toHaveLength(1);
  });

  it('refuses to publish for a user of another platform', async () => {
    const course = await course2();
    const [other] = await server.ctx.store.db
      .insert(users)
      .values({ platformId: (await server.ctx.store.db.insert(platforms).values({ issuer: 'https://other.example' }).returning())[0]?.id ?? 0, sub: '4' })
      .returning();
    await expect(publishScore(server.ctx, lti.provider, { courseId: course.id, userId: Number(other?.id), scoreGiven: 1, scoreMaximum: 28 })).rejects.toThrow(
      /not a user of the course's platform/,
    );
  });

  it('answers a deep-linking request with a signed resource link and its line item', async () => {
    const r = await moodle.launch(server, 'deeplinking');
    expect(r.res.status).toBe(200);
    expect(r.body).toContain('Socle — heures validées');
    const form = await r.client.post('/lti/deeplink', { form: { ltik: String(r.client.ltik) } });
    expect(form.status).toBe(200);
    const html = await form.text();
    const settings = fixture('lti-launch-deeplinking.claims.json')['https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings'] as { deep_link_return_url: string };
    expect(html).toContain(settings.deep_link_return_url.replace(/&/g, '&amp;').split('?')[0]);
    // Socle's own auto-submitting form: no inline script for the Content-Security-Policy to refuse
    expect(html).toContain('data-autosubmit');
    expect(html).not.toMatch(/<script>|\sstyle=/);
    expect(form.headers.get('content-security-policy')).toContain(`form-action 'self' ${moodle.issuer}`);
    const jwt = /name="JWT" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const claims = decodeJwt(jwt);
    expect(decodeProtectedHeader(jwt).alg).toBe('RS256');
    expect(claims.aud).toBe(moodle.issuer);
    expect(claims['https://purl.imsglobal.org/spec/lti/claim/message_type']).toBe('LtiDeepLinkingResponse');
    expect(claims['https://purl.imsglobal.org/spec/lti-dl/claim/content_items']).toEqual([
      expect.objectContaining({
        type: 'ltiResourceLink',
        url: `${server.ctx.config.publicUrl}/lti/launch`,
        lineItem: expect.objectContaining({ label: 'Socle — heures validées', scoreMaximum: 28 }),
      }),
    ]);
  });

  it('refuses the deep-linking answer to a learner', async () => {
    const r = await moodle.launch(server, 'learner');
    const res = await r.client.post('/lti/deeplink', { form: { ltik: String(r.client.ltik) } });
    expect(res.status).toBe(403);
  });

  it('registers a platform dynamically; it launches once activated', async () => {
    const dyn = await SimulatedMoodle.create({ clientId: 'LkZVwZbx3hItaGe', deploymentId: '2', kid: 'dynreg-tool-key' });
    const openid = fixture('lti-dynreg-openid-configuration.json');
    let sent: Record<string, unknown> | undefined;
    let authorization: string | undefined;
    nock(dyn.issuer).get('/mod/lti/openid-configuration.php').reply(200, openid);
    nock(dyn.issuer)
      .post('/mod/lti/openid-registration.php')
      .reply(function (_uri, body) {
        sent = body as Record<string, unknown>;
        authorization = this.req.headers.authorization as string | undefined;
        return [200, fixture('lti-dynreg-registration-response.json')];
      });
    // The platform's first launch through the new client id, before anything is stored, is refused.
    const params = new URLSearchParams({ openid_configuration: `${dyn.issuer}/mod/lti/openid-configuration.php`, registration_token: 'reg-token' });
    // an administrator whose browser asks for English, in a French Moodle: the page is French, unless ?lang=en
    const res = await fetch(`${server.url}/lti/register?${params}`, { headers: { 'Accept-Language': 'en-US,en;q=0.9' } });
    const page = await res.text();
    expect(res.status).toBe(200);
    expect(page).toContain('<html lang="fr">');
    expect(page).toContain('<h1>Enregistrement de Socle</h1>');
    expect(page).toContain('Socle est enregistré auprès de');
    expect(page).toContain('L’outil est en attente');
    expect(page).toContain('LkZVwZbx3hItaGe');
    expect(page).toContain('data-active="false"');
    // the close message is sent by the self-hosted script; the registering platform may frame the page, and hear it
    expect(page).toContain('data-lti-close');
    expect(page).toContain('/assets/socle.js');
    expect(res.headers.get('content-security-policy')).toContain(`frame-ancestors 'self' ${dyn.issuer}`);
    expect(res.headers.get('cross-origin-opener-policy')).toBeNull();
    expect(authorization).toBe('Bearer reg-token');
    expect(sent).toMatchObject({
      response_types: ['id_token'],
      token_endpoint_auth_method: 'private_key_jwt',
      initiate_login_uri: `${server.ctx.config.publicUrl}/lti/login`,
      redirect_uris: [`${server.ctx.config.publicUrl}/lti/launch`],
      jwks_uri: `${server.ctx.config.publicUrl}/lti/keys`,
      'https://purl.imsglobal.org/spec/lti-tool-configuration': {
        domain: new URL(server.ctx.config.publicUrl).host,
        custom_parameters: { moodle_course: '$Context.id', moodle_user: '$User.id' },
        messages: [{ type: 'LtiResourceLinkRequest' }, expect.objectContaining({ type: 'LtiDeepLinkingRequest' })],
      },
    });
    expect(String(sent?.scope)).toContain('https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly');
    expect(String(sent?.scope)).toContain('https://purl.imsglobal.org/spec/lti-ags/scope/score');
    const listed = await listPlatforms(server.ctx, lti.provider, dyn.issuer);
    expect(listed.find((p) => p.clientId === 'LkZVwZbx3hItaGe')).toMatchObject({ active: false, deploymentIds: ['2'], jwksUrl: openid.jwks_uri });

    const pending = await dyn.launch(server, 'learner', { sub: '5' });
    expect(pending.res.status).toBe(401);
    await setPlatformActive(lti.provider, dyn.issuer, 'LkZVwZbx3hItaGe', true);
    const ok = await dyn.launch(server, 'learner', { sub: '5' });
    expect(ok.res.status).toBe(200);
    expect(ok.landedOn).toBe('/lti/me');
  });

  it('answers a registration against a platform that is not what it says with 502 and stores nothing', async () => {
    nock('http://127.0.0.1:8282')
      .get('/mod/lti/openid-configuration.php')
      .reply(200, { ...fixture('lti-dynreg-openid-configuration.json'), issuer: 'https://moodle.other.example' });
    const before = (await lti.provider.getAllPlatforms()).length;
    const res = await fetch(`${server.url}/lti/register?openid_configuration=${encodeURIComponent('http://127.0.0.1:8282/mod/lti/openid-configuration.php')}`);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'registration_failed' } });
    expect((await lti.provider.getAllPlatforms()).length).toBe(before);
    const missing = await fetch(`${server.url}/lti/register`, { headers: { Accept: 'text/html', 'Accept-Language': 'en' } });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('<html lang="fr">');
    const english = await fetch(`${server.url}/lti/register?lang=en`, { headers: { Accept: 'text/html' } });
    expect(english.status).toBe(400);
    expect(await english.text()).toContain('<html lang="en">');
  });

  it('publishes its public keys', async () => {
    const res = await fetch(`${server.url}/lti/keys`);
    const body = (await res.json()) as { keys: { kid: string; alg: string }[] };
    expect(body.keys.length).toBeGreaterThanOrEqual(1);
    expect(body.keys[0]).toMatchObject({ alg: 'RS256', use: 'sig' });
  });
});
