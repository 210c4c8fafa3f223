import { statementIdScheme } from '../db/schema';
import type { Executor } from '../db/store';

/**
 * When this store began deriving time-ordered ids (`statement_id_scheme`, see `derivedStatementId`), in Unix ms:
 * read by the first batch of the process and kept, since it never changes once the store is migrated (a failed read
 * is tried again by the next batch).
 */
export class StatementIdScheme {
  private since: Promise<number> | undefined;

  timeOrderedSince(ex: Executor): Promise<number> {
    this.since ??= ex
      .select({ since: statementIdScheme.timeOrderedSince })
      .from(statementIdScheme)
      .then(([row]) => row?.since.getTime() ?? 0)
      .catch((error: unknown) => {
        this.since = undefined;
        throw error;
      });
    return this.since;
  }
}
