import type { Request } from 'express';
import { invalid } from '../domain/errors';

/** A file of a multipart form: its name as the browser sent it, its bytes as they are. */
export interface UploadedFile {
  fileName: string;
  data: Buffer;
}

export interface MultipartForm {
  fields: Record<string, string>;
  files: Record<string, UploadedFile>;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Reads a `multipart/form-data` body that `express.raw` kept as a Buffer (binary-safe: files are not decoded).
 * Text fields are UTF-8; an empty file input (no file chosen) is left out. A body that is not one is a 400.
 */
export function parseMultipart(req: Request): MultipartForm {
  const type = req.get('Content-Type') ?? '';
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const body = req.body as unknown;
  if (!/^multipart\/form-data/i.test(type) || !match || !Buffer.isBuffer(body)) {
    throw invalid('Send the form as multipart/form-data.', [{ path: 'body', message: 'not a multipart form' }]);
  }
  const delimiter = Buffer.from(`--${match[1] ?? match[2]}`);
  const form: MultipartForm = { fields: {}, files: {} };
  let at = body.indexOf(delimiter);
  if (at < 0) throw invalid('The multipart form has no part.', [{ path: 'body', message: 'no boundary' }]);
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // the closing delimiter
    const headersEnd = body.indexOf(HEADER_END, start);
    if (headersEnd < 0) throw invalid('A part of the multipart form is cut.', [{ path: 'body', message: 'truncated part' }]);
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), headersEnd + HEADER_END.length);
    if (next < 0) throw invalid('The multipart form is not closed.', [{ path: 'body', message: 'no closing boundary' }]);
    const headers = body.subarray(start, headersEnd).toString('utf8');
    const content = body.subarray(headersEnd + HEADER_END.length, next);
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const fileName = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) {
      if (fileName !== undefined) {
        if (fileName !== '' || content.length > 0) form.files[name] = { fileName, data: Buffer.from(content) };
      } else {
        form.fields[name] = content.toString('utf8');
      }
    }
    at = next + CRLF.length;
  }
  return form;
}
