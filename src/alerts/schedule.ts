/** When a weekly digest is due: the day and hour of ALERTS_DAY / ALERTS_HOUR in the institution's time zone. */

const WEEKDAY = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 } as const;

/** The wall clock of `now` in `timeZone`: its date, ISO weekday (Monday = 1) and hour. */
function wallClock(now: Date, timeZone: string) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', hourCycle: 'h23' })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: WEEKDAY[parts.weekday as keyof typeof WEEKDAY],
    hour: Number(parts.hour),
  };
}

/** `date` (YYYY-MM-DD) moved by `days`. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export interface DigestWeek {
  /** The Monday of the week in the time zone (YYYY-MM-DD): the key of the week's digest. */
  week: string;
  /** Today in the time zone (YYYY-MM-DD): the forecast's date. */
  today: string;
  /** The week's sending time has come (its day and hour, or later in the week). */
  due: boolean;
}

export function digestWeek(now: Date, timeZone: string, schedule: { weekday: number; hour: number }): DigestWeek {
  const clock = wallClock(now, timeZone);
  return {
    week: addDays(clock.date, 1 - clock.weekday),
    today: clock.date,
    due: clock.weekday > schedule.weekday || (clock.weekday === schedule.weekday && clock.hour >= schedule.hour),
  };
}
