/**
 * "Ma progression" with the learner's forecast, on both drivers: a learner of a programme sees its status, due
 * date, the hours left and what is left per domain, and their reminder, which they can hide and show again; a
 * learner of a course in no programme sees the empty state.
 */
import nock from 'nock';
import type { Referential } from '../../src/domain/referential';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { seedProgramme } from '../alerts/support';

/** The visible text, one space between words (no-break spaces too). */
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('the forecast on "Ma progression" on %s', (driver) => {
  let server: TestServer;
  let ref: Referential;
  let learner: Client;

  const page = async (client: Client, query = '') => {
    const res = await client.get(`/lti/me${query}`);
    expect(res.status).toBe(200);
    return text(await res.text());
  };

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { badges: undefined });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    learner = (await moodle.launch(server, 'learner', { locale: 'fr' })).client;
    const seeded = await seedProgramme(server, { intakeYear: 2025, dueDate: '2028-08-31' });
    ref = seeded.ref;
    // the learner (4): domains 1 to 4 validated, the fifth's only activity failed
    await seeded.complete('4', [11, 12, 13, 14], true);
    await seeded.complete('4', [15], false);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('shows the status, the due date, the hours left and available, what is left per domain, and the reminder', async () => {
    const body = await page(learner);
    const fifth = ref.domains[4];
    expect(body).toContain('Mon échéance');
    expect(body).toContain('Formation « IFSI promotion 2025 »');
    expect(body).toContain('Prévision : À risque Les activités de vos cours ne suffisent plus à tout valider avant l’échéance.');
    expect(body).toMatch(/Échéance 31\/08\/2028 \(dans \d+ jours\)/);
    expect(body).toContain('Heures restant à valider 6 h');
    expect(body).toContain('Heures disponibles dans vos cours 1 h');
    expect(body).toContain(`Ce qu’il vous reste par domaine Domaine Reste à valider Disponible dans vos cours ${fifth?.code} ${fifth?.title} 6 h 0 h (insuffisant)`);
    expect(body).toContain('Il vous reste 6 h à valider avant le 31/08/2028 ; vos cours en proposent encore 1 h.');
    expect(body).toContain('Ne plus afficher ce rappel');
  });

  it('hides the reminder when the learner asks, and shows it again', async () => {
    const off = await learner.post('/lti/alerts/preference', { form: { alerts: 'off', back: 'me' } });
    expect(off.status).toBe(303);
    expect(off.headers.get('location')).toMatch(/^\/lti\/me\?ltik=.+&alerts=saved#reminder$/);
    const hidden = await page(learner, '?alerts=saved');
    expect(hidden).not.toContain('Il vous reste');
    expect(hidden).toContain('Vous avez masqué le rappel de votre échéance. Préférence enregistrée.');
    // the forecast itself stays
    expect(hidden).toContain('Heures restant à valider 6 h');
    await learner.post('/lti/alerts/preference', { form: { alerts: 'on', back: 'me' } });
    expect(await page(learner)).toContain('Il vous reste 6 h à valider');
  });

  it('says so, in English too, for a learner whose courses are in no programme', async () => {
    const moodle = await SimulatedMoodle.create();
    const other = (await moodle.launch(server, 'learner', { context: '9', sub: '40', locale: 'en' })).client;
    const body = await page(other);
    expect(body).toContain('My deadline');
    expect(body).toContain('Your courses are in no programme Socle follows');
    expect(body).not.toContain('left to validate by');
  });
});
