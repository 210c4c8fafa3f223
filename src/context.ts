import type { BadgeIssuing } from './badges/credentials';
import type { Config } from './config';
import type { ReferentialSource } from './coverage/referentials';
import type { Store } from './db/store';
import type { Logger } from './logger';
import type { MailTransport } from './mail';
import type { RateBudgets } from './rate-limit';
import type { ExportRegistry } from './reports/kinds/kind';
import type { ComplianceSource } from './reports/source';
import type { StatementIdScheme } from './xapi/ids';
import type { VerifiedKeys } from './xapi/keys';

/** What a context provides besides configuration, store and logger; `createContext` gives the defaults, tests their own. */
export interface Services {
  /** The time of the process (badge issue and revocation dates). */
  clock: () => Date;
  /** Where a unit of work looks up référentiel versions: `referentials(ex)` is its memoised lookup on `ex`. */
  referentials: ReferentialSource;
  /** What badge issuing needs; undefined: contexts for the rules only, where nothing is issued or revoked. */
  badges: BadgeIssuing | undefined;
  /** The learners' figures reports are made of. */
  compliance: ComplianceSource;
  /** The kinds of report this context produces: the API's and the runner's exports, the admin page's buttons. */
  reports: ExportRegistry;
  /** The xAPI keys this process recently verified (`KEY_CACHE_MS`). */
  xapiKeys: VerifiedKeys;
  /** The requests this process reserved of its clients' rate limits (`RateBudgets`). */
  rateBudgets: RateBudgets;
  /** From when this store derives time-ordered statement ids, read once. */
  statementIds: StatementIdScheme;
  /** Where e-mail goes (the weekly digests); undefined without SMTP_URL: digests stay on Socle's pages. */
  mail: MailTransport | undefined;
}

/** What every adapter (HTTP routes, CLI commands, workers) is given: configuration, store, logger and the services. */
export interface AppContext extends Services {
  config: Config;
  store: Store;
  logger: Logger;
}
