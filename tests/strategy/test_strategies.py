import statistics
import subprocess
import sys

import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space
from archscout.strategy import HillClimbing, LocalSearch, RandomSearch, RegularizedEvolution, make_strategy

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


@pytest.mark.parametrize("name", ["evolution", "local_search", "hill_climb"])
def test_model_free_strategies_beat_random_on_a_toy_objective(name):
    ours = [best_after(name, 300, seed) for seed in range(8)]
    rand = [best_after("random", 300, seed) for seed in range(8)]
    assert statistics.mean(ours) > statistics.mean(rand) + 3


@pytest.mark.parametrize("name", ["random", "evolution", "local_search", "hill_climb"])
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


def test_hill_climbing_moves_to_the_first_better_neighbour_and_restarts_at_optima():
    strat = HillClimbing(TOY, seed=1)
    first = strat.ask()
    strat.tell(first, toy_score(first))
    nxt = strat.ask()
    assert nxt in TOY.neighbors(first)
    tiny = Space("tiny", x=Choice([0, 1, 2]))
    hc = HillClimbing(tiny, seed=0)
    seen = []
    for _ in range(6):
        a = hc.ask()
        seen.append(a["x"])
        hc.tell(a, -abs(a["x"] - 1))
    assert 1 in seen


def test_hill_climbing_asked_ahead_keeps_its_centre():
    """Parallel workers ask for the whole neighbourhood and more before any result is in: the extra asks get
    random samples, and neighbours that turn out worse, or a great random sample, do not move the centre."""
    strat = HillClimbing(TOY, seed=1)
    first = strat.ask()
    strat.tell(first, toy_score(first))
    neighbours = [strat.ask() for _ in range(len(TOY.neighbors(first)))]
    assert set(neighbours) == set(TOY.neighbors(first))
    extra = strat.ask()
    assert extra not in neighbours and extra != first
    strat.tell(extra, 1e9)  # not a neighbour: no move
    for a in neighbours:
        strat.tell(a, toy_score(first) - 1)
    assert strat.current == first


def _drive(strat, n, score=toy_score):
    out = []
    for _ in range(n):
        a = strat.ask()
        strat.tell(a, score(a))
        out.append(a)
    return out


def test_local_search_evaluates_the_whole_neighbourhood_then_moves_to_its_best():
    strat = LocalSearch(TOY, seed=0, num_init=3)
    start = _drive(strat, 3)
    centre = max(start, key=toy_score)
    neighbours = [n for n in TOY.neighbors(centre) if n not in start]
    step = _drive(strat, len(neighbours))
    assert set(step) == set(neighbours)  # all of them, even after improving ones
    improving = [a for a in step if toy_score(a) > toy_score(centre)]
    assert len(improving) > 1 and step.index(max(step, key=toy_score)) > step.index(improving[0])
    top = max(toy_score(a) for a in step)
    nxt = strat.ask()  # a neighbour of the best neighbour (of one of them, on a tie), not of the first improving one
    assert any(nxt in TOY.neighbors(a) for a in step if toy_score(a) == top)
    assert toy_score(improving[0]) < top


def test_local_search_restarts_from_fresh_random_architectures_at_a_local_optimum():
    flat = Space("flat", x=Choice(list(range(6))), y=Choice(list(range(6))))
    strat = LocalSearch(flat, seed=0, num_init=2)
    zero = lambda a: 0.0  # noqa: E731  nothing improves: every centre is a local optimum
    start = _drive(strat, 2, zero)
    centre = start[0]  # the best of the two (a tie keeps the first)
    neighbours = [n for n in flat.neighbors(centre) if n not in start]
    assert set(_drive(strat, len(neighbours), zero)) == set(neighbours)
    seen = set(start) | set(neighbours)
    restart = _drive(strat, 2, zero)  # a new run: two fresh random architectures
    assert not set(restart) & seen
    assert all(a in flat.neighbors(restart[0]) for a in _drive(strat, 3, zero))


def test_local_search_asked_ahead_proposes_random_samples_and_steps_once_all_results_are_in():
    strat = LocalSearch(TOY, seed=2, num_init=2)
    start = _drive(strat, 2)
    centre = max(start, key=toy_score)
    neighbours = [n for n in TOY.neighbors(centre) if n not in start]
    asked = [strat.ask() for _ in range(len(neighbours) + 5)]  # parallel workers ask ahead
    assert set(asked[:len(neighbours)]) == set(neighbours)
    extra = asked[len(neighbours):]
    assert len(set(asked)) == len(asked) and not set(extra) & set(TOY.neighbors(centre))
    for a in extra:
        strat.tell(a, 1e9)  # random samples do not move the search, however good
    for a in reversed(asked[:len(neighbours)]):
        strat.tell(a, toy_score(a))
    best = max(neighbours, key=toy_score)
    assert toy_score(best) > toy_score(centre) and strat.ask() in TOY.neighbors(best)


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


@pytest.mark.slow
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
    ({"kappa": -1}, "kappa must be a non-negative number"),
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
