"""Argument checks every layer shares: one wording for one mistake, naming the argument and the fix.

Each returns the value in its plain Python form (a NumPy integer becomes an int), so a caller
can write `seed = check_seed(seed)` and go on. Bad values are ValueErrors, as everywhere in the
package (a caller catches one type); the message says what was expected and what came.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes up to a signed 64-bit int


def check_int(value, name: str, minimum: int | None = None) -> int:
    """`value` as an int (bools refused: True is not a frame count), at least `minimum` if given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        wanted = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def check_seed(seed, name: str = "seed") -> int:
    """A seed: an int in [0, 2**63). Negative seeds are refused, not wrapped (NumPy would refuse them later)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"{name} must be a non-negative int, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be a non-negative int below 2**63, got {seed!r}")
    return int(seed)


def check_number(value, name: str, *, low: float | None = None, high: float | None = None,
                 positive: bool = False) -> float:
    """A finite real number (not a string, not NaN or inf), optionally > 0 and within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return value


def check_probability(value, name: str) -> float:
    """A probability: a number in [0, 1]."""
    return check_number(value, name, low=0.0, high=1.0)


def check_float_input(x: Tensor, name: str, like: Tensor) -> None:
    """`x` must be a floating tensor of the network's dtype (`like`, one of its parameters).

    Without this a float64 or uint8 input fails deep inside a matmul ("mat1 and mat2 must have
    the same dtype") with no word of which argument or how to fix it.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype == like.dtype:
        return
    if x.dtype == torch.uint8:
        raise ValueError(f"{name} is uint8 (bytes?); networks take {like.dtype}: convert with "
                         f"{name}.float() / 255 for pixels, then map them to the model's range")
    raise ValueError(f"{name} is {str(x.dtype).removeprefix('torch.')} but the network's weights are "
                     f"{str(like.dtype).removeprefix('torch.')}; convert with {name}.float() "
                     f"(or the model with model.to({name}.dtype))")
