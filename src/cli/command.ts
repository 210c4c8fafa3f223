import type { Command } from 'commander';
import { loadConfig } from '../config';
import type { AppContext } from '../context';
import { setBadgeIssuing } from '../coverage/badges';
import { openStore } from '../db/store';
import { createLogger } from '../logger';
import { storeOptions } from '../app/server';

/** An error meant for the person at the terminal: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Adds a module's commands to the `socle` program. */
export type CommandModule = (program: Command) => void;

/** Runs an admin command with the same configuration and store as the service, and closes the store after. */
export async function withContext<T>(run: (ctx: AppContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const store = await openStore(storeOptions(config));
  try {
    setBadgeIssuing({ config });
    return await run({ config, store, logger });
  } finally {
    await store.close();
  }
}

/** Writes a result to stdout, as JSON when asked. */
export function output(value: unknown, json: boolean, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
