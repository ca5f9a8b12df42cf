"""BOHB and asha-kde: the schedulers' new candidates from a tree-Parzen density model over the architecture's decisions."""
from __future__ import annotations

import math
import random

import numpy as np

from ...checks import number_in_range
from ...errors import ArchscoutError
from ...space import Architecture, Space
from .._nsga2 import check_options, check_probability
from .asha import ASHA
from .kde import DecisionVector, KernelDensity
from .rungs import Entry, positive_option
from .synchronous import Hyperband


class DensityModel:
    """BOHB's model of the good against the rest: new candidates drawn where l(x) / g(x) is large (see :class:`BOHB`).

    Mixed into a scheduler (``_results``, ``_archs``, ``rng``, ``space``, ``top`` are the scheduler's); the
    subclass calls :meth:`_init_model` from its ``__init__`` with the options it was given.
    """

    def _init_model(self, space: Space, name: str, min_points_in_model: int | None, top_n_percent: float,
                    num_samples: int, random_fraction: float, bandwidth_factor: float, min_bandwidth: float) -> None:
        self.decisions = DecisionVector(space)
        if min_points_in_model is None:
            min_points_in_model = min(len(self.decisions) + 1, 20)
        check_options(name, min_points_in_model=(min_points_in_model, 2), num_samples=(num_samples, 1))
        number_in_range(top_n_percent, f"{name}: top_n_percent", 0, 100, inclusive="neither")
        self.min_points_in_model, self.top_n_percent, self.num_samples = min_points_in_model, top_n_percent, num_samples
        self.random_fraction = check_probability(name, "random_fraction", random_fraction)
        self.bandwidth_factor = positive_option(name, "bandwidth_factor", bandwidth_factor)
        self.min_bandwidth = positive_option(name, "min_bandwidth", min_bandwidth)
        if self.min_bandwidth >= 0.5:
            raise ArchscoutError(f"{name}: min_bandwidth must be below 0.5, got {min_bandwidth!r}")
        self._codes: dict[Architecture, np.ndarray | None] = {}
        self._model: tuple[tuple[int, int], int, KernelDensity, KernelDensity] | None = None

    def _sample(self) -> tuple[Architecture, dict]:
        if self.rng.random() >= self.random_fraction:
            found = self._from_model()
            if found is not None:
                return found
        return super()._sample()[0], {"model_based": False}  # type: ignore[misc]

    def _from_model(self) -> tuple[Architecture, dict] | None:
        """The new candidate with the largest l(x) / g(x) of ``num_samples`` draws from l (None: no model yet, or
        no draw is a valid architecture not seen before)."""
        model = self._fit()
        if model is None:
            return None
        rung, good, bad = model
        gen = np.random.default_rng(self.rng.randrange(2**32))
        points = good.sample(self.num_samples, self.bandwidth_factor, gen)
        ratio = good.logpdf(points) - bad.logpdf(points)
        for i in np.argsort(-ratio, kind="stable"):
            arch = self.decisions.decode(points[i])
            if arch is not None and arch not in self._archs:
                return arch, {"model_based": True, "model_rung": rung}
        return None

    def _code(self, arch: Architecture) -> np.ndarray | None:
        if arch not in self._codes:
            self._codes[arch] = self.decisions.encode(arch)
        return self._codes[arch]

    def split(self, n: int) -> tuple[int, int]:
        """How many of ``n`` results, best first, go to the good set and how many after them to the bad set, as
        HpBandSter's BOHB config generator: ``n_good = max(N_min, floor(top_n_percent · n / 100))`` the best,
        then the next ``max(N_min, floor((100 - top_n_percent) · n / 100))``, as many as there are: the two never
        share a result (and the worst one can be left out of both when the floors fall short)."""
        n_good = max(self.min_points_in_model, int(self.top_n_percent * n // 100))
        n_bad = max(self.min_points_in_model, int((100 - self.top_n_percent) * n // 100))
        return n_good, max(0, min(n_bad, n - n_good))

    def _fit(self) -> tuple[int, KernelDensity, KernelDensity] | None:
        """The good and bad densities of the highest rung with enough results (refitted when it has new ones):
        enough when both sets hold ``min_points_in_model`` results (see :class:`BOHB`)."""
        for k in range(self.top, -1, -1):
            usable = [(code, e.values) for a, e in self._results[k].items()
                      if e.status != "stopped" and (code := self._code(a)) is not None]
            n_good, n_bad = self.split(len(usable))
            if n_good > len(usable) or n_bad < self.min_points_in_model:
                continue
            if self._model is not None and self._model[0] == (k, len(usable)):
                return self._model[1:]
            usable.sort(key=lambda item: -item[1][0] if item[1] is not None else math.inf)
            codes = np.stack([code for code, _ in usable])
            gen = np.random.default_rng(self.rng.randrange(2**32))
            good = KernelDensity(self.decisions.impute(codes[:n_good], gen), self.decisions, self.min_bandwidth)
            bad = KernelDensity(self.decisions.impute(codes[n_good:n_good + n_bad], gen), self.decisions,
                                self.min_bandwidth)
            self._model = ((k, len(usable)), k, good, bad)
            return self._model[1:]
        return None

    # the scheduler's, typed for the mixin
    _results: list[dict[Architecture, Entry]]
    _archs: set[Architecture]
    top: int
    rng: random.Random

class BOHB(DensityModel, Hyperband):
    """BOHB: Hyperband whose new candidates come from a tree-Parzen-style density model instead of at random.

    Falkner et al., "BOHB: Robust and Efficient Hyperparameter Optimization at Scale", ICML 2018.
    The brackets are :class:`Hyperband`'s. A new candidate is random with probability ``random_fraction``
    (1/3), and whenever no rung has enough results; otherwise the model is fitted on the highest rung that has:
    its results, best first (failed and infeasible ones as the worst, as HpBandSter counts them; early-stopped
    ones left out), are split as HpBandSter's config generator splits them, disjointly: the best ``n_good =
    max(min_points_in_model, floor(top_n_percent % · n))`` ("good", l(x)) and the next ``max(min_points_in_model,
    floor((100 - top_n_percent) % · n))`` as far as they go ("bad", g(x)). A rung has enough results when both
    sets hold ``min_points_in_model`` (HpBandSter: more than d each, the same with its default d + 1; at least
    2 · min_points_in_model results). Each is a product-kernel density
    over the architecture's decisions: every choice of the space, with a Repeat unrolled to its longest and
    its length one more decision; a decision that is inactive in an architecture is filled in from another
    architecture of the same set where it is active (HpBandSter's imputation). Unordered choices get an
    Aitchison-Aitken kernel, ordered ones (numbers, lengths) a Gaussian kernel on their index scaled to
    [0, 1]; bandwidths follow the normal reference rule (statsmodels' ``normal_reference``, as HpBandSter),
    at least ``min_bandwidth``. ``num_samples`` (64) points are drawn from l with every bandwidth times
    ``bandwidth_factor`` (3), and the one with the largest l(x) / g(x) becomes the candidate (the next
    best if it is not a valid architecture or one seen before).

    Options: those of :class:`Hyperband`, and ``min_points_in_model`` (default d + 1 for d decisions, at
    most 20), ``top_n_percent`` (15), ``num_samples`` (64), ``random_fraction`` (1/3), ``bandwidth_factor``
    (3), ``min_bandwidth`` (0.001). A proposal's details say whether the model picked it (``model_based``)
    and from which rung's results.

    Differences from the paper and HpBandSter: the default ``min_points_in_model`` is capped at 20 (the
    paper's d + 1 would wait for 96 results at one rung in a space of 47 decisions), and HpBandSter's
    requirement of more good and bad points than decisions is replaced by at least ``min_points_in_model`` in
    each (product kernels need no covariance matrix); an Aitchison-Aitken bandwidth is at most (c - 1) / c (a
    uniform kernel; statsmodels lets it grow past that); the widening applies to unordered choices too
    (the paper widens every bandwidth, HpBandSter only the continuous ones); candidates are snapped to valid
    indices before l / g is computed; new candidates already seen are skipped. The model's rung may have
    results from every process. Otherwise brackets and waiting are as in :class:`Hyperband`.
    """

    name = "bohb"

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, parallel_brackets: int = 1, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64, random_fraction: float = 1 / 3,
                 bandwidth_factor: float = 3, min_bandwidth: float = 1e-3):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key, parallel_brackets)
        self._init_model(space, self.name, min_points_in_model, top_n_percent, num_samples, random_fraction,
                         bandwidth_factor, min_bandwidth)


class ASHAKDE(DensityModel, ASHA):
    """ASHA whose new candidates come from BOHB's density model: asynchronous promotions, model-based proposals.

    A variant, not a published method under this name: the promotions are :class:`ASHA`'s (never waits, one
    bracket), the new candidates :class:`BOHB`'s (with probability ``random_fraction`` at random, otherwise
    the best l(x) / g(x) of ``num_samples`` draws from the good density of the highest rung with enough results:
    BOHB's disjoint split and its threshold, ``min_points_in_model`` results in each set). Syne Tune's asynchronous BOHB (``searcher="kde"`` with its
    Hyperband scheduler) combines the two the same way; Klein et al.'s A-BOHB ("Model-based Asynchronous
    Hyperparameter and Neural Architecture Search", 2020) does it with a Gaussian process instead.
    Differences from BOHB: no brackets, so every new candidate starts at the lowest rung, and the model's
    rung fills as fast as ASHA promotes. Options: those of :class:`ASHA`, except that ``min_fidelity``
    defaults to the top's / eta^2 (three rungs with eta 3: the setting chosen on digits, docs/benchmarks/multi-fidelity.md),
    and BOHB's model options (``min_points_in_model``, ``top_n_percent``, ``num_samples``,
    ``random_fraction``, ``bandwidth_factor``, ``min_bandwidth``; same defaults).
    """

    name = "asha-kde"
    default_rungs = 2  # its lowest rung defaults to the top's / eta^2: chosen on digits (docs/benchmarks/multi-fidelity.md)

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64, random_fraction: float = 1 / 3,
                 bandwidth_factor: float = 3, min_bandwidth: float = 1e-3):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key)
        self._init_model(space, self.name, min_points_in_model, top_n_percent, num_samples, random_fraction,
                         bandwidth_factor, min_bandwidth)
