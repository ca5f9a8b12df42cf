"""Bayesian optimisation over architecture encodings: a surrogate with uncertainty guides the proposals.

A variant in the predictor-guided family of BANANAS (White et al., AAAI 2021) and NPENAS (Wei
et al., 2022), not BANANAS itself (that is the ``bananas`` strategy): fit a model of score given
encoding on everything told so far, generate candidates by mutating the best architectures found
(plus fresh samples), and propose the candidates that maximise an acquisition function of the
model's mean and uncertainty.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np
from threadpoolctl import threadpool_limits

from ..checks import int_at_least, non_negative_number, one_of
from ..errors import ArchscoutError
from ..space import Architecture, Space
from ._base import Strategy

SURROGATES = ("gp", "ensemble", "forest")
SHORTLIST = 500  # candidates, best by the GP's mean, whose uncertainty is computed
ACQUISITIONS = ("ucb", "ei", "its")
# the GP's hyperparameter grid: RBF length scale (in encoding units), weight of the linear kernel, noise
LENGTHS = (1.0, 1.5, 2.0, 3.0, 5.0)
LINEARS = (0.0, 0.1, 0.3, 1.0)
NOISES = (0.01, 0.03, 0.1, 0.3)


class BayesianOptimization(Strategy):
    """Predictor-guided search with a surrogate that knows what it does not know: a BANANAS-family variant.

    How it differs from BANANAS (``bananas``): by default a Gaussian process instead of an
    ensemble of neural networks, UCB instead of independent Thompson sampling, one-hot instead
    of path encodings, rank-normalised targets, batches of 5 instead of 10, and candidates
    from whole neighbourhoods, two-step mutations and a fixed random pool instead of 100
    one-step mutations of the best architecture.

    Each round fits the surrogate to the normal scores of the ranks of all results so far,
    scores candidate architectures with the acquisition function and proposes the ``batch``
    best; the next fit comes after ``batch`` more results.

    * ``surrogate``: ``gp`` (default; a Gaussian process in NumPy: scale × (RBF + linear
      kernel on the encoding) plus noise; the scale is profiled out of the marginal likelihood
      and the RBF length, the linear weight and the noise are the grid point of highest
      marginal likelihood, chosen again every ``refit`` fits on at most 200 results),
      ``ensemble`` (``ensemble_size`` scikit-learn networks, each on a bootstrap sample, where
      BANANAS trains each on all the data; the spread is the uncertainty) or ``forest``
      (extremely randomised trees; the spread of the trees). The last two need scikit-learn.
    * ``encoding``: ``onehot`` (default), ``ordinal``, ``path`` (BANANAS' path encoding) or
      ``graph`` (see :meth:`Space.encode`).
    * ``acquisition``: ``ucb`` (default: mean + ``kappa`` × std, ``kappa`` 1), ``ei``
      (expected improvement) or ``its`` (independent Thompson sampling, BANANAS' choice).
    * Candidates each round: the whole one-step neighbourhood (:meth:`Space.neighbors`) of
      each of the ``parents`` (10) best architectures, plus ``candidates`` (50) more, of which
      90 % are two-step mutations of those parents and 10 % fresh samples, plus a fixed random
      sample of ``pool`` (2,000) architectures drawn once, so that promising regions far from
      the best so far are found too; never one already told or asked. With the GP, only the
      500 candidates with the best mean get an uncertainty (a triangular solve each).
    * The first ``initial`` (5) proposals are random samples; ``batch`` is 5.
    """

    name = "bo"

    def __init__(self, space: Space, seed: int = 0, surrogate: str = "gp", encoding: str = "onehot",
                 acquisition: str = "ucb", kappa: float = 1.0, initial: int = 5, batch: int = 5,
                 candidates: int = 50, parents: int = 10, refit: int = 10, ensemble_size: int = 5,
                 pool: int = 2000):
        super().__init__(space, seed)
        one_of(surrogate, SURROGATES, "bo: surrogate")
        one_of(acquisition, ACQUISITIONS, "bo: acquisition")
        if not isinstance(encoding, str) or any(part not in space.ENCODINGS for part in encoding.split("+")):
            raise ArchscoutError(f"bo: encoding must be one of {', '.join(space.ENCODINGS)}, got {encoding!r}")
        for option, value, low in (("initial", initial, 2), ("batch", batch, 1), ("candidates", candidates, 1),
                                   ("parents", parents, 1), ("ensemble_size", ensemble_size, 2),
                                   ("refit", refit, 1), ("pool", pool, 0)):
            int_at_least(value, f"bo: {option}", low)
        non_negative_number(kappa, "bo: kappa")
        self.surrogate, self.encoding, self.acquisition = surrogate, encoding, acquisition
        self.kappa, self.initial, self.batch = float(kappa), initial, batch
        self.candidates, self.parents = candidates, parents
        self.ensemble_size = ensemble_size
        self.refit = refit
        self.pool = pool
        self._pool: list[Architecture] | None = None
        self._pool_codes = np.empty((0, 0))
        self._hyper: tuple[float, float, float] | None = None
        self._rounds = 0
        self._neighbors: dict[Architecture, list[Architecture]] = {}
        self.scores: dict[Architecture, float | None] = {}
        self.pending: list[Architecture] = []
        self.asked: set[Architecture] = set()
        self._codes: dict[Architecture, np.ndarray] = {}
        self._since_fit = 0

    # -- ask / tell ---------------------------------------------------------------------
    def ask(self) -> Architecture:
        while self.pending:
            arch = self.pending.pop(0)
            if arch not in self.scores:
                self.asked.add(arch)
                return arch
        scored = [(a, s) for a, s in self.scores.items() if s is not None]
        if len(scored) < self.initial:
            arch = self._fresh()
        else:
            self.pending = self._propose(scored)
            arch = self.pending.pop(0) if self.pending else self._fresh()
        self.asked.add(arch)
        return arch

    # single-objective: told a float or None, never the tuple the base class allows
    def tell(self, arch: Architecture, score: float | None) -> None:  # type: ignore[override]
        self.scores[arch] = score
        self.asked.discard(arch)
        # proposals made before this result are still good ones; refit only after ``batch`` new results
        self._since_fit += 1
        if self._since_fit >= self.batch:
            self.pending.clear()

    def _fresh(self) -> Architecture:
        for _ in range(100):
            arch = self.space.sample(self.rng)
            if arch not in self.scores and arch not in self.asked:
                return arch
        return self.space.sample(self.rng)

    # -- the model ----------------------------------------------------------------------
    def _code(self, arch: Architecture) -> np.ndarray:
        code = self._codes.get(arch)
        if code is None:
            code = self._codes[arch] = np.asarray(self.space.encode(arch, self.encoding), dtype=np.float64)
        return code

    def _fit(self, X: np.ndarray, y: np.ndarray):
        seed = self.rng.randrange(2**31)
        if self.surrogate == "gp":
            return self._gp(X, y)
        if self.surrogate == "forest":
            from sklearn.ensemble import ExtraTreesRegressor

            forest = ExtraTreesRegressor(n_estimators=50, max_features=0.5, random_state=seed,
                                         n_jobs=1).fit(X, y)

            def predict(Z):
                per_tree = np.stack([t.predict(Z) for t in forest.estimators_])
                return per_tree.mean(0), per_tree.std(0)
            return predict
        from sklearn.neural_network import MLPRegressor

        rng = np.random.default_rng(seed)
        nets = []
        for k in range(self.ensemble_size):
            rows = rng.integers(0, len(y), len(y))
            net = MLPRegressor(hidden_layer_sizes=(32, 32), alpha=1e-3, learning_rate_init=1e-2, max_iter=300,
                               random_state=seed + k)
            nets.append(net.fit(X[rows], y[rows]))

        def predict_ensemble(Z):
            per_net = np.stack([n.predict(Z) for n in nets])
            return per_net.mean(0), per_net.std(0)
        return predict_ensemble

    def _gp(self, X: np.ndarray, y: np.ndarray):
        """A Gaussian process on the encodings: scale × (RBF(length) + linear × dot product / mean norm²) + noise.

        The scale is profiled out of the marginal likelihood; (length, linear, noise) is the
        best of a small grid, chosen again every ``refit`` fits on at most 200 points.
        """
        mu, sd = float(y.mean()), float(y.std()) or 1.0
        t = (y - mu) / sd
        sq = np.sum(X * X, 1)
        size = float(sq.mean()) or 1.0
        G = X @ X.T
        D = np.maximum(sq[:, None] + sq[None, :] - 2.0 * G, 0.0)
        G = G / size

        def factor(rows, length, linear, noise):
            K = np.exp(D[np.ix_(rows, rows)] / (-2.0 * length ** 2)) + linear * G[np.ix_(rows, rows)]
            K[np.diag_indices_from(K)] += noise
            from scipy.linalg import cho_factor, cho_solve  # imported here: `archscout` starts 0.2 s faster

            L = cho_factor(K, lower=True, check_finite=False)
            alpha = cho_solve(L, t[rows], check_finite=False)
            return L, alpha

        self._rounds += 1
        if self._hyper is None or self._rounds % self.refit == 0:
            rows = np.arange(len(t))
            if len(rows) > 200:
                rows = np.sort(np.random.default_rng(self.rng.randrange(2**31)).choice(rows, 200, replace=False))
            best = (-math.inf, self._hyper or (2.0, 0.1, 0.1))
            for hyper in product(LENGTHS, LINEARS, NOISES):
                try:
                    L, alpha = factor(rows, *hyper)
                except np.linalg.LinAlgError:
                    continue
                scale = max(float(t[rows] @ alpha) / len(rows), 1e-12)
                lml = -0.5 * len(rows) * math.log(scale) - float(np.sum(np.log(np.diag(L[0]))))
                if lml > best[0]:
                    best = (lml, hyper)
            self._hyper = best[1]
        length, linear, noise = self._hyper
        rows = np.arange(len(t))
        L, alpha = factor(rows, length, linear, noise)
        scale = max(float(t @ alpha) / len(t), 1e-12)

        def predict(Z, with_std=True):
            zq = np.sum(Z * Z, 1)
            C = Z @ X.T
            # in place: these matrices are thousands of candidates by hundreds of results
            Ks = 2.0 * C
            Ks -= zq[:, None]
            Ks -= sq[None, :]
            np.minimum(Ks, 0.0, out=Ks)
            Ks *= 1.0 / (2.0 * length ** 2)
            np.exp(Ks, out=Ks)
            C *= linear / size
            Ks += C
            if not with_std:
                return mu + sd * (Ks @ alpha)
            from scipy.linalg import solve_triangular

            v = solve_triangular(L[0], Ks.T, lower=True, check_finite=False)
            var = scale * np.maximum(1.0 + linear * zq / size - np.sum(v * v, 0), 1e-12)
            return mu + sd * (Ks @ alpha), sd * np.sqrt(var)
        return predict

    def _candidates(self, scored: list[tuple[Architecture, float]]) -> tuple[list[Architecture], np.ndarray]:
        """The whole one-step neighbourhood of the ``parents`` best, ``candidates`` two-step mutations of
        them and 10 % fresh samples, then the pool: everything not already told or asked. Returns them
        and the encodings of the pool's part (the last rows)."""
        best = [a for a, _ in sorted(scored, key=lambda item: -item[1])[:self.parents]]
        out: dict[Architecture, None] = {}
        for parent in best:
            if parent not in self._neighbors:
                self._neighbors[parent] = self.space.neighbors(parent) or [self.space.mutate(parent, self.rng)]
            out.update(dict.fromkeys(self._neighbors[parent]))
        for _ in range(self.candidates):
            if self.rng.random() < 0.1:
                out[self.space.sample(self.rng)] = None
            else:
                step = self.rng.choice(self._neighbors[self.rng.choice(best)])
                out[self.space.mutate(step, self.rng)] = None
        others = [a for a in out if a not in self.scores and a not in self.asked]
        if not self.pool:
            return others, np.empty((0, 0))
        if self._pool is None:
            self._pool = list(dict.fromkeys(self.space.sample(self.rng) for _ in range(self.pool)))
            self._pool_codes = np.stack([self._code(a) for a in self._pool])
        taken = set(others)
        keep = np.flatnonzero(np.fromiter((a not in self.scores and a not in self.asked and a not in taken
                                           for a in self._pool), bool, len(self._pool)))
        return others + [self._pool[i] for i in keep], self._pool_codes[keep]

    def _propose(self, scored: list[tuple[Architecture, float]]) -> list[Architecture]:
        self._since_fit = 0
        candidates, pool_codes = self._candidates(scored)
        if not candidates:
            return []
        X = np.stack([self._code(a) for a, _ in scored])
        # the model learns the normal scores of the ranks: a few failed or poor architectures (a long
        # lower tail) then cannot dominate the fit, and only the order of the scores matters
        from scipy.special import ndtri

        y = ndtri((tied_ranks(np.array([s for _, s in scored], dtype=np.float64)) - 0.5) / len(scored))
        # matrices this small are slower with several BLAS threads, and much slower when the cores are busy
        with threadpool_limits(1):
            predict = self._fit(X, y)
            fresh = len(candidates) - len(pool_codes)  # the pool's encodings are kept as one matrix
            parts = ([np.stack([self._code(a) for a in candidates[:fresh]])] if fresh else []) \
                + ([pool_codes] if len(pool_codes) else [])
            Z = np.vstack(parts)
            if self.surrogate == "gp" and len(candidates) > SHORTLIST:
                # the uncertainty costs a triangular solve per candidate: only the best by the mean get one
                top = np.argsort(-predict(Z, with_std=False), kind="stable")[:SHORTLIST]
                candidates, Z = [candidates[i] for i in top], Z[top]
            mean, std = predict(Z)
        std = np.maximum(std, 1e-12)
        if self.acquisition == "ucb":
            value = mean + self.kappa * std
        elif self.acquisition == "ei":
            z = (mean - y.max()) / std
            from scipy.special import ndtr

            value = (mean - y.max()) * ndtr(z) + std * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        else:
            draws = np.random.default_rng(self.rng.randrange(2**31)).standard_normal(len(candidates))
            value = mean + std * draws
        order = np.argsort(-value, kind="stable")[:self.batch]
        return [candidates[i] for i in order]


def tied_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata, without its 0.5 s import)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
