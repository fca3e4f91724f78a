import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 04 — worked solutions

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/solutions/04_vit_patches_solutions.ipynb)

Answers to the exercises of [`lessons/04_vit_patches.ipynb`](../lessons/04_vit_patches.ipynb), each with a check.
Fast mode (`MINISORA_FAST=1`) is a quick smoke run; full mode gives the numbers quoted.
''')

code(setup_cell('''
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from minisora import FAST, get_device, seed_everything
from minisora.data import object_frames
from minisora.models import ViT, ViTConfig

start_time = time.perf_counter()
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}")
'''))

code(r'''
size = 32
steps = 100 if FAST else 1_200
frames = object_frames(3_000 if FAST else 20_000, height=size, width=size, seed=0)
num_test = 480 if FAST else 2_400
x_all = frames.images

def train(model, x, y, steps, lr=1e-3, batch=64, seed=0):
    torch.manual_seed(seed)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(0, len(x), (batch,))
        loss = F.cross_entropy(model(x[index].to(device)), y[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval(), time.perf_counter() - start

@torch.no_grad()
def accuracy(model, x, y):
    predictions = torch.cat([model(x[i:i + 256].to(device)).argmax(1).cpu() for i in range(0, len(x), 256)])
    return (predictions == y).float().mean().item()
''')

md(r'''
## Exercise 1 — positions matter

The label: is the object's centre in the left half? We read the centre off the pixels
(the mean column of the non-black ones), so the label is exactly what the image shows.
''')

code(r'''
ink = x_all.amax(dim=1) > 0.3                                                  # (N, H, W): object pixels
columns = torch.arange(size).float()
center_x = (ink.float() * columns).sum(dim=(1, 2)) / ink.float().sum(dim=(1, 2))
left = (center_x < size / 2).long()                                            # 1 = left half
print(f"{left.float().mean():.2f} of the frames have the object on the left")

x_train, y_train, x_test, y_test = x_all[num_test:], left[num_test:], x_all[:num_test], left[:num_test]
results = {}
for positions in ("none", "sincos", "learned"):
    seed_everything(0)
    model, _ = train(ViT(image_size=(size, size), patch_size=4, num_classes=2, positions=positions), x_train, y_train, steps)
    results[positions] = accuracy(model, x_test, y_test)
    print(f"positions={positions:<8} held-out accuracy {results[positions]:.3f}")
# Without positions the model sees a *set* of patches: left and right are the same set, up to
# sub-patch offsets. It can only guess.
assert results["none"] < 0.62
''')

md(r'''
**Why section 4's task barely needed them.** Colour and shape are properties of the object's
own patches: the set of patch tokens already says "red pixels in a triangle-ish
arrangement", and a triangle's patches differ from a circle's *within* the patch. Where
the object is does not matter for its name, so positions only help a little there (mostly
to assemble shapes across patch borders). Asking *where* is a different question: without
positions the transformer is permutation-invariant and the answer is a coin flip; with
either kind of position it is easy.
''')

md(r'''
## Exercise 2 — where does the [class] token look?
''')

code(r'''
labels = frames.labels[:, 0] * 3 + frames.labels[:, 1]
seed_everything(0)
vit, _ = train(ViT(image_size=(size, size), patch_size=4, num_classes=24), x_all[num_test:], labels[num_test:], steps)
print(f"24-class accuracy {accuracy(vit, x_all[:num_test], labels[:num_test]):.3f}")

captured = {}
hook = vit.blocks[-1].norm1.register_forward_hook(lambda m, i, o: captured.update(h=o))
images = x_all[:6].to(device)
with torch.no_grad():
    vit(images)
hook.remove()
attn = vit.blocks[-1].attn
h = captured["h"]                                                              # (B, 1 + 64, D): the normalized input
with torch.no_grad():
    q = rearrange(attn.to_q(h), "B L (n d) -> B n L d", n=attn.num_heads)
    k = rearrange(attn.to_k(h), "B L (n d) -> B n L d", n=attn.num_heads)
    weights = (q[:, :, :1] @ k.transpose(-1, -2) / math.sqrt(attn.head_dim)).softmax(dim=-1)   # (B, heads, 1, 65)
to_patches = weights[:, :, 0, 1:].mean(dim=1).reshape(-1, 8, 8).cpu()         # average over heads, drop cls->cls

fig, axes = plt.subplots(2, 6, figsize=(10, 3.6))
for i in range(6):
    axes[0, i].imshow(images[i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest"); axes[0, i].axis("off")
    axes[1, i].imshow(to_patches[i].numpy(), cmap="magma"); axes[1, i].axis("off")
axes[0, 0].set_title("frame", loc="left", fontsize=8); axes[1, 0].set_title("[class] attention, last block", loc="left", fontsize=8)
plt.tight_layout(); plt.show()

on_object = F.avg_pool2d(x_all[:6].amax(1, keepdim=True).gt(0.3).float(), 4)[:, 0] > 0   # (6, 8, 8) patches with ink
share = (to_patches * on_object).sum(dim=(1, 2)) / to_patches.sum(dim=(1, 2))
print("attention mass on the object's patches:", np.round(share.numpy(), 2),
      "| their share of the patches:", np.round(on_object.float().mean(dim=(1, 2)).numpy(), 2))
assert torch.allclose(weights.sum(dim=-1), torch.ones(1, device=weights.device), atol=1e-5)
''')

md(r'''
**Reading it.** After training, the class token puts far more of its attention on the few
patches that hold the object than their share of the frame — it learned to look for the
thing it must name. (With little training, in fast mode, the map is still nearly flat.)
''')

md(r'''
## Exercise 3 — class token or mean pooling?
''')

code(r'''
for pool in ("cls", "mean"):
    seed_everything(0)
    model, seconds = train(ViT(image_size=(size, size), patch_size=4, num_classes=24, pool=pool),
                           x_all[num_test:], labels[num_test:], steps)
    results[pool] = accuracy(model, x_all[:num_test], labels[:num_test])
    print(f"pool={pool:<5} accuracy {results[pool]:.3f} in {seconds:.0f} s")
assert min(results["cls"], results["mean"]) > 1 / 24
''')

md(r'''
**Reading it.** The two are close in cost (one extra token of 65). Mean pooling hands the
head an average over all patches from the first step; the class token has to learn, through
attention, which patches to read — here most are black, so the average dilutes the object
while the class token can focus on it, but needs steps to learn to. Which wins at a given
budget is an empirical question; ViT's appendix (D.3) found both work once the learning rate
suits each.
''')

code(TIMING.replace("this lesson", "these solutions"))

build(cells, "/work/issue5/solutions/04_vit_patches_solutions.ipynb")
print("built", len(cells), "cells")
