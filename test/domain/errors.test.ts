import express from 'express';
import request from 'supertest';
import { cliExitCodes, cliLines } from '../../src/cli/command';
import { ERROR_CODES, errorCode, forbidden, invalid, notFound, SocleError, unauthorized } from '../../src/domain/errors';
import { asyncHandler, errorBody, errorHandler, httpStatus } from '../../src/web/http';
import { translator } from '../../src/web/i18n';
import { pageError, pageErrorTexts } from '../../src/web/texts/errors';

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
      for (const part of ['title', 'message', 'action'] as const) {
        const fr = translator('fr')(`error.${code}.${part}`);
        const en = translator('en')(`error.${code}.${part}`);
        // a sentence of its own in each language, not the key nor the other language's text
        expect([code, part, fr.trim().length > 0 && fr !== `error.${code}.${part}`, en.trim().length > 0, fr !== en]).toEqual([code, part, true, true, true]);
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
    // a browser gets a page with the same status and headers, and still not the internal fault's message
    const browser = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const page = await request(app).get('/internal').set('Accept', browser);
    expect([page.status, page.type]).toEqual([500, 'text/html']);
    expect(page.text).toContain('Erreur interne');
    expect(page.text).not.toContain('4242');
    const challenge = await request(app).get('/token').set('Accept', browser).set('Accept-Language', 'en-GB,en;q=0.9');
    expect([challenge.status, challenge.headers['www-authenticate'], challenge.type]).toEqual([401, 'Bearer realm="socle"', 'text/html']);
    expect(challenge.text).toContain('<html lang="en">');
  });

  it('says on pages what happened and what to do, in French and English', () => {
    expect(pageError(new SocleError('session_expired', 'x'), 'fr').message).toMatch(/^Votre session a expiré ou n’existe pas : relancez Socle depuis Moodle/);
    expect(pageError(unauthorized('x'), 'en').message).toMatch(/^Your session has expired/);
    expect(pageError(forbidden(), 'fr').title).toBe('Accès refusé');
    const inactive = pageError(new SocleError('platform_inactive', 'x'), 'fr', { issuer: 'https://moodle.example', clientId: 'c1' });
    expect(inactive.action).toContain('socle platforms activate --issuer https://moodle.example --client-id c1');
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
