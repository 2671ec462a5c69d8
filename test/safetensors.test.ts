import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelFileError } from '../src/errors.js';
import { loadModel, modelTensors, saveModel } from '../src/io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { initParams } from '../src/nn/init.js';
import { networkLayout } from '../src/nn/layout.js';
import { tempDir } from './helpers.js';

function model() {
  const layout = networkLayout([5, 3, 2], 'tanh');
  const params = new Float32Array(layout.size);
  initParams(layout, 42, params);
  params[layout.layers[0].bias] = 0.25;
  return { layout, params };
}

/** A model file as version 1 wrote it: no digest; its last parameter set to `last`. */
function legacyFile(last: number): Buffer {
  const m = model();
  m.params[m.params.length - 1] = last;
  const metadata = { format: 'gradpool-mlp', version: '1', layers: '5,3,2', activation: 'tanh' };
  return Buffer.concat(encodeSafetensors(modelTensors(m), metadata));
}

describe('model files', () => {
  it('follow the safetensors layout byte for byte', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'm.safetensors');
    const m = model();
    saveModel(path, m);
    const bytes = readFileSync(path);
    // Read it the way the format's spec says, without our decoder.
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0, 'tensor data starts 8-byte aligned');
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    const { sha256, ...described } = header.__metadata__ as Record<string, string>;
    assert.deepEqual(described, {
      format: 'gradpool-mlp',
      version: '2',
      layers: '5,3,2',
      activation: 'tanh',
    });
    // the digest, recomputed from the raw bytes as model-file.ts documents it
    const h = createHash('sha256');
    for (const name of Object.keys(header)
      .filter((k) => k !== '__metadata__')
      .sort()) {
      const [from, to] = header[name].data_offsets;
      h.update(`${name}\0${header[name].shape.join(',')}\0`);
      h.update(bytes.subarray(8 + n + from, 8 + n + to));
    }
    const meta = header.__metadata__ as Record<string, string>;
    const keys = Object.keys(meta).filter((k) => k !== 'sha256');
    h.update(JSON.stringify(keys.sort().map((k) => [k, meta[k]])));
    assert.equal(sha256, h.digest('hex'));
    assert.deepEqual(header['layers.0.weight'].shape, [3, 5]);
    assert.equal(header['layers.0.weight'].dtype, 'F32');
    assert.deepEqual(header['layers.1.bias'].shape, [2]);
    const [b0, b1] = header['layers.0.bias'].data_offsets;
    assert.equal(b1 - b0, 12);
    assert.equal(bytes.readFloatLE(8 + n + b0), 0.25);
    const w = header['layers.1.weight'].data_offsets[0];
    assert.equal(bytes.readFloatLE(8 + n + w + 4), m.params[m.layout.layers[1].weight + 1]);
  });

  it('load back to the same parameters', (t) => {
    const path = join(tempDir(t), 'm.safetensors');
    const m = model();
    saveModel(path, m);
    const back = loadModel(path);
    assert.deepEqual(back.layout.sizes, [5, 3, 2]);
    assert.equal(back.layout.activation, 'tanh');
    assert.deepEqual(back.params, m.params);
  });

  const corruptions: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['an empty file', () => Buffer.alloc(0), /too short/],
    [
      'a header length past the end',
      (b) => {
        const c = Buffer.from(b);
        c.writeBigUInt64LE(1n << 40n, 0);
        return c;
      },
      /header length/,
    ],
    ['a truncated tensor', (b) => b.subarray(0, b.length - 4), /data_offsets out of range/],
    [
      'a flipped bit in a weight',
      (b) => {
        const c = Buffer.from(b);
        c[c.length - 6] ^= 0x10;
        return c;
      },
      /checksum mismatch: the file was changed or damaged after it was written/,
    ],
    [
      'a changed architecture in the metadata',
      (b) =>
        Buffer.from(b.toString('latin1').replace('"activation":"tanh"', '"activation":"relu"'), 'latin1'),
      /checksum mismatch/,
    ],
    [
      'a version-2 file without its digest',
      (b) => Buffer.from(b.toString('latin1').replace('"sha256":', '"sha25x":'), 'latin1'),
      /__metadata__.sha256 is missing/,
    ],
    ['a NaN weight in a version-1 file (no digest)', () => legacyFile(Number.NaN), /non-finite/],
    [
      'a foreign JSON header',
      () => {
        const h = Buffer.from('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
        const p = Buffer.alloc(8);
        p.writeBigUInt64LE(BigInt(h.length));
        return Buffer.concat([p, h, Buffer.alloc(4)]);
      },
      /format is undefined/,
    ],
  ];
  for (const [what, corrupt, message] of corruptions) {
    it(`reject ${what} with a ModelFileError naming the file`, (t) => {
      const path = join(tempDir(t), 'm.safetensors');
      saveModel(path, model());
      writeFileSync(path, corrupt(readFileSync(path)));
      assert.throws(
        () => loadModel(path),
        (e: unknown) => {
          assert.ok(e instanceof ModelFileError, String(e));
          assert.ok(e.message.startsWith(path), e.message);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  it('a version-1 file, written before models carried a digest, still loads', (t) => {
    const path = join(tempDir(t), 'v1.safetensors');
    writeFileSync(path, legacyFile(0.5));
    const back = loadModel(path);
    assert.deepEqual(back.layout.sizes, [5, 3, 2]);
    assert.equal(back.params[back.params.length - 1], 0.5);
  });

  it('rejects trailing bytes after the last tensor', () => {
    const h = Buffer.from('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const p = Buffer.alloc(8);
    p.writeBigUInt64LE(BigInt(h.length));
    assert.throws(
      () => decodeSafetensors(Buffer.concat([p, h, Buffer.alloc(8)])),
      /4 trailing bytes after the last tensor/,
    );
  });

  it('rejects overlapping tensors', () => {
    const h = Buffer.from(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    );
    const p = Buffer.alloc(8);
    p.writeBigUInt64LE(BigInt(h.length));
    assert.throws(() => decodeSafetensors(Buffer.concat([p, h, Buffer.alloc(8)])), /overlap/);
  });
});
