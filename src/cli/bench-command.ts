import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadDataset } from '../data/dataset.js';
import { shapeOf } from '../data/shape.js';
import { OPTIMIZER_NAMES } from '../nn/optim/index.js';
import { defaultThreadCounts, measureScaling, scalingTable } from '../train/benchmark.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { kernelSpeedTable, measureKernelSpeed } from '../train/kernel-speed.js';
import { resolveKernels } from '../train/kernels.js';
import { checkNumber, checkWholeNumber } from '../train/numbers.js';
import { checkRunnable } from '../train/plan.js';
import { withValues } from './flags.js';

export const benchCommand: CommandModule = {
  command: 'bench',
  describe:
    'kernel GFLOP/s on one thread, then thread scaling of training steps on this machine: samples/s, speed-up, efficiency',
  builder: (y: Argv) =>
    y.options(
      withValues({
        threads: { type: 'string', describe: 'thread counts, e.g. 1,2,4,8 (default: 1, 2, 4 … all cores)' },
        data: { type: 'string', describe: 'mnist | fashion-mnist | idx:DIR', default: 'mnist' },
        hidden: { type: 'string', describe: 'hidden layer sizes', default: '256,128' },
        'batch-size': { type: 'string', describe: 'rows per step', default: '128' },
        kernels: { type: 'string', describe: KERNEL_CHOICES.join(' | ') },
        optimizer: { type: 'string', describe: `${OPTIMIZER_NAMES.join(' | ')} (default sgd)` },
        dropout: { type: 'string', describe: 'dropout rate of hidden units (default 0)' },
        lr: { type: 'string', describe: 'learning rate (default 0.05 for sgd, 1e-3 for adam and adamw)' },
        seconds: {
          type: 'string',
          describe: 'measured seconds per thread count (at least; whole epochs of up to 469 steps)',
          default: '2',
        },
        rounds: {
          type: 'string',
          describe: 'passes over the thread counts; each keeps its fastest (for busy machines)',
          default: '1',
        },
        json: { type: 'boolean', describe: 'print the result as JSON' },
      }),
    ),
  handler: async (argv: ArgumentsCamelCase) => {
    const threadList =
      argv.threads === undefined
        ? defaultThreadCounts()
        : String(argv.threads)
            .split(',')
            .map((t) => resolveConfig({ threads: t }).threads);
    const config = resolveConfig({
      data: argv.data,
      hidden: argv.hidden,
      batchSize: argv.batchSize,
      kernels: argv.kernels,
      optimizer: argv.optimizer,
      dropout: argv.dropout,
      lr: argv.lr,
    });
    const seconds = checkNumber('seconds', argv.seconds, { min: 0, above: true, max: 600 }, false);
    const rounds = checkWholeNumber('rounds', argv.rounds, 1, 20);
    const dataset = await loadDataset(config.data);
    // settings that cannot run are refused before anything is timed
    checkRunnable(shapeOf(dataset), { ...config, threads: Math.max(...threadList) });
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
      optimizer: config.optimizer,
      dropout: config.dropout,
      lr: argv.lr === undefined ? undefined : config.lr,
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
