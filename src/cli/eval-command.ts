import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { classNames } from '../data/preprocessing.js';
import { UsageError } from '../errors.js';
import { loadModel } from '../io/model-file.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { type Evaluation, evaluate } from '../train/evaluate.js';
import { withValues } from './flags.js';

export const evalCommand: CommandModule = {
  command: 'eval',
  describe:
    'loss and accuracy with a confusion matrix (classes) or RMSE, MAE and R² (regression) of a model on test rows',
  builder: (y: Argv) =>
    y.options(
      withValues({
        model: { type: 'string', describe: 'model file (safetensors)', demandOption: true },
        data: {
          type: 'string',
          describe:
            "mnist | fashion-mnist | idx:DIR | csv:FILE (default: the model's training data, and for a CSV its test rows; another csv:FILE: all its rows)",
        },
        threads: { type: 'string', describe: 'worker threads (default: all cores)' },
        kernels: { type: 'string', describe: KERNEL_CHOICES.join(' | ') },
        json: {
          type: 'boolean',
          describe: 'print JSON: {loss, count, accuracy, confusion | rmse, mae, r2, data, trainedOn}',
        },
      }),
    ),
  handler: async (argv: ArgumentsCamelCase) => {
    const model = loadModel(String(argv.model));
    const trainedOn = model.metadata?.data;
    const { threads, kernels } = resolveConfig({ threads: argv.threads, kernels: argv.kernels });
    const data = argv.data ?? trainedOn ?? 'mnist';
    if (typeof data !== 'string' || data === '') throw new UsageError('--data must be a dataset spec');
    // evaluating on other data than the model learnt is allowed, but should not pass unnoticed
    const note = trainedOn && trainedOn !== data ? `the model was trained on ${trainedOn}` : null;
    const r = await evaluate(model, data, { threads, kernels });
    if (argv.json) {
      const json = { ...r, data, trainedOn: trainedOn ?? null };
      process.stdout.write(`${JSON.stringify(json)}\n`);
      return;
    }
    if (note) process.stderr.write(`gradpool: note: ${note}; evaluating on ${data}\n`);
    const classes = model.preprocessing ? classNames(model.preprocessing) : null;
    process.stdout.write(
      report(r, `${model.layout.sizes.join('-')} ${model.layout.activation}`, data, classes),
    );
  },
};

function report(r: Evaluation, model: string, data: string, classes: readonly string[] | null): string {
  if (!r.confusion || r.accuracy === undefined)
    return `${model} on ${data}: RMSE ${r.rmse?.toPrecision(4)}, MAE ${r.mae?.toPrecision(4)}, R² ${r.r2?.toFixed(4)}, loss ${r.loss.toFixed(4)} (${r.count} rows)\n`;
  const names = classes ?? r.confusion.map((_, c) => String(c));
  const w = Math.max(5, String(r.count).length + 1, ...names.map((n) => n.length + 1));
  const lw = Math.max(4, ...names.map((n) => n.length));
  let text = `${model} on ${data}: accuracy ${(r.accuracy * 100).toFixed(2)} %, loss ${r.loss.toFixed(4)} (${r.count} rows)\n`;
  text += `confusion (rows: label, columns: predicted)\n${''.padStart(lw)}${names.map((n) => n.padStart(w)).join('')}\n`;
  r.confusion.forEach((counts, label) => {
    text += `${names[label].padStart(lw)}${counts.map((n) => String(n).padStart(w)).join('')}\n`;
  });
  return text;
}
