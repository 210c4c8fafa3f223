import type { Executor } from '../db/store';
import type { ReferentialVersion } from '../domain/coverage';
import { getReferential } from '../referentials/catalogue';

/**
 * How the coverage module finds a référentiel version: `version` undefined = the current one. By default the
 * référentiel catalogue in the database (`getReferential`); tests may install fixtures instead.
 */
export type ReferentialLookup = (id: string, version?: string) => Promise<ReferentialVersion | undefined>;

let fixture: ReferentialLookup | undefined;

/** Replaces the catalogue by fixtures (tests); `undefined` restores the catalogue. Returns the previous fixture. */
export function setReferentialLookup(lookup: ReferentialLookup | undefined): ReferentialLookup | undefined {
  const previous = fixture;
  fixture = lookup;
  return previous;
}

/** The lookup for one unit of work (a request, a batch) on `ex`, memoised: each version is read once. */
export function referentialLookup(ex: Executor): ReferentialLookup {
  const source: ReferentialLookup = fixture ?? ((id, version) => getReferential(ex, id, version));
  const cache = new Map<string, Promise<ReferentialVersion | undefined>>();
  return (id, version) => {
    const key = `${id}\u0000${version ?? ''}`;
    let hit = cache.get(key);
    if (!hit) cache.set(key, (hit = source(id, version)));
    return hit;
  };
}

export function versionKey(id: string, version: string): string {
  return `${id}\u0000${version}`;
}
