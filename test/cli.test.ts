import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/io/model-file.js';
import { TrainingInterrupted, train } from '../src/train/trainer.js';
import { runCli, tempDir, writeIdxFolder } from './helpers.js';
import { FASHION_MNIST, needs } from './requirements.js';

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('gradpool train: bad input', () => {
  const cases: [string[], RegExp][] = [
    [['--threads', '0'], /--threads must be ≥ 1, got 0/],
    [['--threads', 'abc'], /--threads must be a whole number, got 'abc'/],
    [['--hidden', 'abc'], /--hidden must be a whole number, got 'abc'/],
    [['--hidden', '64,'], /--hidden/],
    [['--lr', '-1'], /--lr must be > 0, got -1/],
    [['--momentum', '1'], /--momentum must be < 1, got 1/],
    [['--epochs', '1.5'], /--epochs must be a whole number, got '1.5'/],
    [['--activation', 'gelu'], /^gradpool: --activation must be one of relu, tanh, sigmoid, got 'gelu'\n$/],
    [['--frobnicate'], /^gradpool: unknown flag --frobnicate\n$/],
    // yargs lists a kebab-case flag twice (label-smoothing, labelSmoothing); a typo gets the nearest flag
    [['--label-smoothing', '0.1'], /^gradpool: unknown flag --label-smoothing\n$/],
    [['--thread', '2'], /^gradpool: unknown flag --thread \(did you mean --threads\?\)\n$/],
    [['--labelSmoothing', '0.1'], /^gradpool: unknown flag --labelSmoothing\n$/],
    // the recipes' settings (issue 14): each refused with the flag it is about
    [['--optimizer', 'adam', '--beta1', '1'], /^gradpool: --beta1 must be < 1, got 1\n$/],
    [['--optimizer', 'adamw', '--eps', '0'], /^gradpool: --eps must be > 0, got 0\n$/],
    [['--dropout', '1'], /^gradpool: --dropout must be < 1, got 1\n$/],
    [['--optimizer', 'rmsprop'], /^gradpool: --optimizer must be one of sgd, adam, adamw, got 'rmsprop'\n$/],
    [['--beta1', '0.8'], /^gradpool: --beta1 applies to --optimizer adam, adamw; this run's is sgd\n$/],
    [
      ['--optimizer', 'adam', '--nesterov'],
      /^gradpool: --nesterov applies to --optimizer sgd; this run's is adam\n$/,
    ],
    [['--lr-min', '0.001'], /^gradpool: --lr-min applies to --lr-schedule cosine; this run's is constant\n$/],
    [
      ['--lr-schedule', 'onecycle', '--warmup-steps', '5'],
      /^gradpool: --warmup-steps applies to --lr-schedule constant, step, cosine; this run's is onecycle\n$/,
    ],
    [
      ['--warmup-steps', '5', '--warmup-epochs', '1'],
      /^gradpool: give --warmup-steps or --warmup-epochs, not both\n$/,
    ],
    // mnist's 8,000 training rows in batches of 128: 63 steps an epoch
    [
      ['--epochs', '1', '--warmup-steps', '63'],
      /^gradpool: --warmup-steps: a warm-up of 63 steps does not end within the run's 63 \(1 epochs of 63\)\n$/,
    ],
    [
      ['--validation-split', '0.999'],
      /^gradpool: --validation-split 0.999 leaves 8 training rows, fewer than a --batch-size of 128\n$/,
    ],
    [
      ['--early-stopping', '3'],
      /^gradpool: --early-stopping 3 needs a validation split: add --validation-split \(e.g. 0.1\)\n$/,
    ],
    [
      ['--keep', 'best'],
      /^gradpool: --keep best needs a validation split: add --validation-split \(e.g. 0.1\)\n$/,
    ],
    [
      ['--validation-split', '0.1', '--min-delta', '0.01', '--keep', 'last'],
      /^gradpool: --min-delta applies with --early-stopping or --keep best\n$/,
    ],
    [['--nesterov', 'yes'], /^gradpool: unexpected argument 'yes'\n$/],
    [['--nesterov', '--momentum', '0'], /^gradpool: --nesterov needs --momentum > 0\n$/],
    [
      ['--warmup-start-factor', '0.5'],
      /^gradpool: --warmup-start-factor applies with --warmup-steps or --warmup-epochs\n$/,
    ],
    [['mnist'], /^gradpool: unexpected argument 'mnist'\n$/],
    [['--data'], /^gradpool: --data needs a value\n$/],
    [['--threads'], /^gradpool: --threads needs a value\n$/],
    [['--out'], /^gradpool: --out needs a value\n$/],
    [
      ['--data', '/some/dir'],
      /unknown dataset '\/some\/dir'.*; for the IDX folder \/some\/dir, write idx:\/some\/dir\n$/,
    ],
    [['--batch-size', '9000'], /--batch-size 9000 is larger than the 8000 training rows/],
    [['--data', 'cifar'], /unknown dataset 'cifar'/],
    [['--log', 'xml'], /--log must be pretty or json/],
    [['--checkpoint-every', '0', '--checkpoint', 'c.ckpt'], /--checkpoint-every must be ≥ 1, got 0/],
    [['--checkpoint-every', '5'], /--checkpoint-every needs --checkpoint FILE/],
    [
      ['--hidden', '60000', '--batch-size', '8000', '--threads', '1'],
      /784-60000-10 in batches of 8000 rows on 1 thread needs 4\.\d GiB of working memory; WebAssembly's limit is 4 GiB: lower --batch-size, --hidden or --threads/,
    ],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: exit 2, one line, nothing written`, (t) => {
      const out = join(tempDir(t), 'm.safetensors');
      const r = runCli([
        'train',
        ...args,
        '--out',
        out,
        ...(args.includes('--epochs') ? [] : ['--epochs', '1']),
      ]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
      assert.ok(!existsSync(out), 'no model file');
    });
  }

  // each command's flags that take a value: given none, one line and exit 2 (yargs' own error,
  // an internal error with a stack before; serve --port silently took its default)
  const noValue: string[][] = [
    ['train', '--epochs'],
    ['eval', '--model'],
    ['bench', '--threads'],
    ['bench', '--seconds'],
    ['bench', '--rounds'],
    ['serve', '--port'],
    ['serve', '--data-dir'],
    ['worker', '--threads'],
  ];
  for (const args of noValue) {
    it(`${args.join(' ')} with no value: exit 2, one line`, () => {
      const r = runCli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `gradpool: ${args[1]} needs a value\n`);
    });
  }

  it('an unknown command: exit 2 naming the nearest one', () => {
    const r = runCli(['trian', '--epochs', '1']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "gradpool: unknown command 'trian' (did you mean train?)\n");
  });

  it('refuses to write the model over its own checkpoint or the one it resumes', (t) => {
    const dir = tempDir(t);
    const ckpt = join(dir, 'run.ckpt');
    const same = runCli(['train', '--hidden', '8', '--epochs', '1', '--out', ckpt, '--checkpoint', ckpt]);
    assert.equal(same.status, 2, same.stderr);
    assert.match(
      same.stderr,
      /--out and --checkpoint name the same file, \S+run\.ckpt: the model would replace the checkpoint/,
    );
    assert.ok(!existsSync(ckpt), 'nothing written');
    const first = runCli([
      'train',
      '--hidden',
      '8',
      '--epochs',
      '1',
      '--out',
      join(dir, 'm'),
      '--checkpoint',
      ckpt,
    ]);
    assert.equal(first.status, 0, first.stderr);
    const saved = readFileSync(ckpt);
    const over = runCli(['train', '--resume', ckpt, '--epochs', '2', '--out', ckpt]);
    assert.equal(over.status, 2, over.stderr);
    assert.match(
      over.stderr,
      /--out \S+run\.ckpt is the checkpoint being resumed: the model would replace it/,
    );
    assert.ok(readFileSync(ckpt).equals(saved), 'the checkpoint is untouched');
  });

  it('a corrupt IDX file: exit 2 naming the file', (t) => {
    const dir = tempDir(t);
    for (const name of [
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ]) {
      writeFileSync(join(dir, name), Buffer.from([0, 0, 8, name.includes('images') ? 3 : 1, 0, 0, 0, 1]));
    }
    const r = runCli(['train', '--data', `idx:${dir}`, '--out', join(dir, 'm.safetensors')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /train-images-idx3-ubyte: truncated header: expected 16 bytes, found 8/);
  });

  it('--out in a folder that does not exist: exit 2 before training', (t) => {
    const r = runCli(['train', '--out', join(tempDir(t), 'no/such/m.safetensors')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /does not exist/);
  });
});

/**
 * SHA-256 of the parameters `gradpool train` (mnist, 784-256-128-10 relu, 10 epochs, every
 * default) writes, by kernel build; the same for any --threads (measured at 1 and 2 before
 * the restructuring of issue 13, commit 3777cc7).
 */
const DEFAULT_RECIPE_WEIGHTS: Record<string, string> = {
  'wasm-simd': 'd7f492d787671f8b8f595ef02156962d9d2b56554fa349331969516e0581b965',
  'wasm-relaxed-simd': '74edbdde46d0b6dc4fd91d7451d881820aef6b9d6fcd787a723a9d83b4797ded',
};

const paramsHash = (p: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
    .digest('hex');

describe('gradpool train and eval', () => {
  it('writes the same model bytes for --threads 1, 2, 3 and 4', (t) => {
    const dir = tempDir(t);
    const files = [1, 2, 3, 4].map((threads) => {
      const out = join(dir, `m${threads}.safetensors`);
      const r = runCli([
        'train',
        '--hidden',
        '48',
        '--epochs',
        '1',
        '--threads',
        String(threads),
        '--seed',
        '17',
        '--out',
        out,
        '--log',
        'json',
      ]);
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(out);
    });
    for (const f of files.slice(1)) assert.ok(f.equals(files[0]), 'model files differ');
  });

  it('defaults on mnist reach ≥ 95 % test accuracy; JSON lines carry every metric; eval agrees', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'model.safetensors');
    const r = runCli(['train', '--threads', '2', '--out', out]); // stdout is a pipe: JSON lines
    assert.equal(r.status, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    const epochs = lines.filter((l) => l.event === 'epoch');
    assert.equal(epochs.length, 10);
    for (const e of epochs) {
      for (const key of [
        'epoch',
        'trainLoss',
        'trainAccuracy',
        'testLoss',
        'testAccuracy',
        'samplesPerSec',
        'seconds',
      ]) {
        assert.equal(typeof e[key], 'number', `${key} in ${JSON.stringify(e)}`);
      }
    }
    const done = lines[lines.length - 1];
    assert.equal(done.event, 'done');
    assert.ok((done.testAccuracy as number) >= 0.95, `test accuracy ${done.testAccuracy}`);
    assert.equal(done.model, out);
    // the default recipe's weights, pinned per kernel arithmetic: restructuring must not move a bit
    const kernels = String(lines[0].kernels);
    assert.ok(kernels in DEFAULT_RECIPE_WEIGHTS, `no pinned hash for ${kernels}`);
    assert.equal(paramsHash(loadModel(out).params), DEFAULT_RECIPE_WEIGHTS[kernels]);

    const ev = runCli(['eval', '--model', out, '--data', 'mnist', '--json', '--threads', '1']);
    assert.equal(ev.status, 0, ev.stderr);
    const e = JSON.parse(ev.stdout);
    assert.equal(e.accuracy, done.testAccuracy);
    assert.equal(e.loss, done.testLoss);
    assert.equal(e.confusion.length, 10);
    assert.equal(
      e.confusion.flat().reduce((a: number, b: number) => a + b, 0),
      2000,
    );
    assert.equal(
      e.confusion.reduce((a: number, row: number[], i: number) => a + row[i], 0),
      Math.round(e.accuracy * 2000),
    );

    const pretty = runCli(['eval', '--model', out]);
    assert.equal(pretty.status, 0);
    assert.match(pretty.stdout, /784-256-128-10 relu on mnist: accuracy \d+\.\d+ %/);
  });

  it('pretty output: a table row per epoch and a summary', (t) => {
    const out = join(tempDir(t), 'm.safetensors');
    const r = runCli(['train', '--hidden', '32', '--epochs', '2', '--log', 'pretty', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /epoch\s+train loss\s+train acc\s+test loss\s+test acc\s+lr\s+samples\/s\s+seconds/,
    );
    assert.match(r.stdout, /2\/2\s+\d\.\d{4}\s+\d+\.\d\d%/);
    assert.match(r.stdout, /done in \d+\.\d s: test accuracy \d+\.\d\d %/);
    assert.doesNotMatch(r.stdout, /note:/, 'the default is one thread per core');
  });

  it('says when there are more threads than cores; the JSON start event names the cores', (t) => {
    const cores = availableParallelism();
    const out = join(tempDir(t), 'm.safetensors');
    const args = ['train', '--hidden', '8', '--epochs', '1', '--threads', String(cores + 1), '--out', out];
    const pretty = runCli([...args, '--log', 'pretty']);
    assert.equal(pretty.status, 0, pretty.stderr);
    assert.match(
      pretty.stdout,
      new RegExp(`note: ${cores + 1} threads on ${cores} cores?: .* --threads ${cores} is faster here`),
    );
    const start = jsonLines(runCli([...args, '--log', 'json']).stdout)[0];
    assert.equal(start.event, 'start');
    assert.equal(start.cores, cores);
  });

  it('eval refuses a file that is not a gradpool model: exit 2', (t) => {
    const path = join(tempDir(t), 'x.safetensors');
    writeFileSync(path, 'not a model');
    const r = runCli(['eval', '--model', path]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /x.safetensors: not a valid gradpool model: header length/);
  });

  it('eval refuses a model whose shape does not fit the data: exit 2, naming the data it was trained on', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    assert.equal(runCli(['train', '--hidden', '8', '--epochs', '1', '--out', out]).status, 0);
    const data = join(dir, 'idx');
    writeIdxFolder(data, 20, 10, 14);
    const r = runCli(['eval', '--model', out, '--data', `idx:${data}`]);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      `gradpool: the model expects 784 inputs and 10 outputs; idx:${data} has 196 and 10; the model was trained on mnist\n`,
    );
  });
});

describe('the reference recipe on Fashion-MNIST', needs(FASHION_MNIST), () => {
  it('784-256-128-10 relu, lr 0.05, momentum 0.9, batch 128, 10 epochs, 2 threads: ≥ 87 % test accuracy', (t) => {
    const out = join(tempDir(t), 'f.safetensors');
    const r = runCli([
      'train',
      '--data',
      'fashion-mnist',
      '--hidden',
      '256,128',
      '--epochs',
      '10',
      '--threads',
      '2',
      '--lr',
      '0.05',
      '--momentum',
      '0.9',
      '--batch-size',
      '128',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    const done = lines[lines.length - 1];
    assert.ok((done.testAccuracy as number) >= 0.87, `test accuracy ${done.testAccuracy}`);
  });
});

describe('what train and eval tell the user', () => {
  it('resuming says where it resumed; a finished checkpoint says there is nothing to train and writes its model', async (t) => {
    const dir = tempDir(t);
    const ckpt = join(dir, 'run.ckpt');
    const resume = (log: string, out: string, more: string[] = []) =>
      runCli(['train', '--resume', ckpt, ...more, '--log', log, '--out', join(dir, out)]);
    // a run stopped 7 steps into its second epoch (63 steps each), as Ctrl-C would stop it
    await assert.rejects(
      train({ hidden: [16], epochs: 2, threads: 2 }, { stopAfterStep: 70, checkpoint: { path: ckpt } }),
      TrainingInterrupted,
    );
    const pretty = resume('pretty', 'a.safetensors', ['--epochs', '2']);
    assert.equal(pretty.status, 0, pretty.stderr);
    assert.match(pretty.stdout, /\nresumed at epoch 2, step 7 of 63\n/);
    const json = resume('json', 'b.safetensors', ['--epochs', '2']);
    assert.deepEqual(jsonLines(json.stdout)[0].resumed, {
      epoch: 2,
      step: 7,
      finished: false,
      stoppedEarly: false,
    });
    // the checkpoint of a finished 1-epoch run has nothing left at its own --epochs 1
    assert.equal(
      runCli([
        'train',
        '--hidden',
        '16',
        '--epochs',
        '1',
        '--checkpoint',
        ckpt,
        '--out',
        join(dir, 'c.safetensors'),
      ]).status,
      0,
    );
    const done = resume('pretty', 'd.safetensors');
    assert.equal(done.status, 0, done.stderr);
    assert.match(
      done.stdout,
      /\nthe checkpoint has finished its 1 epoch: nothing left to train \(more with --epochs 2 or above\)\n/,
    );
    assert.doesNotMatch(done.stdout, /train loss/, 'no empty table');
    assert.deepEqual(
      loadModel(join(dir, 'd.safetensors')).params,
      loadModel(join(dir, 'c.safetensors')).params,
    );
    assert.deepEqual(jsonLines(resume('json', 'e.safetensors').stdout)[0].resumed, {
      epoch: 2,
      step: 0,
      finished: true,
      stoppedEarly: false,
    });
  });

  it('eval: a model file with one flipped weight bit is refused naming the file', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    assert.equal(runCli(['train', '--hidden', '16', '--epochs', '1', '--out', out]).status, 0);
    const bytes = readFileSync(out);
    bytes[bytes.length - 100] ^= 0x04;
    const flipped = join(dir, 'flipped.safetensors');
    writeFileSync(flipped, bytes);
    const r = runCli(['eval', '--model', flipped]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `gradpool: ${flipped}: not a valid gradpool model: checksum mismatch: the file was changed or damaged after it was written\n`,
    );
    assert.equal(runCli(['eval', '--model', out]).status, 0, 'the untouched file evaluates');
  });

  it('eval uses the data the model was trained on, and says so when told other data', (t) => {
    const dir = tempDir(t);
    const folder = join(dir, 'digits');
    writeIdxFolder(folder, 200, 50);
    const out = join(dir, 'm.safetensors');
    assert.equal(
      runCli([
        'train',
        '--data',
        `idx:${folder}`,
        '--hidden',
        '16',
        '--epochs',
        '1',
        '--batch-size',
        '50',
        '--out',
        out,
      ]).status,
      0,
    );
    const own = runCli(['eval', '--model', out, '--json']);
    assert.equal(own.status, 0, own.stderr);
    assert.equal(JSON.parse(own.stdout).data, `idx:${folder}`);
    assert.equal(JSON.parse(own.stdout).count, 50);
    const other = runCli(['eval', '--model', out, '--data', 'mnist']);
    assert.equal(other.status, 0, other.stderr);
    assert.equal(
      other.stderr,
      `gradpool: note: the model was trained on idx:${folder}; evaluating on mnist\n`,
    );
    assert.match(other.stdout, / on mnist: accuracy /);
  });
});
