#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { flagNaming, GradpoolError, UsageError } from '../errors.js';
import { benchCommand } from './bench-command.js';
import { evalCommand } from './eval-command.js';
import { exportCommand } from './export-command.js';
import { predictCommand } from './predict-command.js';
import { serveCommand } from './serve-command.js';
import { watchStdout } from './stdout-closed.js';
import { trainCommand } from './train-command.js';
import { workerCommand } from './worker-command.js';
import { usageMessage } from './yargs-messages.js';

// The command list. Handlers parse, call the library and render; errors come back here and
// become a one-line message and the exit code their type carries (2: bad usage or input).

const COMMANDS = [
  trainCommand,
  evalCommand,
  predictCommand,
  exportCommand,
  benchCommand,
  serveCommand,
  workerCommand,
];
const COMMAND_NAMES = COMMANDS.map((c) => String(c.command).split(' ')[0]);

export async function main(argv: string[]): Promise<number> {
  watchStdout();
  try {
    let parser = yargs(argv).scriptName('gradpool');
    for (const command of COMMANDS) parser = parser.command(command);
    await parser
      .demandCommand(1, `name a command: ${COMMAND_NAMES.join(', ')}`)
      .strict()
      .fail((message, error, usage) => {
        // our own errors from handlers pass through; yargs' (YError, or a message alone) are usage
        if (error && error.name !== 'YError') throw error;
        const flags = Object.keys((usage as unknown as { getDescriptions(): object }).getDescriptions());
        throw new UsageError(usageMessage(message ?? error?.message ?? '', flags, COMMAND_NAMES, argv));
      })
      .help()
      .version()
      .wrap(Math.min(110, process.stdout.columns || 100))
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof GradpoolError) {
      process.stderr.write(`gradpool: ${e.describe(flagNaming).split('\n')[0]}\n`);
      return e.exitCode;
    }
    process.stderr.write(`gradpool: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(hideBin(process.argv));
