import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadModel } from '../io/model-file.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { evaluate } from '../train/evaluate.js';

export const evalCommand: CommandModule = {
  command: 'eval',
  describe: "loss, accuracy and confusion matrix of a model on a dataset's test split",
  builder: (y: Argv) =>
    y
      .option('model', {
        type: 'string',
        describe: 'model file (safetensors)',
        demandOption: true,
        requiresArg: true,
      })
      .option('data', {
        type: 'string',
        describe: 'mnist | fashion-mnist | idx:DIR',
        default: 'mnist',
        requiresArg: true,
      })
      .option('threads', {
        type: 'string',
        describe: 'worker threads (default: all cores)',
        requiresArg: true,
      })
      .option('kernels', { type: 'string', describe: KERNEL_CHOICES.join(' | '), requiresArg: true })
      .option('json', { type: 'boolean', describe: 'print JSON: {accuracy, loss, confusion}' }),
  handler: async (argv: ArgumentsCamelCase) => {
    const { data, threads, kernels } = resolveConfig({
      data: argv.data,
      threads: argv.threads,
      kernels: argv.kernels,
    });
    const model = loadModel(argv.model as string);
    const r = await evaluate(model, data, { threads, kernels });
    if (argv.json) {
      process.stdout.write(
        `${JSON.stringify({ accuracy: r.accuracy, loss: r.loss, count: r.count, confusion: r.confusion })}\n`,
      );
      return;
    }
    const C = r.confusion.length;
    const w = Math.max(5, String(r.count).length + 1);
    let text = `${model.layout.sizes.join('-')} ${model.layout.activation} on ${data}: accuracy ${(r.accuracy * 100).toFixed(2)} %, loss ${r.loss.toFixed(4)} (${r.count} rows)\n`;
    text += `confusion (rows: label, columns: predicted)\n${''.padStart(4)}${Array.from({ length: C }, (_, c) => String(c).padStart(w)).join('')}\n`;
    r.confusion.forEach((counts, label) => {
      text += `${String(label).padStart(4)}${counts.map((n) => String(n).padStart(w)).join('')}\n`;
    });
    process.stdout.write(text);
  },
};
