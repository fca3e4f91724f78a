"""One rank of a data-parallel test run (tests/test_train_distributed.py starts it with torchrun or by hand).

    python distributed_worker.py MODE OUT BATCH     MODE: "train" or "die" (rank 1 dies at step 3)
"""

import os
import sys

import torch
from torch import nn

from minisora.train import TensorBatches, TrainConfig, Trainer, cleanup_distributed, setup_distributed

mode, out, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = setup_distributed("cpu", timeout_s=30)
torch.manual_seed(context.rank)  # other weights on every rank: DDP must start them all from rank 0's
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
data = TensorBatches({"x": x, "y": x.sum(1, keepdim=True).sin()}, batch_size, seed=1)


def loss_fn(net, batch):
    if mode == "die" and context.rank == 1 and trainer.step == 3:
        os._exit(1)  # a rank that crashes without a word
    return (net(batch["x"]) - batch["y"]).pow(2).mean()


trainer = Trainer(model, loss_fn, data, TrainConfig(steps=8, lr=1e-2, warmup=0, ema_decay=None),
                  distributed=context, progress=False)
trainer.fit()
torch.save({"parameters": [p.detach() for p in model.parameters()], "losses": trainer.losses},
           os.path.join(out, f"rank{context.rank}.pt"))
cleanup_distributed()
