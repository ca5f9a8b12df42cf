"""LINAS (Cummings et al. 2022) as DyNAS-T runs it: per-objective predictors and a long NSGA-II pick each population."""
from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from ..space import Architecture, Space
from ._nsga2 import binary_tournament, check_options, check_probability, environmental_selection, fresh_sample
from ._rounds import PredictorRounds

RIDGE_ALPHAS = np.arange(0.1, 10.1, 0.1)  # DyNAS-T's grids
SVR_COSTS = np.arange(1.0, 101.0, 1.0)
FOLDS = 5
MIN_RESULTS = FOLDS  # successful results a predictor needs (one per cross-validation fold)


class LINAS(PredictorRounds):
    """LINAS (Cummings et al. 2022) as DyNAS-T runs it: per-objective predictors and a long inner NSGA-II.

    Checked against IntelLabs/DyNAS-T (``dynast/search/tactic/linas.py``, ``search/evolutionary.py``,
    ``predictors/dynamic_predictor.py``):

    * The first population: ``population_size`` (50) random architectures.
    * Every round, one predictor per objective is trained on every result so far and an inner
      NSGA-II searches the predictions alone; its final population is the next population to
      evaluate. The next round starts when that population has been asked for.
    * Predictor (DyNAS-T's ``Predictor``): on the one-hot encoding, features that vary among the
      results only, and the values divided by the power of ten one below the largest magnitude,
      the better by 5-fold cross-validated mean absolute percentage error of ridge regression
      (alpha 0.1, 0.2, ..., 10) and an RBF support-vector regression (gamma 1 / features,
      epsilon 0, C 1, 2, ..., 100), each at its best grid point, refitted on all results.
    * Inner NSGA-II (DyNAS-T's pymoo set-up): ``population_size`` members for
      ``inner_evaluations`` (5,000) predictions, i.e. 100 generations of 50, the first of
      random samples (no warm start: DyNAS-T's warm-start argument is not used by LINAS);
      children by binary tournaments, crossover with probability ``crossover_prob`` (0.9) and
      mutation with probability ``mutation_prob`` (0.02); a child equal to a member or to
      another child is bred again.

    5,000 is DyNAS-T's inner budget for its smallest super-network (OFA ResNet-50); its others
    use 10,000 to 20,000. Where this differs from DyNAS-T:

    * variation uses the space's operators: uniform crossover of the decisions and a mutation
      that changes one decision (:meth:`Space.crossover`, :meth:`Space.mutate`), where pymoo's
      simulated binary crossover and polynomial mutation act on integer-coded decisions;
      tournaments compare non-domination rank, then crowding distance (pymoo: dominance, then
      crowding);
    * NSGA-II serves every number of objectives (DyNAS-T: a genetic algorithm for one objective,
      U-NSGA-III for three), and the targets are the study's scores, oriented "higher is better";
    * members of the final population that were evaluated or proposed before are not proposed
      again (DyNAS-T measures them again), so a round can propose fewer than ``population_size``;
    * results told before a round's population is used up (parallel workers, a resumed
      history) are learned from in the next round; until ``population_size`` results, at least
      five of them successful, are in, proposals are random samples;
    * failed results (score None) are left out of the predictors' data.

    It costs about 5 s a round on one core for 250 results and two objectives, most of it the
    support-vector regressions of the grid search.

    >>> from archscout.space import conv1d
    >>> s = LINAS(conv1d(), seed=0, population_size=10, inner_evaluations=200)
    >>> a = s.ask(); s.tell(a, (0.9, -3.5))
    """

    name = "linas"
    min_results = MIN_RESULTS
    multi_objective = True

    def __init__(self, space: Space, seed: int = 0, population_size: int = 50, inner_evaluations: int = 5000,
                 crossover_prob: float = 0.9, mutation_prob: float = 0.02):
        super().__init__(space, seed)
        check_options("linas", population_size=(population_size, 2), inner_evaluations=(inner_evaluations, 1))
        self.population_size, self.inner_evaluations = population_size, inner_evaluations
        self.crossover_prob = check_probability("linas", "crossover_prob", crossover_prob)
        self.mutation_prob = check_probability("linas", "mutation_prob", mutation_prob)
        self._start_rounds()
        self.encoding = "onehot"

    # -- one round ----------------------------------------------------------------------
    def _propose(self, feasible: list[Architecture]) -> list[Architecture]:
        """The next population: the inner NSGA-II's final one, ranked, without what was seen already."""
        Y = np.array([self.results[a] for a in feasible])
        # matrices this small are slower with several BLAS threads, and much slower when the cores are busy
        with threadpool_limits(1):
            X = np.stack([self._code(a) for a in feasible])
            models = [DynamicPredictor().fit(X, Y[:, j]) for j in range(Y.shape[1])]

            def predicted(archs: list[Architecture]) -> np.ndarray:  # minimisation form, as NSGA-II sorts
                Z = np.stack([self._code(a) for a in archs])
                return -np.stack([m.predict(Z) for m in models], axis=1)

            population, F = self._inner_search(predicted)
        order, _, _ = environmental_selection(F, len(population))
        return [population[i] for i in order if population[i] not in self.seen]

    def _inner_search(self, predicted) -> tuple[list[Architecture], np.ndarray]:
        """NSGA-II on predictions from a random population: the final population and its predictions."""
        size = self.population_size
        population: list[Architecture] = []
        taken: set[Architecture] = set()
        for _ in range(size):
            arch = fresh_sample(self.space, self.rng, taken.__contains__)
            if arch not in taken:
                taken.add(arch)
                population.append(arch)
        F = predicted(population)
        keep, ranks, crowding = environmental_selection(F, size)
        population, F = [population[i] for i in keep], F[keep]
        for _ in range(max(self.inner_evaluations // size - 1, 0)):
            taken = set(population)
            children: list[Architecture] = []
            for _ in range(100 * size):  # pymoo's mating retries, for children that are all duplicates
                if len(children) >= size:
                    break
                child = self._child(population, ranks, crowding)
                if child not in taken:
                    taken.add(child)
                    children.append(child)
            if not children:
                break
            pool, F = population + children, np.vstack([F, predicted(children)])
            keep, ranks, crowding = environmental_selection(F, size)
            population, F = [pool[i] for i in keep], F[keep]
        return population, F

    def _child(self, population, ranks, crowding) -> Architecture:
        child = population[binary_tournament(ranks, crowding, self.rng)]
        if len(population) > 1 and self.rng.random() < self.crossover_prob:
            child = self.space.crossover(child, population[binary_tournament(ranks, crowding, self.rng)], self.rng)
        if self.rng.random() < self.mutation_prob:
            child = self.space.mutate(child, self.rng)
        return child


class DynamicPredictor:
    """DyNAS-T's predictor: of a grid-searched ridge regression and RBF support-vector regression, the one with
    the lower 5-fold cross-validated mean absolute percentage error, refitted on all the data."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> DynamicPredictor:
        import sklearn
        from sklearn.svm import SVR

        self.features_ = np.flatnonzero(np.var(X, axis=0))
        X = X[:, self.features_]
        top = float(np.max(np.abs(y)))
        self.scale_ = 10.0 ** (math.floor(math.log10(top)) - 1.0) if top > 0 else 1.0
        y = y / self.scale_
        folds = [f for f in np.array_split(np.arange(len(y)), min(FOLDS, len(y))) if len(f)]
        ridge = np.zeros(len(RIDGE_ALPHAS))
        svr = np.zeros(len(SVR_COSTS))
        gamma = 1.0 / max(X.shape[1], 1)  # scikit-learn's gamma="auto"
        # 500 small fits: scikit-learn's checks of their inputs would cost as much as the fits
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            for fold in folds:
                train = np.setdiff1d(np.arange(len(y)), fold)
                ridge += [_mape(y[fold], p) for p in _ridge_path(X[train], y[train], X[fold], RIDGE_ALPHAS)]
                for i, cost in enumerate(SVR_COSTS):
                    model = SVR(kernel="rbf", gamma=gamma, epsilon=0.0, C=cost, max_iter=1_000_000)
                    svr[i] += _mape(y[fold], model.fit(X[train], y[train]).predict(X[fold]))
        # the first grid point of the lowest mean error, ridge before the SVR on a tie (GridSearchCV's order)
        if ridge.min() <= svr.min():
            self.kind_, self.param_ = "ridge", float(RIDGE_ALPHAS[int(np.argmin(ridge))])
            self._ridge = _ridge_fit(X, y, self.param_)
        else:
            self.kind_, self.param_ = "svr", float(SVR_COSTS[int(np.argmin(svr))])
            self._svr = SVR(kernel="rbf", gamma=gamma, epsilon=0.0, C=self.param_, max_iter=1_000_000).fit(X, y)
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        Z = Z[:, self.features_]
        if self.kind_ == "ridge":
            coef, intercept = self._ridge
            return (Z @ coef + intercept) * self.scale_
        return self._svr.predict(Z) * self.scale_


def _ridge_fit(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge regression with an unpenalised intercept (scikit-learn's ``Ridge``), in closed form."""
    centre = X.mean(axis=0)
    Xc = X - centre
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
    return coef, float(y.mean() - centre @ coef)


def _ridge_path(X: np.ndarray, y: np.ndarray, Z: np.ndarray, alphas: np.ndarray) -> list[np.ndarray]:
    """Ridge predictions for ``Z`` at every alpha, from one SVD of the centred data."""
    centre, mean = X.mean(axis=0), y.mean()
    U, s, Vt = np.linalg.svd(X - centre, full_matrices=False)
    Uty = U.T @ (y - mean)
    Zc = (Z - centre) @ Vt.T
    return [Zc @ (s / (s * s + alpha) * Uty) + mean for alpha in alphas]


def _mape(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, as scikit-learn computes it (a zero target counts as machine epsilon)."""
    return float(np.mean(np.abs(predicted - y) / np.maximum(np.abs(y), np.finfo(np.float64).eps)))
