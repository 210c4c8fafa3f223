import { type ErrorDetail, invalid } from '../domain/errors';

/** A file that is not a valid référentiel: says where (file, JSON path or line) and what was expected. */
export function invalidReferential(message: string, details: ErrorDetail[] = []) {
  return invalid(details.length ? `${message}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}` : message, details);
}
