import { asc } from 'drizzle-orm';
import { referentials } from '../db/schema';
import type { Executor } from '../db/store';
import type { ReferentialVersion } from '../domain/coverage';
import { referentialSchema } from '../referentials/model';

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

/** Whether a lookup other than the empty default is installed (tests install fixtures before starting a server). */
export function hasReferentialLookup(): boolean {
  return current !== none;
}

/**
 * The stored catalogue as a lookup, read once into memory: the rules run inside transactions (PGlite has one
 * connection, so the lookup must not query the database). A version imported later is seen after a restart.
 */
export async function catalogueLookup(ex: Executor): Promise<ReferentialLookup> {
  const rows = await ex.select({ content: referentials.content }).from(referentials).orderBy(asc(referentials.seq));
  const byKey = new Map<string, ReferentialVersion>();
  const latest = new Map<string, ReferentialVersion>();
  for (const row of rows) {
    const ref = referentialSchema.parse(row.content);
    byKey.set(versionKey(ref.id, ref.version), ref);
    latest.set(ref.id, ref);
  }
  return async (id, version) => (version === undefined ? latest.get(id) : byKey.get(versionKey(id, version)));
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
