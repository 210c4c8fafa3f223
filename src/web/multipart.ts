/**
 * A `multipart/form-data` body (RFC 7578) read from a buffer: the pages' forms that send a file (a logo). The body
 * is read whole, within the route's byte limit (express.raw); text fields are UTF-8.
 */
import { invalid } from '../domain/errors';

export interface FormFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface FormData {
  fields: Record<string, string>;
  files: Record<string, FormFile>;
}

function boundaryOf(contentType: string): string {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary || boundary.length > 200) throw invalid('The form body has no multipart boundary.', [{ path: 'body', message: 'multipart/form-data without a boundary' }]);
  return boundary;
}

/** Parses the body; a file part without a file name chosen (an empty file input) is left out. */
export function parseMultipart(body: Buffer, contentType: string): FormData {
  const delimiter = Buffer.from(`--${boundaryOf(contentType)}`);
  const out: FormData = { fields: {}, files: {} };
  const malformed = () => invalid('The form body is not valid multipart/form-data.', [{ path: 'body', message: 'malformed multipart body' }]);
  let start = body.indexOf(delimiter);
  if (start < 0) throw malformed();
  for (;;) {
    start += delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return out;
    if (body.subarray(start, start + 2).toString() !== '\r\n') throw malformed();
    start += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) throw malformed();
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) throw malformed();
    const headers = part.subarray(0, headerEnd).toString('utf8').split('\r\n');
    const data = part.subarray(headerEnd + 4);
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const type = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, '') ?? 'application/octet-stream';
    if (name !== undefined) {
      if (filename !== undefined) {
        if (filename !== '' || data.length > 0) out.files[name] = { filename, contentType: type, data: Buffer.from(data) };
      } else out.fields[name] = data.toString('utf8');
    }
    start = next + 2;
  }
}
