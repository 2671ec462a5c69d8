import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadCheckpoint } from '../io/checkpoint.js';
import { resolveConfig, type TrainConfig } from '../train/config.js';
import { planOutputs } from '../train/outputs.js';
import { saveTrainedModel } from '../train/save-result.js';
import { keptMetrics, train } from '../train/trainer.js';
import { configFromArgv, configOptions } from './config-options.js';
import { withValues } from './flags.js';
import { resolveLogFormat } from './log-format.js';
import { jsonRenderer, prettyRenderer } from './progress.js';
import { stopOnSignals } from './stop-on-signals.js';

export const trainCommand: CommandModule = {
  command: 'train',
  describe: 'train an MLP on all cores and write it as safetensors',
  builder: (y: Argv) =>
    y
      .options(
        withValues({
          ...configOptions(),
          out: {
            type: 'string',
            describe: 'model file to write (safetensors)',
            default: 'model.safetensors',
          },
          checkpoint: { type: 'string', describe: 'write a checkpoint here at every epoch end' },
          'checkpoint-every': { type: 'string', describe: 'also every N steps (needs --checkpoint)' },
          resume: { type: 'string', describe: 'continue exactly from this checkpoint' },
          log: { type: 'string', describe: 'pretty | json (default: pretty on a terminal)' },
        }),
      )
      .example('$0 train --threads 8', 'train on the embedded MNIST digits with 8 threads')
      .example(
        '$0 train --data fashion-mnist --checkpoint run.ckpt',
        'Fashion-MNIST, a checkpoint every epoch',
      )
      .example('$0 train --resume run.ckpt', 'continue a run where it stopped'),
  handler: async (argv: ArgumentsCamelCase) => {
    // every flag is checked before a file is touched or a thread started
    const { out, checkpoint, checkpointEvery, resume: resumed } = argv;
    const outputs = planOutputs({ out, checkpoint, checkpointEvery, resume: resumed });
    const resume = argv.resume ? loadCheckpoint(String(argv.resume)) : undefined;
    // on resume train() fills the rest from the checkpoint and refuses what would change the result
    const flags = configFromArgv(argv);
    // checked now, before a thread starts; only the flags given can be refused as not applying
    resolveConfig(resume ? { ...(resume.config as object), ...flags } : flags, new Set(Object.keys(flags)));
    const format = resolveLogFormat(argv.log);
    const renderer =
      format === 'json'
        ? jsonRenderer((l) => process.stdout.write(`${l}\n`))
        : prettyRenderer(process.stdout);
    const stopper = stopOnSignals('stopping after this step and writing a checkpoint');
    try {
      // flags arrive as text; train() checks them as it checks a library caller's values
      const result = await train(flags as Partial<TrainConfig>, {
        onProgress: (e) => renderer.event(e),
        signal: stopper.signal,
        resume,
        checkpoint: outputs.checkpoint,
      });
      saveTrainedModel(outputs.out, result);
      const kept = keptMetrics(result);
      renderer.done({
        keptEpoch: result.outcome.keptEpoch,
        stopped: result.outcome.stopped,
        testLoss: kept.testLoss,
        ...(kept.testAccuracy === undefined
          ? { testRmse: kept.testRmse, testR2: kept.testR2 }
          : { testAccuracy: kept.testAccuracy }),
        seconds: result.seconds,
        model: resolve(outputs.out),
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        retries: result.retries,
      });
    } finally {
      stopper.dispose();
    }
  },
};
