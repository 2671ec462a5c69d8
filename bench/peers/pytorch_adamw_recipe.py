"""PyTorch on gradpool's documented AdamW recipe, for its test accuracy beside gradpool's.

784-256-128-10 ReLU with dropout on both hidden layers, softmax cross-entropy, AdamW
(bias-corrected, decoupled decay), a linear warm-up from lr x 0.1 over the first epoch then
cosine to 0 over the rest, stepped every batch, batch 128, reshuffled every epoch,
Fashion-MNIST (IDX .gz files in $FASHION_MNIST), the last epoch's model. Prints one JSON
line per epoch: {"peer": "pytorch", "epoch", "testAccuracy", "testLoss", "seconds", "version"}.
Usage: python3 pytorch_adamw_recipe.py EPOCHS LR WEIGHT_DECAY DROPOUT THREADS [SEED]
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch

from idx_files import idx


def split(root, prefix):
    x = idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255
    y = idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def main():
    epochs, lr, wd, p = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(int(sys.argv[5]))
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    torch.manual_seed(seed)
    root = os.environ["FASHION_MNIST"]
    x, y = split(root, "train")
    tx, ty = split(root, "t10k")
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(p),
        torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Dropout(p),
        torch.nn.Linear(128, 10),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    steps_per_epoch = math.ceil(x.shape[0] / 128)
    total = epochs * steps_per_epoch
    S = torch.optim.lr_scheduler
    warmup = steps_per_epoch
    sched = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=warmup),
                                 S.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=0.0)], milestones=[warmup])
    loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(x.shape[0])
        for s in range(steps_per_epoch):
            rows = order[s * 128 : (s + 1) * 128]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[rows]), y[rows]).backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            logits = model(tx)
            acc = float((logits.argmax(1) == ty).float().mean())
            test_loss = float(torch.nn.functional.cross_entropy(logits, ty))
        print(json.dumps({"peer": "pytorch", "version": torch.__version__, "epoch": epoch, "testAccuracy": acc,
                          "testLoss": test_loss, "seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
