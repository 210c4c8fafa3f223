import { randomBytes } from 'node:crypto';
import { invalid } from '../domain/errors';

/**
 * `multipart/mixed` (RFC 2046 §5.1) as xAPI's Statements resource sends and receives it: statements with their
 * attachments. busboy parses `multipart/form-data` only (it refuses any other multipart subtype), so this is a
 * small parser of a whole buffered body: strict on the structure (CRLF line ends, a closing delimiter, header
 * lines `Name: value`), lenient only where the RFC is (a preamble and an epilogue are ignored, transport padding
 * after a delimiter is allowed).
 */
export interface Part {
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** RFC 2046 `bchars`: what a boundary may contain (1 to 70 characters, not ending in a space). */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function refuse(message: string): never {
  throw invalid(`The multipart/mixed body cannot be read: ${message}.`, [{ path: 'body', message }]);
}

/** The `boundary` parameter of a `multipart/mixed` Content-Type (quoted or not); a 400 when it is missing or not valid. */
export function multipartBoundary(contentType: string): string {
  const match = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || !BOUNDARY.test(boundary)) refuse('the Content-Type has no valid boundary parameter');
  return boundary;
}

function headersOf(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  if (block.length === 0) return headers;
  for (const line of block.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) refuse(`a part has a malformed header line`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The parts of a `multipart/mixed` body delimited by `boundary`, in order; a 400 naming the fault when it is malformed. */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.concat([CRLF, dash]);
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = dash.length;
  else {
    const first = body.indexOf(delimiter);
    if (first < 0) refuse('the boundary of the Content-Type is not in the body');
    pos = first + delimiter.length;
  }
  const parts: Part[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // the close delimiter; what follows is the epilogue
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) refuse('a delimiter is not followed by a line end (CRLF)');
    pos += 2;
    const end = body.indexOf(delimiter, pos);
    if (end < 0) refuse('the body has no closing delimiter');
    const content = body.subarray(pos, end);
    // a part without headers starts with its blank line
    const headerEnd = content.subarray(0, 2).equals(CRLF) ? 0 : content.indexOf(HEADER_END);
    if (headerEnd < 0) refuse('a part has no blank line after its headers');
    parts.push({
      headers: headersOf(content.subarray(0, headerEnd)),
      body: content.subarray(headerEnd === 0 ? 2 : headerEnd + HEADER_END.length),
    });
    pos = end + delimiter.length;
  }
}

/** A boundary that occurs in none of `bodies` (random: 48 hex digits, retried in the unlikely case it does). */
export function newBoundary(bodies: readonly Buffer[]): string {
  for (;;) {
    const boundary = `socle-${randomBytes(24).toString('hex')}`;
    if (!bodies.some((b) => b.includes(boundary))) return boundary;
  }
}

/** A `multipart/mixed` body of `parts` delimited by `boundary` (headers as given, CRLF line ends). */
export function serializeMultipart(parts: readonly Part[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const head = Object.entries(part.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`, 'latin1'), part.body, CRLF);
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}
