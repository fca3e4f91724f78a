"""CLIP's contrastive loss, its learned temperature, and retrieval scores (lesson 08).

Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision", figure 3's pseudocode, for a batch of B (caption, clip) pairs:

    1. t = normalize(text_emb), v = normalize(video_emb)               (B, E) each, unit rows
    2. logits = exp(τ) · t vᵀ                                           (B, B); pair i is the diagonal
    3. loss = ( CE(logits, diag) + CE(logitsᵀ, diag) ) / 2              text->video and video->text

τ is learned (`LogitScale`), initialized at log(1/0.07) and clamped so exp(τ) <= 100
(section 2.5: "to prevent scaling the logits by more than 100"). Here `logit_scale` means
exp(τ), the number the cosines are multiplied by, as open_clip passes it.

Duplicates. Several clips can share one canonical caption (two "a small red circle
bouncing" scenes in a batch): step 3 would then push caption i away from clip j although
they match. With `groups` (one id per pair, e.g. its canonical caption), the loss drops
those false negatives: a logit whose row and column are different pairs of the same group
is set to -inf before the softmax, so each caption is contrasted only with clips of other
captions (and vice versa); the positive stays the pair's own clip.

Retrieval (the evaluation): rank every clip for every caption by cosine similarity, and
every caption for every clip. A hit is any candidate of the query's group; the rank of a
query is 1 + the number of non-hits scoring at least as high as its best hit (ties count
against it, so a network that scores everything equal gets rank N, not 1). Top-k accuracy
is the share of queries with rank <= k; the mean rank is 1 for a perfect model and about
N/2 for chance.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

INIT_TEMPERATURE = 0.07  # CLIP's initial τ: logits start at cosine / 0.07
MAX_LOGIT_SCALE = 100.0  # exp(τ) is clamped here


class LogitScale(nn.Module):
    """The learned temperature: a parameter τ = log(1/0.07) at the start; forward() gives exp(min(τ, log 100))."""

    def __init__(self, init_temperature: float = INIT_TEMPERATURE, max_scale: float = MAX_LOGIT_SCALE) -> None:
        super().__init__()
        if not (isinstance(init_temperature, (int, float)) and 0 < init_temperature < math.inf):
            raise ValueError(f"init_temperature must be a positive number (CLIP: 0.07), got {init_temperature!r}")
        if not (isinstance(max_scale, (int, float)) and 1.0 / init_temperature <= max_scale < math.inf):
            raise ValueError(f"max_scale must be finite and >= 1/init_temperature = {1 / init_temperature:.3g} "
                             f"(CLIP: 100), got {max_scale!r}")
        self.max_log_scale = math.log(max_scale)
        # Learned in log space, so it stays positive and its steps are relative.
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def forward(self) -> Tensor:
        # Clamped where it is used (not by editing the parameter): above log 100 it gets no gradient, as in CLIP.
        return self.log_scale.clamp(max=self.max_log_scale).exp()  # () scalar


def _check_embeddings(text_emb: Tensor, video_emb: Tensor) -> None:
    for name, emb in (("text_emb", text_emb), ("video_emb", video_emb)):
        if not isinstance(emb, Tensor) or not emb.dtype.is_floating_point:
            what = f"dtype {emb.dtype}" if isinstance(emb, Tensor) else type(emb).__name__
            raise ValueError(f"{name} must be a float tensor (B, E), got {what}")
        if emb.ndim != 2 or emb.shape[0] == 0 or emb.shape[1] == 0:
            raise ValueError(f"{name} must have shape (B, E) with B, E >= 1, got {tuple(emb.shape)}")
    if text_emb.shape[1] != video_emb.shape[1]:
        raise ValueError(f"text_emb has width {text_emb.shape[1]} but video_emb {video_emb.shape[1]}; both towers "
                         "must project into the same space (embed_dim)")
    if text_emb.device != video_emb.device:
        raise ValueError(f"text_emb is on {text_emb.device} but video_emb on {video_emb.device}; "
                         "put both on one device")


def similarity(text_emb: Tensor, video_emb: Tensor) -> Tensor:
    """Cosine similarities (N_text, N_video) of text_emb (N_text, E) and video_emb (N_video, E)."""
    _check_embeddings(text_emb, video_emb)
    return F.normalize(text_emb, dim=-1) @ F.normalize(video_emb, dim=-1).T  # (N_t, N_v)


def group_ids(groups: Sequence[Hashable] | Tensor, count: int, name: str,
              table: dict | None = None) -> Tensor:
    """groups (N,) (strings, ints, or a 1-D integer tensor) -> int64 ids (N,), equal ids for equal groups.
    `table` (value -> id) is shared between calls, so two lists get comparable ids."""
    table = {} if table is None else table
    if isinstance(groups, Tensor):
        if groups.ndim != 1 or groups.dtype.is_floating_point or groups.dtype == torch.bool:
            raise ValueError(f"{name} must be a 1-D integer tensor or a list of labels, got "
                             f"{groups.dtype} {tuple(groups.shape)}")
        groups = groups.tolist()
    if isinstance(groups, str) or not isinstance(groups, Sequence):
        raise ValueError(f"{name} must be a list of labels (e.g. canonical captions) or a 1-D tensor, "
                         f"got {type(groups).__name__}")
    if len(groups) != count:
        raise ValueError(f"{name} has {len(groups)} labels but there are {count} items; give one label per item")
    ids = []
    for i, label in enumerate(groups):
        if not isinstance(label, Hashable) or isinstance(label, float):
            raise ValueError(f"{name}[{i}] = {label!r} is not a label (use strings or ints)")
        ids.append(table.setdefault(label, len(table)))
    return torch.tensor(ids, dtype=torch.long)


def clip_loss(text_emb: Tensor, video_emb: Tensor, logit_scale: Tensor | float,
              groups: Sequence[Hashable] | Tensor | None = None) -> Tensor:
    """CLIP's symmetric InfoNCE (module docstring, steps 1-3) for pairs (text_emb[i], video_emb[i]), each (B, E);
    `logit_scale` is exp(τ) (a positive number or 0-d tensor, e.g. LogitScale()()); with `groups` (B,),
    other pairs of a pair's own group are left out of its negatives."""
    _check_embeddings(text_emb, video_emb)
    if text_emb.shape[0] != video_emb.shape[0]:
        raise ValueError(f"text_emb has {text_emb.shape[0]} rows but video_emb {video_emb.shape[0]}; "
                         "the loss needs B matching (caption, clip) pairs")
    if isinstance(logit_scale, Tensor):
        if logit_scale.numel() != 1 or not logit_scale.dtype.is_floating_point:
            raise ValueError(f"logit_scale must be one positive float (exp(τ)), got a {logit_scale.dtype} tensor of "
                             f"shape {tuple(logit_scale.shape)}")
        logit_scale = logit_scale.reshape(())
    elif isinstance(logit_scale, bool) or not isinstance(logit_scale, (int, float)) or not (
            0 < logit_scale < math.inf):
        raise ValueError(f"logit_scale must be a positive finite number (exp(τ), CLIP starts at 1/0.07), "
                         f"got {logit_scale!r}")
    B = text_emb.shape[0]
    logits = logit_scale * similarity(text_emb, video_emb)  # (B, B): step 2, row = caption, column = clip
    if groups is not None:
        ids = group_ids(groups, B, "groups").to(logits.device)  # (B,)
        same = ids[:, None] == ids[None, :]  # (B, B)
        false_negative = same & ~torch.eye(B, dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(false_negative, float("-inf"))  # symmetric, so it serves both directions
    target = torch.arange(B, device=logits.device)  # (B,): pair i's match is column i
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2  # step 3


def _ranks(similarity: Tensor, hit: Tensor) -> Tensor:
    """similarity (Q, N) and hit (Q, N) bool -> each query's rank (Q,): 1 + non-hits scoring >= its best hit."""
    best = similarity.masked_fill(~hit, float("-inf")).max(dim=1, keepdim=True).values  # (Q, 1)
    return 1 + ((similarity >= best) & ~hit).sum(dim=1)  # (Q,)


def retrieval(similarity: Tensor, text_groups: Sequence[Hashable] | Tensor,
              video_groups: Sequence[Hashable] | Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, dict[str, float]]:
    """Retrieval scores from similarity (N_text, N_video): {"text_to_video": {"top1": ..., "top5": ...,
    "mean_rank": ...}, "video_to_text": {...}}; a hit is any candidate of the query's group."""
    if not isinstance(similarity, Tensor) or not similarity.dtype.is_floating_point or similarity.ndim != 2:
        what = f"{similarity.dtype} {tuple(similarity.shape)}" if isinstance(similarity, Tensor) else \
            type(similarity).__name__
        raise ValueError(f"similarity must be a float tensor (N_text, N_video), got {what}")
    if 0 in similarity.shape:
        raise ValueError(f"similarity is empty {tuple(similarity.shape)}; score at least one text and one video")
    if torch.isnan(similarity).any():
        raise ValueError("similarity holds NaN; check the embeddings (a zero vector has no direction)")
    if isinstance(ks, (int, str)) or not isinstance(ks, Sequence) or not ks or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty list of positive ints such as (1, 5), got {ks!r}")
    table: dict = {}  # one table, so a text and a video with the same label get the same id
    text_ids = group_ids(text_groups, similarity.shape[0], "text_groups", table)  # (N_t,)
    video_ids = group_ids(video_groups, similarity.shape[1], "video_groups", table)  # (N_v,)
    hit = text_ids[:, None] == video_ids[None, :]  # (N_t, N_v)
    for name, rows in (("text", hit), ("video", hit.T)):
        lonely = (~rows.any(dim=1)).nonzero()
        if len(lonely):
            other = "video" if name == "text" else "text"
            raise ValueError(f"{name} {int(lonely[0])} has no {other} of its group to find; every query needs at "
                             f"least one match among the candidates")
    scores = similarity.detach().float().cpu()
    results = {}
    for direction, sims, hits in (("text_to_video", scores, hit), ("video_to_text", scores.T, hit.T)):
        ranks = _ranks(sims, hits).float()  # (Q,)
        results[direction] = {**{f"top{k}": float((ranks <= k).float().mean()) for k in ks},
                              "mean_rank": float(ranks.mean())}
    return results
