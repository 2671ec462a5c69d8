import type { Floats } from './types.js';

// gatherInputs in JavaScript, for the naive, js and wasm kernels (a dataset's inputs live
// outside the wasm memory, so the wasm build has nothing to gain by doing this itself); the
// native build does the same floats in C (native/src/gather.c).

/** What an image's pixel is multiplied by before the first layer: the model's input scaling. */
export const PIXEL_SCALE = 1 / 255;

/**
 * Rows `rows[from … from+B)` (or from … from+B) of a dataset's inputs into the arena at dst:
 * uint8 pixels as floats scaled by PIXEL_SCALE (a double product, rounded once on the store),
 * float32 features as they are.
 */
export function gatherInputs(
  m: Floats,
  dst: number,
  inputs: Uint8Array | Float32Array,
  rows: Int32Array | null,
  from: number,
  B: number,
  features: number,
): void {
  if (inputs instanceof Uint8Array) {
    gatherPixels(m, dst, inputs, rows, from, B, features);
    return;
  }
  for (let r = 0; r < B; r++) {
    const src = (rows ? rows[from + r] : from + r) * features;
    const d = dst + r * features;
    for (let c = 0; c < features; c++) m[d + c] = inputs[src + c];
  }
}

function gatherPixels(
  m: Floats,
  dst: number,
  images: Uint8Array,
  rows: Int32Array | null,
  from: number,
  B: number,
  features: number,
): void {
  const scale = PIXEL_SCALE;
  const words = wordsOf(images, features);
  for (let r = 0; r < B; r++) {
    const src = (rows ? rows[from + r] : from + r) * features;
    const d0 = dst + r * features;
    if (words) {
      // four pixels per load: a third of the time of one load per byte, the same products
      const w0 = src / 4; // exact (features % 4 === 0), and past 2³¹ bytes too, where >> would wrap
      for (let c = 0; c < features >> 2; c++) {
        const w = words[w0 + c];
        const d = d0 + 4 * c;
        m[d] = (w & 255) * scale;
        m[d + 1] = ((w >>> 8) & 255) * scale;
        m[d + 2] = ((w >>> 16) & 255) * scale;
        m[d + 3] = (w >>> 24) * scale;
      }
    } else {
      for (let c = 0; c < features; c++) m[d0 + c] = images[src + c] * scale;
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const wordViews = new WeakMap<Uint8Array, Uint32Array | null>();

/** The images as 32-bit words (pixel 0 in the low byte) where every row starts on a word. */
function wordsOf(images: Uint8Array, features: number): Uint32Array | null {
  if (!LITTLE_ENDIAN || features % 4 !== 0 || images.byteOffset % 4 !== 0) return null;
  let words = wordViews.get(images);
  if (words === undefined) {
    words =
      images.length % 4 === 0 ? new Uint32Array(images.buffer, images.byteOffset, images.length / 4) : null;
    wordViews.set(images, words);
  }
  return words;
}
