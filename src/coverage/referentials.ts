import type { ReferentialVersion } from '../domain/coverage';

/**
 * How the coverage module finds a référentiel version: `version` undefined = the current one. The référentiel
 * catalogue provides it (`getReferential`); until it is wired in, nothing is found and coverage is not computed.
 */
export type ReferentialLookup = (id: string, version?: string) => Promise<ReferentialVersion | undefined>;

const none: ReferentialLookup = async () => undefined;
let current: ReferentialLookup = none;

/** Installs the lookup every coverage entry point uses (the catalogue at start; a fixture in tests). Returns the previous one. */
export function setReferentialLookup(lookup: ReferentialLookup | undefined): ReferentialLookup {
  const previous = current;
  current = lookup ?? none;
  return previous;
}

/** The installed lookup, memoised for one unit of work (a request, a batch): each version is asked once. */
export function referentialLookup(): ReferentialLookup {
  const cache = new Map<string, Promise<ReferentialVersion | undefined>>();
  return (id, version) => {
    const key = `${id}\u0000${version ?? ''}`;
    let hit = cache.get(key);
    if (!hit) cache.set(key, (hit = current(id, version)));
    return hit;
  };
}

export function versionKey(id: string, version: string): string {
  return `${id}\u0000${version}`;
}
