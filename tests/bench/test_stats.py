"""archscout.stats: the intervals, corrected bootstrap, ranks, critical difference and rank agreement, by hand."""
import math

import pytest

from archscout.stats import anytime_area, average_ranks, bootstrap_difference, nemenyi_cd, rank_agreement, verdict


def test_bootstrap_difference_separates_shifted_samples_and_not_equal_ones():
    a = [0.90, 0.91, 0.92, 0.93, 0.94]
    diff, lo, hi = bootstrap_difference(a, [x - 0.05 for x in a])
    assert diff == pytest.approx(0.05) and 0 < lo < 0.05 < hi and verdict(lo, hi) == "better"
    diff, lo, hi = bootstrap_difference(a, list(reversed(a)))
    assert diff == pytest.approx(0.0) and lo < 0 < hi and verdict(lo, hi) == "no difference"
    assert verdict(-0.2, -0.1) == "worse" and verdict(-0.2, -0.1, higher_is_better=False) == "better"


def test_the_correction_widens_the_interval_and_the_draws_are_reproducible():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2.0, 3.0, 3.5, 5.0, 6.0, 7.5]
    _, lo1, hi1 = bootstrap_difference(a, b, comparisons=1)
    _, lo20, hi20 = bootstrap_difference(a, b, comparisons=20)
    assert lo20 < lo1 and hi20 > hi1
    assert bootstrap_difference(a, b, comparisons=20) == (_, lo20, hi20)
    assert math.isnan(bootstrap_difference([1.0], b)[1])  # one run: no interval
    with pytest.raises(ValueError):
        bootstrap_difference(a, b, comparisons=0)


def test_average_ranks_share_ties():
    table = {"d1": {"a": 0.9, "b": 0.8, "c": 0.7},
             "d2": {"a": 0.5, "b": 0.5, "c": 0.9}}  # a and b tie for 2nd and 3rd: 2.5 each
    assert average_ranks(table) == {"a": (1 + 2.5) / 2, "b": (2 + 2.5) / 2, "c": (3 + 1) / 2}
    assert average_ranks(table, higher_is_better=False)["c"] == (1 + 3) / 2
    with pytest.raises(ValueError, match="no value for c"):
        average_ranks({"d1": {"a": 1.0, "b": 2.0, "c": 3.0}, "d2": {"a": 1.0, "b": 2.0}})


def test_nemenyi_critical_difference_matches_demsar():
    # Demšar (JMLR 2006), section 3.2.2: four methods on 14 data sets, q_0.05 = 2.569, CD = 1.25
    assert nemenyi_cd(4, 14) == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=2e-3)
    assert nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.01)
    assert nemenyi_cd(2, 10) == pytest.approx(1.960 * math.sqrt(2 * 3 / 60), abs=2e-3)
    assert math.isnan(nemenyi_cd(1, 5))


def test_rank_agreement():
    r = rank_agreement([1, 2, 3, 4], [10, 20, 30, 40])
    assert r == {"n": 4, "spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0)}
    r = rank_agreement([1, 2, 3, 4], [40, 30, 20, 10])
    assert r["spearman"] == pytest.approx(-1.0) and r["kendall"] == pytest.approx(-1.0)
    assert rank_agreement([1, 3, 2], [1, 2, 3])["kendall"] == pytest.approx(1 / 3)
    assert math.isnan(rank_agreement([1, 2], [2, 1])["spearman"])  # too few
    assert math.isnan(rank_agreement([1, 1, 1], [1, 2, 3])["kendall"])  # a constant scoring
    with pytest.raises(ValueError):
        rank_agreement([1, 2, 3], [1, 2])


def test_anytime_area_is_the_mean_value_over_the_first_queries():
    assert anytime_area([0.0, 1.0, 1.0, 1.0], 4) == 0.75
    assert anytime_area([0.0, 1.0, 1.0, 1.0], 2) == 0.5
    assert anytime_area([0.5, 1.0], 4) == pytest.approx((0.5 + 3 * 1.0) / 4)  # stopped short: its last value
    assert math.isnan(anytime_area([], 3))
