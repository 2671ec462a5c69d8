import type { ScalingResult } from '../src/train/benchmark.js';

/** A small self-contained SVG line chart: samples/s against threads, with ideal linear scaling. */
export function scalingSvg(
  r: ScalingResult,
  peers: { peer: string; threads: number; samplesPerSec: number }[],
): string {
  const width = 640;
  const height = 400;
  const pad = { l: 80, r: 20, t: 40, b: 50 };
  const maxT = Math.max(...r.rows.map((x) => x.threads));
  const base = r.rows[0];
  const ideal = r.rows.map((x) => (base.samplesPerSec * x.threads) / base.threads);
  const maxY =
    Math.max(...ideal, ...r.rows.map((x) => x.samplesPerSec), ...peers.map((p) => p.samplesPerSec)) * 1.05;
  const X = (t: number) => pad.l + ((width - pad.l - pad.r) * (t - 0)) / maxT;
  const Y = (v: number) => height - pad.b - ((height - pad.t - pad.b) * v) / maxY;
  const line = (pts: [number, number][]) =>
    pts.map(([t, v], i) => `${i ? 'L' : 'M'}${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
  const ticks = 5;
  const yTicks = Array.from({ length: ticks + 1 }, (_, i) => (maxY * i) / ticks);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">gradpool ${r.layers.join('-')}, batch ${r.batchSize}, ${r.kernels} — ${r.machine.cpu}, ${r.machine.cores} cores</text>`,
    ...yTicks.map(
      (v) =>
        `<line x1="${pad.l}" x2="${width - pad.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${pad.l - 6}" y="${Y(v) + 4}" text-anchor="end">${Math.round(v / 1000)}k</text>`,
    ),
    ...r.rows.map(
      (x) => `<text x="${X(x.threads)}" y="${height - pad.b + 16}" text-anchor="middle">${x.threads}</text>`,
    ),
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle">threads</text>`,
    `<text x="16" y="${height / 2}" transform="rotate(-90 16 ${height / 2})" text-anchor="middle">samples/s</text>`,
    `<path d="${line(r.rows.map((x, i) => [x.threads, ideal[i]]))}" fill="none" stroke="#aaa" stroke-dasharray="4 4"/>`,
    `<path d="${line(r.rows.map((x) => [x.threads, x.samplesPerSec]))}" fill="none" stroke="#1f6feb" stroke-width="2"/>`,
    ...r.rows.map((x) => `<circle cx="${X(x.threads)}" cy="${Y(x.samplesPerSec)}" r="3.5" fill="#1f6feb"/>`),
    ...peers.map(
      (p) =>
        `<circle cx="${X(p.threads)}" cy="${Y(p.samplesPerSec)}" r="3.5" fill="#d1242f"/><text x="${X(p.threads) + 6}" y="${Y(p.samplesPerSec) - 6}" fill="#d1242f">${p.peer}</text>`,
    ),
    `<text x="${pad.l + 10}" y="${pad.t + 10}" fill="#1f6feb">gradpool</text>`,
    `<text x="${pad.l + 10}" y="${pad.t + 26}" fill="#888">ideal (linear from ${base.threads} thread)</text>`,
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
