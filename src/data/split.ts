/**
 * One split in shared memory: `count` rows of `features` inputs and their targets.
 * inputs:  uint8 pixels (scaled by 1/255 as rows are gathered) or float32 features used as
 *          they are (a CSV's, already standardised and one-hot encoded)
 * targets: count × targetWidth floats: a class index per row, or the standardised
 *          regression targets
 */
export interface Split {
  readonly inputs: Uint8Array | Float32Array;
  readonly targets: Float32Array;
  readonly count: number;
}

/** MNIST-format labels are digits or ten categories. */
export const CLASSES = 10;

/** Copies images and labels into SharedArrayBuffers, the only copy workers will read. */
export function sharedSplit(images: Uint8Array, labels: Uint8Array, count: number): Split {
  const img = new Uint8Array(new SharedArrayBuffer(images.length));
  img.set(images);
  const targets = sharedFloats(count);
  for (let i = 0; i < count; i++) targets[i] = labels[i];
  return { inputs: img, targets, count };
}

/** A zeroed Float32Array over a SharedArrayBuffer. */
export function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}
