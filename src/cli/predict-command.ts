import { realpathSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { encodeCsv } from '../data/csv-dataset.js';
import { readIdxFile } from '../data/idx.js';
import { classNames, IMAGE_PREPROCESSING, type Preprocessing } from '../data/preprocessing.js';
import { DataError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { loadModel } from '../io/model-file.js';
import { checkWritableTarget } from '../io/paths.js';
import { KERNEL_CHOICES, resolveConfig } from '../train/config.js';
import { type Answer, answers, Predictor } from '../train/predictor.js';
import { withValues } from './flags.js';

const FORMATS = ['csv', 'jsonl'] as const;
type Format = (typeof FORMATS)[number];

export const predictCommand: CommandModule = {
  command: 'predict',
  describe: 'predict classes or values for new rows: a CSV file (table models) or an IDX file of images',
  builder: (y: Argv) =>
    y
      .options(
        withValues({
          model: { type: 'string', describe: 'model file (safetensors)', demandOption: true },
          input: {
            type: 'string',
            describe:
              "CSV with the model's columns by name (extra ones ignored), or an IDX images file (.gz too)",
            demandOption: true,
          },
          out: { type: 'string', describe: 'file to write (default: stdout)' },
          format: {
            type: 'string',
            describe: 'csv | jsonl (default: from --out, .jsonl/.json → jsonl; else csv)',
          },
          proba: { type: 'boolean', describe: "add each class's probability (classifiers)" },
          threads: { type: 'string', describe: 'worker threads (default: all cores)' },
          kernels: { type: 'string', describe: KERNEL_CHOICES.join(' | ') },
        }),
      )
      .example(
        '$0 predict --model houses.safetensors --input new.csv --out prices.csv',
        'one row per input row, in order',
      ),
  handler: async (argv: ArgumentsCamelCase) => {
    const { threads, kernels } = resolveConfig({ threads: argv.threads, kernels: argv.kernels });
    const out = argv.out === undefined ? null : String(argv.out);
    const format = formatOf(argv.format, out);
    if (out) checkWritableTarget(out, 'out');
    const model = loadModel(String(argv.model));
    if (out && samePath(out, String(argv.model)))
      throw new UsageError((name) => `${name('out')} ${out} is the model`, 'out');
    const input = String(argv.input);
    if (out && samePath(out, input))
      throw new UsageError(
        (name) =>
          `${name('out')} ${out} is the input file; predictions would overwrite it (write them elsewhere)`,
        'out',
      );
    const p = model.preprocessing ?? IMAGE_PREPROCESSING;
    const proba = argv.proba === true;
    if (proba && !classNames(p))
      throw new UsageError('--proba applies to classifiers; this model regresses', 'proba');
    const rows = await readInputs(input, p, model.layout.sizes[0]);
    const predictor = await Predictor.open(model, { threads, kernels, capacity: Math.min(rows.count, 8192) });
    let result: Answer[];
    try {
      result = answers(p, await predictor.run(rows.inputs, rows.count), rows.count, proba);
    } finally {
      await predictor.close();
    }
    const text = format === 'csv' ? toCsv(result, p) : toJsonLines(result);
    if (out) writeFileAtomic(out, [Buffer.from(text)]);
    else process.stdout.write(text);
  },
};

/** Whether two paths name one file: resolved, and through symlinks where both exist. */
function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false; // one of them does not exist yet: not the same file
  }
}

function formatOf(given: unknown, out: string | null): Format {
  if (given !== undefined) {
    if (!FORMATS.includes(given as Format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${String(given)}'`, 'format');
    return given as Format;
  }
  return out && ['.jsonl', '.json'].includes(extname(out).toLowerCase()) ? 'jsonl' : 'csv';
}

/** The input rows, prepared the model's way: encoded CSV columns, or an IDX file's pixels. */
async function readInputs(path: string, p: Preprocessing, features: number) {
  if (p.kind === 'table') {
    const split = await encodeCsv(path, p, false);
    return { inputs: split.inputs, count: split.count };
  }
  if (/\.csv$/i.test(path)) throw new DataError(`${path}: this model reads images; give an IDX images file`);
  const images = await readIdxFile(path, 3);
  const [count, rows, cols] = images.dims;
  if (rows * cols !== features)
    throw new DataError(`${path}: images of ${rows}×${cols} pixels; the model takes ${features} inputs`);
  return { inputs: images.data, count };
}

function toCsv(result: readonly Answer[], p: Preprocessing): string {
  const names = classNames(p);
  const lines: string[] = [];
  if (names) {
    const proba = result.length > 0 && 'probabilities' in result[0] && result[0].probabilities !== undefined;
    lines.push(['class', ...(proba ? names.map((n) => `p_${n}`) : [])].map(csvField).join(','));
    for (const a of result) {
      if (!('class' in a)) continue;
      const ps = a.probabilities ? names.map((n) => String(a.probabilities![n])) : [];
      lines.push([csvField(a.class), ...ps].join(','));
    }
  } else {
    const columns =
      p.kind === 'table' && p.target.task === 'regress' ? p.target.columns.map((c) => c.name) : [];
    lines.push(columns.map(csvField).join(','));
    for (const a of result) if ('values' in a) lines.push(columns.map((c) => String(a.values[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** RFC 4180: quoted when it holds a comma, a quote or a line break. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function toJsonLines(result: readonly Answer[]): string {
  return result.map((a) => `${JSON.stringify('values' in a ? a.values : a)}\n`).join('');
}
