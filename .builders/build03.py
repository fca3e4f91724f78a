import sys
sys.path.insert(0, "/tmp/nb")
from nbtools import build, setup_cell, TIMING

cells = []
md = lambda s: cells.append(("md", s))
code = lambda s: cells.append(("code", s))

md(r'''
# Lesson 03 — Latent diffusion: compress first, then diffuse

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minisora/minisora/blob/main/lessons/03_latent_diffusion.ipynb)

Sora does not diffuse pixels. OpenAI's report: *"We train a network that reduces the
dimensionality of visual data … Sora is trained on and subsequently generates videos within
this compressed latent space."* The recipe is **Rombach et al. 2022, "High-Resolution Image
Synthesis with Latent Diffusion Models"** (Stable Diffusion): first train an autoencoder that
squeezes images into a small latent and back, then run the diffusion model of lessons 01–02
on the latents. Most pixels carry little information (here: black); the autoencoder spends
its capacity on what matters, and the diffusion model runs on 12× fewer numbers.

**What you will build**
1. a **KL-regularized VAE** (Kingma & Welling 2014; SD's "KL-f4" first stage): encoder,
   reparameterization, decoder, and the loss reconstruction + β·KL;
2. the trap that made us add a **gate**: a VAE with good PSNR that loses the small coloured
   objects — and the loss that keeps them, with the judge scoring reconstructions *before*
   any latent diffusion is trained;
3. the **latent scale** measured from data (SD's 0.18215 was measured the same way);
4. **latent diffusion**: lesson 02's U-Net on latents, decoded and judged, against
   pixel-space diffusion given the same wall-clock time;
5. **compute saved, measured**: FLOPs per denoising step and per sample counted by
   `torch.utils.flop_counter`, and wall time side by side.

**What you need:** lessons 00–02 (`minisora.data`, the judge, `minisora.diffusion`,
`minisora.models.UNet`, `minisora.train.train_denoiser`). No GPU: full mode runs on 2 CPU
cores in about half an hour (the last cell says how long it took here).
''')

code(setup_cell('''
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from minisora import FAST, get_device, seed_everything
from minisora.core import count_flops
from minisora.data import BouncingShapes, object_frames
from minisora.data.frames import NUM_LABELS, all_labels, label_names
from minisora.diffusion import DDIMSampler, NoiseProcess, guided_model, make_schedule, sample
from minisora.eval import score, score_images
from minisora.models import UNET_PRESETS, VAE, VAE_PRESETS, DiagonalGaussian, UNet, vae_loss
from minisora.train import train_denoiser

start_time = time.perf_counter()  # the last cell prints how long the whole lesson took
device = get_device()
seed_everything(0)
print(f"FAST={FAST}, device={device}, {torch.get_num_threads()} torch threads")
'''))

code(r'''
# Fast mode: 16x16 frames and a few hundred steps (a smoke test). Full mode: the real result.
size = 16 if FAST else 32                  # frames are size x size
num_clips = 150 if FAST else 1_500         # Bouncing Shapes clips whose frames train the VAE (8 frames each)
compare_steps = 60 if FAST else 600        # steps of the plain-loss and object-weighted VAEs, side by side
vae_steps = 150 if FAST else 2_000         # total steps of the VAE we keep
num_gate = 12 if FAST else 100             # clips the judge scores for the gate
num_objects = 2_000 if FAST else 20_000    # one-object frames for the diffusion models (as in lesson 02)
latent_steps = 150 if FAST else 4_000      # steps of the latent U-Net
per_class = 1 if FAST else 4               # samples per (colour, shape) class when scoring
guidance = 1.0                             # lesson 02's best scale for this world (no guidance)
print(f"{size}x{size}; VAE {vae_steps} steps on {8 * num_clips} frames; latent U-Net {latent_steps} steps")
''')

md(r'''
## 1. The data: every kind of frame the world makes

The autoencoder must compress whatever later lessons will feed it — one to three objects,
black or gray backgrounds, camera pans and zooms — so it trains on frames of random
Bouncing Shapes clips (8 frames from each). Pixels are scaled to $[-1, 1]$.
''')

code(r'''
clips = BouncingShapes(length=num_clips, num_frames=16, height=size, width=size, seed=0)
videos = torch.stack([clips[i]["video"] for i in tqdm(range(num_clips), desc="rendering")])   # (N, F, 3, H, W)
vae_frames = videos[:, ::2].reshape(-1, 3, size, size) * 2 - 1                               # (8 N, 3, H, W)

gate_set = BouncingShapes(length=num_gate, num_frames=16, height=size, width=size, seed=123)   # never trained on
gate_videos = torch.stack([gate_set[i]["video"] for i in range(num_gate)])                    # (G, F, 3, H, W)
gate_specs = [gate_set[i]["spec"] for i in range(num_gate)]

fig, axes = plt.subplots(1, 12, figsize=(12, 1.2))
for ax, frame in zip(axes, vae_frames[::max(1, len(vae_frames) // 12)]):
    ax.imshow(((frame + 1) / 2).permute(1, 2, 0).numpy(), interpolation="nearest"); ax.axis("off")
plt.show()
on_object = ((vae_frames - vae_frames.flatten(2).median(2).values[..., None, None]).abs().amax(1) > 0.1).float().mean()
print(f"{len(vae_frames)} training frames; {100 * on_object:.1f}% of all pixels belong to an object")
assert vae_frames.shape[1:] == (3, size, size) and -1 <= vae_frames.min() and vae_frames.max() <= 1
''')

md(r'''
## 2. The VAE

**Encoder** $q_\phi(z \mid x)$: convolutions and residual blocks (lesson 02's `ResBlock`,
without a time input) halve the resolution twice — $f = 4$ — and output, per latent
position, a mean $\mu$ and a log-variance $\log\sigma^2$ for each of 4 channels:
$3 \times 32 \times 32 = 3072$ numbers become $4 \times 8 \times 8 = 256$.

**Reparameterization** (Kingma & Welling 2014, eq. 10): $z = \mu + \sigma \odot \varepsilon$,
$\varepsilon \sim \mathcal N(0, I)$ — the randomness is an input, so gradients flow to $\mu$ and $\sigma$.

**Decoder** $p_\theta(x \mid z)$: the mirror image, up to pixels.

**KL term**: $\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, 1)) = \tfrac12(\mu^2 + \sigma^2 - 1 - \log\sigma^2)$
per latent element (their appendix B). Stable Diffusion weights it tiny (β ≈ 10⁻⁶): not to
make latents Gaussian, just to keep them from spreading arbitrarily. We write the two
formulas out and check them against the package.
''')

code(r'''
mu, logvar = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
eps = torch.randn(2, 4, 8, 8)
z_mine = mu + torch.exp(0.5 * logvar) * eps                                              # reparameterization
kl_mine = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).flatten(1).sum(1)                # (B,) closed form

q = DiagonalGaussian(torch.cat([mu, logvar], dim=1))                                     # the package's posterior
torch.manual_seed(5); eps_again = torch.randn(2, 4, 8, 8)
torch.manual_seed(5); z_package = q.sample()
assert torch.allclose(z_package, mu + torch.exp(0.5 * logvar) * eps_again, atol=1e-6)
assert torch.allclose(kl_mine, q.kl(), atol=1e-4)
# The KL of a Monte-Carlo estimate: E_q[log q(z) - log p(z)], with many samples, matches the closed form.
normal = torch.distributions.Normal
draws = normal(mu[0, 0, 0, 0], torch.exp(0.5 * logvar[0, 0, 0, 0])).sample((200_000,))
mc = (normal(mu[0, 0, 0, 0], torch.exp(0.5 * logvar[0, 0, 0, 0])).log_prob(draws) - normal(0.0, 1.0).log_prob(draws)).mean()
one = 0.5 * (mu[0, 0, 0, 0] ** 2 + logvar[0, 0, 0, 0].exp() - 1 - logvar[0, 0, 0, 0])
print(f"KL of one element: closed form {one:.4f}, Monte Carlo {mc:.4f}")
assert abs(mc - one) < 0.02 + 0.02 * one
''')

code(r'''
# NBVAL_CHECK_OUTPUT
vae_config = VAE_PRESETS["f4"]
print(vae_config)
vae = VAE(vae_config)
print(f"encoder {sum(p.numel() for p in vae.encoder.parameters()):,} + decoder "
      f"{sum(p.numel() for p in vae.decoder.parameters()):,} parameters; f = {vae_config.factor}")
print("a 32x32 frame -> latent", vae.latent_shape(32, 32), "| a 48x64 frame ->", vae.latent_shape(48, 64))
''')

md(r'''
## 3. The trap, and the gate

The obvious loss is a pixel reconstruction (L1) plus β·KL. On our frames it has a trap:
most pixels are background (the share measured in section 1; over 90% in a one-object frame). A decoder that paints the background perfectly and
the objects as dim blurs scores a fine average error — and a respectable PSNR — yet the
colours and shapes, the only things a caption talks about, are gone. A diffusion model
trained on such latents can get no prompt right, however well it is trained.

So PSNR is not the test. **The gate**: reconstruct held-out *videos* frame by frame and let
the judge score them — colour, shape, size, motion, count, background, camera — against their
captions; the reconstructions must score within a few points of the originals. Only then
do we train a diffusion model on the latents.

The fix is in the loss: weight every pixel that differs from its frame's background by
$1 + w$ (`object_weight` $w = 10$), so an object pixel counts as much as ten background
pixels. Below, both losses train for the same number of steps from the same start.
''')

code(r'''
def train_vae(vae, frames, steps, object_weight, lr=1e-3, seed=0, progress=True):
    """AdamW on vae_loss over random batches of 32 frames; returns the per-step losses."""
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    vae.train()
    for _ in tqdm(range(steps), desc=f"VAE, object_weight={object_weight}", disable=not progress):
        batch = frames[torch.randint(0, len(frames), (32,), generator=g)].to(device)
        out = vae_loss(vae, batch, kl_weight=1e-6, object_weight=object_weight)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        losses.append(out["reconstruction"].item())
    vae.eval()
    return losses

@torch.no_grad()
def reconstruct(vae, videos):
    """Videos (B, F, 3, H, W) in [0, 1] through the VAE frame by frame (the mean latent)."""
    frames = videos.flatten(0, 1).to(device) * 2 - 1                          # (B F, 3, H, W)
    out = torch.cat([vae.decode(vae.encode(frames[i:i + 256])) for i in range(0, len(frames), 256)])
    return ((out.clamp(-1, 1) + 1) / 2).cpu().reshape(videos.shape)

def psnr(a, b):
    return (10 * torch.log10(1 / (a - b).square().mean())).item()

seed_everything(0)
start = VAE(vae_config).to(device)
vae_plain, vae_weighted = copy.deepcopy(start), copy.deepcopy(start)
losses_plain = train_vae(vae_plain, vae_frames, compare_steps, object_weight=0.0)
losses_weighted = train_vae(vae_weighted, vae_frames, compare_steps, object_weight=10.0)
''')

code(r'''
original_score = score(gate_videos, gate_specs)
rows = {"originals": (float("inf"), original_score)}
reconstructions = {}
for name, model in [("plain L1", vae_plain), ("object-weighted L1", vae_weighted)]:
    reconstructions[name] = reconstruct(model, gate_videos)
    rows[name] = (psnr(reconstructions[name], gate_videos), score(reconstructions[name], gate_specs))

def gate_table(rows, title):
    attributes = ["count", "background", "camera", "color", "shape", "size", "motion", "match"]
    print(title)
    print(f"{'':<26}{'PSNR':>7}" + "".join(f"{a:>11}" for a in attributes))
    for name, (db, r) in rows.items():
        print(f"{name:<26}{db:>7.1f}" + "".join(f"{r[a]:>11.2f}" for a in attributes))

gate_table(rows, f"after {compare_steps} steps each, {num_gate} held-out clips judged frame-by-frame reconstructed:")

fig, axes = plt.subplots(3, 8, figsize=(10, 4))
for row, (name, video) in zip(axes, [("original", gate_videos), *reconstructions.items()]):
    for ax, i in zip(row, range(8)):
        ax.imshow(video[i, 0].permute(1, 2, 0).numpy(), interpolation="nearest"); ax.axis("off")
    row[0].set_title(name, fontsize=8, loc="left")
plt.tight_layout(); plt.show()
assert rows["object-weighted L1"][1]["match"] >= rows["plain L1"][1]["match"]
''')

md(r'''
Read the table (the committed full run): at the same step the object-weighted VAE is ahead
on PSNR by about 5 dB — which sounds like "a little sharper" — but the judge shows what the
difference is made of: the plain loss loses a quarter of the colours and half the shapes
(objects come back dim or as blobs), and only about a third of the clips survive whole.
Weighting object pixels keeps the colours and sizes from the start; shapes need more
steps. Now train the kept VAE to the end and run the gate for real.
''')

code(r'''
more = train_vae(vae_weighted, vae_frames, vae_steps - compare_steps, object_weight=10.0, seed=1)
vae = vae_weighted
losses = losses_weighted + more
plt.figure(figsize=(6, 2.6))
plt.plot(losses_plain, label="plain L1 (reconstruction term)")
plt.plot(losses, label="object-weighted L1 (weighted reconstruction term)")
plt.yscale("log"); plt.xlabel("step"); plt.legend(); plt.title("VAE training"); plt.show()

final = reconstruct(vae, gate_videos)
rows["object-weighted, all steps"] = (psnr(final, gate_videos), score(final, gate_specs))
del rows["plain L1"]
gate_table(rows, f"the gate, after {vae_steps} steps:")

tolerance = 0.05      # "within a few points of the originals", on every attribute
gaps = {a: original_score[a] - rows["object-weighted, all steps"][1][a]
        for a in ["count", "background", "camera", "color", "shape", "size", "motion"]}
gate_passed = all(gap <= tolerance for gap in gaps.values())
print("largest gap:", max(gaps, key=gaps.get), f"{max(gaps.values()):.2f}", "-> gate", "PASSED" if gate_passed else "FAILED")
assert gate_passed or FAST, "the VAE loses what captions describe: do not train latent diffusion on it"
''')

md(r'''
In fast mode (a few dozen steps at 16×16) the gate is expected to fail, and the lesson
says so above; the committed full run is where it must pass.

## 4. The latent scale

The diffusion process assumes data of about unit variance (its end point is
$\mathcal N(0, I)$, and the schedule's SNR is computed for unit-scale signals). The VAE's
latents have whatever spread the β-small KL allowed. Stable Diffusion measured the standard
deviation of its latents over a batch of images and stored $1/\sigma$ = 0.18215; we do the same
(`fit_scaling_factor`), and `encode` returns scaled latents from then on.
''')

code(r'''
one_object = object_frames(num_objects, height=size, width=size, seed=0)
x_objects = one_object.images * 2 - 1
with torch.no_grad():                   # no autograd graph: 20,000 frames' worth would fill the memory
    raw = torch.cat([vae.posterior(x_objects[i:i + 512].to(device)).mode() for i in range(0, num_objects, 512)]).cpu()
    factor = vae.fit_scaling_factor(x_objects.to(device))
    latents = torch.cat([vae.encode(x_objects[i:i + 512].to(device)) for i in range(0, num_objects, 512)]).cpu()
print(f"raw latent std {raw.std():.3f} -> scaling_factor {factor:.4f}; scaled latents: mean {latents.mean():+.3f}, "
      f"std {latents.std():.3f}, shape {tuple(latents.shape[1:])}")

fig, axes = plt.subplots(3, 5, figsize=(8, 5))
for row, i in zip(axes, range(3)):
    row[0].imshow(one_object.images[i].permute(1, 2, 0).numpy(), interpolation="nearest")
    row[0].set_title(" ".join(one_object.names(i)), fontsize=8)
    for c in range(4):
        row[c + 1].imshow(latents[i, c].numpy(), cmap="RdBu", vmin=-3, vmax=3)
        row[c + 1].set_title(f"latent channel {c}", fontsize=8)
    for ax in row:
        ax.axis("off")
plt.tight_layout(); plt.show()
assert abs(latents.std().item() - 1) < 0.01
''')

md(r'''
The latents are small images: the object is still where it was, in 8×8 cells, its colour
spread over the four channels. That is why a U-Net works on them too.

## 5. Latent diffusion

Lesson 02's U-Net (`"S"`, with 4 input and output channels) learns to denoise the scaled
latents of the one-object frames, conditioned on (colour, shape), with lesson 02's
v-prediction target and settings. To sample: denoise a
latent with DDIM, then **decode once**. The judge scores decoded frames.

The comparison is **pixel-space diffusion given the same wall-clock time** — the same U-Net
on 32×32 pixels, trained for as many seconds as the latent model took.
''')

code(r'''
process = NoiseProcess(make_schedule("linear", 1000))
seed_everything(0)
latent_unet = UNet(UNET_PRESETS["S"], in_channels=4, num_classes=NUM_LABELS).to(device)
settings = dict(labels=one_object.labels, ema_decay=0.995, prediction_type="v_prediction")   # as in lesson 02
latent_run = train_denoiser(latent_unet, latents, process, latent_steps, **settings)
print(f"latent U-Net: {latent_steps} steps in {latent_run.seconds / 60:.1f} min "
      f"({latent_run.seconds / latent_steps * 1000:.0f} ms/step)")

# Pixel space, same wall-clock budget: time a few steps, then train for as many as fit.
seed_everything(0)
pixel_unet = UNet(UNET_PRESETS["S"], num_classes=NUM_LABELS).to(device)
probe = train_denoiser(pixel_unet, x_objects, process, 20, progress=False, **settings)
pixel_steps = max(20, int(latent_run.seconds / (probe.seconds / 20)))
pixel_run = train_denoiser(pixel_unet, x_objects, process, pixel_steps - 20, history=probe, **settings)
print(f"pixel U-Net: {len(pixel_run.losses)} steps in {pixel_run.seconds / 60:.1f} min "
      f"({pixel_run.seconds / len(pixel_run.losses) * 1000:.0f} ms/step)")

fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(latent_run.losses, alpha=0.6, label="latent U-Net"); ax.plot(pixel_run.losses, alpha=0.6, label="pixel U-Net")
ax.set(yscale="log", xlabel="step", ylabel="v loss", title="same wall-clock budget"); ax.legend(); plt.show()
assert np.mean(latent_run.losses[-50:]) < np.mean(latent_run.losses[:50])
''')

code(r'''
wanted = all_labels().repeat(per_class, 1).to(device)
names = [label_names(row) for row in wanted.cpu()]

@torch.no_grad()
def generate(net, shape, decode=None, seed=100):
    """DDIM-50 (guided if guidance != 1); pixels clip x̂0 to [-1, 1] as in lesson 02, latents have no fixed range."""
    null = net.label_embed.null_labels(1, device)
    model = net if guidance == 1.0 else guided_model(net, guidance, labels=null)
    sampler = DDIMSampler(process.schedule, prediction_type="v_prediction", clip_sample=decode is None)
    x = sample(model, sampler, (len(wanted), *shape), 50,
               torch.Generator(device).manual_seed(seed), device=device, labels=wanted)
    x = decode(x) if decode is not None else x
    return ((x.clamp(-1, 1) + 1) / 2).cpu()

latent_images = generate(latent_run.ema.model, latents.shape[1:], decode=vae.decode)
pixel_images = generate(pixel_run.ema.model, (3, size, size))
results = {"latent diffusion": latent_images, "pixel diffusion": pixel_images}
print(f"DDIM-50, guidance {guidance}, {len(wanted)} samples, same training wall time:")
print(f"{'':<18}{'steps':>7}{'match':>8}{'colour':>8}{'shape':>8}{'count':>8}")
for (name, images), run in zip(results.items(), (latent_run, pixel_run)):
    r = score_images(images, [c for c, _ in names], [s for _, s in names])
    results[name] = (images, r)
    print(f"{name:<18}{len(run.losses):>7}{r['match']:>8.2f}{r['color']:>8.2f}{r['shape']:>8.2f}{r['count']:>8.2f}")

fig, axes = plt.subplots(2, 12, figsize=(12, 2.4))
for row, (name, (images, _)) in zip(axes, results.items()):
    for ax, i in zip(row, range(12)):
        ax.imshow(images[i].permute(1, 2, 0).numpy(), interpolation="nearest"); ax.axis("off")
        ax.set_title(" ".join(names[i]), fontsize=5)
    row[0].text(-2, size / 2, name, fontsize=8, ha="right", va="center")
plt.tight_layout(); plt.show()
assert latent_images.shape == pixel_images.shape == (len(wanted), 3, size, size)
''')

md(r'''
## 6. Compute saved, measured

`torch.utils.flop_counter.FlopCounterMode` counts the floating-point operations of every
matmul and convolution a forward pass runs (2 per multiply-add). One catch, found by
checking it on attention alone: on the CPU, `F.scaled_dot_product_attention` runs a fused
kernel the counter has no formula for, so attention counts as **zero**. Forcing the "math"
backend runs the same attention as plain matmuls, which it counts. `minisora.core.count_flops`
does exactly that; later lessons use it.

Then we count one U-Net call in each space, the decoder call that latent sampling adds once
per sample, and a whole sample: 50 DDIM steps (twice the calls if guidance is on). Wall time
is measured the same way, side by side, on this machine.
''')

code(r'''
def naive_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fn()
    return counter.get_total_flops()

q = torch.randn(1, 4, 64, 16)                                    # 4 heads, 64 tokens, width 16
by_hand = 2 * (2 * 4 * 64 * 64 * 16)                             # Q Kᵀ and (softmax) V: two matmuls per head
attention = lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q)  # noqa: E731
print(f"attention: {by_hand:,} FLOPs by hand; FlopCounterMode alone counts {naive_flops(attention):,}; "
      f"minisora.core.count_flops counts {count_flops(attention):,}")
assert count_flops(attention) == by_hand

def seconds(fn, repeats=5) -> float:
    with torch.no_grad():
        fn()                                                     # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
    return (time.perf_counter() - start) / repeats

t1, y1 = torch.tensor([500], device=device), wanted[:1]
unets = {"pixel": (pixel_run.ema.model, (1, 3, size, size)), "latent": (latent_run.ema.model, (1, *latents.shape[1:]))}
flops, wall = {}, {}
for space, (net, shape) in unets.items():
    x = torch.randn(shape, device=device)
    flops[space] = count_flops(lambda: net(x, t1, y1))
    xb, tb, yb = torch.randn(64, *shape[1:], device=device), t1.expand(64), wanted[:1].expand(64, 2)
    wall[space] = seconds(lambda: net(xb, tb, yb)) / 64
z1 = torch.randn(1, *latents.shape[1:], device=device)
decode_flops = count_flops(lambda: vae.decode(z1))
decode_wall = seconds(lambda: vae.decode(torch.randn(64, *latents.shape[1:], device=device))) / 64

steps = 50                                                        # DDIM-50
doubling = 2 if guidance != 1.0 else 1                            # guidance runs the network twice per step
per_sample = {"pixel": steps * doubling * flops["pixel"], "latent": steps * doubling * flops["latent"] + decode_flops}
per_sample_wall = {"pixel": steps * doubling * wall["pixel"], "latent": steps * doubling * wall["latent"] + decode_wall}
print(f"{'':<34}{'pixel':>12}{'latent':>12}{'ratio':>8}")
print(f"{'input numbers':<34}{3 * size * size:>12,}{latents[0].numel():>12,}{3 * size * size / latents[0].numel():>8.1f}")
print(f"{'U-Net MFLOPs per call':<34}{flops['pixel'] / 1e6:>12.1f}{flops['latent'] / 1e6:>12.1f}"
      f"{flops['pixel'] / flops['latent']:>8.1f}")
print(f"{'decoder MFLOPs (once per sample)':<34}{'-':>12}{decode_flops / 1e6:>12.1f}")
print(f"{f'MFLOPs per sample (50 steps, x{doubling})':<34}{per_sample['pixel'] / 1e6:>12.0f}{per_sample['latent'] / 1e6:>12.0f}"
      f"{per_sample['pixel'] / per_sample['latent']:>8.1f}")
print(f"{'ms per U-Net call (batch of 64)':<34}{wall['pixel'] * 1e3:>12.3f}{wall['latent'] * 1e3:>12.3f}"
      f"{wall['pixel'] / wall['latent']:>8.1f}")
print(f"{'ms per sample, measured':<34}{per_sample_wall['pixel'] * 1e3:>12.1f}{per_sample_wall['latent'] * 1e3:>12.1f}"
      f"{per_sample_wall['pixel'] / per_sample_wall['latent']:>8.1f}")
print(f"{'training ms per step (batch 32)':<34}{pixel_run.seconds / len(pixel_run.losses) * 1e3:>12.0f}"
      f"{latent_run.seconds / latent_steps * 1e3:>12.0f}"
      f"{(pixel_run.seconds / len(pixel_run.losses)) / (latent_run.seconds / latent_steps):>8.1f}")
assert flops["latent"] < flops["pixel"]
''')

code(r'''
# NBVAL_CHECK_OUTPUT
# The counter is exact arithmetic on the architecture, so it is the same on every machine: check one conv by hand.
conv = nn.Conv2d(16, 32, 3, padding=1)
by_hand = 2 * 16 * 32 * 3 * 3 * 8 * 8                          # 2 FLOPs per multiply-add, per output position
print(f"conv 16->32, 3x3, on 8x8: {count_flops(lambda: conv(torch.randn(1, 16, 8, 8))):,} FLOPs counted, {by_hand:,} by hand")
''')

md(r'''
## 7. What we built, and what is next

- A **KL autoencoder** that turns a 3×32×32 frame into a 4×8×8 latent and back, with a
  latent scale measured from data — `minisora.models.VAE`, with the interface every
  autoencoder in minisora shares: `encode(x) -> latent`, `decode(latent) -> x`.
- A **gate** that judges reconstructions, not PSNR: a loss that weights object pixels keeps
  what captions describe; the plain loss, at a similar PSNR, does not.
- **Latent diffusion**: the same U-Net, on 12× fewer numbers, with FLOPs and wall time
  measured per step and per sample; the tables above say what the same training time
  bought in each space.

Next, lessons 04–05 cut images and videos into **patches** — the tokens of a transformer —
and lesson 06 replaces the U-Net with a **Diffusion Transformer** working on these latents.
Lesson 07 compresses time as well as space: Sora's "spacetime latent patches".
''')

code(TIMING)

md(r'''
## Exercises

Worked answers, with checks, are in [`solutions/03_latent_diffusion_solutions.ipynb`](../solutions/03_latent_diffusion_solutions.ipynb).

1. **How much KL?** Train small VAEs with `kl_weight` 0, 10⁻⁶, 10⁻³ and 10⁻¹ for the same
   number of steps. For each, report the reconstruction PSNR, the KL per element and the raw
   latent standard deviation. Decode the straight line between the latents of two frames:
   which β gives in-between images that still look like frames?
   *Hint:* `vae.posterior(x).mode()` gives unscaled latents; decode with `vae.decoder(z)`.
2. **Why scale the latents?** The schedule's signal-to-noise ratio is
   $\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)$ for unit-variance data. For data of
   standard deviation $\sigma$ it is $\sigma^2$ times that. Measure the raw latent σ of your VAE,
   plot both SNR curves, and find the timestep at which unscaled latents are already as
   noisy (SNR) as scaled ones at $t = 999$. What does that do to sampling?
   *Hint:* `process.schedule.alphas_cumprod`; solve $\sigma^2\,\mathrm{SNR}(t) = \mathrm{SNR}(999)$.
3. **Count the FLOPs by hand.** A 3×3 conv from $C_\text{in}$ to $C_\text{out}$ channels on
   an $H \times W$ map costs $2 \cdot 9 \cdot C_\text{in} C_\text{out} H W$ FLOPs. Sum this
   over every conv in the `"S"` U-Net at 32×32 (ignore norms, biases and activations) and
   compare with `FlopCounterMode`. What fraction of the total is attention's matmuls?
   *Hint:* walk `model.modules()` and hook each `nn.Conv2d` to read its input size.
''')

build(cells, "/work/main/lessons/03_latent_diffusion.ipynb")
print("built", len(cells), "cells")
