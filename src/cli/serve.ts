import type { Command } from 'commander';
import { loadConfig } from '../config';
import type { Services } from '../context';
import { createLogger } from '../logger';
import { startServer } from '../app/server';
import { version } from '../version';

/** `socle serve`: the service, with the same `services` as the other commands' contexts (tests running it in process). */
export function registerServe(program: Command, services: Partial<Services> = {}): void {
  program
    .command('serve')
    .description('start the Socle service (HTTP, LTI, xAPI) on the configured port')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const server = await startServer(config, { logger, services });
      const database =
        server.ctx.store.driver === 'pglite'
          ? `embedded PGlite at ${server.ctx.store.location}`
          : `PostgreSQL at ${server.ctx.store.location}`;
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        server.close().then(
          () => {
            logger.info('stopped');
            process.exit(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Announced only once the signal handlers are in place: a supervisor (or a test) that stops the process as
      // soon as it reads this line must not hit the default signal action.
      logger.info(
        { url: config.publicUrl, listening: server.url, database },
        `Socle is ready at ${config.publicUrl} (${database})`,
      );
      // A person at a terminal gets one readable line; machines (a pipe, a supervisor) read the JSON log above.
      if (process.stdout.isTTY) process.stdout.write(`\nSocle ${version} listening on ${server.url} (${database}); Ctrl-C stops it\n\n`);
    });
}
