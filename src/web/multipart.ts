/**
 * `multipart/form-data` bodies (RFC 7578) of the pages' forms that send a file (a logo, an evidence file, a mapping
 * CSV), read with busboy from the buffer `express.raw` kept within the route's byte limit. Files stay bytes; text
 * fields are UTF-8; an empty file input (no file chosen) is left out. A body that is not one is a 400.
 */
import busboy from 'busboy';
import { invalid } from '../domain/errors';

export interface FormFile {
  /** The file's name as the browser sent it. */
  fileName: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartForm {
  fields: Record<string, string>;
  files: Record<string, FormFile>;
}

const refused = (message: string) => invalid('The form body is not valid multipart/form-data.', [{ path: 'body', message }]);

/** Whether this body is a multipart form that `parseMultipart` reads. */
export const isMultipart = (body: unknown, contentType: string | undefined): body is Buffer =>
  Buffer.isBuffer(body) && /^multipart\/form-data/i.test(contentType ?? '');

export function parseMultipart(body: unknown, contentType: string | undefined): Promise<MultipartForm> {
  if (!isMultipart(body, contentType)) return Promise.reject(invalid('Send the form as multipart/form-data.', [{ path: 'body', message: 'not a multipart form' }]));
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { 'content-type': contentType }, defParamCharset: 'utf8' });
  } catch (error) {
    return Promise.reject(refused((error as Error).message));
  }
  const form: MultipartForm = { fields: {}, files: {} };
  return new Promise((resolve, reject) => {
    parser.on('field', (name, value) => {
      form.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        if (info.filename || data.length > 0) form.files[name] = { fileName: info.filename ?? '', contentType: info.mimeType, data };
      });
    });
    parser.on('error', (error: Error) => reject(refused(error.message)));
    parser.on('close', () => resolve(form));
    parser.end(body);
  });
}
