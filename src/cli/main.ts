import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config';
import { StoreError } from '../db/store';
import { registerApiTokens } from './api-tokens';
import { registerBadges } from './badges';
import type { Services } from '../context';
import { CliError, type CommandModule, contextOpener } from './command';
import { registerLtiCommands } from './lti';
import { registerPrivacy } from './privacy';
import { registerMappings } from './mappings';
import { registerReferentials } from './referentials';
import { registerReports } from './reports';
import { registerServe } from './serve';
import { registerXapi } from './xapi';

import { registerCoverage } from './coverage';

const modules: CommandModule[] = [registerServe, registerApiTokens, registerLtiCommands, registerBadges, registerReferentials, registerXapi, registerPrivacy, registerCoverage, registerReports, registerMappings];

export function buildProgram(services: Partial<Services> = {}): Command {
  const program = new Command('socle')
    .description('Socle: LTI 1.3 tool and xAPI bridge for the formation socle au numérique en santé')
    .showHelpAfterError()
    .exitOverride();
  const withContext = contextOpener(services);
  for (const register of modules) register(program, withContext);
  return program;
}

/** Entry point of `socle`: known errors print one line and exit 1; usage errors exit 2. */
export async function main(argv: string[], services: Partial<Services> = {}): Promise<void> {
  try {
    await buildProgram(services).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof ConfigError || error instanceof StoreError || error instanceof CliError) {
      process.stderr.write(`socle: ${error.message}\n`);
    } else {
      process.stderr.write(`socle: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  }
}
