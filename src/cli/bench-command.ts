import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadDataset } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import { defaultThreadCounts, measureScaling, scalingTable } from '../train/benchmark.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { kernelSpeedTable, measureKernelSpeed } from '../train/kernel-speed.js';
import { resolveKernels } from '../train/kernels.js';
import { networkFor, planArena } from '../train/plan.js';

export const benchCommand: CommandModule = {
  command: 'bench',
  describe:
    'kernel GFLOP/s on one thread, then thread scaling of training steps on this machine: samples/s, speed-up, efficiency',
  builder: (y: Argv) =>
    y
      .option('threads', {
        type: 'string',
        describe: 'thread counts, e.g. 1,2,4,8 (default: 1, 2, 4 … all cores)',
        requiresArg: true,
      })
      .option('data', {
        type: 'string',
        describe: 'mnist | fashion-mnist | idx:DIR',
        default: 'mnist',
        requiresArg: true,
      })
      .option('hidden', {
        type: 'string',
        describe: 'hidden layer sizes',
        default: '256,128',
        requiresArg: true,
      })
      .option('batch-size', { type: 'string', describe: 'rows per step', default: '128', requiresArg: true })
      .option('kernels', { type: 'string', describe: KERNEL_CHOICES.join(' | '), requiresArg: true })
      .option('seconds', { type: 'number', describe: 'measured seconds per thread count', default: 2 })
      .option('rounds', {
        type: 'number',
        describe: 'passes over the thread counts; each keeps its fastest (for busy machines)',
        default: 1,
      })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' }),
  handler: async (argv: ArgumentsCamelCase) => {
    const threadList =
      argv.threads === undefined
        ? defaultThreadCounts()
        : String(argv.threads)
            .split(',')
            .map((t) => resolveConfig({ threads: t.trim() }).threads);
    const config = resolveConfig({
      data: argv.data,
      hidden: argv.hidden,
      batchSize: argv.batchSize,
      kernels: argv.kernels,
    });
    const seconds = Number(argv.seconds);
    if (!(seconds > 0 && seconds <= 600))
      throw new UsageError(`--seconds must be in (0, 600], got ${argv.seconds}`);
    const rounds = Number(argv.rounds);
    if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20))
      throw new UsageError(`--rounds must be a whole number from 1 to 20, got ${argv.rounds}`);
    const dataset = await loadDataset(config.data);
    if (config.batchSize > dataset.train.count) {
      throw new UsageError(
        `--batch-size ${config.batchSize} is larger than the ${dataset.train.count} training rows`,
      );
    }
    // settings that cannot run are refused before anything is timed
    const net = networkFor(dataset.features, config.hidden, dataset.classes, config.activation);
    planArena(net, config.batchSize, Math.max(...threadList));
    // one thread with nothing else running, before the pool starts
    if (!argv.json) process.stderr.write('measuring the kernels on one thread…\n');
    const kernelSpeed = await measureKernelSpeed(await resolveKernels(config.kernels));
    if (!argv.json)
      process.stderr.write(
        `measuring ${threadList.join(', ')} thread${threadList.length === 1 && threadList[0] === 1 ? '' : 's'}, ${seconds} s each${rounds > 1 ? `, best of ${rounds} passes` : ''}…\n`,
      );
    const result = await measureScaling({
      dataset,
      threads: threadList,
      hidden: config.hidden,
      batchSize: config.batchSize,
      kernels: config.kernels,
      seconds,
      rounds,
      onRow: argv.json
        ? undefined
        : (r) =>
            process.stderr.write(
              `  ${r.threads} thread${r.threads === 1 ? '' : 's'}: ${Math.round(r.samplesPerSec).toLocaleString('en-US')} samples/s\n`,
            ),
    });
    process.stdout.write(
      argv.json
        ? `${JSON.stringify({ ...result, kernelSpeed })}\n`
        : [
            "Kernels, one thread, GFLOP/s (the reference recipe's shapes; with dZ mostly zero the gradient kernels skip its zeros):",
            '',
            kernelSpeedTable(kernelSpeed),
            '',
            'Thread scaling:',
            '',
            `${scalingTable(result)}\n`,
          ].join('\n'),
    );
  },
};
