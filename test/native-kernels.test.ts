import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadNativeAddon, nativeSourcesHash } from '../src/nn/kernels/native.js';
import type { Kernels } from '../src/nn/kernels/types.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { compileWasmVariant } from '../src/nn/kernels/wasm-module.js';
import type { KernelChoice, TrainConfig } from '../src/train/config.js';
import { resolveKernels } from '../src/train/kernels.js';
import { train } from '../src/train/trainer.js';
import {
  arena,
  classTable,
  fill,
  kernelsOn,
  NATIVE_VARIANTS,
  NODE,
  priceTable,
  projectWithAddon,
  ROOT,
  runCli,
  syntheticDataset,
  tempDir,
} from './helpers.js';
import { needs } from './requirements.js';

// The native kernels compute each arithmetic in the wasm kernels' order, so their results are
// the same bits, not merely close: every kernel against the wasm build of its arithmetic on
// shapes that hit every tile and tail, split by rows and outputs as the pool splits them; then
// whole trainings, byte for byte, at several thread counts. Closeness to the naive kernels is
// tested with the other builds (kernels.test.ts runs every native variant too).

const NATIVE = {
  what: 'the native kernels',
  install: 'npm install builds them; it needs a C compiler and Node headers',
  present: loadNativeAddon().addon !== null,
};

/** One wasm build and one native variant of the same arithmetic, over one memory. */
async function twins(variant: string) {
  const fused = variant.endsWith('fused');
  const { module } = await compileWasmVariant(fused ? 'relaxed' : 'simd');
  if (!module) return null;
  const { memory, m } = arena(3_000_000);
  const wasm = await instantiateWasmKernels(memory, module);
  const native = await kernelsOn(variant, memory);
  return { m, bits: new Uint32Array(m.buffer), wasm, native };
}

/** Deterministic inputs with about 40 % exact zeros (the kernels' sparse paths) and some whole zero rows. */
/**
 * rows × cols with 3/8 of the entries zero and row 1 all zero; from row `bordersFrom` on, the
 * first eighth of the groups of 4 columns zero in every row too (MNIST's borders), so the
 * forward's passes over those rows skip them and the passes over the first rows do not.
 */
function sparseFill(
  m: Float32Array,
  at: number,
  rows: number,
  cols: number,
  seed: number,
  bordersFrom = rows,
): void {
  fill(m, at, rows * cols, seed);
  let x = seed * 7919 + 1;
  for (let i = 0; i < rows * cols; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (x >>> 29 < 3) m[at + i] = 0;
  }
  if (rows > 2) m.fill(0, at + cols, at + 2 * cols);
  const border = Math.min(cols, 4 * Math.ceil(Math.floor(cols / 4) / 8));
  for (let r = bordersFrom; r < rows; r++) m.fill(0, at + r * cols, at + r * cols + border);
}

function assertSameBits(bits: Uint32Array, a: number, b: number, n: number, what: string): void {
  for (let i = 0; i < n; i++) {
    if (bits[a + i] !== bits[b + i]) {
      const f = new Float32Array(bits.buffer);
      assert.fail(`${what}: float ${i} is ${f[b + i]}, wasm ${f[a + i]}`);
    }
  }
}

// B×I×O: 1 and odd widths hit every vector tail; 784×256 at 128 rows and 4-row shards is the reference recipe
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 4],
  [5, 9, 3],
  [7, 13, 5],
  [9, 17, 33],
  [16, 31, 15],
  [33, 100, 10],
  [8, 784, 256],
  [128, 784, 256],
  [128, 256, 128],
];
const ROW_SPLITS = [128, 16, 8, 5, 4, 1];

describe('native kernels give the bits of the wasm build of their arithmetic', needs(NATIVE), () => {
  for (const variant of NATIVE_VARIANTS) {
    describe(`${variant} = wasm-${variant.endsWith('fused') ? 'relaxed-simd' : 'simd'}`, () => {
      for (const [B, I, O] of SHAPES) {
        it(`the three products, ${B}×${I}×${O}, split by rows and by blocks of outputs`, async (t) => {
          const k = await twins(variant);
          if (!k) return t.skip('that wasm build does not run here');
          const { m, bits } = k;
          const a = 16384;
          const w = a + B * I;
          const bias = w + O * I;
          const dz = bias + O;
          const out = [dz + B * O, 0];
          out[1] = out[0] + B * Math.max(I, O) + O * I + O;
          const pack = out[1] + B * Math.max(I, O) + O * I + O;
          sparseFill(m, a, B, I, 1, Math.floor(B / 2));
          fill(m, w, O * I + O, 2);
          sparseFill(m, dz, B, O, 3);
          const run = (kk: Kernels, at: number, rows: number) => {
            for (let r = 0; r < B; r += rows) {
              const n = Math.min(rows, B - r);
              kk.linearForward(at + r * O, a + r * I, w, bias, n, I, O, pack);
            }
          };
          run(k.wasm, out[0], B);
          for (const rows of ROW_SPLITS.filter((s) => s <= B)) {
            m.fill(0, out[1], out[1] + B * O);
            run(k.native, out[1], rows);
            assertSameBits(bits, out[0], out[1], B * O, `forward, shards of ${rows} rows`);
          }
          // a shard's last 1–3 rows are summed without fused multiply-adds (as in wasm), so this
          // product is compared split for split; a batch's shards are 4 rows but for its last
          for (const rows of ROW_SPLITS.filter((s) => s <= B)) {
            for (const [kk, at] of [
              [k.wasm, out[0]],
              [k.native, out[1]],
            ] as const) {
              m.fill(0, at, at + B * I);
              for (let r = 0; r < B; r += rows) {
                const n = Math.min(rows, B - r);
                kk.linearBackwardInput(at + r * I, dz + r * O, w, n, I, O, pack);
              }
            }
            assertSameBits(bits, out[0], out[1], B * I, `input gradient, shards of ${rows} rows`);
          }
          // the weight gradient: whole, then in blocks of 8 and 4 outputs as threads take them
          k.wasm.linearBackwardParams(out[0], out[0] + O * I, dz, a, B, I, O, 0, O, pack);
          for (const block of [O, 8, 4]) {
            m.fill(0, out[1], out[1] + O * I + O);
            for (let o0 = 0; o0 < O; o0 += block) {
              const o1 = Math.min(O, o0 + block);
              k.native.linearBackwardParams(
                out[1] + o0 * I,
                out[1] + O * I + o0,
                dz,
                a,
                B,
                I,
                O,
                o0,
                o1,
                pack,
              );
            }
            assertSameBits(bits, out[0], out[1], O * I + O, `weight gradient, blocks of ${block} outputs`);
          }
        });
      }

      it('activations, forward and backward, on ordinary and extreme values', async (t) => {
        const k = await twins(variant);
        if (!k) return t.skip('that wasm build does not run here');
        const { m, bits } = k;
        const n = 20_003;
        const [x, d, y] = [16384, 16384 + n, 16384 + 2 * n];
        const out = 16384 + 3 * n;
        const special = [
          0,
          -0,
          1e-45,
          -1e-45,
          1e-38,
          88.7,
          -88.7,
          89,
          -104,
          710,
          1e30,
          -1e30,
          Infinity,
          -Infinity,
        ];
        for (let act = 0; act < 3; act++) {
          for (let i = 0; i < n; i++)
            m[x + i] = i < special.length ? special[i] : ((i * 40503) % 60001) / 1000 - 30;
          fill(m, d, n, 5);
          m.copyWithin(y, x, x + n);
          k.wasm.activationForward(act, x, n);
          k.native.activationForward(act, y, n);
          assertSameBits(bits, x, y, n, `activation ${act} forward`);
          m.copyWithin(out, d, d + n);
          k.wasm.activationBackward(act, d, x, n);
          k.native.activationBackward(act, out, x, n);
          assertSameBits(bits, d, out, n, `activation ${act} backward`);
        }
      });

      it('softmax cross-entropy: the same gradient bits and the same loss', async (t) => {
        const k = await twins(variant);
        if (!k) return t.skip('that wasm build does not run here');
        const { m, bits } = k;
        for (const C of [1, 2, 3, 10, 17]) {
          const B = 37;
          const [logits, copy, labels] = [16384, 16384 + B * C, 16384 + 2 * B * C];
          fill(m, logits, B * C, C, -20, 20);
          for (let r = 0; r < B; r++) m[labels + r] = (r * 7) % C;
          m.copyWithin(copy, logits, logits + B * C);
          const lossWasm = k.wasm.softmaxCrossEntropy(logits, labels, B, C);
          const lossNative = k.native.softmaxCrossEntropy(copy, labels, B, C);
          assert.equal(lossNative, lossWasm, `loss, ${C} classes`);
          assertSameBits(bits, logits, copy, B * C, `softmax gradient, ${C} classes`);
        }
      });

      it('SGD and Adam updates, every setting that changes a term, in place and into the other copy', async (t) => {
        const k = await twins(variant);
        if (!k) return t.skip('that wasm build does not run here');
        const { m, bits } = k;
        const n = 1003;
        const [w, s1, s2, g] = [16384, 16384 + n, 16384 + 2 * n, 16384 + 3 * n];
        const outs = [16384 + 4 * n, 16384 + 7 * n];
        const reset = () => {
          fill(m, w, n, 21);
          fill(m, s1, n, 22, -0.1, 0.1);
          for (let i = 0; i < n; i++) m[s2 + i] = Math.abs(m[s1 + i]) * 0.01;
          fill(m, g, n, 23);
        };
        for (const [lr, momentum, wd, nesterov] of [
          [0.1, 0, 0, 0],
          [0.05, 0.9, 5e-4, 0],
          [0.05, 0.9, 5e-4, 1],
        ]) {
          const results = [k.wasm, k.native].map((kk, i) => {
            reset();
            kk.sgdUpdate(w, s1, outs[i], outs[i] + n, g, n, lr, momentum, wd, 1 / 128, nesterov);
            kk.sgdUpdate(
              outs[i],
              outs[i] + n,
              outs[i],
              outs[i] + n,
              g,
              n,
              lr,
              momentum,
              wd,
              1 / 128,
              nesterov,
            );
            return outs[i];
          });
          assertSameBits(
            bits,
            results[0],
            results[1],
            2 * n,
            `SGD lr ${lr} momentum ${momentum} nesterov ${nesterov}`,
          );
        }
        for (const [wd, decay] of [
          [0, 1],
          [0.01, 1],
          [0, 1 - 1e-3 * 0.01],
        ]) {
          const results = [k.wasm, k.native].map((kk, i) => {
            reset();
            const [p, mm, v] = [outs[i], outs[i] + n, outs[i] + 2 * n];
            kk.adamUpdate(
              w,
              s1,
              s2,
              p,
              mm,
              v,
              g,
              n,
              1e-3 / 0.1,
              0.9,
              0.999,
              1e-8,
              wd,
              decay,
              1 / Math.sqrt(0.001),
              1 / 128,
            );
            kk.adamUpdate(
              p,
              mm,
              v,
              p,
              mm,
              v,
              g,
              n,
              1e-3 / 0.19,
              0.9,
              0.999,
              1e-8,
              wd,
              decay,
              1 / Math.sqrt(0.002),
              1 / 128,
            );
            return outs[i];
          });
          assertSameBits(bits, results[0], results[1], 3 * n, `Adam weight decay ${wd}, decay ${decay}`);
        }
      });
    });
  }
});

describe('native kernels refuse what would read or write outside their operands', needs(NATIVE), () => {
  it('a range past the arena, a row not in the inputs, rows past their end, the wrong arrays', async () => {
    const { memory, m } = arena(100_000);
    const k = await kernelsOn(NATIVE_VARIANTS[0], memory);
    const floats = m.length;
    assert.throws(
      () => k.linearForward(floats - 10, 0, 0, 0, 4, 8, 8, 1000),
      (e: Error) =>
        e instanceof RangeError &&
        /^linearForward: out \(floats \d+ … \d+\) is outside the arena/.test(e.message),
    );
    // rows outStride apart: the last row ends at 3·100 + 8 floats past out, not 4·8
    assert.throws(
      () => k.linearForward(floats - 200, 0, 0, 0, 4, 8, 8, 1000, 100),
      (e: Error) =>
        e instanceof RangeError && /^linearForward: out \(floats \d+ … \d+\) is outside/.test(e.message),
    );
    k.linearForward(floats - 308, 0, 0, 0, 4, 8, 8, 1000, 100);
    assert.throws(
      () => k.linearForward(0, 0, 0, 0, 4, 8, 8, 1000, 7),
      (e: Error) =>
        e instanceof RangeError && /^linearForward: outStride = 7 is less than O = 8/.test(e.message),
    );
    const images = new Uint8Array(new SharedArrayBuffer(5 * 16));
    const features = new Float32Array(5 * 16);
    const cases: [() => void, ErrorConstructor, RegExp][] = [
      [
        () => k.gatherInputs(0, images, Int32Array.of(5, 0), 0, 2, 16),
        RangeError,
        /row 5 \(rows\[0\]\) is not a row of the inputs \(5 rows\)/,
      ],
      [
        () => k.gatherInputs(0, images, Int32Array.of(0, -1), 1, 1, 16),
        RangeError,
        /row -1 \(rows\[1\]\) is not a row/,
      ],
      [
        () => k.gatherInputs(0, images, Int32Array.of(0, 1), 1, 2, 16),
        RangeError,
        /rows \[1, 3\) are past the end of rows \(2\)/,
      ],
      [
        () => k.gatherInputs(0, images, new Int32Array(0), 0, 1, 16),
        RangeError,
        /rows \[0, 1\) are past the end of rows \(0\)/,
      ],
      [
        () => k.gatherInputs(0, features, null, 4, 2, 16),
        RangeError,
        /rows \[4, 6\) are past the inputs' 5 rows/,
      ],
      [() => k.gatherInputs(floats - 8, images, null, 0, 1, 16), RangeError, /dst .* is outside the arena/],
      [
        () => k.gatherInputs(0, new Float64Array(80) as never, null, 0, 1, 16),
        TypeError,
        /inputs must be a Uint8Array or a Float32Array/,
      ],
      [
        () => k.gatherInputs(0, images, Uint32Array.of(0) as never, 0, 1, 16),
        TypeError,
        /rows must be an Int32Array or null/,
      ],
    ];
    m.fill(7, 0, 64);
    for (const [call, type, message] of cases)
      assert.throws(
        call,
        (e: Error) => e instanceof type && e.message.startsWith('gatherInputs: ') && message.test(e.message),
      );
    assert.ok(
      m.subarray(0, 64).every((x) => x === 7),
      'a refused gather writes nothing',
    );
    // a bad row after good ones: those before it are written, then the refusal names it
    images.fill(51);
    assert.throws(() => k.gatherInputs(0, images, Int32Array.of(2, 9), 0, 2, 16), /row 9 \(rows\[1\]\)/);
    assert.ok(
      m.subarray(0, 16).every((x) => x === Math.fround(51 / 255)),
      'row 2 was gathered',
    );
    assert.ok(
      m.subarray(16, 64).every((x) => x === 7),
      'nothing for the bad row',
    );
  });
});

describe('native and wasm kernels train the same bytes', needs(NATIVE), () => {
  const dataset = syntheticDataset(600, 100, 40, 3);
  const recipes: Partial<TrainConfig>[] = [
    { activation: 'relu', optimizer: 'sgd', momentum: 0.9 },
    { activation: 'tanh', optimizer: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    { activation: 'sigmoid', optimizer: 'adam', lr: 0.01 },
    { activation: 'relu', optimizer: 'adamw', lr: 0.01, dropout: 0.2 },
  ];
  for (const recipe of recipes) {
    const name = `${recipe.activation}, ${recipe.optimizer}${recipe.dropout ? ', dropout' : ''}`;
    it(`${name}: native at 1, 2 and 3 threads = wasm at 1`, async () => {
      // 72 hidden units: blocks of 32, 16 and 8 outputs at 1, 2 and 3 threads (blockOutputs)
      const base = { ...recipe, hidden: [72, 12], epochs: 2, batchSize: 50, seed: 11 };
      const wasm = await train({ ...base, kernels: 'wasm', threads: 1 }, { dataset });
      for (const threads of [1, 2, 3]) {
        const native = await train({ ...base, kernels: 'native', threads }, { dataset });
        assert.equal(native.kernels, wasm.kernels, 'the same arithmetic');
        assert.deepEqual(native.model.params, wasm.model.params, `${threads} threads`);
      }
    });
  }

  it("the first layer's forward by output neurons: native at 2 and 3 threads = wasm at 1, with and without dropout", async () => {
    // 192 first-layer units: slices of 96 and 64 outputs at 2 and 3 threads (firstLayerSlices)
    for (const recipe of [recipes[0], recipes[3]]) {
      const base = { ...recipe, hidden: [192, 12], epochs: 2, batchSize: 50, seed: 11 };
      const wasm = await train({ ...base, kernels: 'wasm', threads: 1 }, { dataset });
      for (const threads of [2, 3]) {
        const native = await train({ ...base, kernels: 'native', threads }, { dataset });
        assert.deepEqual(native.model.params, wasm.model.params, `${threads} threads`);
      }
    }
  });

  it('tables (float features, gathered natively): classification and regression, native at 1 and 3 threads = wasm', async (t) => {
    const dir = tempDir(t);
    for (const [name, table, target] of [
      ['class', classTable(300), 'y'],
      ['price', priceTable(300), 'price'],
    ] as const) {
      const path = join(dir, `${name}.csv`);
      writeFileSync(path, table);
      const base = { data: `csv:${path}`, target: [target], hidden: [16], epochs: 2, batchSize: 32, seed: 5 };
      const wasm = await train({ ...base, kernels: 'wasm', threads: 1 });
      for (const threads of [1, 3]) {
        const native = await train({ ...base, kernels: 'native', threads });
        assert.deepEqual(native.model.params, wasm.model.params, `${name}, ${threads} threads`);
        const scores = (r: typeof wasm) => r.metrics.map(({ seconds, samplesPerSec, ...m }) => m);
        assert.deepEqual(scores(native), scores(wasm), `${name}, ${threads} threads: the metrics too`);
      }
    }
  });

  it('the unfused arithmetic: --kernels wasm-simd runs natively, with the bytes wasm-simd gives on wasm', (t) => {
    const dir = tempDir(t);
    const flags = ['train', '--hidden', '16', '--epochs', '1', '--batch-size', '256', '--log', 'json'];
    // the wasm build of that arithmetic: the native kernels switched off (on x64, V8 without FMA3
    // would choose it too; arm64 always has a fused multiply-add)
    const wasm = runCli([...flags, '--kernels', 'wasm-simd', '--out', join(dir, 'wasm.safetensors')], {
      GRADPOOL_NATIVE_ISA: 'off',
    });
    assert.equal(wasm.status, 0, wasm.stderr);
    const start = JSON.parse(wasm.stdout.split('\n')[0]);
    assert.deepEqual([start.kernels, start.implementation], ['wasm-simd', 'wasm']);
    for (const threads of ['1', '3']) {
      const out = join(dir, `native-${threads}.safetensors`);
      const native = runCli([...flags, '--kernels', 'wasm-simd', '--threads', threads, '--out', out]);
      assert.equal(native.status, 0, native.stderr);
      const s = JSON.parse(native.stdout.split('\n')[0]);
      assert.equal(s.kernels, 'wasm-simd');
      assert.match(s.implementation, /^native (avx|neon)/);
      assert.ok(readFileSync(out).equals(readFileSync(join(dir, 'wasm.safetensors'))), `${threads} threads`);
    }
  });

  it('auto takes the native kernels and the log says which', async (t) => {
    const auto = await resolveKernels('auto');
    assert.equal(auto.name, 'native');
    const out = join(tempDir(t), 'm.safetensors');
    const r = runCli(['train', '--hidden', '8', '--epochs', '1', '--log', 'pretty', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`kernels: ${auto.label} arithmetic, native (avx512|avx2|neon)\\n`));
  });
});

describe('phase 1 claims groups of shards: the bytes and the metrics of one shard at a time', () => {
  // batch 30: 8 shards, the last of 2 rows; 1 thread claims groups of 4, so the short shard
  // shares a call with full ones (fused: its rows' input gradient is the unfused tail), 4
  // threads claim one shard at a time
  const dataset = syntheticDataset(300, 60, 40, 5);
  const choices: KernelChoice[] = ['wasm', ...(NATIVE_VARIANTS.length ? (['native'] as const) : [])];
  for (const kernels of choices) {
    it(`${kernels}: groups of 4 shards (1 thread) = one shard a call (4 threads), with dropout`, async () => {
      const base = { hidden: [20], epochs: 2, batchSize: 30, dropout: 0.25, seed: 9, kernels };
      const one = await train({ ...base, threads: 1 }, { dataset });
      const four = await train({ ...base, threads: 4 }, { dataset });
      assert.deepEqual(one.model.params, four.model.params);
      assert.deepEqual(
        one.metrics.map((e) => [e.trainLoss, e.trainAccuracy, e.testLoss]),
        four.metrics.map((e) => [e.trainLoss, e.trainAccuracy, e.testLoss]),
      );
    });
  }
});

describe('without the native kernels gradpool runs on wasm and says why once', () => {
  for (const [what, addon, reason] of [
    ['not built', undefined, /the addon was not built \(.*gradpool_native\.node is missing/],
    ['not loadable', Buffer.from('not an ELF file'), /the addon does not load: /],
  ] as const) {
    it(`an addon ${what}: auto trains on wasm with a note; --kernels native is refused with the reason`, (t) => {
      const dir = tempDir(t);
      const cli = projectWithAddon(dir, addon);
      const run = (args: string[]) => spawnSync(NODE, [cli, ...args], { encoding: 'utf8' });
      const out = join(dir, 'm.safetensors');
      const auto = run(['train', '--hidden', '8', '--epochs', '1', '--log', 'pretty', '--out', out]);
      assert.equal(auto.status, 0, auto.stderr);
      assert.match(auto.stdout, /kernels: wasm-(relaxed-)?simd arithmetic, wasm\n/);
      const notes = auto.stdout.split('\n').filter((l) => l.startsWith('note: native kernels unavailable: '));
      assert.equal(notes.length, 1, auto.stdout);
      assert.match(notes[0], reason);
      const refused = run(['train', '--kernels', 'native', '--hidden', '8', '--epochs', '1', '--out', out]);
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /^gradpool: --kernels native: native kernels unavailable: /);
      assert.match(refused.stderr, reason);
    });
  }

  it('an addon built from other sources than native/src is not used, and the note says to rebuild it', (t) => {
    if (NATIVE_VARIANTS.length === 0) return t.skip('no native kernels here to copy');
    const dir = tempDir(t);
    const cli = projectWithAddon(dir, readFileSync(join(ROOT, 'native/build/Release/gradpool_native.node')));
    cpSync(join(ROOT, 'native/src'), join(dir, 'native/src'), { recursive: true });
    cpSync(join(ROOT, 'native/binding.gyp'), join(dir, 'native/binding.gyp'));
    const recorded = join(dir, 'native/build/Release/sources.sha256');
    const run = () =>
      spawnSync(
        NODE,
        [cli, 'train', '--kernels', 'native', '--hidden', '8', '--epochs', '1', '--out', join(dir, 'm')],
        {
          encoding: 'utf8',
        },
      );
    writeFileSync(recorded, `${nativeSourcesHash(join(dir, 'native'))}\n`);
    assert.equal(run().status, 0, 'the same sources: it runs');
    writeFileSync(join(dir, 'native/src/linear.c'), '// edited since the build\n', { flag: 'a' });
    const stale = run();
    assert.equal(stale.status, 2);
    assert.match(
      stale.stderr,
      /^gradpool: --kernels native: native kernels unavailable: the addon was built from other sources than native\/src \(npm run build:native rebuilds it\)/,
    );
  });

  it('a run made with --kernels native resumes where the addon is missing, on wasm, with the same bytes', (t) => {
    if (NATIVE_VARIANTS.length === 0) return t.skip('no native kernels here to make the checkpoint');
    const dir = tempDir(t);
    const flags = ['--hidden', '16', '--batch-size', '256', '--seed', '3'];
    const ckpt = join(dir, 'run.ckpt');
    const first = runCli([
      'train',
      ...flags,
      '--kernels',
      'native',
      '--epochs',
      '1',
      '--checkpoint',
      ckpt,
      '--out',
      join(dir, 'a'),
    ]);
    assert.equal(first.status, 0, first.stderr);
    const bare = projectWithAddon(join(dir, 'bare'), undefined);
    const resumed = spawnSync(
      NODE,
      [
        bare,
        'train',
        '--resume',
        ckpt,
        '--epochs',
        '2',
        '--log',
        'pretty',
        '--out',
        join(dir, 'resumed.safetensors'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /kernels: wasm-relaxed-simd arithmetic, wasm\n/);
    const straight = runCli([
      'train',
      ...flags,
      '--kernels',
      'wasm',
      '--epochs',
      '2',
      '--out',
      join(dir, 'straight.safetensors'),
    ]);
    assert.equal(straight.status, 0, straight.stderr);
    assert.ok(
      readFileSync(join(dir, 'resumed.safetensors')).equals(readFileSync(join(dir, 'straight.safetensors'))),
    );
  });

  it('an install that cannot build the addon (no Node headers) succeeds and says why', (t) => {
    const gyp = process.env.npm_config_node_gyp;
    if (!gyp || !existsSync(gyp)) return t.skip("npm's node-gyp is known only under npm (npm test)");
    const dir = tempDir(t);
    cpSync(join(ROOT, 'scripts'), join(dir, 'scripts'), { recursive: true });
    cpSync(join(ROOT, 'native/binding.gyp'), join(dir, 'native/binding.gyp'));
    cpSync(join(ROOT, 'native/src'), join(dir, 'native/src'), { recursive: true });
    const r = spawnSync(NODE, [join(dir, 'scripts/build-native.mjs')], {
      encoding: 'utf8',
      env: {
        ...process.env,
        npm_config_nodedir: join(dir, 'no-such-node-headers'),
        GRADPOOL_NATIVE_BUILD: '',
      },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^gradpool: native kernels unavailable: the build failed: .+; gradpool will run on its WebAssembly kernels\n$/,
    );
    assert.equal(existsSync(join(dir, 'native/build/Release/gradpool_native.node')), false);
    assert.ok(existsSync(join(dir, 'native/gradpool-build-native.log')), 'the full log is kept');
  });
});
