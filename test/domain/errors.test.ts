import express from 'express';
import request from 'supertest';
import { cliExitCodes, cliLines } from '../../src/cli/command';
import { ERROR_CODES, errorCode, forbidden, invalid, notFound, SocleError, unauthorized } from '../../src/domain/errors';
import { asyncHandler, errorBody, errorHandler, httpStatus } from '../../src/web/http';
import { translator } from '../../src/web/i18n';
import { pageErrorTexts, pageMessage } from '../../src/web/texts/errors';

const sorted = (keys: Iterable<string>) => [...keys].sort();

describe('the error codes and their three tables', () => {
  it('is one list of distinct snake_case codes', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(errorCode.safeParse('teapot').success).toBe(false);
  });

  it('gives every code, and only the codes, an HTTP status, a page text in French and English and a CLI exit code', () => {
    expect(sorted(Object.keys(httpStatus))).toEqual(sorted(ERROR_CODES));
    expect(sorted(Object.keys(pageErrorTexts))).toEqual(sorted(ERROR_CODES));
    expect(sorted(Object.keys(cliExitCodes))).toEqual(sorted(ERROR_CODES));
    for (const code of ERROR_CODES) {
      expect([code, httpStatus[code] >= 400 && httpStatus[code] <= 599]).toEqual([code, true]);
      expect([code, Number.isInteger(cliExitCodes[code]) && cliExitCodes[code] >= 1 && cliExitCodes[code] <= 125]).toEqual([code, true]);
      for (const locale of ['fr', 'en'] as const) {
        const text = translator(locale)(`error.${code}`, { message: 'M' });
        expect([code, locale, text.trim().length > 0 && text !== `error.${code}`]).toEqual([code, locale, true]);
      }
    }
  });

  it('keeps the statuses of the public codes', () => {
    expect(httpStatus).toMatchObject({
      invalid_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      no_referential: 409,
      not_ready: 409,
      payload_too_large: 413,
      platform_error: 502,
      registration_failed: 502,
      invalid_launch: 401,
      session_expired: 401,
      unregistered_platform: 400,
      platform_inactive: 401,
      internal_error: 500,
    });
  });

  it('writes the JSON body in its stable shape, key order included', () => {
    const body = errorBody(invalid('Invalid body.', [{ path: 'body.hours', message: 'expected a number' }]), 'r-1');
    expect(JSON.stringify(body)).toBe(
      '{"error":{"status":400,"code":"invalid_request","message":"Invalid body.","details":[{"path":"body.hours","message":"expected a number"}],"requestId":"r-1"}}',
    );
    expect(JSON.stringify(errorBody(notFound('No badge x.'), undefined))).toBe('{"error":{"status":404,"code":"not_found","message":"No badge x."}}');
  });

  it('answers a thrown error with its status, its challenge and the body; other errors keep their shape', async () => {
    const app = express();
    app.get('/token', asyncHandler(async () => Promise.reject(unauthorized('A token is required.', 'Bearer realm="socle"'))));
    app.get('/teapot', () => {
      throw Object.assign(new Error('Unsupported.'), { status: 415 });
    });
    app.get('/bug', () => {
      throw new Error('boom');
    });
    app.get('/internal', () => {
      throw new SocleError('internal_error', 'Row of learner 4242 refers to an undeclared référentiel');
    });
    app.use(errorHandler);
    const token = await request(app).get('/token');
    expect([token.status, token.headers['www-authenticate'], token.body]).toEqual([
      401,
      'Bearer realm="socle"',
      { error: { status: 401, code: 'unauthorized', message: 'A token is required.' } },
    ]);
    const teapot = await request(app).get('/teapot');
    expect([teapot.status, teapot.body]).toEqual([415, { error: { status: 415, code: 'invalid_request', message: 'Unsupported.' } }]);
    const bug = await request(app).get('/bug');
    expect([bug.status, bug.body.error.code, bug.body.error.message]).toEqual([500, 'internal_error', 'Internal error. The request id identifies it in the logs.']);
    // an internal fault's own message stays in the logs: it may name records
    const internal = await request(app).get('/internal');
    expect([internal.status, internal.body.error.message]).toEqual([500, 'Internal error. The request id identifies it in the logs.']);
    expect(JSON.stringify(internal.body)).not.toContain('4242');
  });

  it("says on pages the role and session texts, else the error's own message", () => {
    expect(pageMessage(forbidden('This page is reserved for: instructor.'), 'fr')).toBe('Cette page est réservée à un autre rôle.');
    expect(pageMessage(forbidden(), 'en')).toBe('This page is for another role.');
    expect(pageMessage(new SocleError('session_expired', 'x'), 'en')).toMatch(/^Your Socle session expired/);
    expect(pageMessage(notFound('No course in this launch.'), 'fr')).toBe('No course in this launch.');
  });

  it('prints one line at the terminal, then one per detail', () => {
    expect(cliLines(notFound('no credential 7'))).toBe('socle: no credential 7');
    expect(cliLines(invalid('The file was refused (1 problem(s)); nothing was imported.', [{ path: 'line 3 hours', message: 'not a number' }]))).toBe(
      'socle: The file was refused (1 problem(s)); nothing was imported.\n  line 3 hours: not a number',
    );
  });

  it('tells codes apart', () => {
    expect(SocleError.is(notFound(), 'not_found')).toBe(true);
    expect(SocleError.is(notFound(), 'invalid_request', 'conflict')).toBe(false);
    expect(SocleError.is(new Error('not_found'), 'not_found')).toBe(false);
  });
});
