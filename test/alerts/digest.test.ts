/**
 * The weekly digest end to end, on both drivers: teachers and an administrator launch Socle (their address comes
 * from the launch), learners complete activities through the ingestion, a programme holds the course; the digests
 * are sent over SMTP to a real server on loopback and read back. Newly at risk only the first time, once a week,
 * the opt-out link of the e-mail respected, the digest on the teacher's page; two processes on one PostgreSQL
 * database send each digest once.
 */
import nock from 'nock';
import { sql } from 'drizzle-orm';
import { queryRows, openStore } from '../../src/db/store';
import type { Referential } from '../../src/domain/referential';
import { sendDigests } from '../../src/alerts/send';
import { smtpTransport } from '../../src/mail';
import { startTestServer, testContext, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { startLoopbackSmtp, type LoopbackSmtp } from '../support/smtp';
import { pageIri } from '../coverage/support';
import { type SeededProgramme, seedProgramme } from './support';

const DAY_MS = 86_400_000;
/** Monday 1 March 2027, 8:00 in Paris: week 1 of the test. */
const WEEK1 = new Date('2027-03-01T07:00:00Z');
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('weekly digests on %s', (driver) => {
  let server: TestServer;
  let smtp: LoopbackSmtp;
  let moodle: SimulatedMoodle;
  let ref: Referential;
  let teacher: Client;
  let admin: Client;
  // the launches are checked on the context's clock: real time until the test's weeks begin
  let now: Date | undefined;

  let seeded: SeededProgramme;
  const complete = (sub: string, cmids: number[], success: boolean) => seeded.complete(sub, cmids, success);
  const mailsTo = (address: string) => smtp.received.filter((m) => m.to.includes(address));

  beforeAll(async () => {
    smtp = await startLoopbackSmtp();
    server = await startTestServer(
      driver,
      // the worker's own schedule (Sunday 23:00) stays away from the test's sends
      { mail: { url: smtp.url, from: 'Socle <socle@chu.example.fr>' }, alerts: { weekday: 7, hour: 23 } },
      { badges: undefined, clock: () => now ?? new Date() },
    );
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    // the teacher's Moodle is in French; the administrator's in English (the captured launch's locale)
    teacher = (await moodle.launch(server, 'instructor', { locale: 'fr' })).client;
    admin = (await moodle.launch(server, 'administrator', { sub: '2', claims: { name: 'Ada Admin', email: 'admin@example.com' } })).client;
    // a teacher whose platform does not send the address: no digest by e-mail
    await moodle.launch(server, 'instructor', { sub: '6', claims: { email: undefined, name: 'Nora Noemail' } });
    now = WEEK1;
    seeded = await seedProgramme(server);
    ref = seeded.ref;
    // Sam (4): four domains validated, the fifth failed: nothing left to credit it → at risk. Sue (5): one page.
    await complete('4', [11, 12, 13, 14], true);
    await complete('4', [15], false);
    await complete('5', [11], true);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
    await smtp?.close();
  });

  it('e-mails each teacher and the administrator their digest: the learners newly at risk, the uncovered domain, the activity never completed', async () => {
    const results = await sendDigests(server.ctx);
    expect(results.map((r) => [r.name, r.outcome]).sort()).toEqual([
      ['Ada Admin', 'sent'],
      ['Terry Teacher', 'sent'],
    ]);
    // only the teachers' and administrators' addresses are kept for alerts, and only when the launch sent one
    const kept = await queryRows<{ sub: string; email: string | null; manager: boolean }>(
      server.ctx.store.db,
      sql`SELECT u.sub, p.email, p.manager FROM alert_preferences p JOIN users u ON u.id = p.user_id ORDER BY u.sub`,
    );
    expect(kept).toEqual([
      { sub: '2', email: 'admin@example.com', manager: true },
      { sub: '3', email: 'teacher1@example.com', manager: false },
      { sub: '6', email: null, manager: false },
    ]);
    const [mail, ...others] = mailsTo('teacher1@example.com');
    expect(others).toEqual([]);
    expect(mail?.from).toBe('socle@chu.example.fr');
    expect(mail?.subject).toBe('Socle\u00a0: alertes de la semaine du 01/03/2027');
    const body = mail?.text ?? '';
    expect(body).toContain('Bonjour Terry Teacher,');
    expect(body).toContain('Cours «\u00a0LTI Test Course\u00a0» · 2 apprenant(s)');
    expect(body).toContain('Apprenants nouvellement à risque (1)');
    expect(body).toMatch(/ - Sam Student\u00a0: \d+\u00a0h(\u00a0\d\d)? à valider avant le 31\/08\/2028/);
    expect(body).not.toContain('Sue Student');
    const fifth = ref.domains[4];
    expect(body).toContain(`Domaines que personne n’a encore couverts (1)\u00a0:\n   - ${fifth?.code}. ${fifth?.title}`);
    expect(body).toContain(`Activités rattachées jamais terminées (1)\u00a0:\n   - ${pageIri(16)}`);
    expect(mail?.headers['list-unsubscribe']).toMatch(/^<http:\/\/127\.0\.0\.1:0\/alerts\/opt-out\?token=\d+\.[\w-]{43}>$/);
    expect(mail?.html).toContain('<html lang="fr">');
    // the administrator's digest: the programme, in English
    const [admin] = mailsTo('admin@example.com');
    expect(admin?.subject).toBe('Socle: alerts for the week of 01/03/2027');
    expect(admin?.text).toContain('Programme “IFSI promotion 2025” · 2 learner(s)');
    expect(admin?.text).toContain('Learners newly at risk (1):\n   - Sam Student: ');
    expect(smtp.received).toHaveLength(2);
  });

  it('sends nothing more the same week, and the next week names only the learners newly at risk', async () => {
    expect((await sendDigests(server.ctx)).filter((r) => r.outcome === 'sent')).toEqual([]);
    expect(smtp.received).toHaveLength(2);
    // Sue fails the fifth domain too
    await complete('5', [15], false);
    now = new Date(WEEK1.getTime() + 7 * DAY_MS);
    const results = await sendDigests(server.ctx);
    expect(results.filter((r) => r.outcome === 'sent').map((r) => [r.name, r.newlyAtRisk]).sort()).toEqual([
      ['Ada Admin', 1],
      ['Terry Teacher', 1],
    ]);
    const mails = mailsTo('teacher1@example.com');
    expect(mails).toHaveLength(2);
    const body = mails[1]?.text ?? '';
    expect(mails[1]?.subject).toContain('08/03/2027');
    expect(body).toMatch(/Apprenants nouvellement à risque \(1\)\u00a0:\n {3}- Sue Student\u00a0: /);
    expect(body).not.toMatch(/ - Sam Student/);
    expect(body).toContain('1 autre(s) apprenant(s) déjà signalé(s) reste(nt) à risque.');
  });

  it('shows the current digest on the teacher’s cohort page and the administration, with the switch of the e-mail', async () => {
    const res = await teacher.get('/lti/course/cohort');
    expect(res.status).toBe(200);
    const page = text(await res.text());
    expect(page).toContain('Alertes de la semaine');
    expect(page).toContain('Cours « LTI Test Course » · 2 apprenant(s)');
    // this week's digest, as the e-mail of 8 March said it
    expect(page).toContain('Apprenants nouvellement à risque (1) Sue Student : 22 h à valider avant le 31/08/2028');
    expect(page).toContain('1 autre(s) apprenant(s) déjà signalé(s) reste(nt) à risque.');
    expect(page).toContain('Vous recevez ce récapitulatif chaque semaine par courriel, à l’adresse teacher1@example.com.');
    expect(page).toContain('Ne plus recevoir le courriel hebdomadaire');
    // the administrator's page: the programmes, in their language
    const adminPage = text(await (await admin.get('/lti/admin')).text());
    expect(adminPage).toContain('This week’s alerts');
    expect(adminPage).toContain('Programme “IFSI promotion 2025” · 2 learner(s) Learners newly at risk (1) Sue Student: 22 h to validate by 31/08/2028');
    expect(adminPage).toContain('You receive this digest every week by e-mail, at admin@example.com.');
  });

  it('respects the opt-out link of the e-mail: a GET asks, a POST opts out, no login needed; an altered token changes nothing', async () => {
    const link = /Ne plus recevoir ces alertes\u00a0: (\S+)/.exec(mailsTo('teacher1@example.com')[0]?.text ?? '')?.[1] ?? '';
    const url = new URL(link);
    const path = `${server.url}${url.pathname}${url.search}`;
    const asked = await fetch(path, { headers: { accept: 'text/html' } });
    expect(asked.status).toBe(200);
    expect(text(await asked.text())).toContain('Ne plus recevoir les alertes');
    const token = url.searchParams.get('token') ?? '';
    const tampered = await fetch(`${server.url}/alerts/opt-out`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: `token=${token.slice(0, -2)}xx` });
    expect(tampered.status).toBe(400);
    const [before] = await queryRows<{ n: number }>(server.ctx.store.db, sql`SELECT count(*)::int AS n FROM alert_preferences WHERE opted_out_at IS NOT NULL`);
    expect(before?.n).toBe(0);
    // the mail client's one-click unsubscribe (RFC 8058)
    const done = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(done.status).toBe(200);
    expect(text(await done.text())).toContain('vous ne recevrez plus les alertes hebdomadaires');
    now = new Date(WEEK1.getTime() + 14 * DAY_MS);
    const results = await sendDigests(server.ctx);
    expect(results.map((r) => r.name)).toEqual(['Ada Admin']);
    expect(mailsTo('teacher1@example.com')).toHaveLength(2);
    // the page says so, and turns it back on
    expect(text(await (await teacher.get('/lti/course/cohort')).text())).toContain('Vous avez désactivé le courriel hebdomadaire.');
    const back = await teacher.post('/lti/alerts/preference', { form: { alerts: 'on', back: 'cohort' } });
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toMatch(/^\/lti\/course\/cohort\?ltik=.+&alerts=saved#alerts$/);
    const refused = await teacher.post('/lti/alerts/preference', { form: { alerts: 'maybe', back: 'https://evil.example' } });
    expect(refused.status).toBe(400);
    expect(text(await (await teacher.get('/lti/course/cohort')).text())).toContain('à l’adresse teacher1@example.com');
  });

  // PGlite is one process's store: two processes share a PostgreSQL server
  (driver === 'postgres' ? describe : describe.skip)('two processes on one database', () => {
    it('send each digest of the week once (the worker’s tick, in both at once)', async () => {
      const other = await openStore({ databaseUrl: String(server.ctx.config.databaseUrl) });
      const config = { ...server.ctx.config };
      const second = testContext(other, { badges: undefined, clock: () => now ?? new Date(), mail: smtpTransport({ url: smtp.url, from: 'socle@chu.example.fr' }) }, config);
      try {
        // Sunday 28 March 2027, 23:30 in Paris: the worker's time (ALERTS_DAY sunday, ALERTS_HOUR 23) for the week of the 22nd
        now = new Date('2027-03-28T21:30:00Z');
        const before = smtp.received.length;
        const [a, b] = await Promise.all([sendDigests(server.ctx, { onSchedule: true }), sendDigests(second, { onSchedule: true })]);
        const sent = [...a, ...b].filter((r) => r.outcome === 'sent').map((r) => r.name).sort();
        expect(sent).toEqual(['Ada Admin', 'Terry Teacher']);
        expect(smtp.received.length - before).toBe(2);
        const rows = await queryRows<{ n: number }>(other.db, sql`SELECT count(*)::int AS n FROM alert_digests WHERE week = '2027-03-22' AND status = 'sent'`);
        expect(rows[0]?.n).toBe(2);
      } finally {
        await other.close();
      }
    });
  });

  it('sends nothing when asked for a dry run, and says what would go', async () => {
    now = new Date(WEEK1.getTime() + 28 * DAY_MS);
    const before = smtp.received.length;
    const results = await sendDigests(server.ctx, { dryRun: true });
    expect(results.map((r) => r.outcome).sort()).toEqual(['would_send', 'would_send']);
    expect(smtp.received.length).toBe(before);
    const [rows] = await queryRows<{ n: number }>(server.ctx.store.db, sql`SELECT count(*)::int AS n FROM alert_digests WHERE week = '2027-03-29'`);
    expect(rows?.n).toBe(0);
  });

  it('tries a refused delivery again later in the week, and sends it once', async () => {
    now = new Date(WEEK1.getTime() + 35 * DAY_MS);
    smtp.refuse.add('admin@example.com');
    const first = await sendDigests(server.ctx);
    expect(first.map((r) => [r.name, r.outcome]).sort()).toEqual([
      ['Ada Admin', 'failed'],
      ['Terry Teacher', 'sent'],
    ]);
    // not before its retry time
    expect(await sendDigests(server.ctx)).toEqual([]);
    smtp.refuse.clear();
    // the retry time has come (the lease is on the database's clock)
    await server.ctx.store.db.execute(sql`UPDATE alert_digests SET lease_until = now() - interval '1 second' WHERE status = 'sending'`);
    const again = await sendDigests(server.ctx);
    expect(again.map((r) => [r.name, r.outcome])).toEqual([['Ada Admin', 'sent']]);
    const [row] = await queryRows<{ attempts: number; status: string }>(server.ctx.store.db, sql`SELECT attempts, status FROM alert_digests WHERE week = '2027-04-05' AND status = 'sent' ORDER BY attempts DESC LIMIT 1`);
    expect(row).toEqual({ attempts: 2, status: 'sent' });
    expect(mailsTo('admin@example.com').filter((m) => m.subject.includes('05/04/2027'))).toHaveLength(1);
  });
});
