import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 02 — worked solutions

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/solutions/02_unet_solutions.ipynb)

Answers to the exercises of [`lessons/02_unet.ipynb`](../lessons/02_unet.ipynb), each with a check.
Like the lesson, fast mode (`MINISORA_FAST=1`) is a quick smoke run; full mode gives the numbers quoted.
''')

code(setup_cell('''
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from minisora import FAST, get_device, seed_everything
from minisora.data.frames import NUM_LABELS, all_labels, label_names, object_frames
from minisora.diffusion import DDIMSampler, NoiseProcess, guided_model, make_schedule, sample
from minisora.eval.images import score_images
from minisora.models import UNET_PRESETS, UNet
from minisora.train import train_denoiser

start_time = time.perf_counter()
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}")
'''))

code(r'''
steps = 150 if FAST else 2_000        # training steps of the exercise 2 model (16x16 frames)
per_class = 1 if FAST else 4          # samples per class and guidance scale in exercise 2
export_steps = 30 if FAST else 300    # training steps of the exercise 3 model
''')

md(r'''
## Exercise 1 — how far does the U-Net see?

**By hand**, for the `"S"` U-Net without attention, following the deepest path (an output
pixel's receptive field is set by the path that goes through the bottleneck). A 3×3 conv
adds 2 × (current stride) pixels; a stride-2 conv also doubles the stride; on the way up a
nearest ×2 upsample halves it again.

| stage | convs | stride | adds | receptive field |
|---|---|---|---|---|
| `conv_in` | 1 | 1 | 2 | 3 |
| down level 0: 1 res block | 2 | 1 | 4 | 7 |
| stride-2 conv | 1 | 1 → 2 | 2 | 9 |
| down level 1: 1 res block | 2 | 2 | 8 | 17 |
| stride-2 conv | 1 | 2 → 4 | 4 | 21 |
| down level 2: 1 res block | 2 | 4 | 16 | 37 |
| middle: 2 res blocks | 4 | 4 | 32 | 69 |
| up level 2: 2 res blocks | 4 | 4 | 32 | 101 |
| upsample + conv | 1 | 4 → 2 | 4 | 105 |
| up level 1: 2 res blocks | 4 | 2 | 16 | 121 |
| upsample + conv | 1 | 2 → 1 | 2 | 123 |
| up level 0: 2 res blocks | 4 | 1 | 8 | 131 |
| `conv_out` | 1 | 1 | 2 | **133** |

**Measured**: the gradient of one output pixel with respect to the input is non-zero
exactly on the pixels that can influence it. We use a 200×200 input, so the field fits.
''')

code(r'''
def receptive_field(net: nn.Module, size: int = 200) -> int:
    """Width of the input region that moves output pixel (0, centre, centre), from its gradient."""
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = net(x, torch.tensor([500]))
    c = size // 2
    (grad,) = torch.autograd.grad(out[0, 0, c, c], x)
    rows = torch.nonzero(grad[0].abs().sum(dim=(0, 2))).flatten()     # input rows with any influence
    return int(rows.max() - rows.min() + 1)

def randomized(net: nn.Module) -> nn.Module:
    """Non-zero weights everywhere: the zero-initialized output layer would give zero gradients."""
    torch.manual_seed(0)
    for p in net.parameters():
        nn.init.normal_(p, std=0.05)
    return net

def without_groupnorm(net: nn.Module) -> nn.Module:
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.GroupNorm):
                setattr(module, name, nn.Identity())
    return net

no_attention = dict(attention_levels=(), mid_attention=False)
fields = {
    "U-Net S": receptive_field(randomized(UNet(UNET_PRESETS["S"]))),
    "U-Net S, no attention": receptive_field(randomized(UNet(UNET_PRESETS["S"], **no_attention))),
    "U-Net S, no attention, no GroupNorm": receptive_field(randomized(without_groupnorm(UNet(UNET_PRESETS["S"], **no_attention)))),
}
for name, width in fields.items():
    print(f"{name:<38} {width:>4} of 200 pixels")
assert fields["U-Net S, no attention, no GroupNorm"] == 133           # the table above, exactly
assert fields["U-Net S"] == fields["U-Net S, no attention"] == 200     # global
''')

md(r'''
**Why the first two are global.** Attention lets every position read every other — that
one was expected. The surprise is the second: even without attention, **GroupNorm**
normalizes with the mean and variance of the *whole* feature map, so every output pixel
depends (weakly) on every input pixel. Only with the norms removed do we see the
convolutional receptive field, and it matches the hand count exactly: 133 pixels, four
times a 32×32 frame. For comparison, an MLP sees everything (but has to learn every
position separately) and three 3×3 convs without down-sampling see 7×7.
''')

md(r'''
## Exercise 2 — guidance against diversity

A small conditional U-Net on 16×16 frames; then, from the **same starting noise**, samples
at guidance scales 0 (the unconditional model), 1, 2, 4 and 8. Fidelity is the judge's match
rate. Diversity within a class is the mean pixel distance between two samples asked for
the same label.
''')

code(r'''
frames = object_frames(4_000 if FAST else 20_000, height=16, width=16, seed=0)
process = NoiseProcess(make_schedule("linear", 1000))
seed_everything(0)
net = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS).to(device)
run = train_denoiser(net, frames.images * 2 - 1, process, steps, labels=frames.labels, ema_decay=0.995,
                     prediction_type="v_prediction")                        # as in the lesson
model = run.ema.model
print(f"{steps} steps in {run.seconds:.0f} s, final loss {np.mean(run.losses[-50:]):.4f}")

labels = all_labels().repeat_interleave(per_class + 1, dim=0).to(device)   # each class per_class + 1 times in a row
names = [label_names(row) for row in labels.cpu()]
null = model.label_embed.null_labels(1, device)
noise = torch.randn(len(labels), 3, 16, 16, generator=torch.Generator().manual_seed(7)).to(device)

scales = [0.0, 1.0, 2.0, 4.0, 8.0]
fidelity, diversity = {}, {}
for s in scales:
    sampler = DDIMSampler(process.schedule, prediction_type="v_prediction", clip_sample=True)
    x = sample(guided_model(model, s, labels=null), sampler, noise.shape, 50,
               noise=noise, device=device, labels=labels)
    images = ((x + 1) / 2).clamp(0, 1).cpu()
    fidelity[s] = score_images(images, [c for c, _ in names], [sh for _, sh in names])["match"]
    groups = images.reshape(24, per_class + 1, -1)                            # (classes, samples, pixels)
    distances = torch.cdist(groups, groups)                                   # (24, k, k)
    k = per_class + 1
    diversity[s] = (distances.sum() / (24 * k * (k - 1))).item()              # mean over distinct pairs

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(scales, [fidelity[s] for s in scales], "o-", label="judge match rate")
ax2 = ax.twinx()
ax2.plot(scales, [diversity[s] for s in scales], "s--", color="C1", label="within-class distance")
ax.set(xlabel="guidance scale s", ylabel="match rate"); ax2.set_ylabel("mean pixel distance")
fig.legend(loc="lower center", fontsize=8); plt.tight_layout(); plt.show()
for s in scales:
    print(f"s = {s:3.1f}: match {fidelity[s]:.2f}, within-class distance {diversity[s]:.2f}")
assert fidelity[0.0] <= max(fidelity.values())     # the unconditional model ignores the label: never the best
''')

md(r'''
**Reading it.** At $s = 0$ the labels are ignored, so the match rate is what chance
gives. Raising $s$ pushes each sample toward what distinguishes its class from the
unconditional model: the judge's rate rises, and samples of one class grow more alike
(the within-class distance falls) — guidance buys fidelity with diversity. Far past the
best scale the extrapolation overshoots: colours saturate and shapes harden until samples
leave the data (and the judge's rate can fall again). The full-mode numbers above show
where that happens for this model.
''')

md(r'''
## Exercise 3 — swap the parts with diffusers

Train an unconditional `"tiny"` U-Net briefly, export it to diffusers' `UNet2DModel`, and
run diffusers' own loop with its `DDIMScheduler`. From the same starting noise the two
pipelines must produce the same samples.
''')

code(r'''
if importlib.util.find_spec("diffusers") is None:
    print("diffusers is not installed here: pip install diffusers to run this exercise")
else:
    from diffusers import DDIMScheduler, UNet2DModel
    from minisora.models.diffusers_interop import diffusers_unet_kwargs, to_diffusers_state_dict

    seed_everything(0)
    ours = UNet(UNET_PRESETS["tiny"]).to(device)
    train_denoiser(ours, frames.images * 2 - 1, process, export_steps, progress=False)
    ours = ours.eval()
    theirs = UNet2DModel(**diffusers_unet_kwargs(ours.config, 16)).to(device).eval()
    theirs.load_state_dict(to_diffusers_state_dict(ours.state_dict()))

    start = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(3)).to(device)
    mine = sample(ours, DDIMSampler(process.schedule), start.shape, 50, noise=start, device=device)

    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                              set_alpha_to_one=True, timestep_spacing="leading")
    scheduler.set_timesteps(50)
    x = start.clone()
    with torch.no_grad():
        for t in scheduler.timesteps:                                       # diffusers' own three-line loop
            x = scheduler.step(theirs(x, t).sample, t, x).prev_sample

    gap = (mine - x).abs().max().item()
    print(f"50 DDIM steps: max |minisora - diffusers| = {gap:.1e} (samples range {mine.min():.2f} .. {mine.max():.2f})")
    assert gap < 1e-3      # float32 ᾱ in diffusers vs float64 in minisora: agreement to float precision
''')

code(TIMING.replace("this lesson", "these solutions"))

build(cells, "/work/main/solutions/02_unet_solutions.ipynb")
print("built", len(cells), "cells")
