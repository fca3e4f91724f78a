import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 03 — worked solutions

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/solutions/03_latent_diffusion_solutions.ipynb)

Answers to the exercises of [`lessons/03_latent_diffusion.ipynb`](../lessons/03_latent_diffusion.ipynb), each with a check.
Fast mode (`MINISORA_FAST=1`) is a quick smoke run; full mode gives the numbers quoted.
''')

code(setup_cell('''
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from minisora import FAST, get_device, seed_everything
from minisora.core import count_flops
from minisora.data import object_frames
from minisora.diffusion import NoiseProcess, make_schedule
from minisora.models import UNET_PRESETS, VAE, VAE_PRESETS, UNet, vae_loss

start_time = time.perf_counter()
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}")
'''))

code(r'''
size = 16 if FAST else 32
vae_steps = 40 if FAST else 400          # training steps of each VAE in exercise 1
frames = object_frames(1_000 if FAST else 8_000, height=size, width=size, seed=0)
x = frames.images * 2 - 1
''')

md(r'''
## Exercise 1 — how much KL?

Four VAEs, the same steps and batches, differing only in `kl_weight` (β). The object-weighted
loss of the lesson throughout.
''')

code(r'''
def train_vae(kl_weight, steps, seed=0):
    seed_everything(seed)
    vae = VAE(VAE_PRESETS["f4"]).to(device)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (32,), generator=g)].to(device)
        loss = vae_loss(vae, batch, kl_weight=kl_weight, object_weight=10.0)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return vae.eval()

betas = [0.0, 1e-6, 1e-3, 1e-1]
vaes, stats = {}, {}
test = x[:256].to(device)
for beta in betas:
    vaes[beta] = vae = train_vae(beta, vae_steps)
    with torch.no_grad():
        q = vae.posterior(test)
        recon = vae.decoder(q.mode()).clamp(-1, 1)
    mse = ((recon - test) / 2).square().mean()
    stats[beta] = dict(psnr=(10 * torch.log10(1 / mse)).item(), kl=(q.kl().mean() / q.mean[0].numel()).item(),
                       std=q.mode().std().item())
print(f"{'kl_weight':>10}{'PSNR dB':>9}{'KL/element':>12}{'latent std':>12}")
for beta, s in stats.items():
    print(f"{beta:>10g}{s['psnr']:>9.1f}{s['kl']:>12.3f}{s['std']:>12.3f}")
assert stats[1e-1]["kl"] < stats[0.0]["kl"]            # a stronger KL pull gives a smaller KL
''')

code(r'''
# Decode the straight line between the latents of two frames.
a, b = test[0:1], test[3:4]
fig, axes = plt.subplots(len(betas), 7, figsize=(7, 1.1 * len(betas)))
with torch.no_grad():
    for row, beta in zip(axes, betas):
        za, zb = vaes[beta].posterior(a).mode(), vaes[beta].posterior(b).mode()
        for ax, w in zip(row, np.linspace(0, 1, 7)):
            image = vaes[beta].decoder((1 - w) * za + w * zb).clamp(-1, 1)[0]
            ax.imshow(((image + 1) / 2).permute(1, 2, 0).cpu().numpy(), interpolation="nearest"); ax.axis("off")
        row[0].set_title(f"β = {beta:g}", fontsize=8, loc="left")
plt.tight_layout(); plt.show()
''')

md(r'''
**Reading it.** With β = 0 nothing bounds the latents: their spread is arbitrary and the
halfway point between two codes can decode to something no frame looks like (here: two
ghosts overlapping). A tiny β (SD's ~10⁻⁶) barely changes the reconstruction but keeps the
scale in check. Large β pulls every code toward $\mathcal N(0, I)$: the KL falls, and so
does the PSNR — the code stops carrying detail. Latent diffusion wants the small-β end:
good reconstructions, with the scale fixed afterwards by the measured scaling factor
(exercise 2). Interpolations stay ghostly in pixel-like latents at any β: an autoencoder's
latent space is not a space of *plausible* frames — making samples plausible is the
diffusion model's job.
''')

md(r'''
## Exercise 2 — why scale the latents?

For data of standard deviation $\sigma$, $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$
has signal variance $\bar\alpha_t \sigma^2$ against noise variance $1 - \bar\alpha_t$:
$\mathrm{SNR}_\sigma(t) = \sigma^2 \bar\alpha_t / (1 - \bar\alpha_t)$.
''')

code(r'''
process = NoiseProcess(make_schedule("linear", 1000))
alpha_bar = process.schedule.alphas_cumprod
snr = alpha_bar / (1 - alpha_bar)
sigma = stats[1e-6]["std"]                                       # the raw latent std of the β = 1e-6 VAE
snr_raw = sigma ** 2 * snr

# Where the two processes are equally noisy at the ends. If σ > 1, raw latents at t = 999 are only as
# noisy as scaled ones at an earlier t; if σ < 1, raw latents reach the last step's noise earlier.
if sigma > 1:
    t_equal = int(torch.nonzero(snr <= snr_raw[999]).min())
    message = f"raw latents at t = 999 are only as noisy as scaled ones at t = {t_equal}"
else:
    t_equal = int(torch.nonzero(snr_raw <= snr[999]).min())
    message = f"raw latents are as noisy at t = {t_equal} as scaled ones at t = 999"
plt.figure(figsize=(5, 3))
plt.semilogy(snr, label="scaled latents (σ = 1)")
plt.semilogy(snr_raw, label=f"raw latents (σ = {sigma:.2f})")
plt.axhline(snr[999].item(), color="gray", ls=":"); plt.axvline(t_equal, color="gray", ls=":")
plt.xlabel("t"); plt.ylabel("SNR(t)"); plt.legend(); plt.show()
print(f"raw latent σ = {sigma:.3f}: {message}")
assert torch.allclose(snr_raw, snr * sigma ** 2)
''')

md(r'''
**Reading it.** If σ > 1 (typical: here the raw latents are wider than the pixels), the
unscaled latents keep more signal at every $t$ than the schedule was designed for: at
$t = 999$ they are still *less* noisy than intended, so the sampler's start, pure
$\mathcal N(0, I)$, is not what the network saw at $t = 999$ in training — samples inherit a
mismatch at the very first step. If σ < 1 the reverse: the schedule wastes steps on latents
already drowned, and the useful range of $t$ shrinks. Dividing by σ (SD's 0.18215 = 1/5.49)
puts the latents where the schedule assumes them.
''')

md(r'''
## Exercise 3 — count the FLOPs by hand

Every convolution costs $2 \cdot k^2 \cdot C_\text{in} C_\text{out} H_\text{out} W_\text{out}$ FLOPs (one multiply and one
add per weight per output position). Hooks read each conv's real output size.
''')

code(r'''
net = UNet(UNET_PRESETS["S"]).eval()
by_hand = []
def count(module, inputs, output):
    k = module.kernel_size[0] * module.kernel_size[1]
    by_hand.append(2 * k * module.in_channels * module.out_channels * output.shape[2] * output.shape[3] // module.groups)
hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.Conv2d)]
inputs = (torch.randn(1, 3, 32, 32), torch.tensor([500]))
ops = count_flops(lambda: net(*inputs), by_operator=True)        # attention counted too (the math backend)
for hook in hooks:
    hook.remove()

conv_counted = sum(n for op, n in ops.items() if "convolution" in op)
attention = sum(n for op, n in ops.items() if "bmm" in op)      # Q Kᵀ and (softmax) V run as batched matmuls
total = sum(ops.values())
print(f"convolutions: {sum(by_hand):,} FLOPs by hand, {conv_counted:,} counted")
print(f"total {total:,}; attention matmuls {attention:,} = {100 * attention / total:.2f}% of it")
for op, n in sorted(ops.items(), key=lambda kv: -kv[1]):
    print(f"  {op:<45} {n:>14,}")
assert sum(by_hand) == conv_counted
''')

md(r'''
**Reading it.** Convolutions are almost all of the U-Net's arithmetic; attention at 8×8
(64 tokens) is a small share (counted only because `count_flops` forces the math attention
backend — `FlopCounterMode` alone would report 0 for the fused CPU kernel), and the linear layers of the embeddings are noise. The hand
count and the counter agree exactly, which is why the lesson trusts the counter for the
pixel-vs-latent comparison.
''')

code(TIMING.replace("this lesson", "these solutions"))

build(cells, "/work/main/solutions/03_latent_diffusion_solutions.ipynb")
print("built", len(cells), "cells")
