import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeIdx } from '../src/data/idx.js';
import { DataError, ModelFileError } from '../src/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { modelFromSafetensors, saveModel } from '../src/io/model-file.js';
import { SafetensorsError } from '../src/io/safetensors.js';
import { initParams } from '../src/nn/init.js';
import { networkLayout } from '../src/nn/layout.js';
import { tempDir } from './helpers.js';

// Seeded, bounded fuzzing: every mutation of a valid file either loads (and then is
// self-consistent) or is rejected with our typed error; never another exception, and never
// an allocation beyond a small multiple of the inputs.

function rng(seed: number) {
  let x = seed >>> 0;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function mutate(src: Uint8Array, r: (n: number) => number): Uint8Array {
  const b = Buffer.from(src);
  switch (r(6)) {
    case 0: // flip a bit
      b[r(b.length)] ^= 1 << r(8);
      return b;
    case 1: // set a byte
      b[r(b.length)] = r(256);
      return b;
    case 2: // truncate
      return b.subarray(0, r(b.length));
    case 3: // append junk
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + r(64) }, () => r(256)))]);
    case 4: // overwrite 4 bytes early in the file (headers, lengths)
      b.writeUInt32BE(r(2) ? r(0xffffffff) : r(100), Math.min(r(24), Math.max(0, b.length - 4)));
      return b;
    default: // several bytes at once
      for (let i = 0; i < 8; i++) b[r(b.length)] = r(256);
      return b;
  }
}

const MEMORY_SLACK = 64 * 1024 * 1024;

it('3,000 mutations of an IDX file, raw and gzip, load or fail with DataError', async () => {
  const images = new Uint8Array(4 + 12 + 5 * 3 * 4);
  images.set([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 4]);
  for (let i = 16; i < images.length; i++) images[i] = (i * 31) % 256;
  const seeds = [images, gzipSync(images)];
  const r = rng(2026);
  const before = process.memoryUsage().arrayBuffers;
  let loaded = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = mutate(seeds[i % 2], r);
    try {
      const t = await decodeIdx(bytes, 'fuzz', 3);
      assert.equal(t.data.length, t.dims[0] * t.dims[1] * t.dims[2]);
      loaded++;
    } catch (e) {
      if (!(e instanceof DataError)) assert.fail(`mutation ${i}: ${(e as Error)?.stack ?? e}`);
      assert.match(e.message, /^fuzz: /);
    }
  }
  assert.ok(process.memoryUsage().arrayBuffers - before < MEMORY_SLACK, 'memory stayed bounded');
  assert.ok(loaded > 0 && loaded < 3000, `some mutations load (data bytes), most do not: ${loaded}`);
});

it('3,000 mutations of a model file: any change to what it holds is caught, with our typed errors', (t) => {
  const layout = networkLayout([6, 5, 3], 'relu');
  const params = new Float32Array(layout.size);
  initParams(layout, 1, params);
  const path = join(tempDir(t), 'm.safetensors');
  saveModel(path, { layout, params });
  const valid = readFileSync(path);
  const r = rng(7);
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 3000; i++) {
    const bytes = mutate(valid, r);
    try {
      const m = modelFromSafetensors(bytes);
      // only a mutation that left the model as it was (header padding, say) may load
      assert.deepEqual(m.layout.sizes, layout.sizes, `mutation ${i}`);
      assert.equal(m.layout.activation, layout.activation, `mutation ${i}`);
      assert.deepEqual(m.params, params, `mutation ${i}`);
    } catch (e) {
      if (!(e instanceof ModelFileError || e instanceof SafetensorsError))
        assert.fail(`mutation ${i}: ${(e as Error)?.stack ?? e}`);
    }
  }
  assert.ok(process.memoryUsage().arrayBuffers - before < MEMORY_SLACK, 'memory stayed bounded');
});

it('500 mutations of a checkpoint: any change to its bytes is caught', (t) => {
  const layout = networkLayout([6, 5, 3], 'tanh');
  const params = new Float32Array(layout.size);
  initParams(layout, 2, params);
  const dir = tempDir(t);
  const path = join(dir, 'c.safetensors');
  const state = {
    epoch: 2,
    step: 3,
    epochRng: [1, 2, 3, 4],
    epochLoss: 1.5,
    epochCorrect: 7,
    epochSeen: 12,
    metrics: [],
    kernels: 'js',
  };
  saveCheckpoint(path, {
    config: { seed: 1 },
    model: { layout, params },
    optimizerState: [params.map((v) => v / 2)],
    state,
  });
  const valid = readFileSync(path);
  const r = rng(11);
  const target = join(dir, 'x.safetensors');
  for (let i = 0; i < 500; i++) {
    const bytes = mutate(valid, r);
    writeFileSync(target, bytes);
    try {
      loadCheckpoint(target);
      // Only a mutation that left every byte that matters unchanged may load.
      assert.ok(Buffer.from(bytes).equals(valid), `mutation ${i} loaded`);
    } catch (e) {
      if (!(e instanceof ModelFileError)) assert.fail(`mutation ${i}: ${(e as Error)?.stack ?? e}`);
    }
  }
});
