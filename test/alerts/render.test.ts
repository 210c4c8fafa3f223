import { digestWeek } from '../../src/alerts/schedule';
import { optOutToken, verifyOptOutToken } from '../../src/alerts/preferences';
import { renderDigest } from '../../src/alerts/render';
import type { Digest } from '../../src/alerts/digest';

const digest = (locale: 'fr' | 'en'): Digest => ({
  userId: 7,
  platformId: 1,
  name: 'Terry <Teacher>',
  email: 'teacher1@example.com',
  locale,
  week: '2026-11-30',
  empty: false,
  sections: [
    {
      scope: 'course:3',
      kind: 'course',
      title: 'Santé & numérique',
      learners: 12,
      atRisk: [
        { userId: 10, name: 'Inès Martin', dueDate: '2027-08-31', minutesLeft: 690 },
        { userId: 11, name: 'Paul Durand', dueDate: '2027-08-31', minutesLeft: 120 },
      ],
      newlyAtRisk: [{ userId: 10, name: 'Inès Martin', dueDate: '2027-08-31', minutesLeft: 690 }],
      uncoveredDomains: [{ code: '3', title: 'Communication' }],
      neverCompleted: [{ name: 'Quiz <final>', courseTitle: 'Santé & numérique' }],
    },
  ],
});

describe('the weekly digest e-mail', () => {
  it('is written in French: the newly at-risk learners, uncovered domains, activities never completed, the opt-out link', () => {
    const m = renderDigest(digest('fr'), 'https://socle.example.fr/alerts/opt-out?token=7.x');
    expect(m.subject).toBe('Socle\u00a0: alertes de la semaine du 30/11/2026');
    expect(m.text).toContain('Bonjour Terry <Teacher>,');
    expect(m.text).toContain('Cours «\u00a0Santé & numérique\u00a0» · 12 apprenant(s)');
    expect(m.text).toContain('Apprenants nouvellement à risque (1)\u00a0:');
    expect(m.text).toContain('   - Inès Martin\u00a0: 11\u00a0h\u00a030 à valider avant le 31/08/2027');
    expect(m.text).not.toContain('Paul Durand');
    expect(m.text).toContain('1 autre(s) apprenant(s) déjà signalé(s) reste(nt) à risque.');
    expect(m.text).toContain('   - 3. Communication');
    expect(m.text).toContain('   - Quiz <final>');
    expect(m.text).toContain('Ne plus recevoir ces alertes\u00a0: https://socle.example.fr/alerts/opt-out?token=7.x');
    // HTML: every value from the platform is escaped
    expect(m.html).toContain('<html lang="fr">');
    expect(m.html).toContain('Bonjour Terry &lt;Teacher&gt;,');
    expect(m.html).toContain('<li>Quiz &lt;final&gt;</li>');
    expect(m.html).toContain('Santé &amp; numérique');
    expect(m.html).toContain('<a href="https://socle.example.fr/alerts/opt-out?token=7.x">Ne plus recevoir ces alertes</a>');
    expect(m.html).not.toMatch(/<[^>]*Teacher>/);
  });

  it('is written in English for a recipient whose launches say English', () => {
    const m = renderDigest(digest('en'), 'https://socle.example.fr/alerts/opt-out?token=7.x');
    expect(m.subject).toBe('Socle: alerts for the week of 30/11/2026');
    expect(m.text).toContain('Course “Santé & numérique” · 12 learner(s)');
    expect(m.text).toContain('Learners newly at risk (1):');
    expect(m.text).toContain('   - Inès Martin: 11\u00a0h\u00a030 to validate by 31/08/2027');
    expect(m.text).toContain('Domains nobody has covered yet (1):');
    expect(m.text).toContain('Mapped activities never completed (1):');
    expect(m.text).toContain('Stop receiving these alerts: https://socle.example.fr/alerts/opt-out?token=7.x');
    expect(m.html).toContain('<html lang="en">');
  });
});

describe('the opt-out token', () => {
  const key = 'test-lti-key-0123456789abcdef0123456789';
  it('names its recipient and nobody else; an altered token or another key is refused', () => {
    const token = optOutToken(key, 42);
    expect(verifyOptOutToken(key, token)).toBe(42);
    expect(verifyOptOutToken(key, token.replace(/^42/, '43'))).toBeUndefined();
    expect(verifyOptOutToken(`${key}-other`, token)).toBeUndefined();
    expect(verifyOptOutToken(key, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    for (const junk of ['', '42', '42.', 'x.y', `0.${token.split('.')[1]}`]) expect(verifyOptOutToken(key, junk)).toBeUndefined();
  });
});

describe('the week of a digest', () => {
  const monday7 = { weekday: 1, hour: 7 };
  it('is the Monday of the week in the institution’s time zone, due from the day and hour configured', () => {
    // Sunday 29 November 2026, 23:30 UTC = Monday 30, 00:30 in Paris: the new week, not yet 7:00
    expect(digestWeek(new Date('2026-11-29T23:30:00Z'), 'Europe/Paris', monday7)).toEqual({ week: '2026-11-30', today: '2026-11-30', due: false });
    expect(digestWeek(new Date('2026-11-30T06:00:00Z'), 'Europe/Paris', monday7)).toEqual({ week: '2026-11-30', today: '2026-11-30', due: true });
    // still Sunday in Cayenne (UTC−3)
    expect(digestWeek(new Date('2026-11-30T02:00:00Z'), 'America/Cayenne', monday7)).toEqual({ week: '2026-11-23', today: '2026-11-29', due: true });
    // Friday 8:00, configured for Friday 9:00: not yet; Saturday: due
    expect(digestWeek(new Date('2026-12-04T07:00:00Z'), 'Europe/Paris', { weekday: 5, hour: 9 }).due).toBe(false);
    expect(digestWeek(new Date('2026-12-05T07:00:00Z'), 'Europe/Paris', { weekday: 5, hour: 9 }).due).toBe(true);
  });
});
