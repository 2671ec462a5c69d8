import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_DIR, IDX_FILES, loadDataset, loadIdxDirectory } from '../src/data/dataset.js';
import { decodeIdx, parseIdx } from '../src/data/idx.js';
import { MNIST_TRAIN_COUNT } from '../src/data/mnist-package.js';
import { dataShape } from '../src/data/shape.js';
import { DataError } from '../src/errors.js';
import { tempDir } from './helpers.js';
import { FASHION_MNIST, needs } from './requirements.js';

/** An IDX file built byte by byte from the format's definition. */
function idx(dims: number[], data: number[] | Uint8Array, dtype = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = dtype;
  out[3] = dims.length;
  dims.forEach((d, i) => {
    out[4 + 4 * i] = d >>> 24;
    out[5 + 4 * i] = (d >>> 16) & 255;
    out[6 + 4 * i] = (d >>> 8) & 255;
    out[7 + 4 * i] = d & 255;
  });
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function writeIdxDir(dir: string, opts: { gz?: boolean; testLabels?: Uint8Array } = {}) {
  const img = (n: number) =>
    idx(
      [n, 2, 3],
      Array.from({ length: n * 6 }, (_, i) => (i * 37) % 256),
    );
  const files: Record<string, Uint8Array> = {
    [IDX_FILES.trainImages]: img(4),
    [IDX_FILES.trainLabels]: idx([4], [3, 1, 4, 1]),
    [IDX_FILES.testImages]: img(2),
    [IDX_FILES.testLabels]: opts.testLabels ?? idx([2], [5, 9]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, opts.gz ? `${name}.gz` : name), opts.gz ? gzipSync(bytes) : bytes);
  }
}

describe('IDX parsing', () => {
  it('reads dimensions big-endian and the payload in order', () => {
    const t = parseIdx(idx([2, 1, 3], [1, 2, 3, 4, 5, 6]), 'x', 3);
    assert.deepEqual(t.dims, [2, 1, 3]);
    assert.deepEqual([...t.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(parseIdx(idx([300], new Uint8Array(300)), 'y', 1).dims, [300]);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    [
      'bad magic',
      (() => {
        const b = idx([1], [0]);
        b[0] = 1;
        return b;
      })(),
      /x: bad magic: expected 00 00/,
    ],
    [
      'float dtype',
      idx([1], [0, 0, 0, 0], 0x0d),
      /x: expected dtype code 0x08 \(unsigned byte\), found 0x0d/,
    ],
    ['wrong number of dimensions', idx([1, 1], [0]), /x: expected 1 dimension\(s\), found 2/],
    ['truncated payload', idx([5], [1, 2, 3]), /x: truncated: dimensions 5 need 13 bytes, found 11/],
    ['trailing bytes', idx([1], [1, 2]), /x: trailing bytes: dimensions 1 need 9 bytes, found 10/],
    ['a zero dimension', idx([0], []), /x: dimension 0 is 0/],
    ['a header cut short', idx([1], [1]).subarray(0, 6), /x: truncated header/],
    ['an absurd size', idx([0xffffffff], [1]), /x: truncated: dimensions 4294967295 need/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what} with a one-line DataError naming the file`, () => {
      assert.throws(
        () => parseIdx(bytes, 'x', 1),
        (e: unknown) => {
          assert.ok(e instanceof DataError);
          assert.match(e.message, message);
          assert.ok(!e.message.includes('\n'));
          return true;
        },
      );
    });
  }
});

describe('IDX folders', () => {
  for (const gz of [false, true]) {
    it(`loads a folder of ${gz ? 'gzip' : 'raw'} files into shared memory`, async (t) => {
      const dir = tempDir(t);
      writeIdxDir(dir, { gz });
      const d = await loadIdxDirectory(dir);
      assert.equal(d.features, 6);
      assert.equal(d.train.count, 4);
      assert.equal(d.test.count, 2);
      assert.deepEqual([...d.train.targets], [3, 1, 4, 1]);
      assert.deepEqual([...d.test.targets], [5, 9]);
      assert.ok(d.train.inputs instanceof Uint8Array, 'images stay uint8');
      assert.equal(d.train.inputs[7], (7 * 37) % 256);
      assert.ok(d.train.inputs.buffer instanceof SharedArrayBuffer);
    });

    it(`tells a job's inputs and training rows from the ${gz ? 'gzip' : 'raw'} header alone`, async (t) => {
      const dir = tempDir(t);
      writeIdxDir(dir, { gz });
      assert.deepEqual(await dataShape(`idx:${dir}`), {
        features: 6,
        outputs: 10,
        task: 'classify',
        trainRows: 4,
      });
    });
  }

  it('knows the shapes of the named datasets', async () => {
    assert.deepEqual(await dataShape('mnist'), {
      features: 784,
      outputs: 10,
      task: 'classify',
      trainRows: 8000,
    });
    // Debian's package, 60,000 training images; a machine without it cannot tell (its queue workers may)
    if (!process.env.FASHION_MNIST) {
      const trainRows = existsSync(FASHION_MNIST_DIR) ? 60000 : null;
      assert.deepEqual(await dataShape('fashion-mnist'), {
        features: 784,
        outputs: 10,
        task: 'classify',
        trainRows,
      });
    }
  });

  it('rejects a label out of range, naming the file and the row', async (t) => {
    const dir = tempDir(t);
    writeIdxDir(dir, { testLabels: idx([2], [5, 10]) });
    await assert.rejects(loadIdxDirectory(dir), /t10k-labels-idx1-ubyte: label 1 is 10, expected 0–9/);
  });

  it('rejects a label count that disagrees with the images', async (t) => {
    const dir = tempDir(t);
    writeIdxDir(dir, { testLabels: idx([3], [5, 9, 1]) });
    await assert.rejects(loadIdxDirectory(dir), /expected 2 labels .* found 3/);
  });

  it('rejects a missing file and a corrupt gzip stream', async (t) => {
    const dir = tempDir(t);
    await assert.rejects(loadIdxDirectory(dir), /missing train-images-idx3-ubyte \(raw or .gz\)/);
    writeIdxDir(dir, { gz: true });
    const path = join(dir, `${IDX_FILES.trainLabels}.gz`);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 6));
    await assert.rejects(
      loadIdxDirectory(dir),
      /train-labels-idx1-ubyte.gz: bad gzip data: unexpected end of file/,
    );
  });

  it('rejects gzip with a bad CRC, and gzip that inflates past what its header implies', async () => {
    const good = gzipSync(idx([4], [1, 2, 3, 4]));
    const badCrc = Buffer.from(good);
    badCrc[badCrc.length - 8] ^= 0xff;
    await assert.rejects(decodeIdx(badCrc, 'crc.gz', 1), /crc.gz: bad gzip data: incorrect data check/);
    // a header claiming 4 labels followed by 50 MB of zeros: stopped after the first chunk
    const bomb = Buffer.concat([idx([4], [1, 2, 3, 4]), Buffer.alloc(50_000_000)]);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(
      decodeIdx(gzipSync(bomb), 'bomb.gz', 1),
      /bomb.gz: bad gzip data: inflates past the 12 bytes its IDX header implies/,
    );
    assert.ok(
      process.memoryUsage().arrayBuffers - before < 10_000_000,
      'nothing near the inflated size was held',
    );
  });

  it('names the apt package when Fashion-MNIST is not installed', async () => {
    const saved = process.env.FASHION_MNIST;
    process.env.FASHION_MNIST = '/nonexistent/fashion';
    try {
      await assert.rejects(loadDataset('fashion-mnist'), /apt-get install dataset-fashion-mnist/);
    } finally {
      if (saved === undefined) delete process.env.FASHION_MNIST;
      else process.env.FASHION_MNIST = saved;
    }
  });

  it('rejects an unknown dataset spec', async () => {
    await assert.rejects(loadDataset('cifar'), /unknown dataset 'cifar'/);
  });
});

describe('the mnist package', () => {
  it('splits its 10,000 digits 8,000 / 2,000 the same way every time, pixels as the package has them', async () => {
    const d = await loadDataset('mnist');
    assert.equal(d.train.count, MNIST_TRAIN_COUNT);
    assert.equal(d.test.count, 2000);
    assert.equal(d.features, 784);
    const again = await loadDataset('mnist');
    assert.deepEqual(again.train.targets, d.train.targets);
    // Every train image is one of the package's images, scaled by 255: check the first one
    // against the package's own JSON by searching its digit's rows.
    const req = createRequire(import.meta.url);
    const digit = d.train.targets[0];
    const raw: number[] = req(`mnist/src/digits/${digit}.json`).data;
    const first = Array.from(d.train.inputs.subarray(0, 784));
    let found = false;
    for (let i = 0; i < raw.length / 784 && !found; i++) {
      found = first.every((v, p) => v === Math.round(raw[i * 784 + p] * 255));
    }
    assert.ok(found, 'the first training image is a row of its digit in the package');
    const counts = new Array(10).fill(0);
    for (const l of [...d.train.targets, ...d.test.targets]) counts[l]++;
    for (let c = 0; c < 10; c++) assert.equal(counts[c], req(`mnist/src/digits/${c}.json`).data.length / 784);
  });
});

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', needs(FASHION_MNIST), () => {
  it('loads 60,000 + 10,000 images of 28×28 with the published first labels', async () => {
    const d = await loadDataset('fashion-mnist');
    assert.equal(d.train.count, 60000);
    assert.equal(d.test.count, 10000);
    assert.equal(d.features, 28 * 28);
    // The dataset's README: the first training image is an ankle boot (9), the first test one too.
    assert.equal(d.train.targets[0], 9);
    assert.equal(d.test.targets[0], 9);
    const counts = new Array(10).fill(0);
    for (const l of d.train.targets) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(6000));
  });
});
