"""numpy + OpenBLAS on gradpool's reference recipe, measured beside it on the same machine.

784-256-128-10 ReLU, softmax cross-entropy (mean over the batch), SGD lr 0.05 momentum 0.9,
batch 128, Fashion-MNIST (IDX .gz files in $FASHION_MNIST), float32 throughout, written as a
numpy user would write it at its fastest: every product a BLAS sgemm on (out, in) weights, the
elementwise work in place. OpenBLAS reads its thread count once, at import: one process per
thread count (OPENBLAS_NUM_THREADS is set from the argument before numpy is imported).
Prints one JSON line: {"peer": "numpy", "backend", "threads", "samplesPerSec", "steps", "version"}.
Usage: python3 numpy_recipe.py SECONDS THREADS
"""
import json
import os
import sys

threads = int(sys.argv[2])
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)

import numpy as np  # noqa: E402

from idx_files import idx  # noqa: E402
from peer_timing import steps_per_second  # noqa: E402

B = 128
LR = 0.05
MOMENTUM = 0.9


def blas_name():
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', 'blas')} {info.get('version', '')}".strip()
    except Exception:  # older numpy: no dict form
        return "blas"


def main():
    seconds = float(sys.argv[1])
    root = os.environ["FASHION_MNIST"]
    x = idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255
    y = idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    rng = np.random.default_rng(1)
    sizes = [784, 256, 128, 10]
    params = []
    for i, o in zip(sizes, sizes[1:]):
        bound = np.float32(1 / np.sqrt(i))
        params.append(rng.uniform(-bound, bound, (o, i)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, o).astype(np.float32))
    velocity = [np.zeros_like(p) for p in params]
    batches = x.shape[0] // B
    rows = np.arange(B)

    def step(s):
        b = s % batches
        xb, yb = x[b * B : (b + 1) * B], y[b * B : (b + 1) * B]
        w1, b1, w2, b2, w3, b3 = params
        h1 = xb @ w1.T
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ w2.T
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ w3.T
        z += b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z[rows, yb] -= 1
        z *= np.float32(1 / B)
        grads = [None] * 6
        grads[4] = z.T @ h2
        grads[5] = z.sum(axis=0)
        d2 = z @ w3
        d2 *= h2 > 0
        grads[2] = d2.T @ h1
        grads[3] = d2.sum(axis=0)
        d1 = d2 @ w2
        d1 *= h1 > 0
        grads[0] = d1.T @ xb
        grads[1] = d1.sum(axis=0)
        for p, v, g in zip(params, velocity, grads):
            v *= np.float32(MOMENTUM)
            v += g
            p -= np.float32(LR) * v

    steps, elapsed = steps_per_second(step, seconds)
    print(json.dumps({"peer": "numpy", "backend": blas_name(), "version": np.__version__, "threads": threads,
                      "samplesPerSec": steps * B / elapsed, "steps": steps}), flush=True)


if __name__ == "__main__":
    main()
