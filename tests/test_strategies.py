import statistics
import subprocess
import sys

import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space
from archscout.strategy import LocalSearch, RandomSearch, RegularizedEvolution, make_strategy

TOY = Space("toy", stages=Repeat(1, 4, Block(width=Choice(list(range(10))), kind=Choice(["a", "b", "c"]))),
            bias=Choice(list(range(10))))


def toy_score(arch) -> float:
    """Peak at 4 stages of width 7 and kind 'b', bias 3: a landscape with structure to exploit."""
    v = arch.values
    s = -abs(len(v["stages"]) - 4) * 3 - abs(v["bias"] - 3)
    for st in v["stages"]:
        s -= abs(st["width"] - 7) + (st["kind"] != "b") * 2
    return float(s)


def best_after(name, n, seed):
    strat = make_strategy(name, TOY, seed=seed)
    best = float("-inf")
    for _ in range(n):
        a = strat.ask()
        assert TOY.contains(a)
        s = toy_score(a)
        strat.tell(a, s)
        best = max(best, s)
    return best


@pytest.mark.parametrize("name", ["evolution", "local_search"])
def test_model_free_strategies_beat_random_on_a_toy_objective(name):
    ours = [best_after(name, 300, seed) for seed in range(8)]
    rand = [best_after("random", 300, seed) for seed in range(8)]
    assert statistics.mean(ours) > statistics.mean(rand) + 3


@pytest.mark.parametrize("name", ["random", "evolution", "local_search"])
def test_same_seed_same_proposals(name):
    def run(seed):
        strat = make_strategy(name, TOY, seed=seed)
        out = []
        for _ in range(60):
            a = strat.ask()
            strat.tell(a, toy_score(a))
            out.append(a.id)
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_evolution_starts_random_then_mutates_population_members():
    strat = RegularizedEvolution(TOY, seed=0, population_size=10, sample_size=3)
    told = []
    for i in range(40):
        a = strat.ask()
        if i >= 10:  # after the random phase each proposal is one mutation of a population member
            members = [m for m, _ in strat.population]
            assert any(_one_change(m, a) or _one_insert_or_remove(m, a) for m in members)
        strat.tell(a, toy_score(a))
        told.append(a)
    assert len(strat.population) == 10
    assert [m for m, _ in strat.population] == told[-10:]  # the oldest ages out, not the worst


def _one_change(a, b):
    x, y = a.values, b.values
    if len(x["stages"]) != len(y["stages"]):
        return False
    diffs = int(x["bias"] != y["bias"]) + sum(sx[k] != sy[k] for sx, sy in zip(x["stages"], y["stages"]) for k in sx)
    return diffs == 1


def _one_insert_or_remove(a, b):
    xs, ys = a.values["stages"], b.values["stages"]
    if abs(len(xs) - len(ys)) != 1 or a.values["bias"] != b.values["bias"]:
        return False
    longer, shorter = (xs, ys) if len(xs) > len(ys) else (ys, xs)
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def test_failures_do_not_enter_the_population():
    strat = RegularizedEvolution(TOY, seed=0, population_size=5, sample_size=2)
    for _ in range(5):
        strat.tell(strat.ask(), None)
    assert len(strat.population) == 0
    assert TOY.contains(strat.ask())  # falls back to sampling


def test_local_search_moves_to_better_neighbours_and_restarts_at_optima():
    strat = LocalSearch(TOY, seed=1)
    first = strat.ask()
    strat.tell(first, toy_score(first))
    nxt = strat.ask()
    assert nxt in TOY.neighbors(first)
    tiny = Space("tiny", x=Choice([0, 1, 2]))
    ls = LocalSearch(tiny, seed=0)
    seen = []
    for _ in range(6):
        a = ls.ask()
        seen.append(a["x"])
        ls.tell(a, -abs(a["x"] - 1))
    assert 1 in seen


def test_random_search_ignores_history():
    a = RandomSearch(TOY, seed=5)
    b = RandomSearch(TOY, seed=5)
    for _ in range(20):
        x, y = a.ask(), b.ask()
        assert x == y
        a.tell(x, 100.0)
        b.tell(y, -100.0)


def test_unknown_names_and_options_are_clear_errors():
    with pytest.raises(ArchscoutError, match="Did you mean 'evolution'"):
        make_strategy("evolutoin", TOY)
    with pytest.raises(ArchscoutError, match="no option"):
        make_strategy("evolution", TOY, popsize=3)
    with pytest.raises(ArchscoutError, match="sample_size"):
        make_strategy("evolution", TOY, population_size=4, sample_size=9)


def test_strategies_do_not_import_torch():
    code = ("import sys, archscout.strategy, archscout.space; "
            "from archscout.space import conv1d; s = archscout.strategy.make_strategy('evolution', conv1d()); "
            "a = s.ask(); s.tell(a, 1.0); conv1d().neighbors(a); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bo_beats_random_on_a_toy_objective_and_is_deterministic():
    ours = [best_after("bo", 120, seed) for seed in range(4)]
    rand = [best_after("random", 120, seed) for seed in range(4)]
    assert statistics.mean(ours) > statistics.mean(rand) + 3

    def run(seed):
        strat = make_strategy("bo", TOY, seed=seed)
        out = []
        for _ in range(40):
            a = strat.ask()
            strat.tell(a, toy_score(a))
            out.append(a.id)
        return out

    assert run(1) == run(1) and run(1) != run(2)


@pytest.mark.parametrize("options, message", [
    ({"surrogate": "svm"}, "surrogate must be one of"), ({"acquisition": "pi"}, "acquisition must be one of"),
    ({"encoding": "wavelet"}, "encoding must be one of"), ({"initial": 1}, "initial must be an integer >= 2"),
    ({"kappa": -1}, "kappa must be a number >= 0"),
])
def test_bo_options_are_checked(options, message):
    with pytest.raises(ArchscoutError, match=message):
        make_strategy("bo", TOY, **options)


@pytest.mark.parametrize("surrogate, encoding", [("forest", "onehot"), ("ensemble", "graph"), ("gp", "path")])
def test_bo_other_surrogates_and_encodings_run(surrogate, encoding):
    strat = make_strategy("bo", TOY, seed=0, surrogate=surrogate, encoding=encoding, initial=4, batch=4)
    for _ in range(16):
        a = strat.ask()
        assert TOY.contains(a)
        strat.tell(a, toy_score(a))
