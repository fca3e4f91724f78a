"""Multi-head attention, the one module every transformer here uses (lessons 02, 04-06, 09).

Vaswani et al. (2017), eq. 1: Attention(Q, K, V) = softmax(Q Kᵀ / √d) V, run in h heads of
width d = D / h. Self-attention takes Q, K, V from the same tokens; cross-attention takes
K, V from a context (a caption's tokens). `F.scaled_dot_product_attention` computes eq. 1
with fused kernels (flash / memory-efficient) where the hardware has them;
`attention_reference` is the formula written out, which the tests hold it to.
QK-norm (Dehghani et al. 2023) normalizes queries and keys per head, which keeps the
logits bounded and large-model training stable. Rotary positions (`positions.apply_rope`)
turn queries and keys after the norm, when the caller passes their angles.

The mask contract. Every mask is a bool tensor, True = "this query may attend this key";
there are three ways to say which keys a query sees, and they combine (a key is seen only
if every one that is given allows it):

    key_padding_mask  (B, S)               per sample, which keys are real (a caption's padding is False)
    attn_mask         (L, S) or (B, L, S)  per query and key, shared by all heads (e.g. a block pattern)
    is_causal         True                 query i sees keys 0..i (self-attention only, where L = S)

Float masks are refused: a 0/1 float mask handed to `F.scaled_dot_product_attention` is
*added* to the scores, so the "masked" keys are still attended (with a +0 or +1 bias). A
query whose every key is masked has nothing to attend to: softmax over an empty set is
0/0 (NaN from the plain formula, and from some SDPA kernels), so minisora defines its
output as 0. The layer then adds nothing to that token, and a residual block passes it
through unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from minisora.blocks.positions import apply_rope


def _check_bool_mask(
    mask: Tensor, name: str, shapes: dict[str, tuple[int, ...]], device: torch.device, hint: str = ""
) -> None:
    """A ValueError unless `mask` is a bool tensor of one of `shapes` ({"(B, S)": (2, 5)}) on `device`."""
    expected = " or ".join(f"{label} = {shape}" for label, shape in shapes.items())
    if not isinstance(mask, Tensor):
        raise ValueError(f"{name} must be a bool tensor of shape {expected}, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor (True = attend), got dtype {mask.dtype}; for a 0/1 mask "
                         f"pass mask.bool() (a float mask would be added to the scores, not mask them)")
    if tuple(mask.shape) not in shapes.values():
        raise ValueError(f"{name} must have shape {expected}, got {tuple(mask.shape)}{hint}")
    if mask.device != device:
        raise ValueError(f"{name} is on {mask.device} but the tokens are on {device}; move it with .to(x.device)")


def _keys_seen(
    batch: int, L: int, S: int, key_padding_mask: Tensor | None, attn_mask: Tensor | None, is_causal: bool,
    device: torch.device,
) -> Tensor | None:
    """Which keys each query sees, (B or 1, 1, L, S) bool, from the masks given (checked); None if no mask
    is given (then SDPA applies is_causal itself, on its fast path)."""
    if key_padding_mask is None and attn_mask is None:
        return None
    keep = torch.ones(1, 1, L, S, dtype=torch.bool, device=device)  # (1, 1, L, S)
    if key_padding_mask is not None:
        _check_bool_mask(key_padding_mask, "key_padding_mask", {"(B, S)": (batch, S)}, device)
        keep = keep & key_padding_mask[:, None, None, :]  # (B, 1, L, S)
    if attn_mask is not None:
        is_2d = isinstance(attn_mask, Tensor) and attn_mask.ndim == 2
        hint = "; a per-sample (B, S) padding mask goes in key_padding_mask" if is_2d else ""
        _check_bool_mask(attn_mask, "attn_mask", {"(L, S)": (L, S), "(B, L, S)": (batch, L, S)}, device, hint)
        full = attn_mask if attn_mask.ndim == 3 else attn_mask[None]  # (B or 1, L, S)
        keep = keep & full[:, None]  # (B or 1, 1, L, S)
    if is_causal:
        keep = keep & torch.ones(L, S, dtype=torch.bool, device=device).tril()  # query i sees keys 0..i
    return keep


def attention_reference(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, is_causal: bool = False
) -> Tensor:
    """softmax(Q Kᵀ / √d) V written out; q (..., L, d), k and v (..., S, d).

    mask: bool, broadcastable to (..., L, S), True = attend. is_causal: query i attends keys
    j <= i. A query row with every key masked returns zeros (see the module docstring).
    """
    if mask is not None and mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = attend), got dtype {mask.dtype}")
    L, S = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    keep = torch.ones(L, S, dtype=torch.bool, device=q.device)  # (L, S)
    if is_causal:
        keep = keep.tril()  # query i keeps keys 0..i
    if mask is not None:
        keep = keep & mask  # (..., L, S)
    weights = scores.masked_fill(~keep, float("-inf")).softmax(dim=-1)  # rows with no key: NaN
    weights = weights.masked_fill(~keep.any(dim=-1, keepdim=True), 0.0)  # ... defined as 0
    return weights @ v  # (..., L, d)


class Attention(nn.Module):
    """Multi-head self-attention, or cross-attention when `context_dim` is given; (B, L, D) -> (B, L, D)."""

    def __init__(
        self, dim: int, num_heads: int = 4, context_dim: int | None = None, qk_norm: bool = False, bias: bool = True
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}; pick heads that divide it")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.is_cross = context_dim is not None
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_out = nn.Linear(dim, dim, bias=bias)
        # LayerNorm without a learned shift: the scale alone is enough to set the logit range.
        self.q_norm = nn.LayerNorm(self.head_dim, bias=False) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, bias=False) if qk_norm else nn.Identity()

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        rope: Tensor | None = None,
    ) -> Tensor:
        """x (B, L, D); context (B, S, D_ctx) for cross-attention (else S = L).

        key_padding_mask (B, S) bool, attn_mask (L, S) or (B, L, S) bool, True = attend;
        is_causal: query i sees keys 0..i (self-attention only); rope: RoPE angles
        (L, <= d/2), self-attention only. See the module docstring for the mask contract.
        """
        if self.is_cross and context is None:
            raise ValueError("this is a cross-attention layer: pass context=(B, S, context_dim)")
        if not self.is_cross and context is not None:
            raise ValueError("this is a self-attention layer; "
                             "build Attention(..., context_dim=...) for cross-attention")
        if not isinstance(is_causal, bool):
            raise ValueError(f"is_causal must be True or False, got {is_causal!r}")
        if is_causal and self.is_cross:
            raise ValueError("is_causal orders a sequence against itself; in cross-attention the context has no "
                             "such order: pass attn_mask=(L, S) to say which context tokens each query sees")
        source = x if context is None else context
        q = rearrange(self.to_q(x), "B L (h d) -> B h L d", h=self.num_heads)
        k = rearrange(self.to_k(source), "B S (h d) -> B h S d", h=self.num_heads)
        v = rearrange(self.to_v(source), "B S (h d) -> B h S d", h=self.num_heads)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            if self.is_cross:
                raise ValueError("RoPE rotates queries and keys of the same sequence: use it in self-attention only")
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        keep = _keys_seen(x.shape[0], x.shape[1], source.shape[1], key_padding_mask, attn_mask, is_causal, q.device)
        if keep is None:  # no mask, or causal alone: SDPA's own path (flash kernels know is_causal)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (B, h, L, d)
            return self.to_out(rearrange(out, "B h L d -> B L (h d)"))  # (B, L, D)
        has_key = keep.any(dim=-1, keepdim=True)  # (B or 1, 1, L, 1): does the query see any key?
        # A query that sees no key would be softmax over nothing (NaN). Let it see every key, so the
        # kernel and its gradient stay finite, then set its output to 0 (the contract above).
        keep = keep | ~has_key
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # (B, h, L, d)
        out = self.to_out(rearrange(out, "B h L d -> B L (h d)"))  # (B, L, D)
        return out.masked_fill(~has_key[:, 0], 0.0)  # has_key[:, 0] (B or 1, L, 1)
