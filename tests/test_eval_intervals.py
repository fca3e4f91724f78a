"""minisora.eval.wilson_interval: closed forms, a published value, coverage, and clear errors."""

import math
import random

import pytest

from minisora.eval import intervals_overlap, wilson_interval


def test_the_published_cases_and_the_ends():
    low, high = wilson_interval(50, 100)  # p = 0.5: centre 0.5, half-width 1.96 sqrt(0.25/100 + ...) / (1 + ...)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    z = 1.959963984540054
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(z * z / (10 + z * z))
    assert wilson_interval(10, 10) == pytest.approx((10 / (10 + z * z), 1.0))
    a, b = wilson_interval(3, 20), wilson_interval(17, 20)
    assert a[0] == pytest.approx(1 - b[1]) and a[1] == pytest.approx(1 - b[0])  # symmetric in k <-> n - k


def test_it_narrows_with_samples_and_widens_with_confidence():
    widths = [h - lo for lo, h in (wilson_interval(n // 2, n) for n in (10, 100, 1000))]
    assert widths[0] > widths[1] > widths[2] and widths[2] == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 1000), rel=0.01)
    assert wilson_interval(30, 100, 0.99)[1] > wilson_interval(30, 100, 0.95)[1]


def test_about_95_percent_of_intervals_hold_the_true_rate():
    rng = random.Random(0)
    hits = 0
    for _ in range(2000):
        k = sum(rng.random() < 0.3 for _ in range(96))
        low, high = wilson_interval(k, 96)
        hits += low <= 0.3 <= high
    assert 0.93 < hits / 2000 < 0.97


def test_lesson_06s_conditioning_rows_are_within_the_noise_of_each_other():
    in_context, cross = wilson_interval(26, 96), wilson_interval(30, 96)  # 0.27 vs 0.31 on 96 samples
    assert intervals_overlap(in_context, cross)
    assert not intervals_overlap(wilson_interval(5, 96), wilson_interval(90, 96))


@pytest.mark.parametrize("args, message", [((0.5, 10), "successes must be an int"), ((5, 0), "trials must be >= 1"),
                                           ((11, 10), "between 0 and trials=10"), ((-1, 10), "between 0"),
                                           ((5, 10, 1.5), "confidence must be a number in"),
                                           ((True, 10), "successes must be an int"), ((5, 10.0), "trials must be")])
def test_bad_counts_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(*args)
