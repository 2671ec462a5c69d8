#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { GradpoolError, UsageError } from '../errors.js';
import { benchCommand } from './bench-command.js';
import { evalCommand } from './eval-command.js';
import { serveCommand } from './serve-command.js';
import { watchStdout } from './stdout-closed.js';
import { trainCommand } from './train-command.js';
import { workerCommand } from './worker-command.js';

// The command list. Handlers parse, call the library and render; errors come back here and
// become a one-line message and the exit code their type carries (DESIGN: 2 bad input).

export async function main(argv: string[]): Promise<number> {
  watchStdout();
  try {
    await yargs(argv)
      .scriptName('gradpool')
      .command(trainCommand)
      .command(evalCommand)
      .command(benchCommand)
      .command(serveCommand)
      .command(workerCommand)
      .demandCommand(1, 'name a command: train, eval, bench, serve or worker')
      .strict()
      .fail((message, error) => {
        throw error ?? new UsageError(message.replace(/\n+/g, '; '));
      })
      .help()
      .version()
      .wrap(Math.min(110, process.stdout.columns || 100))
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof GradpoolError) {
      process.stderr.write(`gradpool: ${e.message.split('\n')[0]}\n`);
      return e.exitCode;
    }
    process.stderr.write(`gradpool: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(hideBin(process.argv));
