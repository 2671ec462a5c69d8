"""PyTorch on gradpool's reference recipe, measured beside it on the same machine.

784-256-128-10 ReLU, softmax cross-entropy, SGD lr 0.05 momentum 0.9, batch 128, Fashion-MNIST
(IDX .gz files in $FASHION_MNIST). Prints one JSON line per thread count:
{"peer": "pytorch", "threads", "samplesPerSec", "steps", "version"}.
Usage: python3 pytorch_recipe.py SECONDS THREADS[,THREADS...]
"""
import json
import os
import sys

import numpy as np
import torch

from idx_files import idx
from peer_timing import steps_per_second


def main():
    seconds = float(sys.argv[1])
    threads = [int(t) for t in sys.argv[2].split(",")]
    root = os.environ["FASHION_MNIST"]
    x = torch.from_numpy(idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    batches = x.shape[0] // 128
    for n in threads:
        torch.set_num_threads(n)
        torch.manual_seed(1)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")

        def step(s):
            b = s % batches
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[b * 128 : (b + 1) * 128]), y[b * 128 : (b + 1) * 128])
            loss.backward()
            opt.step()

        steps, elapsed = steps_per_second(step, seconds)
        print(json.dumps({"peer": "pytorch", "version": torch.__version__, "threads": n,
                          "samplesPerSec": steps * 128 / elapsed, "steps": steps}), flush=True)


if __name__ == "__main__":
    main()
