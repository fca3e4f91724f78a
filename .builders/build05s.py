import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 05 — worked solutions

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/solutions/05_vivit_solutions.ipynb)

Answers to the exercises of [`lessons/05_vivit.ipynb`](../lessons/05_vivit.ipynb), each with a check.
Fast mode (`MINISORA_FAST=1`) is a quick smoke run; full mode gives the numbers quoted.
''')

code(setup_cell('''
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from minisora import FAST, get_device, seed_everything
from minisora.core import count_flops
from minisora.data import MOTIONS, BouncingShapes, parse_caption
from minisora.models import ViViT

start_time = time.perf_counter()
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}")
'''))

code(r'''
num_train, num_test = (400, 120) if FAST else (6_000, 1_200)
pretrain_steps = 40 if FAST else 1_000      # the frame-patch model of exercise 1 (and 2)
finetune_steps = 20 if FAST else 200        # each tubelet model of exercise 1

def motion_clips(n, seed):
    data = BouncingShapes(length=n, num_frames=8, height=16, width=16, max_objects=1, gray_prob=0.0, camera_prob=0.0,
                          fps=4.0, caption_style="canonical", seed=seed)
    items = [data[i] for i in range(n)]
    labels = [MOTIONS.index(parse_caption(item["spec"]).objects[0].motion) for item in items]
    return torch.stack([item["video"] for item in items]), torch.tensor(labels)

x_train, y_train = motion_clips(num_train, 0)
x_test, y_test = motion_clips(num_test, 1)

def train(model, steps, lr=1e-3, batch=32, seed=0):
    torch.manual_seed(seed)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    for _ in range(steps):
        index = torch.randint(0, len(x_train), (batch,))
        loss = F.cross_entropy(model(x_train[index].to(device)), y_train[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()

@torch.no_grad()
def predict(model, clips):
    return torch.cat([model(clips[i:i + 128].to(device)).argmax(1).cpu() for i in range(0, len(clips), 128)])

def make(pt):
    return ViViT(num_frames=8, image_size=(16, 16), patch_size=4, tubelet_frames=pt, variant="joint", dim=64,
                 depth=4, num_heads=4, num_classes=len(MOTIONS))
''')

md(r'''
## Exercise 1 — start tubelets from a trained frame-patch model
''')

code(r'''
seed_everything(0)
frame_model = train(make(1), pretrain_steps)
print(f"frame-patch model: accuracy {(predict(frame_model, x_test) == y_test).float().mean():.3f}")

trained = {k: v for k, v in frame_model.state_dict().items() if not k.startswith("embed.")}
results = {}
for start in ("scratch", "central", "average"):
    seed_everything(1)
    model = make(2)
    if start != "scratch":
        missing, unexpected = model.load_state_dict(trained, strict=False)
        assert set(missing) == {"embed.weight", "embed.bias"} and not unexpected
        model.inflate_from(frame_model.embed.weight, frame_model.embed.bias, start)
    model = train(model, finetune_steps, lr=5e-4)
    results[start] = (predict(model, x_test) == y_test).float().mean().item()
    print(f"tubelets from {start:<8}: accuracy after {finetune_steps} steps {results[start]:.3f}")
assert set(results) == {"scratch", "central", "average"}
''')

md(r'''
**Reading it.** Inflation carries over everything the frame model learned: the blocks are
copied, and the inflated embedding maps a tubelet to (nearly) the token the frame model saw
— exactly for a static clip, approximately for a slow one. So the inflated models start
where the frame model ended and fine-tune quickly, while the scratch model has only
`finetune_steps` steps. ViViT (§4.2, Table 1) found "central frame" inflation best on
Kinetics: it starts as the frame model looking at one frame per tubelet and learns to use
the others.
''')

md(r'''
## Exercise 2 — does the order of frames matter?
''')

code(r'''
forward = predict(frame_model, x_test)
backward = predict(frame_model, x_test.flip(dims=[1]))              # the same clips, frames reversed

def confusion(truth, predicted):
    matrix = torch.zeros(len(MOTIONS), len(MOTIONS), dtype=torch.long)
    for t, p in zip(truth, predicted):
        matrix[t, p] += 1
    return matrix

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (name, predicted) in zip(axes, [("frames in order", forward), ("frames reversed", backward)]):
    m = confusion(y_test, predicted)
    ax.imshow(m.numpy(), cmap="Blues")
    for i in range(len(MOTIONS)):
        for j in range(len(MOTIONS)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7)
    ax.set(xticks=range(6), yticks=range(6), xticklabels=MOTIONS, yticklabels=MOTIONS, title=name,
           xlabel="predicted", ylabel="true")
    ax.tick_params(axis="x", rotation=45)
plt.tight_layout(); plt.show()

swapped = {"left": "right", "right": "left", "up": "down", "down": "up"}
for true, mirror in swapped.items():
    rows = y_test == MOTIONS.index(true)
    share = (backward[rows] == MOTIONS.index(mirror)).float().mean().item()
    print(f"true {true:<5} reversed -> predicted {mirror:<5}: {share:.2f} of {int(rows.sum())} clips")
assert len(backward) == len(y_test)
''')

md(r'''
**Reading it.** With a trained model, reversing time turns "left" into "right" and "up"
into "down": the model reads direction from the order of frames, so it really uses time.
"Still" stays still. "Bouncing" reversed is not "down": a reversed bounce still shows
parabolic arcs and reversals at the floor — gravity reversed looks like a ball thrown
upward from the floor, which the model has only ever seen inside bounces. (In fast mode the
model is barely trained and the matrices are noise.)
''')

md(r'''
## Exercise 3 — the cost formulas

With $f$ time slots, $s$ tokens per slot, width $D$, depth $L$ (and $L_t$ temporal blocks for
the factorized encoder), each attention matmul costs $2 \times (\text{query tokens}) \times
(\text{key tokens}) \times D$ FLOPs summed over heads, and there are two ($QK^\top$ and $AV$):

- joint: $4 L D (fs)^2$
- factorized encoder: $4 L D f s^2 + 4 L_t D f^2$ (the temporal stage runs on one token per frame)
- factorized self-attention: $4 L D (f s^2 + s f^2)$
- factorized dot-product: $4 L D (f s^2 + s f^2) / 2$ (half the heads each way)
''')

code(r'''
def formula(variant, f, s, D=64, L=4, Lt=2):
    return {"joint": 4 * L * D * (f * s) ** 2,
            "factorized_encoder": 4 * L * D * f * s * s + 4 * Lt * D * f * f,
            "factorized_self_attention": 4 * L * D * (f * s * s + s * f * f),
            "factorized_dot_product": 4 * L * D * (f * s * s + s * f * f) // 2}[variant]

for F_, H in [(4, 16), (8, 16), (8, 32)]:
    for variant in ("joint", "factorized_encoder", "factorized_self_attention", "factorized_dot_product"):
        model = ViViT(num_frames=F_, image_size=(H, H), patch_size=4, variant=variant, dim=64, depth=4, num_heads=4)
        ops = count_flops(lambda: model(torch.randn(1, F_, 3, H, H)), by_operator=True)
        counted = sum(n for op, n in ops.items() if "bmm" in op)
        f, s = model.config.grid[0], model.config.grid[1] * model.config.grid[2]
        print(f"F={F_:>2} {H}x{H} {variant:<27} counted {counted:>11,}  formula {formula(variant, f, s):>11,}")
        assert counted == formula(variant, f, s)
''')

code(TIMING.replace("this lesson", "these solutions"))

build(cells, "/work/issue5/solutions/05_vivit_solutions.ipynb")
print("built", len(cells), "cells")
