import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadModel } from '../io/model-file.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { type Evaluation, evaluate } from '../train/evaluate.js';
import { withValues } from './flags.js';

export const evalCommand: CommandModule = {
  command: 'eval',
  describe: "loss, accuracy and confusion matrix of a model on a dataset's test split",
  builder: (y: Argv) =>
    y.options(
      withValues({
        model: { type: 'string', describe: 'model file (safetensors)', demandOption: true },
        data: {
          type: 'string',
          describe: 'mnist | fashion-mnist | idx:DIR (default: the data the model was trained on)',
        },
        threads: { type: 'string', describe: 'worker threads (default: all cores)' },
        kernels: { type: 'string', describe: KERNEL_CHOICES.join(' | ') },
        json: {
          type: 'boolean',
          describe: 'print JSON: {accuracy, loss, count, confusion, data, trainedOn}',
        },
      }),
    ),
  handler: async (argv: ArgumentsCamelCase) => {
    const model = loadModel(String(argv.model));
    const trainedOn = model.metadata?.data;
    const { data, threads, kernels } = resolveConfig({
      data: argv.data ?? trainedOn,
      threads: argv.threads,
      kernels: argv.kernels,
    });
    // evaluating on other data than the model learnt is allowed, but should not pass unnoticed
    const note = trainedOn && trainedOn !== data ? `the model was trained on ${trainedOn}` : null;
    const r = await evaluate(model, data, { threads, kernels });
    if (argv.json) {
      const { accuracy, loss, count, confusion } = r;
      const json = { accuracy, loss, count, confusion, data, trainedOn: trainedOn ?? null };
      process.stdout.write(`${JSON.stringify(json)}\n`);
      return;
    }
    if (note) process.stderr.write(`gradpool: note: ${note}; evaluating on ${data}\n`);
    process.stdout.write(report(r, `${model.layout.sizes.join('-')} ${model.layout.activation}`, data));
  },
};

function report(r: Evaluation, model: string, data: string): string {
  const C = r.confusion.length;
  const w = Math.max(5, String(r.count).length + 1);
  let text = `${model} on ${data}: accuracy ${(r.accuracy * 100).toFixed(2)} %, loss ${r.loss.toFixed(4)} (${r.count} rows)\n`;
  text += `confusion (rows: label, columns: predicted)\n${''.padStart(4)}${Array.from({ length: C }, (_, c) => String(c).padStart(w)).join('')}\n`;
  r.confusion.forEach((counts, label) => {
    text += `${String(label).padStart(4)}${counts.map((n) => String(n).padStart(w)).join('')}\n`;
  });
  return text;
}
