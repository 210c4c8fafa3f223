import { DEFAULT_TIME_ZONE, elide, formatDate, formatMinutes, formatPercent, frenchSpacing, minutesToHours, NBSP, wallClock } from '../../src/domain/format';

describe('formatMinutes', () => {
  it('writes hours and minutes as French readers expect, with no-break spaces', () => {
    expect(NBSP).toBe('\u00a0');
    expect(formatMinutes(360)).toBe('6\u00a0h');
    expect(formatMinutes(90)).toBe('1\u00a0h\u00a030');
    expect(formatMinutes(930)).toBe('15\u00a0h\u00a030');
    expect(formatMinutes(5)).toBe('0\u00a0h\u00a005');
    expect(formatMinutes(null)).toBe('—');
  });
});

describe('formatPercent', () => {
  it('writes a ratio with a no-break space before % in French', () => {
    expect(formatPercent(0.125)).toBe('12,5\u00a0%');
    expect(formatPercent(1, 'fr')).toBe('100\u00a0%');
    expect(formatPercent(2 / 3, 'fr')).toBe('66,7\u00a0%');
    expect(formatPercent(0.125, 'en')).toBe('12.5%');
  });
});

describe('frenchSpacing', () => {
  it('puts a no-break space before : ; ! ? % » and after «, and adds none where there was no space', () => {
    expect(frenchSpacing('Statut : complet ; 50 % « reçue » ?')).toBe('Statut\u00a0: complet\u00a0; 50\u00a0% «\u00a0reçue\u00a0»\u00a0?');
    expect(frenchSpacing('à 08:00 sur https://socle.example')).toBe('à 08:00 sur https://socle.example');
  });
});

describe('elide', () => {
  it('elides before a vowel or a mute h, not before a consonant or an aspirated h', () => {
    expect(elide('que', 'Inès')).toBe('qu’Inès');
    expect(elide('que', 'Émile')).toBe('qu’Émile');
    expect(elide('que', 'Hélène')).toBe('qu’Hélène');
    expect(elide('Que', 'Yves')).toBe('Qu’Yves');
    expect(elide('de', 'Yann')).toBe('de Yann');
    expect(elide('de', 'Anne')).toBe('d’Anne');
    expect(elide('le', 'établissement')).toBe('l’établissement');
    expect(elide('que', 'Paul')).toBe('que Paul');
    expect(elide('le', 'handicap')).toBe('le handicap');
    expect(elide('pour', 'Inès')).toBe('pour Inès');
  });
});

describe('minutesToHours', () => {
  it('keeps two decimals for data files', () => {
    expect(minutesToHours(330)).toBe(5.5);
    expect(minutesToHours(320)).toBe(5.33);
  });
});

describe('formatDate', () => {
  const instant = new Date('2026-10-23T06:00:00Z');
  it('writes the date in the given time zone', () => {
    expect(DEFAULT_TIME_ZONE).toBe('Europe/Paris');
    expect(formatDate(instant, { locale: 'fr', style: 'dateTime' })).toBe('23/10/2026 08:00');
    expect(formatDate(instant, { locale: 'fr', style: 'dateTime', timeZone: 'Indian/Reunion' })).toBe('23/10/2026 10:00');
    expect(formatDate(instant, { locale: 'fr', style: 'short', timeZone: 'America/Cayenne' })).toBe('23/10/2026');
    expect(formatDate('2026-10-23T02:00:00Z', { locale: 'fr', style: 'short', timeZone: 'America/Martinique' })).toBe('22/10/2026');
    expect(formatDate(instant, { locale: 'fr' })).toBe('23 octobre 2026');
    expect(formatDate(instant, { locale: 'en' })).toBe('23 October 2026');
  });
});

describe('wallClock', () => {
  it('gives the time of the zone in the UTC fields (what a spreadsheet date holds)', () => {
    const late = new Date('2026-10-22T21:30:00Z');
    expect(wallClock(late, 'Indian/Reunion').toISOString()).toBe('2026-10-23T01:30:00.000Z');
    expect(wallClock(late, 'Europe/Paris').toISOString()).toBe('2026-10-22T23:30:00.000Z');
    expect(wallClock(late).toISOString()).toBe('2026-10-22T23:30:00.000Z');
    expect(wallClock(new Date('2026-01-15T03:00:00Z'), 'America/Cayenne').toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(wallClock(new Date('2026-07-01T00:00:00Z'), 'UTC').toISOString()).toBe('2026-07-01T00:00:00.000Z');
    // Paris goes from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026
    expect(wallClock(new Date('2026-03-29T00:59:59.500Z')).toISOString()).toBe('2026-03-29T01:59:59.500Z');
    expect(wallClock(new Date('2026-03-29T01:00:00Z')).toISOString()).toBe('2026-03-29T03:00:00.000Z');
    // Lord Howe Island changes by half an hour, at 15:00 UTC on 4 April 2026 (UTC+11 to UTC+10:30)
    expect(wallClock(new Date('2026-04-04T14:59:00Z'), 'Australia/Lord_Howe').toISOString()).toBe('2026-04-05T01:59:00.000Z');
    expect(wallClock(new Date('2026-04-04T15:00:00Z'), 'Australia/Lord_Howe').toISOString()).toBe('2026-04-05T01:30:00.000Z');
  });
});
