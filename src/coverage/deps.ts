import type { BadgeIssuing } from '../badges/credentials';
import type { Services } from '../context';
import type { Executor } from '../db/store';
import type { ReferentialLookup } from './referentials';

/** The services the coverage module uses, as the context carries them. */
export type CoverageServices = Pick<Services, 'referentials' | 'badges' | 'clock'>;

/**
 * What computing and storing coverage needs in one unit of work: the référentiel lookup (memoised, on that unit's
 * executor), what badge issuing needs (undefined: the rules only, nothing issued or revoked) and the clock.
 */
export interface CoverageDeps {
  lookup: ReferentialLookup;
  badges: BadgeIssuing | undefined;
  clock: () => Date;
}

/** The dependencies of a unit of work on `ex`. */
export function coverageDeps(services: CoverageServices, ex: Executor): CoverageDeps {
  return { lookup: services.referentials(ex), badges: services.badges, clock: services.clock };
}
