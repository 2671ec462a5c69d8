import { basename, dirname, join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { type Checkpoint, loadCheckpoint } from '../io/checkpoint.js';
import { resolveConfig } from '../train/config.js';
import { saveTrainedModel } from '../train/save-result.js';
import { train } from '../train/trainer.js';
import { configFromArgv, configOptions } from './config-options.js';
import { resolveLogFormat } from './log-format.js';
import { checkWritableTarget } from './paths.js';
import { jsonRenderer, prettyRenderer } from './progress.js';
import { onStdoutClosed } from './stdout-closed.js';

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
      .option('checkpoint', {
        type: 'string',
        describe: 'write a checkpoint here at every epoch end',
        requiresArg: true,
      })
      .option('checkpoint-every', {
        type: 'string',
        describe: 'also every N steps (needs --checkpoint)',
        requiresArg: true,
      })
      .option('resume', {
        type: 'string',
        describe: 'continue exactly from this checkpoint',
        requiresArg: true,
      })
      .option('log', {
        type: 'string',
        describe: 'pretty | json (default: pretty on a terminal)',
        requiresArg: true,
      })
      .example('$0 train --threads 8', 'train on the embedded MNIST digits with 8 threads')
      .example(
        '$0 train --data fashion-mnist --checkpoint run.ckpt',
        'Fashion-MNIST, a checkpoint every epoch',
      )
      .example('$0 train --resume run.ckpt', 'continue a run where it stopped'),
  handler: async (argv: ArgumentsCamelCase) => {
    const resume: Checkpoint | undefined = argv.resume ? loadCheckpoint(String(argv.resume)) : undefined;
    // Validate the flags now, before any file is touched; on resume train() fills the rest
    // from the checkpoint and refuses settings that would change the result.
    const flags = configFromArgv(argv);
    const config = resolveConfig(resume ? { ...(resume.config as object), ...flags } : flags);
    const format = resolveLogFormat(argv.log);
    const out = argv.out as string;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out must name a file');
    checkWritableTarget(out, '--out');
    const every = argv.checkpointEvery === undefined ? 0 : Number(argv.checkpointEvery);
    if (argv.checkpointEvery !== undefined && !(Number.isInteger(every) && every >= 1)) {
      throw new UsageError(`--checkpoint-every must be a whole number ≥ 1, got '${argv.checkpointEvery}'`);
    }
    if (every && !argv.checkpoint) throw new UsageError('--checkpoint-every needs --checkpoint FILE');
    const checkpointPath = argv.checkpoint ? String(argv.checkpoint) : defaultCheckpointPath(out);
    checkWritableTarget(checkpointPath, '--checkpoint');
    // the model is written last, over whatever is there: never over the run's own state
    if (resolve(checkpointPath) === resolve(out))
      throw new UsageError(
        `--out and --checkpoint name the same file, ${out}: the model would replace the checkpoint`,
      );
    if (argv.resume && resolve(String(argv.resume)) === resolve(out))
      throw new UsageError(`--out ${out} is the checkpoint being resumed: the model would replace it`);

    // First SIGINT/SIGTERM: finish the current step, checkpoint, exit 130/143. Second: at once.
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted) process.exit(signal === 'SIGTERM' ? 143 : 130);
      process.stderr.write(
        `\ngradpool: ${signal}: stopping after this step and writing a checkpoint (again to quit at once)\n`,
      );
      stop.abort(new Error(signal));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // stdout's reader gone (`| head`): stop as for a signal, once, and exit 141
    const offClosed = onStdoutClosed(() => {
      if (stop.signal.aborted) return;
      process.stderr.write('gradpool: stdout closed: stopping after this step and writing a checkpoint\n');
      stop.abort(new Error('SIGPIPE'));
    });
    const renderer =
      format === 'json'
        ? jsonRenderer((l) => process.stdout.write(`${l}\n`))
        : prettyRenderer(process.stdout);
    try {
      const result = await train(config, {
        onProgress: (e) => renderer.event(e),
        signal: stop.signal,
        resume,
        checkpoint: { path: checkpointPath, everySteps: every, atEpochEnd: Boolean(argv.checkpoint) },
      });
      const last = result.metrics[result.metrics.length - 1];
      saveTrainedModel(out, result);
      renderer.done({
        testAccuracy: last.testAccuracy,
        testLoss: last.testLoss,
        seconds: result.seconds,
        model: resolve(out),
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        retries: result.retries,
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      offClosed();
    }
  },
};

/** Where an interrupted run without --checkpoint saves its state: beside the model file. */
export function defaultCheckpointPath(out: string): string {
  return join(dirname(out), `${basename(out).replace(/\.safetensors$/, '')}.checkpoint.safetensors`);
}
