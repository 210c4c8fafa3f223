/** A file that is not a valid référentiel: says where (file, JSON path or line) and what was expected. */
export class ReferentialFormatError extends Error {
  override name = 'ReferentialFormatError';
  constructor(
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(details.length ? `${message}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}` : message);
  }
}

/** The same id and version is already stored with a different content: versions are never overwritten. */
export class ReferentialConflictError extends Error {
  override name = 'ReferentialConflictError';
}
