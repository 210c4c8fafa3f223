import type { Executor } from '../db/store';

/**
 * Called in the transaction of every successful mapping change (page, API, CSV import, copy, CLI) with the
 * activities whose pairs changed. This is where the coverage module re-derives the credits of past completions
 * of these activities (credits = completion facts × the current mapping). No-op until coverage persistence lands.
 */
export async function onMappingChanged(_tx: Executor, _courseId: number, _changedActivities: readonly string[]): Promise<void> {
  // Coverage re-derivation is plugged in here.
}
