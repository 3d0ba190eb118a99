"""Ratios of two frameworks' timings and their bootstrap intervals, on recorded numbers."""
import numpy as np
import pytest

from scratchnet.harness.ratios import Ratio, ratio_with_interval


def test_the_ratio_is_the_ratio_of_the_pooled_medians():
    scratch = [[1.0, 2.0, 9.0], [3.0, 4.0, 5.0]]  # pooled median 3.5
    torch = [[7.0, 8.0, 20.0], [6.0, 10.0, 12.0]]  # pooled median 9.0
    ratio = ratio_with_interval(scratch, torch)
    assert ratio.value == pytest.approx(3.5 / 9.0) and ratio.rounds == 2
    assert ratio.low <= ratio.value <= ratio.high


def test_the_same_runs_give_the_same_interval():
    rng = np.random.default_rng(4)
    scratch = [rng.lognormal(0, 0.1, 7) for _ in range(3)]
    torch = [rng.lognormal(1, 0.1, 7) for _ in range(3)]
    assert ratio_with_interval(scratch, torch) == ratio_with_interval(scratch, torch)


def test_rounds_are_resampled_in_pairs():
    """A burst of load that slows both sides of a round equally must not widen the interval:
    round r of each side is drawn together. Here every round runs at another speed, but
    within each round scratch takes exactly half of torch's time, so every resample gives
    0.5; drawing the two sides' rounds independently would not."""
    speeds = [1.0, 1.7, 3.0, 1.2]
    scratch = [[0.5 * s] * 5 for s in speeds]
    torch = [[1.0 * s] * 5 for s in speeds]
    ratio = ratio_with_interval(scratch, torch)
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((0.5, 0.5, 0.5))


def test_equal_distributions_give_an_interval_around_one():
    rng = np.random.default_rng(7)
    scratch = [rng.lognormal(0, 0.2, 9) for _ in range(5)]
    torch = [rng.lognormal(0, 0.2, 9) for _ in range(5)]
    ratio = ratio_with_interval(scratch, torch)
    assert ratio.low < 1 < ratio.high, ratio


def test_the_interval_narrows_with_more_rounds():
    rng = np.random.default_rng(11)

    def rounds(n):
        return ([rng.lognormal(0, 0.3, 7) for _ in range(n)],
                [rng.lognormal(np.log(2), 0.3, 7) for _ in range(n)])

    few, many = ratio_with_interval(*rounds(3)), ratio_with_interval(*rounds(30))
    assert many.relative_half_width < few.relative_half_width / 2, (few, many)


def test_the_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    """200 simulated comparisons (seeded, so the count is fixed): each has 3 rounds whose
    speed varies from round to round (shared by both sides) and 7 noisy runs per side; the
    true ratio of medians is 0.5. A 95 % interval should miss it about 10 times in 200."""
    rng = np.random.default_rng(2024)
    covered = 0
    for _ in range(200):
        speeds = rng.lognormal(0, 0.2, 3)
        scratch = [0.5 * s * rng.lognormal(0, 0.1, 7) for s in speeds]
        torch = [1.0 * s * rng.lognormal(0, 0.1, 7) for s in speeds]
        ratio = ratio_with_interval(scratch, torch, resamples=500)
        covered += ratio.low <= 0.5 <= ratio.high
    assert 0.85 <= covered / 200 <= 1.0, f"coverage {covered / 200:.2f}"


def test_relative_half_width():
    assert Ratio(value=2.0, low=1.8, high=2.2, rounds=3).relative_half_width == pytest.approx(0.1)


@pytest.mark.parametrize("numerator,denominator,pattern", [
    ([], [], "numerator_rounds must be a non-empty list of rounds"),
    ([[1.0]], [[]], "denominator_rounds must be a non-empty list of rounds"),
    ([[1.0], [2.0]], [[1.0]], "both sides need the same rounds, got 2 and 1"),
    ([[1.0, 0.0]], [[1.0]], "numerator_rounds must hold positive finite timings"),
    ([[1.0]], [[float("nan")]], "denominator_rounds must hold positive finite timings"),
])
def test_bad_rounds_are_refused(numerator, denominator, pattern):
    with pytest.raises(ValueError, match=pattern):
        ratio_with_interval(numerator, denominator)
