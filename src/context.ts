import type { Config } from './config';
import type { Store } from './db/store';
import type { Logger } from './logger';

/** What every adapter (HTTP routes, CLI commands, workers) is given: configuration, store and logger. */
export interface AppContext {
  config: Config;
  store: Store;
  logger: Logger;
}
