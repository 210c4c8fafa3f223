import type { Config } from '../config';
import type { AppContext, Services } from '../context';
import { catalogueReferentials } from '../coverage/referentials';
import type { Store } from '../db/store';
import type { Logger } from '../logger';
import { smtpTransport } from '../mail';
import { RateBudgets } from '../rate-limit';
import { coverageComplianceSource } from '../reports/coverage-source';
import { reportKinds } from '../reports/kinds';
import { StatementIdScheme } from '../xapi/ids';
import { VerifiedKeys } from '../xapi/keys';

/**
 * The context of the server and of the CLI's commands. By default: référentiels from the catalogue, badges issued
 * with this configuration, reports over the stored coverage, the report kinds of `reportKinds`, the system clock, the SMTP transport of SMTP_URL. `overrides` replace any of them (tests
 * give fixtures; `badges: undefined` computes coverage without issuing).
 */
export function createContext(config: Config, store: Store, logger: Logger, overrides: Partial<Services> = {}): AppContext {
  const coverage = {
    clock: overrides.clock ?? (() => new Date()),
    referentials: overrides.referentials ?? catalogueReferentials,
    badges: 'badges' in overrides ? overrides.badges : { config },
  };
  return {
    config,
    store,
    logger,
    ...coverage,
    compliance: overrides.compliance ?? coverageComplianceSource(coverage),
    reports: overrides.reports ?? reportKinds,
    xapiKeys: overrides.xapiKeys ?? new VerifiedKeys(),
    rateBudgets: overrides.rateBudgets ?? new RateBudgets(),
    statementIds: overrides.statementIds ?? new StatementIdScheme(),
    mail: 'mail' in overrides ? overrides.mail : config.mail ? smtpTransport(config.mail) : undefined,
  };
}

/** Where the store of this configuration is: the PostgreSQL server of DATABASE_URL, or PGlite in DATA_DIR. */
export function storeOptions(config: Config) {
  return config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir };
}
