import type { Executor } from '../db/store';
import type { ReferentialVersion } from '../domain/coverage';
import { getReferential } from '../referentials/catalogue';

/** How the coverage module finds a référentiel version: `version` undefined = the current one. */
export type ReferentialLookup = (id: string, version?: string) => Promise<ReferentialVersion | undefined>;

/**
 * Where a unit of work (a request, a batch) finds its référentiel versions: `source(ex)` is the lookup on `ex`,
 * memoised. The context carries one (by default the catalogue; tests may give fixtures).
 */
export type ReferentialSource = (ex: Executor) => ReferentialLookup;

/** A lookup that reads each version once. */
export function memoised(source: ReferentialLookup): ReferentialLookup {
  const cache = new Map<string, Promise<ReferentialVersion | undefined>>();
  return (id, version) => {
    const key = versionKey(id, version ?? '');
    let hit = cache.get(key);
    if (!hit) cache.set(key, (hit = source(id, version)));
    return hit;
  };
}

/** The référentiel catalogue in the database (`getReferential`), memoised per unit of work. */
export const catalogueReferentials: ReferentialSource = (ex) => memoised((id, version) => getReferential(ex, id, version));

export function versionKey(id: string, version: string): string {
  return `${id}\u0000${version}`;
}
