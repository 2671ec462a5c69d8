import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { loadModel } from '../io/model-file.js';
import { encodeOnnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from '../io/onnx-export.js';
import { checkWritableTarget } from '../io/paths.js';
import { withValues } from './flags.js';

const FORMATS = ['onnx'];

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'write a model in another format (ONNX), for runtimes without gradpool',
  builder: (y: Argv) =>
    y
      .options(
        withValues({
          model: { type: 'string', describe: 'model file (safetensors)', demandOption: true },
          format: { type: 'string', describe: FORMATS.join(' | '), default: 'onnx' },
          out: { type: 'string', describe: 'the file to write', demandOption: true },
        }),
      )
      .example(
        '$0 export --model model.safetensors --out model.onnx',
        'an ONNX graph taking raw pixel values',
      ),
  handler: (argv: ArgumentsCamelCase) => {
    const format = String(argv.format);
    if (!FORMATS.includes(format))
      throw new UsageError(
        (name) => `${name('format')} must be one of ${FORMATS.join(', ')}, got '${format}'`,
        'format',
      );
    const out = String(argv.out);
    checkWritableTarget(out, 'out');
    if (resolve(out) === resolve(String(argv.model)))
      throw new UsageError((name) => `${name('out')} ${out} is the model being exported`, 'out');
    const model = loadModel(String(argv.model));
    if (model.preprocessing && model.preprocessing.kind !== 'image')
      throw new UsageError(
        'ONNX export of CSV (table) models is not available yet: their standardisation and one-hot nodes are still to come',
      );
    writeFileAtomic(out, [encodeOnnx(model, packageVersion())]);
    const { sizes } = model.layout;
    process.stdout.write(
      `wrote ${out}: ONNX opset ${ONNX_OPSET}, ${sizes.join('-')} ${model.layout.activation}; ` +
        `input '${ONNX_INPUT}' float [N, ${sizes[0]}] of raw pixel values (0–255), ` +
        `output '${ONNX_OUTPUT}' float [N, ${sizes[sizes.length - 1]}]\n`,
    );
  },
};

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}
