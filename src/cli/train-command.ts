import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { saveModel } from '../io/model-file.js';
import { resolveConfig } from '../train/config.js';
import { train } from '../train/trainer.js';
import { configFromArgv, configOptions } from './config-options.js';
import { resolveLogFormat } from './log-format.js';
import { checkWritableTarget } from './paths.js';
import { jsonRenderer, prettyRenderer } from './progress.js';

export const trainCommand: CommandModule = {
  command: 'train',
  describe: 'train an MLP on all cores and write it as safetensors',
  builder: (y: Argv) =>
    y
      .options(configOptions())
      .option('out', {
        type: 'string',
        describe: 'model file to write (safetensors)',
        default: 'model.safetensors',
        requiresArg: true,
      })
      .option('log', {
        type: 'string',
        describe: 'pretty | json (default: pretty on a terminal)',
        requiresArg: true,
      })
      .example('$0 train --threads 8', 'train on the embedded MNIST digits with 8 threads')
      .example(
        '$0 train --data fashion-mnist --hidden 256,128 --epochs 10 --log json',
        'Fashion-MNIST, JSON lines',
      ),
  handler: async (argv: ArgumentsCamelCase) => {
    const config = resolveConfig(configFromArgv(argv));
    const format = resolveLogFormat(argv.log);
    const out = argv.out as string;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out must name a file');
    checkWritableTarget(out, '--out');
    const renderer =
      format === 'json'
        ? jsonRenderer((l) => process.stdout.write(`${l}\n`))
        : prettyRenderer(process.stdout);
    const result = await train(config, { onProgress: (e) => renderer.event(e) });
    const last = result.metrics[result.metrics.length - 1];
    saveModel(out, result.model, {
      seed: String(config.seed),
      data: config.data,
      epochs: String(config.epochs),
    });
    renderer.done({
      testAccuracy: last.testAccuracy,
      testLoss: last.testLoss,
      seconds: result.seconds,
      model: resolve(out),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    });
  },
};
