// Bit-for-bit check of native/src/elementwise.c and as_math.c against the wasm kernels
// (assembly/kernels.ts) and AssemblyScript's Math, through the C harness (harness.c).
// Build first: native/dev-elementwise/build.sh. Then:
//   node --experimental-wasm-relaxed-simd native/dev-elementwise/compare.mjs [parts…] [--isa=avx512,avx2]
// parts: tables fn batch range (default: all); batch --addon=<.node> also runs the built addon; fn --libm runs glibc's functions instead (they differ). range takes --range=lo:hi (f32 bits, default
// every float32 in [−30, 30]: 0x00000000…0x41F00000 and 0x80000000…0xC1F00000) and --acts=1,2.
// A float differs when its bits differ and not both are NaN. Exit status 1 if any differ.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const OUT = process.env.GPEW ?? '/tmp/gpew';
const HARNESS = `${OUT}/harness`;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const a = args.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const parts = args.filter((s) => !s.startsWith('--'));
const want = (p) => parts.length === 0 || parts.includes(p);
const ISAS = opt('isa', 'avx512,avx2').split(',');
let failures = 0;

// ---- wasm
const ARENA = 65536; // above the modules' data (tables at 1024…7168)
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536, shared: true });
const kernelBuilds = {};
for (const variant of ['simd', 'relaxed']) {
  const file = `${OUT}/${variant === 'simd' ? 'kernels' : 'kernels-relaxed'}.wasm`;
  const bytes = readFileSync(file);
  if (!WebAssembly.validate(bytes)) {
    console.log(`${file} does not validate here (relaxed SIMD needs --experimental-wasm-relaxed-simd): skipped`);
    continue;
  }
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort: () => {} } });
  kernelBuilds[variant] = inst.exports;
}
const W = kernelBuilds.simd;
const f32 = () => new Float32Array(memory.buffer);
const u32 = () => new Uint32Array(memory.buffer);

// ---- helpers
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const R = rng(12345);
const bitsF = (b) => new Float32Array(new Uint32Array([b]).buffer)[0];
const SPECIAL32 = [
  0, -0, 1, -1, Infinity, -Infinity, NaN, bitsF(0x7fc00001), bitsF(0xffc00000), bitsF(1), bitsF(0x80000001),
  bitsF(0x007fffff), bitsF(0x807fffff), bitsF(0x00800000), bitsF(0x80800000), 3.4028234663852886e38,
  -3.4028234663852886e38, 1e-30, -1e-30, 1e-10, -1e-10, 20, -20, 20.000002, -20.000002, 88.72, -88.72, 89, -89,
  103.97, -103.97, 104, -104, 709, -709, 710, -710, 745, -745, 746, -746, 0.5, -0.5, 0.2746531, -0.2746531,
  0.5493061, -0.5493061, 0.35, -0.35, 1.0397, -1.0397, 512, -512, 1024, -1024, 5e-17, -5e-17, 5.6e-17, -5.6e-17,
];
function mixed(n, scale = 3, specialRate = 0.15) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = R();
    if (r < specialRate) a[i] = SPECIAL32[Math.floor(R() * SPECIAL32.length)];
    else if (r < specialRate + 0.05) a[i] = bitsF((R() * 4294967296) >>> 0);
    else a[i] = (R() * 2 - 1) * scale * (R() < 0.2 ? 30 : 1);
  }
  return a;
}
function uniform(n, lo, hi) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * R();
  return a;
}
/** count of floats whose bits differ, not both NaN; first few logged */
function diff(label, got, exp, log = 5) {
  const gb = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const eb = new Uint32Array(exp.buffer, exp.byteOffset, exp.length);
  let n = 0;
  for (let i = 0; i < got.length; i++) {
    if (gb[i] !== eb[i] && !(Number.isNaN(got[i]) && Number.isNaN(exp[i]))) {
      if (n < log) console.log(`  ${label}[${i}]: native ${got[i]} (0x${gb[i].toString(16)}) wasm ${exp[i]} (0x${eb[i].toString(16)})`);
      n++;
    }
  }
  return n;
}
function diff64(label, got, exp, log = 5) {
  const gb = new BigUint64Array(got.buffer, got.byteOffset, got.length);
  const eb = new BigUint64Array(exp.buffer, exp.byteOffset, exp.length);
  let n = 0;
  for (let i = 0; i < got.length; i++) {
    if (gb[i] !== eb[i] && !(Number.isNaN(got[i]) && Number.isNaN(exp[i]))) {
      if (n < log) console.log(`  ${label}[${i}]: native ${got[i]} wasm ${exp[i]}`);
      n++;
    }
  }
  return n;
}

// ---- tables: the wasm module's data against as_math.c's
if (want('tables')) {
  const src = readFileSync(`${here}/../src/as_math.c`, 'utf8');
  const tabs = [...src.matchAll(/uint64_t (\w+)\[256\] = \{([^}]*)\}/g)].map((m) => [m[1], [...m[2].matchAll(/0x([0-9A-F]{16})/g)].map((x) => BigInt(`0x${x[1]}`))]);
  const at = { gp_as_exp_tab: 1024, as_log_tab1: 3072, as_log_tab2: 5120 };
  const mem = new BigUint64Array(memory.buffer);
  let bad = 0;
  for (const [name, vals] of tabs) for (let i = 0; i < 256; i++) if (mem[at[name] / 8 + i] !== vals[i]) bad++;
  console.log(`tables: ${tabs.length} tables × 256 u64 against the wasm data segments: ${bad} differ`);
  failures += bad + (tabs.length === 3 ? 0 : 1);
}

// ---- fn: as_math.c's functions against AssemblyScript's (asmath.wasm), f64 in and out
if (want('fn')) {
  const amem = new WebAssembly.Memory({ initial: 1 + 256 });
  const A = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(`${OUT}/asmath.wasm`)), {
    env: { memory: amem, abort: () => {} },
  }).exports;
  const bitsD = (hi, lo) => new Float64Array(new Uint32Array([lo, hi]).buffer)[0];
  const SPECIAL64 = [
    0, -0, 1, -1, Infinity, -Infinity, NaN, Number.MIN_VALUE, -Number.MIN_VALUE, 2.2250738585072014e-308,
    -2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE,
    709.782712893384, 709.7827128933841, 709.78, 710, -708.39, -708.4, -709.09, -745.1332191019411,
    -745.1332191019412, -745.2, -746, 1023.9, 1024, -1022, -1074, 512, 511.999, -512, 2 ** -54, -(2 ** -54),
    2 ** -55, 2 ** -53, 5.551115123125783e-17, 0.34657359027997264, 1.0397207708399179, 38.816242111356935,
    56 * Math.LN2, 20, 20.000000000000004, 22, 0.5493061443340548, 0.2554128118829953, 0.9375, 1.0625,
    0.9999999999999999, 1.0000000000000002, 1.06494140625, 0.9375000000000001,
  ];
  const gens = {
    'special values': () => Float64Array.from(SPECIAL64.flatMap((x) => [x, -x])),
    'random f64 bit patterns': (n) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = bitsD((R() * 4294967296) >>> 0, (R() * 4294967296) >>> 0);
      return a;
    },
    'uniform [-750, 750]': (n) => Float64Array.from({ length: n }, () => (R() * 2 - 1) * 750),
    'uniform [-40, 40]': (n) => Float64Array.from({ length: n }, () => (R() * 2 - 1) * 40),
    'uniform [-1.5, 1.5]': (n) => Float64Array.from({ length: n }, () => (R() * 2 - 1) * 1.5),
    'exponent-uniform ±[2^-1080, 2^1030]': (n) =>
      Float64Array.from({ length: n }, () => (R() < 0.5 ? -1 : 1) * 2 ** (R() * 2110 - 1080)),
    'near 1 (log table edge)': (n) => Float64Array.from({ length: n }, () => 0.9 + R() * 0.25),
    'uniform [0, 64] (softmax sums)': (n) => Float64Array.from({ length: n }, () => R() * 64),
    'float32 in [-30, 30] as f64': (n) => Float64Array.from(uniform(n, -30, 30)),
  };
  const N = Number(opt('fn-n', 1 << 20));
  for (const [fi, name] of ['exp', 'log', 'tanh', 'expm1'].entries()) {
    const rows = [];
    for (const [gname, gen] of Object.entries(gens)) {
      const x = gen(N);
      writeFileSync(`${OUT}/fn.in`, x);
      execFileSync(HARNESS, ['fn', args.includes('--libm') ? `libm-${name}` : name, `${OUT}/fn.in`, `${OUT}/fn.out`]);
      const ob = readFileSync(`${OUT}/fn.out`);
      const got = new Float64Array(ob.buffer.slice(ob.byteOffset, ob.byteOffset + ob.length));
      if (got.length !== x.length) throw new Error('harness fn output length');
      const exp = new Float64Array(x.length);
      for (let i = 0; i < x.length; i += 1 << 21) {
        const m = Math.min(1 << 21, x.length - i);
        new Float64Array(amem.buffer, 65536, m).set(x.subarray(i, i + m));
        A.apply(fi, 65536, m);
        exp.set(new Float64Array(amem.buffer, 65536, m), i);
      }
      const d = diff64(`${name}(${gname})`, got, exp);
      rows.push(`${gname} ×${x.length}: ${d}`);
      failures += d;
    }
    console.log(`fn ${name}: ${rows.join('; ')}`);
  }
}

// ---- batch: the five kernels on generated cases, native (each ISA) against wasm (each build)
if (want('batch')) {
  const recs = [];
  const NS = [...Array.from({ length: 41 }, (_, i) => i), 47, 63, 64, 65, 127, 1000, 1003, 4099];
  for (let rep = 0; rep < 3; rep++) {
    for (const n of NS) {
      recs.push({ kind: 1, act: 0, x: mixed(n, 3, 0.3) });
      recs.push({ kind: 1, act: 1, x: mixed(n, 4) });
      recs.push({ kind: 1, act: 2, x: mixed(n, 6) });
      recs.push({ kind: 1, act: 7, x: mixed(n, 6) }); // any act but 0, 1 is sigmoid
      recs.push({ kind: 2, act: 0, d: mixed(n, 1, 0.3), a: mixed(n, 1, 0.3) });
      recs.push({ kind: 2, act: 1, d: mixed(n, 1), a: uniform(n, -1, 1) });
      recs.push({ kind: 2, act: 2, d: mixed(n, 1), a: uniform(n, 0, 1) });
      recs.push({ kind: 2, act: 1, d: mixed(n, 1), a: mixed(n, 1) });
      recs.push({ kind: 2, act: 2, d: mixed(n, 1), a: mixed(n, 1) });
    }
  }
  // big activation arrays: tanh/sigmoid over a wide, dense spread
  for (const act of [1, 2]) for (let k = 0; k < 4; k++) recs.push({ kind: 1, act, x: uniform(100003, -40, 40) });
  for (const act of [1, 2]) recs.push({ kind: 1, act, x: mixed(100003, 20, 0.3) });
  // softmax
  const softmaxCase = (B, C, style) => {
    const logits = new Float32Array(B * C);
    const labels = new Float32Array(B);
    for (let r = 0; r < B; r++) {
      labels[r] = Math.floor(R() * C);
      for (let c = 0; c < C; c++) {
        let v;
        if (style === 'normal') v = (R() * 2 - 1) * 4;
        else if (style === 'large') v = (R() * 2 - 1) * 10 ** (R() * 6);
        else if (style === 'huge') v = (R() * 2 - 1) * 10 ** (R() * 38);
        else if (style === 'equal') v = c % 2 ? 0 : -0;
        else if (style === 'spread') v = (R() * 2 - 1) * 800;
        else v = mixed(1, 30, 0.4)[0];
        logits[r * C + c] = v;
      }
    }
    return { kind: 3, B, C, logits, labels };
  };
  for (const C of [1, 2, 3, 4, 7, 8, 9, 10, 16, 17, 33, 255, 256, 257, 300])
    for (const style of ['normal', 'large', 'huge', 'equal', 'spread', 'mixed'])
      recs.push(softmaxCase(1 + Math.floor(R() * (C > 100 ? 20 : 200)), C, style));
  for (let k = 0; k < 20; k++) recs.push(softmaxCase(1000, 10, k % 2 ? 'normal' : 'large'));
  // SGD
  const NSU = [...Array.from({ length: 40 }, (_, i) => i + 1), 1000, 1003];
  for (const n of NSU)
    for (const nesterov of [0, 1])
      for (const wd of [0, 5e-4, 1e-50])
        for (const alias of [0, 1]) {
          const mom = R() < 0.2 ? 0 : 0.9;
          recs.push({
            kind: 4, n, alias, h: [R() < 0.5 ? 0.01 : 0.1 + R() * 0.1, mom, wd, R() < 0.5 ? 1 / 128 : 1 / 3, nesterov],
            p: mixed(n, 1, 0.05), vel: mixed(n, 0.1, 0.05), g: mixed(n, 2, 0.05),
          });
        }
  // Adam / AdamW
  for (const n of NSU)
    for (const wd of [0, 1e-2, 1e-50])
      for (const decay of [1, 1 - 1e-5, 1 + 1e-17])
        for (const alias of [0, 1]) {
          const b1 = R() < 0.5 ? 0.9 : 0.85, b2 = R() < 0.5 ? 0.999 : 0.9995;
          const t = 1 + Math.floor(R() * 1000);
          const lr = R() < 0.5 ? 1e-3 : 3e-4 + R() * 1e-3;
          const v = mixed(n, 0.01, 0.05).map((x) => (Number.isNaN(x) || R() < 0.1 ? x : Math.abs(x)));
          recs.push({
            kind: 5, n, alias,
            h: [lr / (1 - b1 ** t), b1, b2, R() < 0.8 ? 1e-8 : 1e-6, wd, decay, 1 / Math.sqrt(1 - b2 ** t), R() < 0.5 ? 1 / 128 : 1 / 3],
            p: mixed(n, 1, 0.05), m: mixed(n, 0.1, 0.05), v, g: mixed(n, 2, 0.05),
          });
        }

  // serialise for the harness
  const chunks = [];
  const i32 = (...v) => chunks.push(Buffer.from(new Int32Array(v).buffer));
  const f64 = (v) => chunks.push(Buffer.from(new Float64Array(v).buffer));
  const fl = (a) => chunks.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  for (const r of recs) {
    i32(r.kind);
    if (r.kind === 1) i32(r.act, r.x.length), fl(r.x);
    else if (r.kind === 2) i32(r.act, r.d.length), fl(r.d), fl(r.a);
    else if (r.kind === 3) i32(r.B, r.C), fl(r.logits), fl(r.labels);
    else if (r.kind === 4) i32(r.n, r.alias), f64(r.h), fl(r.p), fl(r.vel), fl(r.g);
    else i32(r.n, r.alias), f64(r.h), fl(r.p), fl(r.m), fl(r.v), fl(r.g);
  }
  writeFileSync(`${OUT}/batch.in`, Buffer.concat(chunks));

  // the wasm outputs, per build, in the harness's output layout
  const wasmOut = (X) => {
    const outs = [];
    for (const r of recs) {
      let at = ARENA / 4;
      const put = (a) => {
        const p = at;
        f32().set(a, p);
        at += a.length + 5; // +5: the next array starts 4 bytes off any 16-byte boundary
        return p;
      };
      const get = (p, n) => f32().slice(p, p + n);
      if (r.kind === 1) {
        const p = put(r.x);
        X.activationForward(r.act, p * 4, r.x.length);
        outs.push({ f: get(p, r.x.length) });
      } else if (r.kind === 2) {
        const pd = put(r.d), pa = put(r.a);
        X.activationBackward(r.act, pd * 4, pa * 4, r.d.length);
        outs.push({ f: get(pd, r.d.length) });
      } else if (r.kind === 3) {
        const pl = put(r.logits), pb = put(r.labels);
        const loss = X.softmaxCrossEntropy(pl * 4, pb * 4, r.B, r.C);
        outs.push({ f: get(pl, r.logits.length), loss });
      } else if (r.kind === 4) {
        const pp = put(r.p), pv = put(r.vel), pg = put(r.g);
        const [po, vo] = r.alias ? [pp, pv] : [put(new Float32Array(r.n)), put(new Float32Array(r.n))];
        X.sgdUpdate(pp * 4, pv * 4, po * 4, vo * 4, pg * 4, r.n, ...r.h);
        const f = new Float32Array(2 * r.n);
        f.set(get(po, r.n)), f.set(get(vo, r.n), r.n);
        outs.push({ f });
      } else {
        const pp = put(r.p), pm = put(r.m), pv = put(r.v), pg = put(r.g);
        const [po, mo, vo] = r.alias
          ? [pp, pm, pv]
          : [put(new Float32Array(r.n)), put(new Float32Array(r.n)), put(new Float32Array(r.n))];
        X.adamUpdate(pp * 4, pm * 4, pv * 4, po * 4, mo * 4, vo * 4, pg * 4, r.n, ...r.h);
        const f = new Float32Array(3 * r.n);
        f.set(get(po, r.n)), f.set(get(mo, r.n), r.n), f.set(get(vo, r.n), 2 * r.n);
        outs.push({ f });
      }
    }
    return outs;
  };
  const builds = Object.entries(kernelBuilds).map(([name, X]) => [name, wasmOut(X)]);
  // --addon=path/gradpool_native.node: the same cases through the addon's bindings (offsets in
  // floats), against the first wasm build
  const addonPath = opt('addon', null);
  if (addonPath) {
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)(addonPath);
    for (const isa of ISAS) {
      const k = addon.bind(new Float32Array(memory.buffer), isa, false);
      const q = (b) => b / 4;
      const X = {
        activationForward: (act, x, n) => k.activationForward(act, q(x), n),
        activationBackward: (act, d, a, n) => k.activationBackward(act, q(d), q(a), n),
        softmaxCrossEntropy: (l, lb, B, C) => k.softmaxCrossEntropy(q(l), q(lb), B, C),
        sgdUpdate: (p, v, po, vo, g, n, ...h) => k.sgdUpdate(q(p), q(v), q(po), q(vo), q(g), n, ...h),
        adamUpdate: (p, m, v, po, mo, vo, g, n, ...h) => k.adamUpdate(q(p), q(m), q(v), q(po), q(mo), q(vo), q(g), n, ...h),
      };
      const outs = wasmOut(X);
      let d = 0, floats = 0, lossDiff = 0;
      for (let i = 0; i < recs.length; i++) {
        floats += outs[i].f.length;
        d += diff(`addon ${isa} rec ${i}`, outs[i].f, builds[0][1][i].f);
        if (recs[i].kind === 3 && !Object.is(outs[i].loss, builds[0][1][i].loss) && !(Number.isNaN(outs[i].loss) && Number.isNaN(builds[0][1][i].loss))) lossDiff++;
      }
      console.log(`batch: addon ${isa} against wasm ${builds[0][0]}: ${recs.length} cases, ${floats} floats, ${d} differ, ${lossDiff} losses differ`);
      failures += d + lossDiff;
    }
  }
  const NAMES = { 1: 'activationForward', 2: 'activationBackward', 3: 'softmaxCrossEntropy', 4: 'sgdUpdate', 5: 'adamUpdate' };
  // the two wasm builds against each other
  if (builds.length === 2) {
    let d = 0;
    for (let i = 0; i < recs.length; i++) d += diff(`simd~relaxed rec ${i}`, builds[0][1][i].f, builds[1][1][i].f);
    console.log(`batch: wasm simd against relaxed: ${d} floats differ`);
  }
  for (const isa of ISAS) {
    execFileSync(HARNESS, ['batch', isa, `${OUT}/batch.in`, `${OUT}/batch.out`]);
    const buf = readFileSync(`${OUT}/batch.out`);
    for (const [bname, outs] of builds) {
      const stats = {};
      let off = 0;
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i], e = outs[i];
        const n = e.f.length;
        const got = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + n * 4));
        off += n * 4;
        const key = r.kind === 1 || r.kind === 2 ? `${NAMES[r.kind]}(act ${r.act})` : NAMES[r.kind];
        const s = (stats[key] ??= { recs: 0, floats: 0, diff: 0, losses: 0, lossDiff: 0 });
        s.recs++, s.floats += n;
        s.diff += diff(`${isa}/${bname} rec ${i} ${key}`, got, e.f);
        if (r.kind === 3) {
          const loss = buf.readDoubleLE(off);
          off += 8;
          s.losses++;
          if (!Object.is(loss, e.loss) && !(Number.isNaN(loss) && Number.isNaN(e.loss))) {
            if (s.lossDiff < 3) console.log(`  ${isa}/${bname} rec ${i} loss: native ${loss} wasm ${e.loss}`);
            s.lossDiff++;
          }
        }
      }
      if (off !== buf.length) throw new Error('harness output length');
      for (const [k, s] of Object.entries(stats)) {
        console.log(`batch ${isa} vs wasm ${bname}: ${k}: ${s.recs} cases, ${s.floats} floats, ${s.diff} differ${s.losses ? `; ${s.losses} losses, ${s.lossDiff} differ` : ''}`);
        failures += s.diff + s.lossDiff;
      }
    }
  }
}

// ---- range: tanh and sigmoid of every float32 in a range of bit patterns
if (want('range')) {
  const acts = opt('acts', '1,2').split(',').map(Number);
  const ranges = opt('range', '0x00000000:0x41F00001,0x80000000:0xC1F00001')
    .split(',')
    .map((s) => s.split(':').map(Number));
  const CH = 1 << 20;
  for (const isa of ISAS)
    for (const act of acts)
      for (const [lo, hi] of ranges) {
        const t0 = Date.now();
        const child = spawn(HARNESS, ['range', isa, String(act), String(lo), String(hi)]);
        let pending = [], have = 0, b = lo, d = 0;
        const exp = new Float32Array(CH);
        const check = (buf) => {
          const n = buf.length / 4;
          const x = u32().subarray(ARENA / 4, ARENA / 4 + n);
          for (let i = 0; i < n; i++) x[i] = b + i;
          W.activationForward(Number(opt('wasm-act', act)), ARENA, n); // --wasm-act: a negative control
          exp.set(f32().subarray(ARENA / 4, ARENA / 4 + n));
          d += diff(`${isa} act ${act} bits 0x${b.toString(16)}+`, new Float32Array(buf.buffer, buf.byteOffset, n), exp.subarray(0, n), 3);
          b += n;
        };
        await new Promise((resolve, reject) => {
          child.stdout.on('data', (chunk) => {
            pending.push(chunk);
            have += chunk.length;
            while (have >= CH * 4) {
              const all = Buffer.concat(pending);
              check(Buffer.from(all.subarray(0, CH * 4)));
              pending = [all.subarray(CH * 4)];
              have = pending[0].length;
            }
          });
          child.on('close', (code) => {
            if (code) return reject(new Error(`harness exit ${code}`));
            const all = Buffer.concat(pending);
            if (all.length) check(Buffer.from(all));
            resolve();
          });
        });
        if (b !== hi) throw new Error(`range: got ${b - lo} of ${hi - lo} floats`);
        console.log(`range ${isa} act ${act} (${act === 1 ? 'tanh' : 'sigmoid'}) bits 0x${lo.toString(16)}…0x${(hi - 1).toString(16)}: ${hi - lo} floats, ${d} differ (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        failures += d;
      }
}

console.log(failures ? `FAILED: ${failures} differences` : 'all equal');
process.exit(failures ? 1 : 0);
