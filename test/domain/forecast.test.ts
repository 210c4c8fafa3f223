import fc from 'fast-check';
import {
  dayNumber,
  defaultDueDate,
  forecast,
  forecastSchema,
  type ForecastInput,
  statusRank,
} from '../../src/domain/forecast';

/** Two domains of 60 h and 30 h, intake 2025, due 31 August 2028. */
const base = (over: Partial<ForecastInput> = {}): ForecastInput => ({
  requiredMinutes: 5400,
  validatedMinutes: 0,
  mappableMinutes: 5400,
  domains: [
    { code: 'D1', requiredMinutes: 3600, validatedMinutes: 0, mappableMinutes: 3600 },
    { code: 'D2', requiredMinutes: 1800, validatedMinutes: 0, mappableMinutes: 1800 },
  ],
  intakeYear: 2025,
  dueDate: '2028-08-31',
  today: '2025-09-01',
  ...over,
});

describe('forecast: examples', () => {
  it('the default due date is 31 August of the intake year + 3', () => {
    expect(defaultDueDate(2025)).toBe('2028-08-31');
  });

  it('a learner at the start of the intake with everything still offered is on track', () => {
    const f = forecast(base());
    expect(f).toEqual({
      status: 'on_track',
      dueDate: '2028-08-31',
      expectedMinutes: 0,
      requiredMinutes: 5400,
      validatedMinutes: 0,
      missingMinutes: 5400,
      mappableMinutes: 5400,
      daysLeft: 1095,
      shortDomains: [],
    });
    expect(forecastSchema.parse(f)).toEqual(f);
  });

  it('half-way through with a third validated is behind; with half validated on track', () => {
    // 2027-03-02 is 547 of the 1095 days: the trajectory expects round(5400 × 547/1095) = 2698 min
    const today = '2027-03-02';
    const third = forecast(base({ today, validatedMinutes: 1800, domains: [
      { code: 'D1', requiredMinutes: 3600, validatedMinutes: 1800, mappableMinutes: 1800 },
      { code: 'D2', requiredMinutes: 1800, validatedMinutes: 0, mappableMinutes: 1800 },
    ] }));
    expect(third.expectedMinutes).toBe(2698);
    expect(third.status).toBe('behind');
    const half = forecast(base({ today, validatedMinutes: 2700, domains: [
      { code: 'D1', requiredMinutes: 3600, validatedMinutes: 1800, mappableMinutes: 1800 },
      { code: 'D2', requiredMinutes: 1800, validatedMinutes: 900, mappableMinutes: 900 },
    ] }));
    expect(half.status).toBe('on_track');
  });

  it('a domain missing more than its courses still offer is at risk, even with enough overall', () => {
    const f = forecast(base({ mappableMinutes: 9000, domains: [
      { code: 'D1', requiredMinutes: 3600, validatedMinutes: 0, mappableMinutes: 9000 },
      { code: 'D2', requiredMinutes: 1800, validatedMinutes: 0, mappableMinutes: 600 },
    ] }));
    expect(f.status).toBe('at_risk');
    expect(f.shortDomains).toEqual(['D2']);
  });

  it('the due date passed undone is at risk; done stays done after it', () => {
    expect(forecast(base({ today: '2028-09-01' })).status).toBe('at_risk');
    expect(forecast(base({ today: '2028-09-01' })).daysLeft).toBe(-1);
    const all = base().domains.map((d) => ({ ...d, validatedMinutes: d.requiredMinutes, mappableMinutes: 0 }));
    expect(forecast(base({ today: '2029-01-01', validatedMinutes: 5400, mappableMinutes: 0, domains: all })).status).toBe('done');
  });

  it('minutes over-validated in one domain do not make up for another', () => {
    const f = forecast(base({ validatedMinutes: 5400, mappableMinutes: 0, domains: [
      { code: 'D1', requiredMinutes: 3600, validatedMinutes: 5400, mappableMinutes: 0 },
      { code: 'D2', requiredMinutes: 1800, validatedMinutes: 0, mappableMinutes: 0 },
    ] }));
    expect(f.missingMinutes).toBe(1800);
    expect(f.status).toBe('at_risk');
  });

  it('refuses a date that does not exist', () => {
    expect(Number.isNaN(dayNumber('2027-02-29'))).toBe(true);
    expect(() => forecast(base({ today: '2027-02-29' }))).toThrow();
  });
});

const dateArb = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2031-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

/** A learner: up to three domains with required, validated and still-mappable minutes, and a calendar. */
const inputArb = fc
  .record({
    domains: fc.array(fc.record({ required: fc.integer({ min: 0, max: 6000 }), validated: fc.integer({ min: 0, max: 7000 }), mappable: fc.integer({ min: 0, max: 7000 }) }), { minLength: 1, maxLength: 3 }),
    intakeYear: fc.integer({ min: 2024, max: 2027 }),
    years: fc.integer({ min: 1, max: 4 }),
    today: dateArb,
  })
  .map(({ domains, intakeYear, years, today }): ForecastInput => ({
    requiredMinutes: domains.reduce((s, d) => s + d.required, 0),
    validatedMinutes: domains.reduce((s, d) => s + d.validated, 0),
    mappableMinutes: domains.reduce((s, d) => s + d.mappable, 0),
    domains: domains.map((d, i) => ({ code: `D${i + 1}`, requiredMinutes: d.required, validatedMinutes: d.validated, mappableMinutes: d.mappable })),
    intakeYear,
    dueDate: `${intakeYear + years}-08-31`,
    today,
  }));

describe('forecast: properties', () => {
  it('is monotone in validated minutes: more minutes in a domain never give a worse status', () => {
    fc.assert(
      fc.property(inputArb, fc.nat({ max: 3000 }), fc.nat(), (input, more, which) => {
        const i = which % input.domains.length;
        const domains = input.domains.map((d, j) => (j === i ? { ...d, validatedMinutes: d.validatedMinutes + more } : d));
        const better = { ...input, validatedMinutes: input.validatedMinutes + more, domains };
        expect(statusRank[forecast(better).status]).toBeGreaterThanOrEqual(statusRank[forecast(input).status]);
      }),
    );
  });

  it('done ⇒ on track or better: a learner with every required minute validated is done, whatever the date or offer', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const domains = input.domains.map((d) => ({ ...d, validatedMinutes: Math.max(d.validatedMinutes, d.requiredMinutes) }));
        const done = forecast({ ...input, domains, validatedMinutes: domains.reduce((s, d) => s + d.validatedMinutes, 0) });
        expect(done.status).toBe('done');
        expect(statusRank[done.status]).toBeGreaterThanOrEqual(statusRank.on_track);
        expect(done.missingMinutes).toBe(0);
      }),
    );
  });

  it('no mappable minutes left and minutes missing ⇒ at risk', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const bare = { ...input, mappableMinutes: 0, domains: input.domains.map((d) => ({ ...d, mappableMinutes: 0 })) };
        const f = forecast(bare);
        if (f.missingMinutes > 0) expect(f.status).toBe('at_risk');
        else expect(f.status).toBe('done');
      }),
    );
  });

  it('the trajectory runs from 0 at the intake to every required minute at the due date', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const f = forecast(input);
        expect(f.expectedMinutes).toBeGreaterThanOrEqual(0);
        expect(f.expectedMinutes).toBeLessThanOrEqual(input.requiredMinutes);
        if (input.today <= `${input.intakeYear}-09-01`) expect(f.expectedMinutes).toBe(0);
        if (input.today >= input.dueDate) expect(f.expectedMinutes).toBe(input.requiredMinutes);
        expect(f.daysLeft).toBe(dayNumber(input.dueDate) - dayNumber(input.today));
      }),
    );
  });
});
