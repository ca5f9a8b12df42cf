"""Statistics for comparing searches: intervals over seeds, corrected bootstrap intervals of differences,
average ranks with the Nemenyi critical difference, and rank agreement.

Every function is pure and deterministic (bootstrap resamples come from a seeded generator).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000


def t95(n: int) -> float:
    """Student's t quantile for a two-sided 95 % interval of a mean of ``n`` values."""
    if n < 2:
        return math.nan
    from scipy.stats import t
    return float(t.ppf(0.975, n - 1))


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % interval (Student's t)."""
    if not values:
        return math.nan, math.nan
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan
    return m, t95(len(values)) * statistics.stdev(values) / math.sqrt(len(values))


def wilson(hits: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a rate."""
    if n == 0:
        return math.nan, math.nan
    z, p = 1.959964, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_difference(a: Sequence[float], b: Sequence[float], comparisons: int = 1, level: float = 0.95,
                         resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """The difference of means ``mean(a) - mean(b)`` and its percentile bootstrap interval, Bonferroni-corrected
    for ``comparisons`` simultaneous intervals (each at level ``1 - (1 - level) / comparisons``).

    ``a`` and ``b`` are independent samples (runs of two strategies with their own seeds), resampled apart.
    """
    if comparisons < 1:
        raise ValueError("comparisons must be >= 1")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return diff, math.nan, math.nan
    rng = np.random.default_rng(seed)
    mx = x[rng.integers(0, len(x), (resamples, len(x)))].mean(1)
    my = y[rng.integers(0, len(y), (resamples, len(y)))].mean(1)
    alpha = (1 - level) / comparisons
    lo, hi = np.quantile(mx - my, [alpha / 2, 1 - alpha / 2])
    return diff, float(lo), float(hi)


def verdict(lo: float, hi: float, higher_is_better: bool = True) -> str:
    """"better", "worse" or "no difference" from an interval of (first - second)."""
    if math.isnan(lo) or math.isnan(hi) or lo <= 0 <= hi:
        return "no difference"
    better = lo > 0
    return "better" if better == higher_is_better else "worse"


def average_ranks(table: dict[str, dict[str, float]], higher_is_better: bool = True) -> dict[str, float]:
    """Average rank of each method over the blocks of ``table`` ({block: {method: value}}), 1 = best; ties get
    their average rank (Demšar 2006). Every block must hold every method."""
    from scipy.stats import rankdata

    methods = sorted({m for row in table.values() for m in row})
    if not table:
        return {m: math.nan for m in methods}
    totals = dict.fromkeys(methods, 0.0)
    for block, row in table.items():
        missing = [m for m in methods if m not in row]
        if missing:
            raise ValueError(f"block {block!r} has no value for {', '.join(missing)}")
        values = np.array([row[m] for m in methods], dtype=float)
        ranks = rankdata(-values if higher_is_better else values)  # rank 1 = best
        for m, r in zip(methods, ranks):
            totals[m] += float(r)
    return {m: totals[m] / len(table) for m in methods}


def nemenyi_cd(methods: int, blocks: int, alpha: float = 0.05) -> float:
    """The Nemenyi critical difference of average ranks for ``methods`` compared on ``blocks`` (Demšar 2006):
    q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile over sqrt(2)."""
    if methods < 2 or blocks < 1:
        return math.nan
    from scipy.stats import studentized_range
    q = float(studentized_range.ppf(1 - alpha, methods, np.inf)) / math.sqrt(2)
    return q * math.sqrt(methods * (methods + 1) / (6.0 * blocks))


def rank_agreement(x: Sequence[float], y: Sequence[float]) -> dict:
    """Spearman rho and Kendall tau of two scorings of the same items (NaN with fewer than 3 items or a
    constant scoring)."""
    n = len(x)
    if n != len(y):
        raise ValueError("both scorings need one value per item")
    if n < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {"n": n, "spearman": math.nan, "kendall": math.nan}
    from scipy.stats import kendalltau, spearmanr
    return {"n": n, "spearman": float(spearmanr(x, y)[0]), "kendall": float(kendalltau(x, y)[0])}


def anytime_area(curve: Sequence[float], budget: int) -> float:
    """Area under an anytime curve (its value after each query) over queries 1..``budget``, divided by
    ``budget``: the mean value a run had over its first ``budget`` queries. A curve that stopped short keeps
    its last value."""
    if not curve or budget < 1:
        return math.nan
    values = list(curve[:budget])
    values += [values[-1]] * (budget - len(values))
    return statistics.fmean(values)


__all__ = ["mean_ci", "wilson", "bootstrap_difference", "verdict", "average_ranks", "nemenyi_cd",
           "rank_agreement", "anytime_area", "t95"]
