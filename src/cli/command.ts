import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import type { AppContext, Services } from '../context';
import { type ErrorCode, invalid, type SocleError } from '../domain/errors';
import { openStore } from '../db/store';
import { createLogger } from '../logger';
import { createContext, storeOptions } from '../app/context';

/** The exit code of `socle` for each error code: 1 for every error (2 is commander's usage errors). */
export const cliExitCodes: Record<ErrorCode, number> = {
  invalid_request: 1,
  unauthorized: 1,
  forbidden: 1,
  not_found: 1,
  conflict: 1,
  precondition_failed: 1,
  no_referential: 1,
  not_ready: 1,
  payload_too_large: 1,
  rate_limited: 1,
  platform_error: 1,
  registration_failed: 1,
  invalid_launch: 1,
  session_expired: 1,
  unregistered_platform: 1,
  platform_inactive: 1,
  invalid_config: 1,
  unavailable: 1,
  internal_error: 1,
};

/** What the terminal shows for an error: `socle: <message>`, then one line per detail. */
export function cliLines(error: SocleError): string {
  return [`socle: ${error.message}`, ...error.details.map((d) => `  ${d.path}: ${d.message}`)].join('\n');
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

/** `--out -` means stdout. */
export const toStdout = (out: string | undefined): boolean => out === undefined || out === '-';

/** Refuses an `--out` file whose folder does not exist (before any work), in one line instead of an ENOENT stack. */
export function checkOutFile(out: string | undefined): void {
  if (toStdout(out)) return;
  const dir = path.dirname(path.resolve(out as string));
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch {
    // missing
  }
  if (!isDir) throw invalid(`--out: the folder ${dir} does not exist (create it, or use --out - for stdout)`);
}
