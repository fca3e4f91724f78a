import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 02 — The U-Net: a denoiser that sees images

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/lessons/02_unet.ipynb)

Lesson 01 ended with a failure: an MLP that treats a 16×16 frame as a list of 768 unrelated
numbers could not learn to denoise it. Every image diffusion model since DDPM — and the
first stage of Sora's lineage, Stable Diffusion — fixed that with one network: the **U-Net**
(Ronneberger et al. 2015), as adapted by **Ho et al. 2020 (appendix B)** and refined by
**Dhariwal & Nichol 2021**. This lesson builds it piece by piece, trains it to draw
Bouncing Shapes frames of a requested colour and shape, and lets the judge of lesson 00 say
how often it draws what was asked.

**What you will build**
1. the sinusoidal **timestep embedding** that tells the network how noisy its input is;
2. the **residual block** with GroupNorm and the embedding as a per-channel scale and shift;
3. **self-attention** over the pixels of a feature map;
4. the **U-Net**: a down path, an up path and the **skip connections** between them —
   checked, layer for layer, against the package, and the package against diffusers' `UNet2DModel`;
5. the training loop of Algorithm 1 with labels, label dropout and an EMA of the weights;
6. samples with DDPM and DDIM, **classifier-free guidance**, and the judge's scores;
7. an **ablation**: what attention, skips and the time embedding each buy.

**What you need:** lesson 00 (the world, the judge) and lesson 01 (`minisora.diffusion`:
`NoiseProcess`, `DDPMSampler`, `DDIMSampler`, `sample`, `guided_model`). No GPU: full mode
trains on 2 CPU cores in about half an hour (the last cell says how long it took here).
''')

code(setup_cell('''
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from tqdm.auto import tqdm

from minisora import FAST, get_device, seed_everything
from minisora.data import COLORS, SHAPES
from minisora.data.frames import NUM_LABELS, all_labels, label_names, object_frames
from minisora.diffusion import DDIMSampler, DDPMSampler, NoiseProcess, guided_model, make_schedule, sample
from minisora.eval.images import image_census, score_images

start_time = time.perf_counter()  # the last cell prints how long the whole lesson took
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}, {torch.get_num_threads()} torch threads")
'''))

code(r'''
# Fast mode: 16x16 frames and a few hundred steps (a smoke test). Full mode: the real result.
size = 16 if FAST else 32                 # frames are size x size pixels
num_train = 2_000 if FAST else 20_000     # labelled training frames
batch_size = 32
train_steps = 200 if FAST else 3_000      # AdamW steps of the main U-Net
ablation_steps = 60 if FAST else 600      # steps of each ablation (the main run is scored at this step too)
per_class = 1 if FAST else 4              # samples per (colour, shape) class when scoring: 24 x per_class
ddpm_steps = 100 if FAST else 1_000       # ancestral DDPM steps (1000 = Algorithm 2 as written)
ddpm_per_class = 1 if FAST else 2         # DDPM's 1000 steps cost 20x DDIM's 50: fewer samples
print(f"{size}x{size} frames, {num_train} of them; {train_steps} steps (ablations {ablation_steps}); "
      f"{24 * per_class} samples per score")
''')

md(r'''
## 1. The data: one object, two labels

Each training frame is the first frame of a one-object Bouncing Shapes scene: one of 8
colours × 3 shapes, small or large, anywhere in the frame, on black. The **labels** are the
colour and the shape — what we will ask the model for. The size and the place are left to
chance, so the model must learn them as variation. `minisora.data.frames.object_frames`
makes them from a seed (no files, no downloads).

Before trusting the judge with generated frames, check it on real ones: it should read
every real frame's colour and shape correctly. That is the ceiling a perfect model reaches.
''')

code(r'''
frames = object_frames(num_train, height=size, width=size, seed=0)
x_train = frames.images * 2 - 1                     # (N, 3, H, W) in [-1, 1]: diffusion wants unit scale
labels_train = frames.labels                        # (N, 2): (colour id, shape id)

def show_grid(images, titles=None, ncols=12, scale=1.0):
    """A grid of (N, 3, H, W) images in [0, 1]."""
    n = len(images)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + (0.3 if titles else 0)))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=6)
    plt.tight_layout()
    plt.show()

show_grid(frames.images[:24], [" ".join(frames.names(i)) for i in range(24)])

real = frames.images[:240]
real_names = [frames.names(i) for i in range(240)]
ceiling = score_images(real, [c for c, _ in real_names], [s for _, s in real_names])
print("the judge on 240 real frames:", {k: round(v, 3) for k, v in ceiling.items()})
assert ceiling["match"] >= 0.98  # the judge reads real frames (nearly) perfectly
''')

md(r'''
## 2. Why a U-Net

An MLP's first layer connects every pixel to every unit: it must learn separately that a
red disc in the top-left and one in the bottom-right are the same thing. A **convolution**
shares one small filter across all positions, so what it learns in one place works
everywhere, with a few thousand weights instead of millions. But a 3×3 filter sees only
its neighbours; to decide "this is one object, all of it red" the network needs to see far.
The U-Net gets there cheaply by halving the resolution level by level (a 3×3 filter at
1/4 resolution covers 12×12 pixels), then climbing back up — and, because detail is lost on
the way down, it hands each up level the down path's features at the same resolution
through **skip connections**:

```
 x (3, 32, 32) ─ conv ─ [res]──────────────────────────────────────── skip ──► [res, res] ─ conv ─► ε̂ (3, 32, 32)
                          │ down (stride-2 conv)                                   ▲ up (nearest ×2 + conv)
                          ▼                                                        │
                        [res] (32, 16, 16) ─────────────────────────── skip ──► [res, res]
                          │ down                                                   ▲ up
                          ▼                                                        │
                        [res + attention] (64, 8, 8) ─ [res, attention, res] ─► [res + attention, ...]
 t ─► sinusoids ─► MLP ─► e  (and + label embedding): fed to every res block as a scale and a shift
```

We build the three ingredients — the embedding, the residual block, attention — in the
open, check each against `minisora`, then assemble the package's U-Net.
''')

md(r'''
## 3. Telling the network the time

The same network denoises at every $t$, and what is right to do depends on it (at $t = 10$
remove a speck of noise; at $t = 990$ invent an image). Ho et al. feed $t$ through the
Transformer's **sinusoidal position encoding** (Vaswani et al. 2017, §3.5): $k$ frequencies
$f_i = 10000^{-i/k}$ from 1 down to 1/10000, and the vector
$[\cos(t f_0), \dots, \cos(t f_{k-1}), \sin(t f_0), \dots, \sin(t f_{k-1})]$. Fast
frequencies separate neighbouring $t$, slow ones tell early from late; an MLP turns this
into the vector $e$ the blocks consume.
''')

code(r'''
def sinusoids(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """(B,) timesteps -> (B, dim): cosines then sines of t at dim/2 geometric frequencies."""
    half = dim // 2
    freqs = max_period ** (-torch.arange(half, dtype=torch.float32) / half)   # (half,): 1 ... 1/10000
    angles = t.float()[:, None] * freqs[None, :]                                # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)                      # (B, dim)

ts = torch.arange(1000)
table = sinusoids(ts, 64)                                 # (1000, 64)
similarity = F.normalize(table, dim=1) @ F.normalize(table, dim=1).T

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
left.imshow(table.T, aspect="auto", cmap="RdBu"); left.set(title="sinusoids(t, 64)", xlabel="t", ylabel="dimension")
right.imshow(similarity, cmap="viridis"); right.set(title="cosine similarity of two timesteps' embeddings",
                                                    xlabel="t", ylabel="t")
plt.tight_layout(); plt.show()

from minisora.blocks import timestep_embedding
# The package agrees (to float32 rounding of angles up to 999 radians, computed in a different order).
assert torch.allclose(sinusoids(ts, 64), timestep_embedding(ts, 64), atol=1e-4)
assert similarity[500, 501] > similarity[500, 600] > similarity[500, 999]           # near t look alike
print(f"similarity of t=500 with 501: {similarity[500, 501]:.3f}, with 600: {similarity[500, 600]:.3f}, "
      f"with 999: {similarity[500, 999]:.3f}")
''')

md(r'''
## 4. The residual block, with the time inside

A residual block computes $x + F(x)$ (He et al. 2016): if $F$ has nothing useful to add it
can output zero, so deep stacks train. Ours is the pre-activation kind used by DDPM and
Stable Diffusion: GroupNorm → SiLU → 3×3 conv, twice. **GroupNorm** (Wu & He 2018)
normalizes groups of channels within each image, so it behaves the same at batch size 1
(sampling) as at 32 (training), unlike BatchNorm.

The embedding $e$ enters between the two convolutions as a per-channel **scale and
shift** of the normalized features — $h \leftarrow h\,(1 + \gamma(e)) + \beta(e)$ — which
Dhariwal & Nichol (2021) found better than DDPM's plain addition: the noise level can turn
whole feature channels up or down. If the channel count changes, a 1×1 conv adapts the
shortcut.
''')

code(r'''
class MyResBlock(nn.Module):
    """x + F(x, e): GroupNorm-SiLU-conv, then scale/shift by the embedding, then GroupNorm... conv."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)        # e -> (γ, β), one pair per output channel
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))                          # (B, C_out, H, W)
        gamma, beta = self.emb(F.silu(e)).chunk(2, dim=1)              # (B, C_out) each
        h = self.norm2(h) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        h = self.conv2(F.silu(h))
        return self.shortcut(x) + h

from minisora.blocks import ResBlock

mine = MyResBlock(16, 32, emb_dim=64)
theirs = ResBlock(16, 32, emb_dim=64, groups=8)
theirs.load_state_dict(mine.state_dict())          # same parameter names: the same block
x, e = torch.randn(2, 16, 8, 8), torch.randn(2, 64)
assert torch.allclose(mine(x, e), theirs(x, e), atol=1e-6)
print("MyResBlock == minisora.blocks.ResBlock on the same weights; output", tuple(mine(x, e).shape))
''')

md(r'''
## 5. Attention: letting distant pixels agree

Convolutions are local. At the lowest resolution (8×8 for 32×32 frames) the U-Net adds
**self-attention** (Vaswani et al. 2017, eq. 1), as DDPM did at 16×16: each position
becomes a token, and every token takes a weighted average of all tokens' values, weighted
by how well its query matches their keys:
$\mathrm{softmax}(QK^\top/\sqrt{d})\,V$, in several heads. One object's pixels can then
agree on one colour and one shape, wherever they are.

Lesson 04 builds attention for transformers; here it is written out once over a feature
map, then compared with the package's `AttentionBlock` (which runs
`F.scaled_dot_product_attention`, the fused kernel).
''')

code(r'''
def my_attention_block(block, x: torch.Tensor) -> torch.Tensor:
    """x + attention over the H*W positions of x (B, C, H, W), using the weights of `block`."""
    B, C, H, W = x.shape
    heads = block.attn.num_heads
    tokens = rearrange(block.norm(x), "B C H W -> B (H W) C")                 # (B, L, C), L = H*W
    q, k, v = (rearrange(proj(tokens), "B L (h d) -> B h L d", h=heads)       # (B, h, L, d) each
               for proj in (block.attn.to_q, block.attn.to_k, block.attn.to_v))
    weights = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(dim=-1)   # (B, h, L, L)
    out = rearrange(weights @ v, "B h L d -> B L (h d)")                      # (B, L, C)
    out = rearrange(block.attn.to_out(out), "B (H W) C -> B C H W", H=H, W=W)
    return x + out

from minisora.blocks import AttentionBlock

block = AttentionBlock(64, num_heads=4, groups=8)
x = torch.randn(2, 64, 8, 8)
assert torch.allclose(my_attention_block(block, x), block(x), atol=1e-5)
print("attention written out == minisora.blocks.AttentionBlock;", f"{8 * 8} tokens attend to {8 * 8}")
''')

md(r'''
## 6. The U-Net, assembled

`minisora.models.UNet` puts the pieces in diffusers' `UNet2DModel` layout: per level, a
residual block (plus attention where asked), then a stride-2 conv down; a middle of
res–attention–res; per level up, one more residual block than on the way down, each
taking the up path's features **concatenated** with one skip; nearest-neighbour ×2 and a
conv up. Labels (colour, shape) get one learned table each, summed with the time
embedding — plus a **null** row per table that stands for "no label", which classifier-free
guidance needs (section 8).

Three details of `initialize_weights()`, each with a reason: the last conv of every
residual block, the attention outputs and the final conv start at **zero**, so at step 0
every block is its shortcut and the network predicts $\hat\varepsilon = 0$ — a calm start.

The preset `"S"` (16–32–64 channels) is sized for 32×32 frames on a CPU: convolutions at
full resolution cost the most, so it keeps few channels there.
''')

code(r'''
# NBVAL_CHECK_OUTPUT
from minisora.models import UNET_PRESETS, UNet

model = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS)
print(model.config)
parts = {"time + label embeddings": [model.time_embed, model.label_embed], "down path": [model.conv_in, model.down, model.downsample],
         "middle": [model.mid, model.mid_attention], "up path": [model.up, model.upsample, model.norm_out, model.conv_out]}
for name, modules in parts.items():
    print(f"{name:<24} {sum(p.numel() for m in modules for p in m.parameters()):>9,} parameters")
print(f"{'total':<24} {sum(p.numel() for p in model.parameters()):>9,} parameters")
''')

code(r'''
# Trace the shapes through the network with forward hooks.
trace = []
hooks = [m.register_forward_hook(lambda m, i, o, name=name: trace.append((name, tuple(o.shape))))
         for name, m in [("conv_in", model.conv_in), *[(f"down[{i}]", d) for i, d in enumerate(model.downsample)],
                         ("middle", model.mid_attention), *[(f"up[{i}]", u) for i, u in enumerate(model.upsample)],
                         ("conv_out", model.conv_out)]]
x = torch.randn(2, 3, 32, 32)
out = model(x, torch.tensor([10, 900]), torch.tensor([[0, 1], [5, 2]]))
for hook in hooks:
    hook.remove()
for name, shape in trace:
    print(f"{name:<9} {shape}")

assert out.shape == x.shape                                   # a denoiser returns the shape it is given
assert torch.equal(out, torch.zeros_like(out))                # zero-initialized output: ε̂ = 0 at step 0
try:
    model(torch.randn(1, 3, 30, 30), torch.tensor([0]))
except ValueError as error:
    print("30x30 input ->", error)
''')

md(r'''
**The package against diffusers.** Because the layout matches diffusers' `UNet2DModel`
block for block, `minisora.models.diffusers_interop` can hand our weights to it. The test
suite does exactly that (`tests/test_models_unet.py`): with the same weights both networks
give the same output to 1e-5, and `bench/bench_unet.py` times the two side by side.
If diffusers is installed here, check it yourself:
''')

code(r'''
if importlib.util.find_spec("diffusers") is not None:
    from diffusers import UNet2DModel
    from minisora.models.diffusers_interop import diffusers_unet_kwargs, to_diffusers_state_dict

    plain = UNet(UNET_PRESETS["S"]).eval()                   # unconditional: diffusers has one class table, we have two
    for p in plain.parameters():
        nn.init.normal_(p, std=0.05)                          # non-zero everywhere, so every layer counts
    twin = UNet2DModel(**diffusers_unet_kwargs(plain.config, 32)).eval()
    twin.load_state_dict(to_diffusers_state_dict(plain.state_dict()))
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 700])
    with torch.no_grad():
        gap = (plain(x, t) - twin(x, t).sample).abs().max().item()
    print(f"max |minisora - diffusers| = {gap:.1e}")
    assert gap < 1e-4
else:
    print("diffusers is not installed; pip install diffusers to run this check")
''')

md(r'''
## 7. Training: Algorithm 1, with labels

The loop is lesson 01's Algorithm 1 — pick $t$, noise $x_0$ to $x_t$, regress the noise —
with four additions that every practical diffusion trainer has:

- **labels**: the network sees (colour, shape); 10% of the time the label embedder swaps
  them for the null label (`class_dropout_prob=0.1`), so the *same* network also learns the
  unconditional model;
- **AdamW with a short warm-up**: Adam's first steps are large; a linear ramp of the
  learning rate over 100 steps keeps the zero-initialized network from jumping;
- **gradient clipping** at norm 1, a guard against the rare huge-loss batch;
- an **EMA** of the weights (decay 0.999, warmed up), the copy we sample from: averaging
  the last few thousand iterates cancels their jitter (Ho et al., appendix B).

**One change of target.** Ho et al. regress the noise ε. To sample, the sampler recovers
$\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$, and at $t = 999$
$\sqrt{\bar\alpha_t} \approx 0.006$: any error in $\hat\varepsilon$ is multiplied by about 150. A long
training run makes that error tiny; a short one on a CPU does not, and we measured what
happens (section 9, "ε-prediction"): DDIM's samples blow up into coloured noise. So we train
the **v-prediction** of Salimans & Ho (2022, §4): $v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1-\bar\alpha_t}\,x_0$,
from which $\hat x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1-\bar\alpha_t}\,\hat v$ needs no division. Same
forward process, same samplers (told `prediction_type="v_prediction"`), same network. Both
samplers also clip $\hat x_0$ to the pixel range $[-1, 1]$ (`clip_sample=True`), as Ho et al.'s
own code did.

Here it is written out. `minisora.train.train_denoiser` is the same loop; the check runs
both for a few steps from the same weights and seeds and asserts they agree exactly, and
then the package's loop trains the model.
''')

code(r'''
from minisora.train import EMA, train_denoiser

process = NoiseProcess(make_schedule("linear", 1000))          # Ho et al.'s schedule, T = 1000
lr, warmup, ema_decay = 1e-3, 100, 0.995                         # a short run: EMA over the last ~200 steps
prediction = "v_prediction"

def my_train(model, x_data, labels, steps, seed=0):
    """Algorithm 1 with labels, AdamW + warm-up, clipping and EMA: returns the losses and the EMA copy."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    ema = EMA(model, decay=ema_decay)
    order_rng = torch.Generator().manual_seed(seed)
    order, cursor, losses = torch.randperm(len(x_data), generator=order_rng), 0, []
    model.train()
    for step in range(steps):
        if cursor + batch_size > len(x_data):                               # next epoch: reshuffle
            order, cursor = torch.randperm(len(x_data), generator=order_rng), 0
        index = order[cursor:cursor + batch_size]
        cursor += batch_size
        x0, y = x_data[index].to(device), labels[index].to(device)           # (B, 3, H, W), (B, 2)
        t = torch.randint(0, 1000, (batch_size,), device=device)            # t ~ Uniform{0..T-1}
        noise = torch.randn_like(x0)                                         # ε ~ N(0, I)
        x_t = process.add_noise(x0, noise, t)                                # √ᾱ_t x0 + √(1-ᾱ_t) ε
        v = process.get_velocity(x0, noise, t)                               # √ᾱ_t ε - √(1-ᾱ_t) x0
        loss = (model(x_t, t, y) - v).square().flatten(1).mean(1).mean()     # ‖v - v_θ(x_t, t, y)‖²
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)                # linear warm-up
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update()
        losses.append(loss.item())
    model.eval()
    return losses, ema

# The check: 5 steps of the loop above and of minisora's, from the same weights and seeds.
start = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS).to(device)
a, b = copy.deepcopy(start), copy.deepcopy(start)
torch.manual_seed(1)
mine_losses, _ = my_train(a, x_train, labels_train, 5)
torch.manual_seed(1)
package = train_denoiser(b, x_train, process, 5, labels=labels_train, batch_size=batch_size, lr=lr,
                         warmup=warmup, ema_decay=ema_decay, prediction_type=prediction, progress=False)
print("my loop:      ", np.round(mine_losses, 5))
print("train_denoiser:", np.round(package.losses, 5))
assert np.allclose(mine_losses, package.losses, rtol=1e-5)
assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))
''')

code(r'''
seed_everything(0)
model = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS).to(device)
settings = dict(labels=labels_train, batch_size=batch_size, lr=lr, ema_decay=ema_decay, prediction_type=prediction)
history = train_denoiser(model, x_train, process, ablation_steps, **settings)
early_ema = copy.deepcopy(history.ema.model)                  # the main run at the ablations' budget (section 9)
history = train_denoiser(model, x_train, process, train_steps - ablation_steps, history=history, **settings)
unet = history.ema.model                                        # the EMA copy is the one we sample from
print(f"trained {len(history.losses)} steps in {history.seconds / 60:.1f} min "
      f"({history.seconds / len(history.losses) * 1000:.0f} ms/step); "
      f"loss over the last 100 steps {np.mean(history.losses[-100:]):.4f}")

def plot_loss(losses, title):
    smooth = np.convolve(losses, np.ones(50) / 50, mode="valid") if len(losses) > 100 else losses
    plt.figure(figsize=(6, 2.8))
    plt.plot(losses, alpha=0.3, label="per step")
    plt.plot(np.arange(len(smooth)) + len(losses) - len(smooth), smooth, label="50-step mean")
    plt.yscale("log"); plt.xlabel("step"); plt.ylabel("loss"); plt.title(title); plt.legend(); plt.show()

plot_loss(history.losses, "U-Net v-prediction loss")
assert np.mean(history.losses[-50:]) < 0.5 * np.mean(history.losses[:50])   # it learned something
''')

md(r'''
## 8. Sampling, guidance, and the judge

Sampling is lesson 01's loop, unchanged: the network is just a callable
`model(x, t, labels=...)`. We ask for every (colour, shape) pair `per_class` times.

**Classifier-free guidance** (Ho & Salimans 2022, eq. 6) runs the network twice per step —
with the labels and with the null labels — and extrapolates away from the unconditional
prediction: $\tilde\varepsilon = \varepsilon_\varnothing + s\,(\varepsilon_y - \varepsilon_\varnothing)$.
$s = 1$ is the plain conditional model; $s > 1$ trades diversity for fidelity.
`guided_model` does both runs as one doubled batch.

We score with the judge: **colour** (is the asked colour present), **shape** (of that
colour), **count** (exactly one object, nothing else), **match** (all three).
''')

code(r'''
wanted = all_labels().repeat(per_class, 1).to(device)             # (24 * per_class, 2): every class, per_class times
wanted_names = [label_names(row) for row in wanted.cpu()]
null = unet.label_embed.null_labels(1, device)                      # (1, 2): the "no label" label

def ddim(prediction_type=prediction):
    return DDIMSampler(process.schedule, prediction_type=prediction_type, clip_sample=True)

def ddpm(prediction_type=prediction):
    return DDPMSampler(process.schedule, prediction_type=prediction_type, clip_sample=True)

def generate(net, sampler, steps, scale, labels=wanted, seed=100):
    """Samples in [0, 1] for the given labels, with guidance scale `scale`."""
    guided = guided_model(net, scale, labels=null)
    x = sample(guided, sampler, (len(labels), 3, size, size), steps, torch.Generator(device).manual_seed(seed),
               device=device, labels=labels)
    return ((x + 1) / 2).clamp(0, 1).cpu()

def judge_samples(images, labels=wanted):
    names = [label_names(row) for row in labels.cpu()]
    return score_images(images, [c for c, _ in names], [s for _, s in names])

scales = [1.0, 1.5, 2.0, 3.0, 5.0]
ddim_scores, ddim_images = {}, {}
for s in tqdm(scales, desc="DDIM-50 at each guidance scale"):
    ddim_images[s] = generate(unet, ddim(), 50, s)
    ddim_scores[s] = judge_samples(ddim_images[s])
best_scale = max(scales, key=lambda s: (ddim_scores[s]["match"], -s))

t0 = time.perf_counter()
ddpm_wanted = all_labels().repeat(ddpm_per_class, 1).to(device)
ddpm_images = generate(unet, ddpm(), ddpm_steps, best_scale, labels=ddpm_wanted)
ddpm_seconds = time.perf_counter() - t0
ddpm_score = judge_samples(ddpm_images, ddpm_wanted)

print(f"{'sampler':<22}{'guidance':>9}{'match':>8}{'colour':>8}{'shape':>8}{'count':>8}")
for s in scales:
    r = ddim_scores[s]
    print(f"{'DDIM, 50 steps':<22}{s:>9.1f}{r['match']:>8.2f}{r['color']:>8.2f}{r['shape']:>8.2f}{r['count']:>8.2f}")
r = ddpm_score
print(f"{f'DDPM, {ddpm_steps} steps':<22}{best_scale:>9.1f}{r['match']:>8.2f}{r['color']:>8.2f}{r['shape']:>8.2f}"
      f"{r['count']:>8.2f}   ({ddpm_seconds:.0f} s)")
print(f"(chance: colour 1/8 = 0.12, shape 1/3 = 0.33; real frames: {ceiling['match']:.2f})")
assert all(0.0 <= r["match"] <= 1.0 for r in ddim_scores.values())
''')

code(r'''
show_grid(ddim_images[best_scale][:24], [" ".join(n) for n in wanted_names[:24]])
print(f"DDIM-50, guidance {best_scale}: one sample per class, asked-for labels above each")
show_grid(ddpm_images[:24], [" ".join(n) for n in wanted_names[:24]])
print(f"DDPM-{ddpm_steps}, guidance {best_scale}")
''')

md(r'''
**Diversity without labels.** The null label gives the unconditional model. A good one
draws all 24 classes about equally often, like the data; a collapsed one draws a few.
We count what the judge sees in unconditional samples ("none" = empty or more than one
object) and compare the spread with the training frames'.
''')

code(r'''
num_uncond = len(wanted)
uncond = generate(unet, ddim(), 50, 1.0, labels=null.expand(num_uncond, 2).contiguous(), seed=200)
census = image_census(uncond)
real_census = image_census(frames.images[:num_uncond])

def entropy_bits(counts):
    p = np.array([c for k, c in counts.items() if k != ("none", "none")], dtype=float)
    p = p / p.sum() if p.sum() else p
    return float(-(p[p > 0] * np.log2(p[p > 0])).sum()) + 0.0   # + 0.0: no "-0.00"

print(f"unconditional samples: {len([k for k in census if k != ('none', 'none')])} of 24 classes seen, "
      f"entropy {entropy_bits(census):.2f} bits, {census[('none', 'none')]} of {num_uncond} empty or crowded")
print(f"training frames:       {len([k for k in real_census if k != ('none', 'none')])} of 24 classes seen, "
      f"entropy {entropy_bits(real_census):.2f} bits (uniform over 24: {math.log2(24):.2f})")
show_grid(uncond[:24])
assert sum(census.values()) == num_uncond
''')

md(r'''
## 9. What each piece buys: an ablation

Train the same U-Net for `ablation_steps` steps with one piece removed, and compare with
the full U-Net at the same step (the main run's EMA at that step): the loss, and the
judge's match rate at the guidance scale chosen above.

- **no attention**: no self-attention anywhere (the levels and the middle are pure convolution);
- **no skips**: the up path gets nothing from the down path (a plain encoder–decoder);
- **no time embedding**: the network is not told $t$ and must guess the noise level from $x_t$;
- **ε-prediction**: the full U-Net trained on Ho et al.'s target, sampled the same way.
''')

code(r'''
variants = {                                   # name -> (U-Net overrides, training target)
    "full U-Net": ({}, prediction),
    "no attention": (dict(attention_levels=(), mid_attention=False), prediction),
    "no skips": (dict(use_skips=False), prediction),
    "no time embedding": (dict(use_time=False), prediction),
    "ε-prediction": ({}, "epsilon"),
}
ablation = {}
for name, (overrides, target) in variants.items():
    if name == "full U-Net":
        net, losses = early_ema, history.losses[:ablation_steps]      # the main run, at the same step
    else:
        seed_everything(0)
        candidate = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS, **overrides).to(device)
        run = train_denoiser(candidate, x_train, process, ablation_steps, **{**settings, "prediction_type": target},
                             progress=False)
        net, losses = run.ema.model, run.losses
    images = generate(net, ddim(target), 50, best_scale)
    params = sum(p.numel() for p in net.parameters())
    ablation[name] = (params, float(np.mean(losses[-50:])), judge_samples(images), images)

print(f"after {ablation_steps} steps each, DDIM-50 at guidance {best_scale}:")
print(f"{'variant':<20}{'parameters':>11}{'loss':>9}{'match':>8}{'colour':>8}{'shape':>8}{'count':>8}")
for name, (params, loss, r, _) in ablation.items():
    print(f"{name:<20}{params:>11,}{loss:>9.4f}{r['match']:>8.2f}{r['color']:>8.2f}{r['shape']:>8.2f}{r['count']:>8.2f}")
print("(the ε row's loss is measured on another target, so only its judge scores compare)")
assert len(ablation) == len(variants)
''')

code(r'''
fig, axes = plt.subplots(len(ablation), 1, figsize=(12, 1.3 * len(ablation)))
for ax, (name, (_, _, _, images)) in zip(axes, ablation.items()):
    row = torch.cat(list(images[:12]), dim=2)                   # (3, H, 12 W): twelve samples side by side
    ax.imshow(row.permute(1, 2, 0).numpy(), interpolation="nearest"); ax.set_title(name, fontsize=9); ax.axis("off")
plt.tight_layout(); plt.show()
''')

md(r'''
## 10. What we built, and what is next

- A **U-Net** from three parts: a timestep embedding that tells every block the noise level,
  residual blocks that take it as a scale and shift, and attention at low resolution; skip
  connections carry detail past the bottleneck. `minisora.models.UNet` is that network,
  identical in function to diffusers' `UNet2DModel` at the same configuration.
- **Class conditioning** through embeddings added to the time vector, with a null label so
  one network is both the conditional and the unconditional model, and **classifier-free
  guidance** to trade diversity for fidelity — read the table above for what it bought here.
- The **judge** turns "do the samples look right?" into numbers, next to the ceiling real
  frames reach.

Pixels are expensive: every step of every sample runs the whole U-Net on all
$3 \times 32 \times 32$ numbers, most of them black. Lesson 03 trains an autoencoder that
compresses frames to a small latent, and runs this same U-Net there — Stable Diffusion's
recipe, and the first step toward Sora's "spacetime latent patches".
''')

code(TIMING)

md(r'''
## Exercises

Worked answers, with checks, are in [`solutions/02_unet_solutions.ipynb`](../solutions/02_unet_solutions.ipynb).

1. **How far does the U-Net see?** Compute the receptive field of the `"S"` U-Net's output
   pixel by hand (each 3×3 conv adds 2 pixels × the current stride; a stride-2 conv doubles
   the stride), then measure it: take the gradient of one output pixel with respect to the
   input and find the extent of the non-zero region. Compare with an MLP (everything) and a
   3-conv CNN without down-sampling.
   *Hint:* give the network non-zero weights first (`nn.init.normal_`), since the zero-initialized
   output layer has zero gradient everywhere; use `torch.autograd.grad` on `out[0, 0, 16, 16]`.
2. **Guidance against diversity.** Train a small conditional U-Net on 16×16 frames, then for
   guidance scales 0 (unconditional), 1, 2, 4 and 8 measure both the judge's match rate and
   the **diversity within one class**: the mean pixel distance between samples asked for the
   same label. Plot both against the scale. What does guidance buy, and what does it cost?
   *Hint:* the same starting noise for every scale makes the comparison fair.
3. **Swap the parts with diffusers.** Train an unconditional `"tiny"` U-Net for a few
   hundred steps, export it with `minisora.models.diffusers_interop`, and sample with
   diffusers' `DDIMScheduler` and `UNet2DModel` in diffusers' own loop. Show that, from the
   same starting noise, the samples equal ours (`DDIMSampler` + `UNet`) to float precision.
   *Hint:* diffusers' scheduler needs `set_timesteps(50)`, and `step(...).prev_sample`;
   use `timestep_spacing="leading"` and `beta_schedule="linear"`, `clip_sample=False`.
''')

build(cells, "/work/main/lessons/02_unet.ipynb")
print("built", len(cells), "cells")
