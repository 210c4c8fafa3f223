import { Command, CommanderError } from 'commander';
import { SocleError } from '../domain/errors';
import { registerApiTokens } from './api-tokens';
import { registerBadges } from './badges';
import type { Services } from '../context';
import { cliExitCodes, cliLines, type CommandModule, contextOpener } from './command';
import { registerInstitution } from './institution';
import { registerAlerts } from './alerts';
import { registerLtiCommands } from './lti';
import { registerPrivacy } from './privacy';
import { registerProgrammes } from './programmes';
import { registerMappings } from './mappings';
import { registerReferentials } from './referentials';
import { registerReports } from './reports';
import { registerServe } from './serve';
import { registerXapi } from './xapi';
import { version } from '../version';

import { registerCoverage } from './coverage';

/** The commands that run in a context `withContext` opens (`serve` starts the service: registered on its own). */
const modules: CommandModule[] = [registerApiTokens, registerLtiCommands, registerBadges, registerReferentials, registerXapi, registerPrivacy, registerCoverage, registerReports, registerMappings, registerInstitution, registerProgrammes, registerAlerts];

export function buildProgram(services: Partial<Services> = {}): Command {
  const program = new Command('socle')
    .description('Socle: LTI 1.3 tool and xAPI bridge for the formation socle au numérique en santé')
    .version(version, '-V, --version', 'print the version of Socle')
    // `--version` after a command is that command's option (a référentiel version), not the program's
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  registerServe(program, services);
  const withContext = contextOpener(services);
  for (const register of modules) register(program, withContext);
  return program;
}

/** Entry point of `socle`: a SocleError prints its message (and details) with the exit code of its code; usage errors exit 2. */
export async function main(argv: string[], services: Partial<Services> = {}): Promise<void> {
  try {
    await buildProgram(services).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof SocleError) {
      process.stderr.write(`${cliLines(error)}\n`);
      process.exitCode = cliExitCodes[error.code];
      return;
    }
    process.stderr.write(`socle: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
