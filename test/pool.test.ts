import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BLOCK_OUTPUTS, gradientBlocks } from '../src/nn/arena.js';
import { networkLayout } from '../src/nn/layout.js';
import { defaultThreadCounts, measureScaling } from '../src/train/benchmark.js';
import { DEFAULT_SPIN, spinBudget } from '../src/train/spin-wait.js';
import { runCli, syntheticDataset } from './helpers.js';

describe('the step partition', () => {
  it('gives every output neuron of every layer to exactly one block, 4-aligned', () => {
    const net = networkLayout([784, 256, 130, 10], 'relu');
    const blocks = gradientBlocks(net);
    const owners = net.layers.map((L) => new Array<number>(L.outputs).fill(0));
    for (const b of blocks) {
      assert.equal(b.o0 % 4, 0, 'tiles, and so rounding, must not depend on the split');
      assert.ok(b.o1 - b.o0 <= BLOCK_OUTPUTS && b.o1 > b.o0);
      for (let o = b.o0; o < b.o1; o++) owners[b.layer][o]++;
    }
    for (const layer of owners) assert.ok(layer.every((n) => n === 1));
    // widest inputs first: the big blocks are claimed before the small ones
    const inputs = blocks.map((b) => net.layers[b.layer].inputs);
    assert.deepEqual(
      inputs,
      [...inputs].sort((x, y) => y - x),
    );
  });
});

describe('polling before sleeping', () => {
  it('polls only while every thread has a core, and obeys GRADPOOL_SPIN', () => {
    assert.equal(spinBudget(8, 16, undefined), DEFAULT_SPIN);
    assert.equal(spinBudget(16, 16, undefined), DEFAULT_SPIN);
    assert.equal(spinBudget(17, 16, undefined), 0);
    assert.equal(spinBudget(4, 2, undefined), 0);
    assert.equal(spinBudget(1, 16, '0'), 0);
    assert.equal(spinBudget(32, 16, '500'), 500);
    assert.equal(spinBudget(1, 16, 'lots'), DEFAULT_SPIN, 'an invalid value falls back to the rule');
  });
});

describe('scaling measurements', () => {
  it('default thread counts are powers of two up to the cores, then the cores', () => {
    assert.deepEqual(defaultThreadCounts(16), [1, 2, 4, 8, 16]);
    assert.deepEqual(defaultThreadCounts(12), [1, 2, 4, 8, 12]);
    assert.deepEqual(defaultThreadCounts(1), [1]);
  });

  it('reports speed-up and efficiency relative to the first row, and a breakdown within the step', async () => {
    const r = await measureScaling({
      dataset: syntheticDataset(512, 64),
      threads: [1, 2],
      hidden: [32],
      batchSize: 64,
      seconds: 0.3,
    });
    assert.equal(r.rows.length, 2);
    const [a, b] = r.rows;
    assert.equal(a.speedup, 1);
    assert.equal(a.efficiency, 1);
    assert.ok(Math.abs(b.speedup - b.samplesPerSec / a.samplesPerSec) < 1e-12);
    assert.ok(Math.abs(b.efficiency - b.speedup / 2) < 1e-12);
    for (const x of r.rows) {
      assert.ok(
        Math.abs(x.samplesPerSec - (64 * 1000) / x.stepMs) / x.samplesPerSec < 1e-9,
        'samples/s = batch / step time',
      );
      const { computeMs, waitMs, updateMs, otherMs } = x.breakdown;
      assert.ok(computeMs > 0 && updateMs > 0 && waitMs >= 0 && otherMs >= 0);
      assert.ok(computeMs + waitMs + updateMs <= x.stepMs * 1.001, 'phases fit inside the step');
    }
    assert.deepEqual(r.layers, [64, 32, 10]);
  });

  it('gradpool bench --json prints one row per thread count; bad thread lists exit 2', () => {
    const r = runCli(['bench', '--threads', '1,2', '--hidden', '16', '--seconds', '0.3', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.rows.map((x: { threads: number }) => x.threads),
      [1, 2],
    );
    assert.ok(out.rows.every((x: { samplesPerSec: number }) => x.samplesPerSec > 0));
    assert.equal(out.machine.cores > 0, true);
    const bad = runCli(['bench', '--threads', '1,0']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--threads must be ≥ 1, got 0/);
  });
});
