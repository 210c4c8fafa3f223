import fc from 'fast-check';
import { multipartBoundary, newBoundary, parseMultipart, serializeMultipart } from '../../src/xapi/multipart';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('multipart/mixed', () => {
  it('reads the boundary, quoted or not, and refuses a Content-Type without a valid one', () => {
    expect(multipartBoundary('multipart/mixed; boundary=abc-123')).toBe('abc-123');
    expect(multipartBoundary('multipart/mixed; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
    expect(() => multipartBoundary('multipart/mixed')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => multipartBoundary(`multipart/mixed; boundary=${'x'.repeat(71)}`)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('parses parts with a preamble and an epilogue, headers in any case and spacing, a part without headers, binary bodies', () => {
    const body = Buffer.concat([
      b('preamble\r\n--xyz\r\nContent-Type:application/json\r\n\r\n{"a":1}\r\n--xyz  \r\n'),
      b('CONTENT-TYPE: image/png\r\ncontent-transfer-encoding: binary\r\nX-Experience-API-Hash:  ab \r\n\r\n'),
      Buffer.from([0, 13, 10, 45, 45, 255]),
      b('\r\n--xyz\r\n\r\nno headers\r\n--xyz--\r\nepilogue'),
    ]);
    const parts = parseMultipart(body, 'xyz');
    expect(parts.map((p) => p.headers)).toEqual([
      { 'content-type': 'application/json' },
      { 'content-type': 'image/png', 'content-transfer-encoding': 'binary', 'x-experience-api-hash': 'ab' },
      {},
    ]);
    expect(parts.map((p) => p.body)).toEqual([b('{"a":1}'), Buffer.from([0, 13, 10, 45, 45, 255]), b('no headers')]);
  });

  it.each([
    ['no boundary in the body', 'hello'],
    ['no closing delimiter', '--xyz\r\nContent-Type: text/plain\r\n\r\nbody'],
    ['no line end after a delimiter', '--xyzjunk\r\n\r\nbody\r\n--xyz--'],
    ['no blank line after the headers', '--xyz\r\nContent-Type: text/plain\r\n--xyz--'],
    ['a header line without a name', '--xyz\r\n: value\r\n\r\nbody\r\n--xyz--'],
  ])('refuses a body with %s (400)', (_what, text) => {
    expect(() => parseMultipart(b(text), 'xyz')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('reads back what it writes, whatever the bodies (property)', () => {
    const header = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).map((s) => s.toLowerCase());
    const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
    const part = fc.record({ headers: fc.dictionary(header, value, { maxKeys: 3 }), body: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)) });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        const boundary = newBoundary(parts.map((p) => p.body));
        expect(parseMultipart(serializeMultipart(parts, boundary), boundary)).toEqual(parts);
      }),
    );
  });
});
