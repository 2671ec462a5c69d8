import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { loadModel } from '../io/model-file.js';
import { encodeOnnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, ONNX_VALUES } from '../io/onnx-export.js';
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
    writeFileAtomic(out, [encodeOnnx(model, packageVersion())]);
    const { sizes } = model.layout;
    const p = model.preprocessing;
    const inputs =
      p?.kind === 'table'
        ? `inputs ${p.inputs.map((c) => `'${c.name}' ${c.kind === 'number' ? 'double' : 'string'} [N, 1]`).join(', ')}`
        : `input '${ONNX_INPUT}' float [N, ${sizes[0]}] of raw pixel values (0–255)`;
    const output = p?.kind === 'table' && p.target.task === 'regress' ? ONNX_VALUES : ONNX_OUTPUT;
    process.stdout.write(
      `wrote ${out}: ONNX opset ${ONNX_OPSET}, ${sizes.join('-')} ${model.layout.activation}; ` +
        `${inputs}, output '${output}' float [N, ${sizes[sizes.length - 1]}]\n`,
    );
  },
};

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}
