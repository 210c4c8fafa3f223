import { DrizzleQueryError, sql } from 'drizzle-orm';
import { users, platforms } from '../src/db/schema';
import { createLogger, loggableError, redactUrl } from '../src/logger';
import { drivers, openTestStore, type TestStore } from './support/db';

const NAME = 'Héloïse Confidentielle';

/** A logger at trace level whose lines are kept. */
function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger('trace', { write: (line: string) => void lines.push(line) }) };
}

describe('loggableError', () => {
  it('keeps type, code and message, and leaves out a failed query and its parameters', () => {
    const cause = Object.assign(new Error('duplicate key value violates unique constraint "users_sub"'), { code: '23505', detail: 'Key (sub)=(learner-7)' });
    const logged = loggableError(new DrizzleQueryError('insert into users (sub) values ($1)', ['learner-7'], cause));
    expect(logged).toMatchObject({ type: 'Error', code: '23505', message: 'duplicate key value violates unique constraint "users_sub"', query: 'insert into users (sub) values ($1)' });
    expect(JSON.stringify(logged)).not.toContain('learner-7');
    expect(loggableError('text')).toEqual({ type: 'string', message: 'a non-error value was thrown' });
  });

  it("redacts the value a data error quotes, and drizzle's params line wherever it is", () => {
    const data = Object.assign(new Error('invalid input syntax for type integer: "Jean Dupont"'), { code: '22P02' });
    expect(loggableError(data).message).toBe('invalid input syntax for type integer: "[redacted]"');
    const wrapped = new Error('Cannot store: Failed query: select $1\nparams: Jean Dupont');
    expect(JSON.stringify(loggableError(wrapped))).not.toContain('Jean Dupont');
  });

  it('redacts the ltik of a URL', () => {
    expect(redactUrl('/lti/me?a=1&ltik=eyJ.x.y#top')).toBe('/lti/me?a=1&ltik=[redacted]#top');
  });
});

describe.each(drivers)('failed queries in the logs on %s', (driver) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('log the SQL text and the SQLSTATE, never the parameters nor the row they were for', async () => {
    const [platform] = await t.store.db.insert(platforms).values({ issuer: 'https://moodle.example' }).returning();
    await t.store.db.insert(users).values({ platformId: Number(platform?.id), sub: '7', name: NAME });
    await t.store.db.execute(sql`ALTER TABLE ${users} ADD CONSTRAINT no_new_users CHECK (sub <> 'probe') NOT VALID`);
    const failures: unknown[] = [];
    // a unique violation (detail: Key (…)=(…)), a check violation (detail: Failing row contains (…)), a data error
    await t.store.db.insert(users).values({ platformId: Number(platform?.id), sub: '7', name: NAME }).catch((e: unknown) => failures.push(e));
    await t.store.db.insert(users).values({ platformId: Number(platform?.id), sub: 'probe', name: NAME }).catch((e: unknown) => failures.push(e));
    await t.store.db.execute(sql`SELECT ${NAME}::int`).catch((e: unknown) => failures.push(e));
    expect(failures).toHaveLength(3);
    // what the errors themselves carry
    expect(failures.map((f) => `${(f as Error).message} ${JSON.stringify((f as { cause?: unknown }).cause ?? {})}`).join(' ')).toContain(NAME);
    const { lines, logger } = capturingLogger();
    for (const err of failures) {
      logger.error({ err }, 'request failed');
      logger.error(err as Error);
      logger.warn({ error: loggableError(err) }, 'worker failed');
    }
    const logs = lines.join('');
    expect(lines).toHaveLength(9);
    expect(logs).not.toContain(NAME);
    expect(logs).not.toContain(JSON.stringify(NAME).slice(1, -1));
    expect(logs).toContain('insert into \\"users\\"');
    expect(logs).toContain('"constraint":"users_platform_sub_idx"');
    expect(logs).toContain('"code":"23514"');
    expect(logs).toContain('"code":"22P02"');
  });
});
