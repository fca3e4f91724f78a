"""How sure a judge's rate is: the Wilson score interval for a proportion (Wilson 1927).

A match rate of 0.55 over 96 samples is not 0.55 ± 0: it is a binomial proportion, and two
options 0.04 apart on ~100 samples each are usually inside each other's noise. The Wilson
interval (Wilson 1927, "Probable inference, the law of succession, and statistical
inference", eq. 2) centres on (k + z²/2) / (n + z²) and, unlike the normal ("Wald")
approximation p ± z √(p(1-p)/n), never leaves [0, 1] and does not collapse to a point at
k = 0 or k = n, which is where judge rates of good and bad models live:

    centre = (p + z²/2n) / (1 + z²/n),  half-width = z √(p(1-p)/n + z²/4n²) / (1 + z²/n)
"""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for `successes` out of `trials` at `confidence` (two-sided)."""
    for name, value in (("successes", successes), ("trials", trials)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int (a count), got {value!r}; for a rate r over n samples pass "
                             "successes=round(r * n)")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}; a rate over no samples has no interval")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials={trials}, got {successes}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), e.g. 0.95, got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)  # 1.96 at 95 %
    p, n = successes / trials, trials
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At k = 0 (k = n) the lower (upper) end is exactly 0 (1); rounding would leave a 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two intervals share a point: the ranking of the two rates is within the noise."""
    return a[0] <= b[1] and b[0] <= a[1]
