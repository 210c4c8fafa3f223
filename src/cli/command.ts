import type { Command } from 'commander';
import { loadConfig } from '../config';
import type { AppContext, Services } from '../context';
import { openStore } from '../db/store';
import { createLogger } from '../logger';
import { createContext } from '../app/context';
import { storeOptions } from '../app/server';

/** An error meant for the person at the terminal: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Runs an admin command with the same configuration and store as the service, and closes the store after. */
export type WithContext = <T>(run: (ctx: AppContext) => Promise<T>) => Promise<T>;

/** Adds a module's commands to the `socle` program; they run in the contexts `withContext` opens. */
export type CommandModule = (program: Command, withContext: WithContext) => void;

/** Opens each command's context with createContext (`services` replace its defaults: tests running commands in process). */
export function contextOpener(services: Partial<Services> = {}): WithContext {
  return async (run) => {
    const config = loadConfig();
    const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
    const store = await openStore(storeOptions(config));
    try {
      return await run(createContext(config, store, logger, services));
    } finally {
      await store.close();
    }
  };
}

/** Writes a result to stdout, as JSON when asked. */
export function output(value: unknown, json: boolean, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
