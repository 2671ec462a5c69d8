/** One split: images as Uint8 rows of `features` pixels and labels, both in shared memory. */
export interface Split {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** MNIST-format labels are digits or ten categories. */
export const CLASSES = 10;

/** Copies images and labels into SharedArrayBuffers, the only copy workers will read. */
export function sharedSplit(images: Uint8Array, labels: Uint8Array, count: number): Split {
  const img = new Uint8Array(new SharedArrayBuffer(images.length));
  img.set(images);
  const lab = new Uint8Array(new SharedArrayBuffer(count));
  lab.set(labels.subarray(0, count));
  return { images: img, labels: lab, count };
}
