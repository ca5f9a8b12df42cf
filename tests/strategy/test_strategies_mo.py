import random
import statistics

import numpy as np
import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space
from archscout.pareto import hypervolume
from archscout.space import get_space
from archscout.strategy import LINAS, NSGA2, LINASLite, make_strategy
from archscout.strategy._nsga2 import environmental_selection

TOY = Space("toy", stages=Repeat(1, 4, Block(width=Choice(list(range(10))), kind=Choice(["a", "b", "c"]))),
            bias=Choice(list(range(10))))
FAST_LINAS = {"inner_population": 20, "inner_generations": 5}  # the tests need the behaviour, not the best front
FAST_DYNAST = {"inner_evaluations": 200}  # DyNAS-T's LINAS with 4 generations of its inner NSGA-II


def toy_objectives(arch) -> tuple[float, float]:
    """(quality, -cost), both higher-is-better. Quality grows with width, stages of kind "b" and a bias near 3;
    cost is the number of stages plus half a point per "b": a trade-off with a known front."""
    v = arch.values
    quality = sum(s["width"] + 2 * (s["kind"] == "b") for s in v["stages"]) - 2 * abs(v["bias"] - 3)
    cost = len(v["stages"]) + 0.5 * sum(s["kind"] == "b" for s in v["stages"])
    return float(quality), -float(cost)


# the best of n stages with k of kind "b": every width 9, bias 3
TOY_FRONT = [(9.0 * n + 2 * k, -(n + 0.5 * k)) for n in range(1, 5) for k in range(n + 1)]


def toy_hypervolume_ratio(points) -> float:
    """Hypervolume of (quality, -cost) points over that of the toy's true front, both objectives scaled from
    their worst to their best possible value."""
    def volume(ps):
        F = np.array([(-q, -c) for q, c in ps])  # minimisation form
        low, high = np.array([-44.0, 1.0]), np.array([12.0, 6.0])
        return hypervolume((F - low) / (high - low), [1.0, 1.0])

    return volume(points) / volume(TOY_FRONT)


def search(name, evaluations, seed, space=TOY, objectives=toy_objectives, **options):
    """Ask/tell as a study does: repeats are answered from the record and do not count."""
    strategy = make_strategy(name, space, seed=seed, **options)
    record = {}
    while len(record) < evaluations:
        arch = strategy.ask()
        assert space.contains(arch)
        if arch not in record:
            record[arch] = objectives(arch)
        strategy.tell(arch, record[arch])
    return strategy, record


@pytest.mark.parametrize("name,options", [("nsga2", {}), ("linas-lite", FAST_LINAS),
                                          ("linas", {"population_size": 20, **FAST_DYNAST})])
@pytest.mark.slow
def test_all_beat_random_on_a_toy_front(name, options):
    ours = [toy_hypervolume_ratio(search(name, 80, seed, **options)[1].values()) for seed in range(3)]
    rand = [toy_hypervolume_ratio(search("random", 80, seed)[1].values()) for seed in range(3)]
    assert statistics.mean(ours) > statistics.mean(rand) + 0.05


@pytest.mark.parametrize("name,options", [("nsga2", {}), ("linas-lite", FAST_LINAS), ("linas", FAST_DYNAST)])
@pytest.mark.slow
def test_proposals_are_architectures_of_the_gnn_space(name, options):
    space = get_space("gnn")

    def objectives(arch):  # any deterministic pair will do
        r = random.Random(arch.id)
        return r.random(), -r.random()

    strategy, record = search(name, 45, 0, space=space, objectives=objectives, population_size=10, **options)
    assert len(record) == 45


@pytest.mark.parametrize("name,options", [("nsga2", {}), ("linas-lite", FAST_LINAS), ("linas", FAST_DYNAST)])
@pytest.mark.slow
def test_replayed_history_gives_the_same_next_proposals(name, options):
    strategy, record = search(name, 37, 5, population_size=10, **options)
    history = list(record.items())
    history[3] = (history[3][0], None)  # a failed trial is part of the history too

    def resumed():
        fresh = make_strategy(name, TOY, seed=5, population_size=10, **options)
        for arch, score in history:
            fresh.tell(arch, score)
        fresh.resume(len(history))
        return [fresh.ask().id for _ in range(12)]

    assert resumed() == resumed()


@pytest.mark.parametrize("name,options", [("nsga2", {}), ("linas-lite", FAST_LINAS), ("linas", FAST_DYNAST)])
@pytest.mark.slow
def test_failed_trials_and_plain_floats_are_accepted(name, options):
    strategy = make_strategy(name, TOY, seed=0, population_size=6, **options)
    for i in range(30):
        arch = strategy.ask()
        strategy.tell(arch, None if i % 3 == 0 else toy_objectives(arch)[0])  # one objective, as a float
    assert TOY.contains(strategy.ask())


def test_failed_trials_never_become_parents():
    strategy = NSGA2(TOY, seed=0, population_size=6)
    failed = set()
    for i in range(40):
        arch = strategy.ask()
        if i % 2:
            failed.add(arch)
            strategy.tell(arch, None)
        else:
            strategy.tell(arch, toy_objectives(arch))
    assert strategy.parents and not failed & set(strategy.parents)


def test_scores_with_a_different_number_of_objectives_are_an_error():
    for cls in (NSGA2, LINASLite, LINAS):
        strategy = cls(TOY, seed=0)
        strategy.tell(strategy.ask(), (1.0, 2.0))
        with pytest.raises(ArchscoutError, match="objective"):
            strategy.tell(strategy.ask(), (1.0, 2.0, 3.0))


def test_environmental_selection_keeps_the_front_then_the_least_crowded():
    F = np.array([[0.0, 4.0], [1.0, 1.0], [4.0, 0.0],  # the front (minimisation form)
                  [2.0, 2.5], [3.0, 3.0],  # third and fourth fronts
                  [0.2, 4.5], [1.5, 2.0], [1.6, 1.9], [4.2, 0.3], [4.5, 0.2]])  # the second front
    keep, ranks, _ = environmental_selection(F, 3)
    assert sorted(keep) == [0, 1, 2] and list(ranks) == [0, 0, 0]
    keep, ranks, _ = environmental_selection(F, 6)
    # the second front does not fit: its ends stay, and of its middle the least crowded point
    assert sorted(keep) == [0, 1, 2, 5, 8, 9] and list(ranks) == [0, 0, 0, 1, 1, 1]


def test_nsga2_parents_are_the_non_dominated_results():
    strategy = NSGA2(TOY, seed=0, population_size=4)
    archs = list(dict.fromkeys(TOY.sample(random.Random(i)) for i in range(20)))[:8]
    scores = [(0.0, -0.5), (0.5, -5.0), (1.0, -1.0), (2.0, -3.0), (2.0, -2.0), (3.0, -3.0), (1.0, -5.0), (4.0, -4.0)]
    for arch, score in zip(archs, scores):
        strategy.tell(arch, score)
    front = [archs[i] for i in (0, 2, 4, 5, 7)]  # the others are worse in one objective and no better in the other
    assert len(strategy.parents) == 4 and set(strategy.parents) <= set(front)
    assert {front[0], front[-1]} <= set(strategy.parents)  # the ends of the front are kept


def test_a_repeat_told_again_counts_once():
    strategy = NSGA2(TOY, seed=0, population_size=3)
    arch = strategy.ask()
    for _ in range(5):
        strategy.tell(arch, (1.0, -1.0))
    assert not strategy.parents  # five tells of one architecture are one result, not a generation


@pytest.mark.slow
def test_proposals_do_not_wait_for_results():
    for strategy in (NSGA2(TOY, seed=1, population_size=5), LINASLite(TOY, seed=1, population_size=5, **FAST_LINAS),
                     LINAS(TOY, seed=1, population_size=5, **FAST_DYNAST)):
        asked = [strategy.ask() for _ in range(8)]
        for arch in reversed(asked):  # results come back in any order
            strategy.tell(arch, toy_objectives(arch))
        asked = [strategy.ask() for _ in range(25)]  # a generation's worth and more, nothing told yet
        assert len(set(asked)) == len(asked)
        assert all(TOY.contains(a) for a in asked)


def test_linas_lite_samples_at_random_until_it_has_results():
    rng = random.Random(3)
    expected = [TOY.sample(rng) for _ in range(25)]
    strategy = LINASLite(TOY, seed=3, population_size=10)
    assert [strategy.ask() for _ in range(25)] == expected


def test_results_of_architectures_never_proposed_are_learnt_from():
    strategy = LINASLite(TOY, seed=0, population_size=10, batch=4, **FAST_LINAS)
    others = list(dict.fromkeys(TOY.sample(random.Random(100 + i)) for i in range(30)))[:20]
    for arch in others:  # e.g. another process's trials
        strategy.tell(arch, toy_objectives(arch))
    proposals = [strategy.ask() for _ in range(4)]
    assert not set(proposals) & set(others)
    assert statistics.mean(toy_objectives(a)[0] for a in proposals) > \
        statistics.mean(toy_objectives(a)[0] for a in others)  # the surrogate's predicted front, not random


@pytest.mark.parametrize("name,options", [
    ("nsga2", {"population_size": 1}), ("nsga2", {"population_size": "20"}), ("nsga2", {"crossover_prob": 1.5}),
    ("linas-lite", {"population_size": 0}), ("linas-lite", {"batch": 0}), ("linas-lite", {"inner_generations": 0}),
    ("linas-lite", {"surrogate": "xgboost"}), ("linas-lite", {"encoding": "pixels"}), ("nsga2", {"mutation": 0.1}),
    ("linas", {"population_size": 1}), ("linas", {"inner_evaluations": 0}), ("linas", {"mutation_prob": 2}),
])
def test_bad_options_are_errors(name, options):
    with pytest.raises(ArchscoutError, match=next(iter(options))):
        make_strategy(name, TOY, **options)


def test_names():
    assert isinstance(make_strategy("nsga-ii", TOY), NSGA2)
    assert isinstance(make_strategy("linas", TOY), LINAS)
    assert isinstance(make_strategy("linas-lite", TOY), LINASLite)
    assert NSGA2.multi_objective and LINAS.multi_objective and LINASLite.multi_objective


def test_docstring_examples_run():
    import doctest

    from archscout.strategy import _linas, _linas_lite, _nsga2

    for module in (_nsga2, _linas, _linas_lite):
        assert doctest.testmod(module).failed == 0
