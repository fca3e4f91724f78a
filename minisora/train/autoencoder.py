"""Train the image VAE of lesson 03 on Bouncing Shapes frames, and check it with the judge (the "gate").

Lesson 03 writes this loop in the open and explains the object-weighted loss; the package
version trains the VAE that ships in `data/` (`minisora train-vae`), which lessons 06 and
later load instead of training their own.
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from minisora.data import BouncingShapes
from minisora.eval import score
from minisora.models.vae import VAE, vae_loss


def clip_videos(num_clips: int, size: int, seed: int = 0, num_frames: int = 16) -> tuple[Tensor, list]:
    """`num_clips` Bouncing Shapes clips (N, F, 3, size, size) in [0, 1], and their specs (what the judge checks)."""
    clips = BouncingShapes(length=num_clips, num_frames=num_frames, height=size, width=size, seed=seed)
    items = [clips[i] for i in range(num_clips)]
    return torch.stack([item["video"] for item in items]), [item["spec"] for item in items]


def clip_frames(num_clips: int, size: int, seed: int = 0, num_frames: int = 16) -> tuple[Tensor, list]:
    """Every other frame of `num_clips` Bouncing Shapes clips in [-1, 1] (8 N, 3, size, size), and the clips' specs."""
    videos, specs = clip_videos(num_clips, size, seed, num_frames)  # (N, F, 3, H, W) in [0, 1]
    frames = videos[:, ::2].reshape(-1, 3, size, size) * 2 - 1  # (N F/2, 3, H, W): neighbours are near copies
    return frames, specs


def train_vae(
    vae: VAE,
    frames: Tensor,
    steps: int,
    *,
    batch_size: int = 32,
    lr: float = 1e-3,
    kl_weight: float = 1e-6,
    object_weight: float = 10.0,
    seed: int = 0,
    progress: bool = True,
    log_every: int = 0,
) -> list[float]:
    """AdamW on `vae_loss` over random batches of `frames` (N, 3, H, W) in [-1, 1]; the reconstruction term per step."""
    if steps < 0 or not 1 <= batch_size <= len(frames):
        raise ValueError(f"need steps >= 0 and 1 <= batch_size <= {len(frames)} (the frame count), got {steps}, {batch_size}")
    device = next(vae.parameters()).device
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    vae.train()
    for step in tqdm(range(steps), desc="VAE", disable=not progress):
        batch = frames[torch.randint(0, len(frames), (batch_size,), generator=generator)].to(device)
        out = vae_loss(vae, batch, kl_weight=kl_weight, object_weight=object_weight)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        losses.append(out["reconstruction"].item())
        if log_every and (step + 1) % log_every == 0:
            recent = losses[-log_every:]
            print(f"step {step + 1}: reconstruction {sum(recent) / len(recent):.4f}", flush=True)
    vae.eval()
    return losses


@torch.no_grad()
def reconstruct_videos(vae: VAE, videos: Tensor, batch_size: int = 256) -> Tensor:
    """Videos (B, F, 3, H, W) in [0, 1] through the VAE frame by frame (the mean latent), back in [0, 1]."""
    device = next(vae.parameters()).device
    frames = videos.flatten(0, 1) * 2 - 1  # (B F, 3, H, W)
    out = [vae.decode(vae.encode(frames[i : i + batch_size].to(device))).cpu() for i in range(0, len(frames), batch_size)]
    return ((torch.cat(out).clamp(-1, 1) + 1) / 2).reshape(videos.shape)


def gate(vae: VAE, videos: Tensor, specs: list) -> dict[str, dict[str, float]]:
    """The judge's scores of the original videos and of their reconstructions (lesson 03's gate)."""
    return {"original": score(videos, specs), "reconstructed": score(reconstruct_videos(vae, videos), specs)}
