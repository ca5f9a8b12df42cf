"""Strategies named after a paper do what the paper does: BANANAS, DyNAS-T's LINAS, Optuna's NSGA-II after a resume."""
import random
import statistics

import numpy as np
import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space
from archscout.strategy import BANANAS, LINAS, BayesianOptimization, make_strategy
from archscout.strategy._bananas import PathEnsemble
from archscout.strategy._linas import DynamicPredictor

TOY = Space("toy", stages=Repeat(1, 4, Block(width=Choice(list(range(10))), kind=Choice(["a", "b", "c"]))),
            bias=Choice(list(range(10))))
FAST = {"num_init": 6, "k": 4, "epochs": 40}  # the tests need the behaviour, not the best predictor


def toy_score(arch) -> float:
    """Peak at 4 stages of width 7 and kind 'b', bias 3."""
    v = arch.values
    s = -abs(len(v["stages"]) - 4) * 3 - abs(v["bias"] - 3)
    for st in v["stages"]:
        s -= abs(st["width"] - 7) + (st["kind"] != "b") * 2
    return float(s)


def one_mutation(a, b) -> bool:
    """``b`` is ``a`` with one decision changed, or one stage added or removed (:meth:`Space.mutate`)."""
    xs, ys = a.values["stages"], b.values["stages"]
    if len(xs) == len(ys):
        return (a.values["bias"] != b.values["bias"]) + sum(x[k] != y[k] for x, y in zip(xs, ys) for k in x) == 1
    longer, shorter = (xs, ys) if len(xs) > len(ys) else (ys, xs)
    return (abs(len(xs) - len(ys)) == 1 and a.values["bias"] == b.values["bias"]
            and any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))))


def drive(strategy, n, score=toy_score):
    out = []
    for _ in range(n):
        a = strategy.ask()
        strategy.tell(a, score(a))
        out.append(a)
    return out


# -- BANANAS -------------------------------------------------------------------------------------------

def test_bananas_is_its_own_strategy_with_the_papers_defaults():
    strategy = make_strategy("bananas", TOY)
    assert isinstance(strategy, BANANAS) and not isinstance(strategy, BayesianOptimization)
    assert (strategy.num_init, strategy.k, strategy.num_ensemble, strategy.num_candidates) == (10, 10, 5, 100)
    assert (strategy.num_layers, strategy.layer_width, strategy.epochs, strategy.lr) == (10, 20, 150, 0.01)
    assert strategy.encoding == "path"
    assert isinstance(make_strategy("bo", TOY), BayesianOptimization)


def test_bananas_samples_at_random_then_proposes_mutations_of_the_best():
    strategy = BANANAS(TOY, seed=3, **FAST)
    rng = random.Random(3)
    start = drive(strategy, 6)
    assert start == [TOY.sample(rng) for _ in range(6)]
    best = sorted(start, key=toy_score, reverse=True)[:5]  # the reference mutates the best, then the next best
    batch = drive(strategy, 4)
    assert len(set(batch)) == 4 and not set(batch) & set(start)
    assert all(any(one_mutation(b, a) for b in best) for a in batch)  # one mutation (rate 1) of a best one


def test_bananas_candidates_are_the_best_ones_mutations_first():
    """30 mutations of the best result, distinct and never evaluated; when those fall short (repeats), 30
    more of the second best (the reference checks the count between parents only)."""
    strategy = BANANAS(TOY, seed=0, num_candidates=30)
    history = [(a, toy_score(a)) for a in drive(strategy, 10)]
    first, second = [a for a, _ in sorted(history, key=lambda item: -item[1])[:2]]
    candidates = strategy.candidates(history)
    of_first = [c for c in candidates if one_mutation(first, c)]
    assert candidates[:len(of_first)] == of_first and 15 <= len(of_first) < 30
    assert all(one_mutation(second, c) for c in candidates[len(of_first):])
    assert len(set(candidates)) == len(candidates) and not set(candidates) & {a for a, _ in history}


def test_bananas_acquisition_is_independent_thompson_sampling(monkeypatch):
    """Each candidate's value is one normal draw with the ensemble's mean and spread: a candidate the networks
    agree is poor is never proposed, one they disagree on sometimes is."""
    strategy = BANANAS(TOY, seed=0, k=1, **{k: v for k, v in FAST.items() if k != "k"})
    history = [(a, toy_score(a)) for a in drive(strategy, 6)]
    candidates = strategy.candidates(history)[:3]
    monkeypatch.setattr(strategy, "candidates", lambda scored: candidates)

    class Fixed:  # the ensemble's predictions, one row per network: sure and good, sure and poor, unsure
        def __init__(self, *args):
            pass

        def fit(self, *args, **kwargs):
            return self

        def predict(self, Z):
            return np.array([[1.0, -5.0, -3.0], [1.0, -5.0, 5.0]])

    monkeypatch.setattr("archscout.strategy._bananas.PathEnsemble", Fixed)
    picks = [strategy._propose(history)[0] for _ in range(200)]
    share = {c: picks.count(c) / len(picks) for c in candidates}
    assert share[candidates[1]] == 0  # mean -5, no spread
    assert 0.3 < share[candidates[2]] < 0.7  # mean 1 = the sure one's, spread 4: wins about half the draws


def test_the_meta_network_ensemble_learns_a_path_count_function():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, (150, 12)).astype(float)
    y = X @ rng.normal(size=12)
    y = (y - y.mean()) / y.std()
    nets = PathEnsemble(size=3, num_layers=4, layer_width=20, epochs=150, batch_size=32, lr=0.01)
    nets.fit(X[:100], y[:100], np.random.default_rng(1))
    held_out = nets.predict(X[100:])
    assert held_out.shape == (3, 50)
    assert all(np.corrcoef(p, y[100:])[0, 1] > 0.9 for p in held_out)
    assert np.abs(held_out[0] - held_out[1]).mean() > 1e-3  # own initialisations, all on the same data


@pytest.mark.slow
def test_bananas_beats_random_on_a_toy_objective_and_is_deterministic():
    def best(name, seed, **options):
        return max(toy_score(a) for a in drive(make_strategy(name, TOY, seed=seed, **options), 80))

    ours = [best("bananas", seed, epochs=60) for seed in range(3)]
    rand = [best("random", seed) for seed in range(3)]
    assert statistics.mean(ours) > statistics.mean(rand) + 3
    assert drive(BANANAS(TOY, seed=1, **FAST), 14) == drive(BANANAS(TOY, seed=1, **FAST), 14)


@pytest.mark.parametrize("options", [{"num_init": 0}, {"k": "3"}, {"num_ensemble": 1}, {"lr": 0},
                                     {"encoding": "pixels"}])
def test_bananas_options_are_checked(options):
    with pytest.raises(ArchscoutError, match=next(iter(options))):
        make_strategy("bananas", TOY, **options)


# -- Optuna's NSGA-II after a resume --------------------------------------------------------------------

BITS = Space("bits", **{f"b{i}": Choice([0, 1]) for i in range(8)})


def ones(arch) -> int:
    return sum(arch.values.values())


def test_optuna_nsga2_continues_its_generations_after_a_replayed_history():
    """Nine trials with population 4 are generations 0, 1 and the start of 2: the next proposals belong to
    generation 2 and are children of its parents (the best four: one bit set each), not random samples."""
    good = [BITS.architecture({f"b{i}": int(i == j) for i in range(8)}) for j in range(4)]
    rng = random.Random(0)
    poor = [BITS.architecture({f"b{i}": rng.randint(0, 1) for i in range(8)}) for _ in range(5)]
    history = [(good[0], 1.0), (poor[0], 0.0), (good[1], 1.0), (poor[1], 0.0),
               (good[2], 1.0), (poor[2], 0.0), (good[3], 1.0), (poor[3], 0.0), (poor[4], 0.0)]
    strategy = make_strategy("optuna-nsga2", BITS, seed=0, population_size=4)
    for arch, score in history:
        strategy.tell(arch, score)
    strategy.resume(len(history))
    children = [strategy.ask() for _ in range(4)]
    key = strategy.study.sampler._get_generation_key()
    assert [t.system_attrs[key] for t in strategy.study.trials] == [0] * 4 + [1] * 4 + [2] * 5
    assert all(ones(c) <= 3 for c in children)  # a random sample has 4 ones on average


# -- LINAS as DyNAS-T runs it ---------------------------------------------------------------------------

def toy_pair(arch) -> tuple[float, float]:
    return toy_score(arch), -float(len(arch.values["stages"]))


def test_linas_evaluates_a_random_population_then_the_inner_searchs_final_population():
    strategy = LINAS(TOY, seed=0, population_size=8, inner_evaluations=80)
    rng = random.Random(0)
    first = drive(strategy, 8, toy_pair)
    assert first == [TOY.sample(rng) for _ in range(8)]
    population = [strategy.ask() for _ in range(8)]
    assert len(set(population)) == 8 and not set(population) & set(first)
    mean = statistics.mean
    assert mean(toy_score(a) for a in population) > mean(toy_score(a) for a in first)


@pytest.mark.parametrize("target", ["linear", "bumpy"])
@pytest.mark.slow
def test_linas_predictor_is_dynast_s_grid_search(target):
    """The predictor picks what DyNAS-T's scikit-learn grid search picks: of ridge (alpha 0.1..10) and an RBF
    SVR (C 1..100, gamma 'auto', epsilon 0), the best by 5-fold cross-validated MAPE, refitted on everything."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVR

    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, (30, 10)).astype(float)
    X[:, 3] = 1.0  # a constant feature: left out
    w = rng.normal(size=10)
    y = 80 + X @ w if target == "linear" else 80 + 3 * np.sin(3 * X @ w)
    ours = DynamicPredictor().fit(X, y)
    top = 10.0 ** (np.floor(np.log10(np.abs(y).max())) - 1)
    kept = X[:, np.var(X, 0) > 0]
    searches = [GridSearchCV(Ridge(), {"alpha": np.arange(0.1, 10.1, 0.1)},
                             scoring="neg_mean_absolute_percentage_error").fit(kept, y / top),
                GridSearchCV(SVR(kernel="rbf", gamma="auto", epsilon=0.0), {"C": np.arange(1.0, 101.0, 1.0)},
                             scoring="neg_mean_absolute_percentage_error").fit(kept, y / top)]
    best = searches[int(np.argmax([s.best_score_ for s in searches]))]
    assert ours.kind_ == ("ridge" if best is searches[0] else "svr")
    assert ours.param_ == pytest.approx(next(iter(best.best_params_.values())))
    Z = rng.integers(0, 2, (5, 10)).astype(float)
    np.testing.assert_allclose(ours.predict(Z), best.predict(Z[:, np.var(X, 0) > 0]) * top, rtol=1e-6)
