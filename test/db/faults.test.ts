import { DrizzleQueryError } from 'drizzle-orm';
import express from 'express';
import { Client, DatabaseError } from 'pg';
import request from 'supertest';
import { databaseFault } from '../../src/db/faults';
import { invalid, SocleError } from '../../src/domain/errors';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey } from '../../src/xapi/keys';
import { asyncHandler, errorHandler } from '../../src/web/http';
import { startTestServer } from '../support/app';
import { basic, generatedBatch, MOODLE } from '../xapi/support';

/** A server error as node-postgres reports it (`code` is the SQLSTATE). */
function pgError(code: string, message: string): DatabaseError {
  const error = new DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

/** As drizzle throws it: the driver's error is the cause, the message carries the query and its parameters. */
const failedQuery = (cause: Error) => new DrizzleQueryError('INSERT INTO learners VALUES ($1)', ['Camille Martin'], cause);

describe('database faults', () => {
  it.each([
    ['57P01 admin shutdown (pg_terminate_backend, a restart)', failedQuery(pgError('57P01', 'terminating connection due to administrator command'))],
    ['57P02 crash shutdown', pgError('57P02', 'terminating connection because of crash of another server process')],
    ['57P03 starting up', pgError('57P03', 'the database system is starting up')],
    ['08006 connection failure', pgError('08006', 'connection failure')],
    ['53300 too many connections', pgError('53300', 'sorry, too many clients already')],
    ['a connection terminated', failedQuery(new Error('Connection terminated unexpectedly'))],
    ['a client no longer queryable', failedQuery(new Error('Client has encountered a connection error and is not queryable'))],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    ['a reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a refused connection (both addresses)', new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })], 'connect failed')],
    ['a closed PGlite', failedQuery(new Error('PGlite is closed'))],
    ['a database closed to connections', pgError('55000', 'database "socle" is not currently accepting connections')],
  ])('%s is unavailable, and the message names no query or parameter', (_what, error) => {
    const fault = databaseFault(error);
    expect(fault).toBeInstanceOf(SocleError);
    expect(fault?.code).toBe('unavailable');
    expect(fault?.message).not.toMatch(/INSERT|Camille/);
  });

  it.each([
    ['a unique violation', failedQuery(pgError('23505', 'duplicate key value violates unique constraint'))],
    ['a deadlock', pgError('40P01', 'deadlock detected')],
    ['a syntax error', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a plain error', new Error('cannot resolve the users of a statement batch')],
    ['a refused request', invalid('Invalid body.')],
    ['not an error', 'ECONNRESET'],
  ])('%s is not', (_what, error) => {
    expect(databaseFault(error)).toBeUndefined();
  });

  it('recognises the error of a real refused connection', async () => {
    const client = new Client({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    const error = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(databaseFault(error)?.code).toBe('unavailable');
  });
});

describe('unavailable over HTTP', () => {
  const app = express();
  app.get('/lost', asyncHandler(async () => Promise.reject(failedQuery(pgError('57P01', 'terminating connection due to administrator command')))));
  app.get('/closed', asyncHandler(async () => Promise.reject(new SocleError('unavailable', 'The database cannot be opened.'))));
  app.get('/bug', asyncHandler(async () => Promise.reject(new Error('a bug'))));
  app.use(errorHandler);

  it('answers a lost connection 503 with Retry-After and the usual JSON body', async () => {
    const res = await request(app).get('/lost');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({ error: { status: 503, code: 'unavailable', message: expect.stringMatching(/database is unavailable \(57P01\)/) } });
    const opened = await request(app).get('/closed');
    expect([opened.status, opened.headers['retry-after']]).toEqual([503, '5']);
  });

  it('sends no Retry-After with another 5xx', async () => {
    const res = await request(app).get('/bug');
    expect(res.status).toBe(500);
    expect(res.headers['retry-after']).toBeUndefined();
  });
});

describe('a server whose embedded database is closed underneath', () => {
  jest.setTimeout(60_000);

  it('answers 503 with Retry-After, not a crash, and says so on /health and /ready', async () => {
    const server = await startTestServer('pglite');
    try {
      await ensurePlatform(server.ctx.store.db, MOODLE);
      const key = await createXapiKey(server.ctx.store.db, MOODLE);
      await server.ctx.store.close();
      const res = await fetch(`${server.url}/xapi/statements`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
        body: JSON.stringify(generatedBatch(3, '4')),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      for (const path of ['/health', '/ready']) {
        const probe = await fetch(`${server.url}${path}`);
        expect([path, probe.status, probe.headers.get('retry-after')]).toEqual([path, 503, '5']);
        expect(((await probe.json()) as { database: string }).database).toMatch(/^unreachable: The database is unavailable/);
      }
    } finally {
      await server.destroy().catch(() => undefined);
    }
  });
});
