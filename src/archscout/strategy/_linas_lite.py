"""A lighter LINAS: a short NSGA-II on ridge surrogates, warm-started from the best results, picks each small batch."""
from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ..checks import one_of
from ..errors import ArchscoutError
from ..space import Architecture, Space
from ._bo import tied_ranks
from ._nsga2 import check_options, check_probability, environmental_selection, fresh_sample, make_offspring
from ._rounds import PredictorRounds

SURROGATES = ("ridge", "gp", "forest")


class LINASLite(PredictorRounds):
    """LINAS's loop made lighter: evaluate a batch, fit surrogates, search them with NSGA-II, repeat.

    Until ``population_size`` results are in (two of them successful), proposals are random
    samples. Then every round fits one ``surrogate`` per objective on everything told so far
    (features: the space's ``encoding``; targets: the normal scores of each objective's ranks,
    so that a heavy tail such as latency's does not dominate a fit), runs NSGA-II on the
    predictions alone (``inner_population`` members for ``inner_generations`` generations,
    starting from the best results so far by rank and crowding distance, topped up with random
    samples) and proposes up to ``batch`` members of its final population that were never
    proposed or evaluated: non-dominated ones first, then by crowding distance. The next round
    starts when those are used up; until then results only accumulate, so proposals never wait.

    * ``surrogate``: ``ridge`` (default: ridge regression, in closed form), ``gp`` (a Gaussian
      process, RBF kernel plus noise, from scikit-learn) or ``forest`` (extremely randomised
      trees, scikit-learn). On NAS-Bench-Graph (accuracy and latency, 100 queries) ridge and
      the GP found equally good fronts, the GP in twice the time; the forest did worse.
    * ``encoding``: any of :meth:`Space.encode`'s, several joined by ``+`` (default
      ``onehot+counts``: its surrogates ranked held-out architectures best, and it found better
      fronts than one-hot alone).
    * The inner search costs predictions and the space's crossover and mutation only: about
      0.05 s a round for the gnn space. Larger inner searches (50 members, 20 generations) found
      no better fronts there.

    How it differs from ``linas`` (DyNAS-T's LINAS, Cummings et al. 2022): batches of 10, not a
    whole population of 50; ridge surrogates on rank-normalised targets instead of the better by
    cross-validation of a grid-searched ridge and RBF SVR on the raw values; features one-hot plus
    operator counts, not one-hot alone; an inner NSGA-II of 30 members for 10 generations (300
    predictions), not 50 for 100 (5,000), started from the best results so far rather than from
    random samples, whose every child is mutated (DyNAS-T: 2 % of them) after a crossover with
    probability 0.5 (DyNAS-T: 0.9). It was tuned on NAS-Bench-Graph at 100 queries, where a
    population of 50 leaves LINAS a single model-guided round.

    >>> from archscout.space import conv1d
    >>> s = LINASLite(conv1d(), seed=0, population_size=10, batch=5)
    >>> a = s.ask(); s.tell(a, (0.9, -3.5))
    """

    name = "linas-lite"
    multi_objective = True

    def __init__(self, space: Space, seed: int = 0, population_size: int = 20, batch: int = 10,
                 inner_population: int = 30, inner_generations: int = 10, surrogate: str = "ridge",
                 encoding: str = "onehot+counts", crossover_prob: float = 0.5):
        super().__init__(space, seed)
        check_options("linas-lite", population_size=(population_size, 2), batch=(batch, 1),
                      inner_population=(inner_population, 2), inner_generations=(inner_generations, 1))
        one_of(surrogate, SURROGATES, "linas-lite: surrogate")
        if not isinstance(encoding, str) or any(part not in space.ENCODINGS for part in encoding.split("+")):
            raise ArchscoutError(f"linas-lite: encoding must be one of {', '.join(space.ENCODINGS)} (or several "
                                 f"joined by +), got {encoding!r}")
        self.population_size, self.batch = population_size, batch
        self.inner_population, self.inner_generations = inner_population, inner_generations
        self.surrogate, self.encoding = surrogate, encoding
        self.crossover_prob = check_probability("linas-lite", "crossover_prob", crossover_prob)
        self._start_rounds()

    # -- one round ----------------------------------------------------------------------
    def _propose(self, feasible: list[Architecture]) -> list[Architecture]:
        """The next batch: NSGA-II's final population on the surrogates' predictions, unseen members only."""
        Y = np.array([self.results[a] for a in feasible])
        # matrices this small are slower with several BLAS threads, and much slower when the cores are busy
        with threadpool_limits(1):
            X = np.stack([self._code(a) for a in feasible])
            models = [self._fit(X, _normal_scores(Y[:, j])) for j in range(Y.shape[1])]

            def predicted(archs: list[Architecture]) -> np.ndarray:  # minimisation form, as NSGA-II sorts
                Z = np.stack([self._code(a) for a in archs])
                return -np.stack([m.predict(Z) for m in models], axis=1)

            start, _, _ = environmental_selection(-Y, self.inner_population)
            population, F = self._inner_search([feasible[i] for i in start], predicted)
        unseen = [i for i, a in enumerate(population) if a not in self.seen]
        if not unseen:
            return []
        # ranked among themselves: a member dominated only by evaluated ones is on the front of what is left
        order, _, _ = environmental_selection(F[unseen], self.batch)
        return [population[unseen[i]] for i in order]

    def _inner_search(self, start: list[Architecture], predicted) -> tuple[list[Architecture], np.ndarray]:
        """NSGA-II on predictions, from ``start`` topped up with random samples: the final population and its
        predicted objectives (minimisation form)."""
        population = list(dict.fromkeys(start))
        taken = set(population)
        while len(population) < self.inner_population:
            population.append(fresh_sample(self.space, self.rng, taken.__contains__))
            taken.add(population[-1])
        population = list(dict.fromkeys(population))  # a space smaller than the population repeats samples
        F = predicted(population)
        keep, ranks, crowding = environmental_selection(F, self.inner_population)
        population, F = [population[i] for i in keep], F[keep]
        for _ in range(self.inner_generations):
            taken = set(population)
            children = []
            for _ in range(self.inner_population):
                child = make_offspring(self.space, population, ranks, crowding, self.rng, self.crossover_prob,
                                       taken.__contains__)
                if child not in taken:
                    taken.add(child)
                    children.append(child)
            if not children:
                break
            pool, F = population + children, np.vstack([F, predicted(children)])
            keep, ranks, crowding = environmental_selection(F, self.inner_population)
            population, F = [pool[i] for i in keep], F[keep]
        return population, F

    def _fit(self, X: np.ndarray, y: np.ndarray):
        if self.surrogate == "ridge":
            return _Ridge().fit(X, y)
        seed = self.rng.randrange(2**31)
        if self.surrogate == "gp":
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.gaussian_process import GaussianProcessRegressor
            from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

            kernel = ConstantKernel() * RBF(3.0) + WhiteKernel(0.1)
            with warnings.catch_warnings():
                # tabular results are noiseless: the noise level settling on its lower bound is expected
                warnings.simplefilter("ignore", ConvergenceWarning)
                return GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed).fit(X, y)
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(n_estimators=50, max_features=0.5, random_state=seed, n_jobs=1).fit(X, y)


class _Ridge:
    """Ridge regression with an unpenalised intercept, in closed form (scikit-learn's ``Ridge`` checks its
    input on every call, which costs more than the prediction itself in the inner loop)."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Ridge:
        centre = X.mean(axis=0)
        Xc = X - centre
        self.coef_ = np.linalg.solve(Xc.T @ Xc + self.alpha * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
        self.intercept_ = float(y.mean() - centre @ self.coef_)
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_ + self.intercept_


def _normal_scores(values: np.ndarray) -> np.ndarray:
    """The standard normal quantiles of the values' ranks (ties share their average rank)."""
    from scipy.special import ndtri

    return ndtri((tied_ranks(values) - 0.5) / len(values))
