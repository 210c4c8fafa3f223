import { DEFAULT_TIME_ZONE, formatDate, formatMinutes, minutesToHours } from '../../src/domain/format';

describe('formatMinutes', () => {
  it('writes hours and minutes as French readers expect', () => {
    expect(formatMinutes(360)).toBe('6 h');
    expect(formatMinutes(90)).toBe('1 h 30');
    expect(formatMinutes(5)).toBe('0 h 05');
    expect(formatMinutes(null)).toBe('—');
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
