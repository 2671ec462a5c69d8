import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { type CsvOptions, encodeCsv, loadCsvDataset } from '../src/data/csv-dataset.js';
import { readCsv } from '../src/data/csv-reader.js';
import { parseNumber, type TablePreprocessing } from '../src/data/preprocessing.js';
import { GradpoolError } from '../src/errors.js';
import { loadModel } from '../src/io/model-file.js';
import { evaluate } from '../src/train/evaluate.js';
import { Predictor, predict } from '../src/train/predictor.js';
import { saveTrainedModel } from '../src/train/save-result.js';
import { train } from '../src/train/trainer.js';
import { classTable, priceTable, ROOT, runCli, tempDir } from './helpers.js';

// CSV datasets: the reader's edge cases (quotes, embedded newlines, CRLF, a BOM, empty fields),
// the columns' encoding and standardisation against values computed here, every bad input as
// one line naming the row and column, bounded memory on a million rows, regression bytes for
// any thread count, and predict agreeing with eval.

const base: CsvOptions = { target: ['y'], ignore: [], testSplit: 0.25, standardize: true, seed: 1 };

function csvFile(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The loader sums shifted values in one pass; a two-pass sum agrees to a few ulps. */
function assertClose(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want), `${what}: ${got}, two-pass ${want}`);
}

describe('CSV reader and encoding', () => {
  it('reads numbers in decimal notation only', () => {
    const cases: [string, number][] = [
      ['1', 1],
      ['-1.5', -1.5],
      ['.5', 0.5],
      ['5.', 5],
      ['1e5', 1e5],
      ['-.5e-3', -0.0005],
      ['+3', 3],
      [' 12 ', 12],
      ['007', 7],
    ];
    for (const [text, want] of cases) assert.equal(parseNumber(text), want, text);
    // its fast path (mantissa / 10^k) gives Number()'s double, bit for bit
    let x = 7;
    for (let i = 0; i < 100_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const text = ((x / 2 ** 32 - 0.3) * 10 ** (i % 9)).toFixed(i % 7);
      assert.ok(Object.is(parseNumber(text), Number(text)), text);
    }
    for (const text of [
      '',
      ' ',
      '1e',
      '0x1F',
      '0b1',
      '0o7',
      'Infinity',
      '-Infinity',
      'NaN',
      '1_0',
      '1.2.3',
      '12a',
      '.',
      // finite doubles, but Infinity as float32
      '1e39',
      '-3.5e38',
      '1000000000000000000000000000000000000000',
    ])
      assert.ok(Number.isNaN(parseNumber(text)), `${JSON.stringify(text)} is not a number`);
    assert.equal(parseNumber('3.4e38'), 3.4e38, "float32's largest values are numbers");
  });

  it('reads quoted fields, embedded newlines, CRLF, a BOM and empty category fields', async (t) => {
    const dir = tempDir(t);
    const text =
      '\uFEFFn,"note, quoted",y\r\n1,"a ""b""",x\r\n2,"line\r\nbreak",z\r\n3,,x\r\n4,"a ""b""",z\r\n';
    const path = csvFile(dir, 'edge.csv', text);
    const testData = csvFile(dir, 'edge-test.csv', 'y,"note, quoted",n\n"z","line\r\nbreak",5\n');
    const d = await loadCsvDataset(path, { ...base, testData });
    const p = d.preprocessing as TablePreprocessing;
    assert.equal(d.task, 'classify');
    assert.deepEqual(
      p.inputs.map((c) => c.name),
      ['n', 'note, quoted'],
    );
    const note = p.inputs[1];
    assert.equal(note.kind, 'category');
    assert.deepEqual(note.kind === 'category' && note.categories, ['', 'a "b"', 'line\r\nbreak'].sort());
    assert.deepEqual(p.target.task === 'classify' && p.target.classes, ['x', 'z']);
    assert.equal(d.train.count, 4);
    assert.deepEqual([...d.train.targets], [0, 1, 0, 1]);
    // n, then the categories '', 'a "b"', 'line\r\nbreak' one-hot
    assert.deepEqual([...d.test.inputs.subarray(1)], [0, 0, 1]);
    assert.deepEqual([...d.test.targets], [1]);
    // a category only a test row holds is refused, its line break escaped in the one-line message
    await assert.rejects(
      loadCsvDataset(path, { ...base, testSplit: 0.5 }),
      /category 'line\\r\\nbreak' is only in test rows/,
    );
  });

  it('a byte-order mark before a quoted header: the names lose their quotes, for training and for predict', async (t) => {
    const dir = tempDir(t);
    const path = csvFile(dir, 'bom.csv', '\uFEFF"y","a","b"\r\nx,1,p\r\nz,2,q\r\nx,3,p\r\nz,4,q\r\n');
    const d = await loadCsvDataset(path, { ...base, testSplit: 0.5 });
    const p = d.preprocessing as TablePreprocessing;
    assert.deepEqual(
      p.inputs.map((c) => c.name),
      ['a', 'b'],
    );
    assert.equal(p.target.task === 'classify' && p.target.column, 'y');
    // predict's input: its first column found by name although a BOM and quotes precede it
    const input = csvFile(dir, 'bom-in.csv', '\uFEFF"b","a"\r\nq,7\r\n');
    const x = await encodeCsv(input, p, false);
    const a = p.inputs[0];
    assert.ok(a.kind === 'number');
    assert.deepEqual([...x.inputs], [Math.fround((7 - a.mean) / a.std), 0, 1]);
  });

  it('a header ending in LF and rows in CRLF: no \\r is left in the last field', async (t) => {
    const path = csvFile(tempDir(t), 'mixed.csv', 'a,c,y\n1,p,x\r\n2,q,z\r\n3,p,x\r\n4,q,z\r\n');
    const p = (await loadCsvDataset(path, { ...base, testSplit: 0.5 })).preprocessing as TablePreprocessing;
    assert.deepEqual(p.target.task === 'classify' && p.target.classes, ['x', 'z']);
    const c = p.inputs[1];
    assert.deepEqual(c.kind === 'category' && c.categories, ['p', 'q']);
  });

  it('a number column with a large offset (a timestamp) is standardised from its doubles, rounded once', async (t) => {
    const dir = tempDir(t);
    // t = 1.7e9 + U(0, 1000): float32 is 128 apart there, so rounding first kept ~8 levels
    let seed = 11;
    const ts = Array.from({ length: 200 }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return Number((1.7e9 + (seed / 2 ** 32) * 1000).toFixed(3));
    });
    const text = `t,y\n${ts.map((v, i) => `${v},${(i % 7) / 3}`).join('\n')}\n`;
    const path = csvFile(dir, 'ts.csv', text);
    const d = await loadCsvDataset(path, { ...base, testData: csvFile(dir, 'ts-test.csv', text) });
    const mean = ts.reduce((a, b) => a + b) / ts.length;
    const std = Math.sqrt(ts.reduce((a, b) => a + (b - mean) ** 2, 0) / ts.length);
    const col = (d.preprocessing as TablePreprocessing).inputs[0];
    assert.ok(col.kind === 'number', JSON.stringify(col));
    assertClose(col.mean, mean, 'mean');
    assertClose(col.std, std, 'std');
    const got = [...d.train.inputs];
    // from the doubles with the stored statistics, rounded once
    assert.deepEqual(
      got,
      ts.map((v) => Math.fround((v - col.mean) / col.std)),
    );
    assert.equal(new Set(got).size, new Set(ts).size, 'every distinct time keeps its own value');
    // the test file goes through encodeRow: the same bytes as the loader's
    assert.deepEqual([...d.test.inputs], got);
  });

  it('standardises number columns with the training rows’ mean and population deviation, one-hot in sorted order', async (t) => {
    const dir = tempDir(t);
    const path = csvFile(dir, 'std.csv', 'v,c,y\n1,q,0.5\n2,p,1.5\n4,q,2.5\n8,p,3.5\n16,q,10.25\n');
    const train = { ...base, testData: csvFile(dir, 'test.csv', 'y,c,v,extra\n1,p,3,zzz\n'), testSplit: 0.2 };
    const d = await loadCsvDataset(path, train);
    assert.equal(d.task, 'regress');
    const p = d.preprocessing as TablePreprocessing;
    const v = [1, 2, 4, 8, 16];
    const mean = v.reduce((a, b) => a + b) / 5;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / 5);
    const col = p.inputs[0];
    assert.ok(col.kind === 'number');
    assertClose(col.mean, mean, 'mean');
    assertClose(col.std, std, 'std');
    assert.equal(d.features, 3); // v, c=p, c=q
    const row = (s: Float32Array, r: number) => [...s.subarray(r * 3, r * 3 + 3)];
    assert.deepEqual(row(d.train.inputs as Float32Array, 0), [Math.fround((1 - col.mean) / col.std), 0, 1]);
    assert.deepEqual(row(d.train.inputs as Float32Array, 1), [Math.fround((2 - col.mean) / col.std), 1, 0]);
    // the test file: columns found by name, extra ones ignored, the training rows' statistics
    assert.deepEqual(row(d.test.inputs as Float32Array, 0), [Math.fround((3 - mean) / std), 1, 0]);
    const y = [0.5, 1.5, 2.5, 3.5, 10.25];
    const ym = y.reduce((a, b) => a + b) / 5;
    const ys = Math.sqrt(y.reduce((a, b) => a + (b - ym) ** 2, 0) / 5);
    assert.equal(d.test.targets[0], Math.fround((1 - ym) / ys));
    const plain = await loadCsvDataset(path, { ...train, standardize: false });
    assert.equal(plain.train.inputs[3], 2, 'without standardisation values are as they are');
  });

  it('several targets: multi-output regression, each target standardised on its own', async (t) => {
    const path = csvFile(tempDir(t), 'two.csv', priceTable(300));
    const d = await loadCsvDataset(path, { ...base, target: ['price', 'age'] });
    assert.equal(d.task, 'regress');
    assert.equal(d.outputs, 2);
    const p = d.preprocessing as TablePreprocessing;
    assert.deepEqual(
      p.inputs.map((c) => c.name),
      ['area', 'zone'],
    );
    for (const k of [0, 1]) {
      let sum = 0;
      let sq = 0;
      for (let r = 0; r < d.train.count; r++) {
        sum += d.train.targets[2 * r + k];
        sq += d.train.targets[2 * r + k] ** 2;
      }
      assert.ok(Math.abs(sum / d.train.count) < 1e-6, `target ${k} has mean 0 on the training rows`);
      assert.ok(Math.abs(sq / d.train.count - 1) < 1e-5, `target ${k} has variance 1 on the training rows`);
    }
    const r = await train({
      data: `csv:${path}`,
      target: ['price', 'age'],
      hidden: [16],
      epochs: 3,
      threads: 2,
    });
    assert.equal(r.model.layout.sizes.at(-1), 2);
    assert.ok(Number.isFinite(r.metrics.at(-1)!.testRmse));
  });

  const bad: [string, string, CsvOptions | null, RegExp][] = [
    ['a ragged row', 'a,y\n1,x\n2\n3,z\n', null, /row 2: 1 fields, but the header has 2/],
    [
      'an unparseable number',
      'a,y\n1,x\n2,z\n1.2.3,x\n4,z\n',
      null,
      /row 3, column 'a': '1\.2\.3' is not a number/,
    ],
    [
      'an empty number field',
      'a,y\n1,x\n,z\n3,x\n4,z\n',
      null,
      /row 2, column 'a': empty field in a number column/,
    ],
    ['an empty file', '', null, /is empty: expected a header row/],
    ['a header only', 'a,y\n', null, /has a header but no data rows/],
    ['a duplicate column', 'a,a,y\n1,2,x\n', null, /column 'a' appears twice in the header/],
    ['a missing target', 'a,b\n1,2\n', null, /has no column 'y' \(its columns: 'a', 'b'\)/],
    [
      'a target named twice',
      'a,y\n1,x\n',
      { ...base, target: ['y', 'y'] },
      /target column 'y' is named twice/,
    ],
    ['a target with one class', 'a,y\n1,x\n2,x\n', null, /the target has one class \('x'\)/],
    [
      'an ambiguous whole-number target',
      'a,y\n1,1\n2,2\n3,3\n',
      null,
      /holds whole numbers \(3 distinct values\): say task classify/,
    ],
    ['an unterminated quote', 'a,y\n1,"x\n', null, /row 1: quoted field unterminated/],
    [
      "a number past float32's range",
      'a,y\n1,x\n1e39,z\n3,x\n4,z\n',
      null,
      /row 2, column 'a': '1e39' is beyond float32's range \(±3\.4e38\)$/,
    ],
    [
      'a bad number after a blank line (counted in the row numbers)',
      'a,y\n1,x\n2,z\n\n1.2.3,x\n4,z\n',
      null,
      /row 4, column 'a': '1\.2\.3' is not a number/,
    ],
    [
      'a test split that leaves no training rows of a class',
      // a: 1 row, b: 3; half of 4 rows is 2: b gives 1, and a's remainder takes the other
      'x,y\n1,a\n2,b\n3,b\n4,b\n',
      { ...base, testSplit: 0.5 },
      /column 'y': all 1 rows of class 'a' fell in the test split, so training never sees it \(use a smaller testSplit than 0\.5/,
    ],
  ];
  for (const [what, text, options, message] of bad) {
    it(`refuses ${what} with one line`, async (t) => {
      const path = csvFile(tempDir(t), 'bad.csv', text);
      await assert.rejects(loadCsvDataset(path, options ?? base), (e: Error) => {
        assert.ok(e instanceof GradpoolError && e.exitCode === 2, String(e));
        assert.match(e.message, message);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    });
  }

  it('refuses, at predict time, a category or a missing column the model never saw', async (t) => {
    const dir = tempDir(t);
    const d = await loadCsvDataset(csvFile(dir, 'c.csv', classTable(200)), base);
    const p = d.preprocessing as TablePreprocessing;
    const unseen = csvFile(dir, 'u.csv', 'a,b,colour\n1,0.5,purple\n');
    await assert.rejects(
      encodeCsv(unseen, p, false),
      /u\.csv, row 1, column 'colour': category 'purple' was not in the training rows/,
    );
    const missing = csvFile(dir, 'm.csv', 'a,colour\n1,red\n');
    await assert.rejects(encodeCsv(missing, p, false), /m\.csv has no column 'b'/);
    const huge = csvFile(dir, 'h.csv', 'a,b,colour\n1,0.5,red\n2,-1e39,red\n');
    await assert.rejects(
      encodeCsv(huge, p, false),
      /h\.csv, row 2, column 'b': '-1e39' is beyond float32's range \(±3\.4e38\)$/,
    );
  });

  it('a one-column file: a blank line is a row with an empty field, not a row left out', async (t) => {
    const dir = tempDir(t);
    const p: TablePreprocessing = {
      kind: 'table',
      inputs: [{ name: 'a', kind: 'number', mean: 1, std: 2 }],
      target: { task: 'regress', columns: [{ name: 'y', mean: 0, std: 1 }] },
    };
    const ok = await encodeCsv(csvFile(dir, 'ok.csv', 'a\n1\n5\n\n'), p, false);
    assert.deepEqual([...ok.inputs], [0, 2], 'the blank lines at the end are no rows');
    await assert.rejects(
      encodeCsv(csvFile(dir, 'gap.csv', 'a\n1\n\n5\n'), p, false),
      /gap\.csv, row 2, column 'a': empty field in a number column/,
    );
    const words: TablePreprocessing = {
      ...p,
      inputs: [{ name: 'c', kind: 'category', categories: ['', 'p'] }],
    };
    const x = await encodeCsv(csvFile(dir, 'words.csv', 'c\np\n\np\n'), words, false);
    assert.equal(x.count, 3);
    assert.deepEqual([...x.inputs], [0, 1, 1, 0, 0, 1]);
  });

  it('a file that changes between the two passes is refused', async (t) => {
    const path = csvFile(tempDir(t), 'grows.csv', 'a,y\n1,x\n2,z\n');
    const { rows } = await readCsv(
      path,
      () => {},
      () => {},
    );
    assert.equal(rows, 2);
    appendFileSync(path, '3,x\n');
    const read = (expect: number) =>
      readCsv(
        path,
        () => {},
        () => {},
        expect,
      );
    await assert.rejects(
      read(rows),
      /grows\.csv changed while it was read: it has more than the 2 rows the first pass read/,
    );
    await assert.rejects(
      read(4),
      /grows\.csv changed while it was read: 3 rows now, 4 when the first pass read it/,
    );
    assert.equal((await read(3)).rows, 3);
  });
});

describe('CSV training, eval and predict', () => {
  it('regression: identical model bytes for --threads 1, 2 and 3, and it learns (R² > 0.9)', async (t) => {
    const path = csvFile(tempDir(t), 'p.csv', priceTable(600));
    const config = {
      data: `csv:${path}`,
      target: ['price'],
      hidden: [16],
      epochs: 8,
      batchSize: 32,
      seed: 4,
    };
    const runs = [];
    for (const threads of [1, 2, 3]) runs.push(await train({ ...config, threads }));
    for (const r of runs.slice(1))
      assert.deepEqual(Buffer.from(r.model.params.buffer), Buffer.from(runs[0].model.params.buffer));
    const last = runs[0].metrics.at(-1)!;
    assert.equal(runs[0].config.lr, 0.01, "regression's default rate");
    assert.ok(last.testR2! > 0.9, `R² ${last.testR2}`);
    assert.equal(last.testAccuracy, undefined);
  });

  it('predict gives what eval scores, with the standardisation stored in the model', async (t) => {
    const dir = tempDir(t);
    for (const [table, target] of [
      [classTable(400), 'y'],
      [priceTable(400), 'price'],
    ] as const) {
      const path = csvFile(dir, `${target}.csv`, table);
      const testText = target === 'y' ? classTable(120, 99) : priceTable(120, 99);
      const testPath = csvFile(dir, `${target}-test.csv`, testText);
      const r = await train({
        data: `csv:${path}`,
        target: [target],
        hidden: [16],
        epochs: 6,
        batchSize: 32,
        threads: 2,
      });
      const file = join(dir, `${target}.safetensors`);
      saveTrainedModel(file, r);
      const model = loadModel(file);
      assert.deepEqual(model.preprocessing, r.model.preprocessing);
      const ev = await evaluate(model, `csv:${testPath}`, { threads: 2 });
      const records = testText
        .trim()
        .split('\n')
        .slice(1)
        .map((line) =>
          Object.fromEntries(line.split(',').map((v, i) => [testText.split('\n')[0].split(',')[i], v])),
        );
      const predictor = await Predictor.open(model, { threads: 3, capacity: 50 });
      const got = await predictor.predictRecords(records, true);
      await predictor.close();
      if (target === 'y') {
        const right = got.filter((a, i) => 'class' in a && a.class === records[i].y).length;
        assert.equal(right / records.length, ev.accuracy);
        const first = got[0] as { probabilities: Record<string, number> };
        assert.ok(Math.abs(first.probabilities.high + first.probabilities.low - 1) < 1e-12);
      } else {
        const sq = got.reduce(
          (s, a, i) => s + (('values' in a ? a.values.price : 0) - Number(records[i].price)) ** 2,
          0,
        );
        const rmse = Math.sqrt(sq / records.length);
        assert.ok(Math.abs(rmse - ev.rmse!) < 1e-3 * ev.rmse!, `predict RMSE ${rmse}, eval ${ev.rmse}`);
      }
    }
  });

  it('gradpool predict writes one answer per row in order; bad input writes nothing', async (t) => {
    const dir = tempDir(t);
    const path = csvFile(dir, 'c.csv', classTable(300));
    const model = join(dir, 'm.safetensors');
    const trained = runCli([
      'train',
      '--data',
      `csv:${path}`,
      '--target',
      'y',
      '--hidden',
      '8',
      '--epochs',
      '2',
      '--threads',
      '2',
      '--out',
      model,
    ]);
    assert.equal(trained.status, 0, trained.stderr);
    const input = csvFile(dir, 'in.csv', 'colour,b,a,unused\nred,0.9,99,x\nblue,-0.9,1,y\n');
    const out = join(dir, 'out.jsonl');
    const r = runCli([
      'predict',
      '--model',
      model,
      '--input',
      input,
      '--out',
      out,
      '--proba',
      '--threads',
      '2',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.class),
      ['high', 'low'],
    );
    const bad = csvFile(dir, 'bad.csv', 'colour,b,a\nred,oops,1\n');
    const refused = runCli(['predict', '--model', model, '--input', bad, '--out', join(dir, 'never.csv')]);
    assert.equal(refused.status, 2);
    assert.equal(refused.stderr.trim(), `gradpool: ${bad}, row 1, column 'b': 'oops' is not a number`);
    assert.ok(!existsSync(join(dir, 'never.csv')));
    // --out naming the input, spelt another way: refused before anything is read or written
    const before = readFileSync(input, 'utf8');
    const over = runCli(['predict', '--model', model, '--input', input, '--out', join(dir, '.', 'in.csv')]);
    assert.equal(over.status, 2);
    assert.match(over.stderr, /^gradpool: --out .*in\.csv is the input file; predictions would overwrite it/);
    assert.equal(over.stderr.trim().split('\n').length, 1, over.stderr);
    assert.equal(readFileSync(input, 'utf8'), before);
  });

  it('train: a --test-split that leaves an empty split names the flag', (t) => {
    const path = csvFile(tempDir(t), 'few.csv', 'a,y\n1,x\n2,z\n3,x\n4,z\n');
    const r = runCli(['train', '--data', `csv:${path}`, '--target', 'y', '--test-split', '0.01']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'gradpool: --test-split 0.01 of 4 rows leaves an empty split');
  });

  it('eval on the training file spelt another way scores the run’s test rows, not its training rows', async (t) => {
    const dir = tempDir(t);
    const path = csvFile(dir, 'xy.csv', classTable(200));
    const r = await train({ data: `csv:${path}`, target: ['y'], hidden: [8], epochs: 1, threads: 2 });
    const file = join(dir, 'm.safetensors');
    saveTrainedModel(file, r);
    const model = loadModel(file);
    const testRows = 40; // --test-split's 0.2 of 200
    for (const spelling of [join(dir, '.', 'xy.csv'), relative(process.cwd(), path)])
      assert.equal((await evaluate(model, `csv:${spelling}`, { threads: 2 })).count, testRows, spelling);
    // recorded relative to another folder than this one: resolved as recorded, and said so when absent
    const elsewhere = { ...model, metadata: { ...model.metadata, data: 'csv:runs/xy.csv' } };
    assert.equal((await evaluate(elsewhere, `csv:${path}`, { threads: 2 })).count, 200, 'another file');
    await assert.rejects(
      evaluate(elsewhere, 'csv:runs/xy.csv', { threads: 2 }),
      /training data csv:runs\/xy\.csv is not found \(recorded as runs\/xy\.csv relative to where training ran; from here that is .*\): run eval from that folder, or give data csv:PATH$/,
    );
  });

  it('names like __proto__ and constructor: answers keep every class, records are read by own keys', async (t) => {
    const dir = tempDir(t);
    const text = classTable(200)
      .replace('a,b,colour,y', 'constructor,b,toString,y')
      .replace(/,high\n/g, ',__proto__\n')
      .replace(/,low\n/g, ',hasOwnProperty\n');
    const path = csvFile(dir, 'proto.csv', text);
    const r = await train({ data: `csv:${path}`, target: ['y'], hidden: [8], epochs: 2, threads: 2 });
    const p = r.model.preprocessing as TablePreprocessing;
    assert.deepEqual(p.target.task === 'classify' && p.target.classes, ['__proto__', 'hasOwnProperty']);
    const predictor = await Predictor.open(r.model, { threads: 2 });
    try {
      const [a] = await predictor.predictRecords([{ constructor: 50, b: 0.5, toString: 'red' }], true);
      const probabilities = (a as { probabilities: Record<string, number> }).probabilities;
      assert.deepEqual(Object.keys(probabilities), ['__proto__', 'hasOwnProperty']);
      const total = Object.values(probabilities).reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(total - 1) < 1e-12 && Object.values(probabilities).every((q) => q > 0 && q < 1));
      assert.match(JSON.stringify(a), /"probabilities":\{"__proto__":[0-9.e-]+,"hasOwnProperty":/);
      // a record without the column 'constructor' has it only by inheritance: it is missing
      await assert.rejects(
        predictor.predictRecords([{ b: 0.5, toString: 'red' }]),
        /^DataError: row 1: column 'constructor' is missing$/,
      );
    } finally {
      await predictor.close();
    }
  });

  it('predict(model, records) encodes a table model’s rows; raw numbers are refused, pointing at records', async (t) => {
    const path = csvFile(tempDir(t), 'c.csv', classTable(200));
    const r = await train({ data: `csv:${path}`, target: ['y'], hidden: [8], epochs: 2, threads: 2 });
    const records = [
      { a: 80, b: 0.9, colour: 'red' },
      { a: 1, b: -0.9, colour: 'blue' },
    ];
    const predictor = await Predictor.open(r.model, { threads: 2 });
    const want = await predictor.predictRecords(records, true);
    await predictor.close();
    assert.deepEqual(await predict(r.model, records, { threads: 2, proba: true }), want);
    await assert.rejects(
      predict(r.model, new Float32Array(5) as unknown as Uint8Array, { threads: 2 }),
      /^DataError: a table model predicts records \(objects of column values\), not arrays of numbers: .*use Predictor\.run$/,
    );
  });

  it('loads 1,000,000 rows × 5 columns streaming: peak RSS stays under 250 MB', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'big.csv');
    const gen = spawnSync(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(path)},'w');fs.writeSync(fd,'a,b,c,d,y\\n');
         let x=1;const r=()=>{x=(Math.imul(x,1103515245)+12345)>>>0;return (x/4294967296).toFixed(5)};
         for(let i=0;i<1000;i++){let s='';for(let j=0;j<1000;j++)s+=r()+','+r()+','+r()+','+r()+','+r()+'\\n';fs.writeSync(fd,s);}
         fs.closeSync(fd);`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(gen.status, 0, gen.stderr);
    const loader = join(ROOT, 'dist/src/data/csv-dataset.js');
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { loadCsvDataset } from ${JSON.stringify(loader)};
         const d = await loadCsvDataset(${JSON.stringify(path)}, { target: ['y'], ignore: [], testSplit: 0.1, standardize: true, seed: 1 });
         console.log(JSON.stringify({ rows: d.train.count + d.test.count, rss: process.resourceUsage().maxRSS / 1024 }));`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(probe.status, 0, probe.stderr);
    const { rows, rss } = JSON.parse(probe.stdout);
    assert.equal(rows, 1_000_000);
    // the file is 36 MB of text; its fields as JS strings would be ~300 MB: the loader keeps
    // 20 MB of float32 and one chunk of text at a time
    assert.ok(rss < 250, `peak RSS ${rss.toFixed(0)} MB`);
  });
});
