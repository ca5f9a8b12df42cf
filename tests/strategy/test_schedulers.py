"""Multi-fidelity schedulers (successive halving, Hyperband, ASHA, BOHB, MO-ASHA) driven as the search loop drives
them, on a synthetic objective: no training, a score that grows with the budget as a learning curve would."""
from __future__ import annotations

import collections
import hashlib
import math
import random
import statistics

import numpy as np
import pytest

from archscout import ArchscoutError
from archscout.space import get_space
from archscout.strategy import (
    ASHA,
    ASHAKDE,
    BOHB,
    MOASHA,
    Hyperband,
    Proposal,
    Result,
    SuccessiveHalving,
    make_strategy,
)

SPACE = get_space("mlp")
TOP = {"steps": 81}  # with eta 3 the rungs are 3, 9, 27 and 81 steps


def unit(*parts) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big") / 2**64


def quality(arch) -> int:
    """What the architecture is worth: only three choices matter (the first layer's activation and
    normalisation, and two layers)."""
    first = (arch.values["stages"] or [{}])[0]  # no layer: a linear model
    return (first.get("act") == "gelu") + (first.get("norm") == "layer") + (len(arch.values["stages"]) == 2)


def score(arch, steps: float) -> float:
    """A learning curve towards the quality, plus a little noise fixed per architecture."""
    return (quality(arch) + 0.5 * unit(arch.id)) * (1 - math.exp(-steps / 20))


def result(proposal: Proposal, trial: int, failed: bool = False, value=None) -> Result:
    """What the study tells of a finished trial: its score, fidelity, number and parent."""
    if failed:
        return Result(proposal.arch, None, {}, proposal.fidelity, trial, "failed", proposal.parent)
    value = score(proposal.arch, proposal.fidelity["steps"]) if value is None else value
    return Result(proposal.arch, value, {"accuracy": value}, proposal.fidelity, trial, "complete", proposal.parent)


def run(strategy, trials: int, workers: int = 1, order: int = 0, fails=lambda p: False):
    """Ask and tell as a search with ``workers`` parallel trials does: a free worker asks (None: it waits), and
    running trials finish in a random order (seeded by ``order``). Returns the proposals and the results told;
    trials still running at the end are lost, as when the process dies."""
    finish = random.Random(order)
    asked: list[Proposal] = []
    told: list[Result] = []
    running: list[int] = []
    while len(told) < trials:
        while len(running) < workers:
            proposal = strategy.ask()
            if proposal is None:
                break
            asked.append(proposal)
            running.append(len(asked) - 1)
        assert running, "the strategy waits while nothing runs"
        number = running.pop(finish.randrange(len(running)))
        told.append(result(asked[number], number, fails(asked[number])))
        strategy.tell_result(told[-1])
    return asked, told


def rung(proposal: Proposal) -> int:
    return proposal.details["rung"]


def replayed(make, told: list[Result]):
    """A fresh strategy told the stored history in trial order, then resumed, as a study resumes."""
    fresh = make()
    for r in sorted(told, key=lambda r: r.trial):
        fresh.tell_result(r)
    fresh.resume(len(told))
    return fresh


# -- the rungs ---------------------------------------------------------------------------------------------------

def test_make_strategy_takes_the_study_fidelity_as_the_top_rung():
    asha = make_strategy("asha", SPACE, fidelity={"steps": 1000})
    assert asha.rungs == [37, 111, 333, 1000] and all(isinstance(r, int) for r in asha.rungs)
    epochs = make_strategy("sh", SPACE, fidelity={"epochs": 5})
    assert epochs.rungs == [0.185185, 0.555556, 1.66667, 5] and epochs.fidelity_key == "epochs"
    proposal = epochs.ask()
    assert proposal.fidelity == {"epochs": 0.185185} and proposal.parent is None
    assert proposal.details == {"rung": 0, "bracket": 0}
    # an evaluator without a fidelity of its own: the top rung is max_fidelity, in steps unless told otherwise
    assert make_strategy("hyperband", SPACE, max_fidelity=100, min_fidelity=10).rungs == [11, 33, 100]
    assert make_strategy("asha", SPACE, max_fidelity=4, fidelity_key="epochs", eta=2).rungs == [0.5, 1, 2, 4]
    assert make_strategy("asha", SPACE, fidelity={"steps": 2}).rungs == [2]  # no rung below 1 step
    # a min_fidelity rounded from top / eta^k is that rung, not one above it
    assert make_strategy("asha", SPACE, fidelity={"steps": 1500}, min_fidelity=166.67).rungs == [167, 500, 1500]
    assert make_strategy("asha", SPACE, fidelity={"steps": 1500}, min_fidelity=170).rungs == [500, 1500]


def test_without_a_fidelity_the_top_rung_must_be_given():
    with pytest.raises(ArchscoutError, match="no fidelity of its own.*max_fidelity"):
        make_strategy("asha", SPACE)
    with pytest.raises(ArchscoutError, match="max_fidelity"):
        make_strategy("bohb", SPACE, fidelity=None)


@pytest.mark.parametrize("name, options, match", [
    ("asha", {"eta": 1}, "eta must be an integer >= 2"),
    ("sh", {"eta": 2.5}, "eta must be an integer >= 2"),
    ("asha", {"min_fidelity": 0}, "min_fidelity must be a positive number"),
    ("asha", {"min_fidelity": 2000}, "above the top rung"),
    ("asha", {"min_fidelity": 0.5}, "at least 1 step"),
    ("asha", {"max_fidelity": 500}, "max_fidelity 500 is not the study's own fidelity"),
    ("asha", {"fidelity_key": "epochs"}, "fidelity_key 'epochs' is not the study's fidelity"),
    ("hyperband", {"parallel_brackets": 0}, "parallel_brackets must be a positive integer"),
    ("bohb", {"top_n_percent": 100}, r"bohb: top_n_percent must be a number in \(0, 100\), got 100"),
    ("bohb", {"random_fraction": 1.5}, r"random_fraction must be a number in \[0, 1\]"),
    ("bohb", {"num_samples": 0}, "num_samples must be a positive integer"),
    ("bohb", {"min_points_in_model": 1}, "min_points_in_model must be an integer >= 2"),
    ("bohb", {"bandwidth_factor": -1}, "bandwidth_factor must be a positive number"),
    ("asha", {"population_size": 3}, "has no option"),
])
def test_options_are_checked(name, options, match):
    with pytest.raises(ArchscoutError, match=match):
        make_strategy(name, SPACE, fidelity={"steps": 1000}, **options)


def test_the_study_fidelity_must_be_one_positive_number():
    with pytest.raises(ArchscoutError, match="one key"):
        ASHA(SPACE, fidelity={"steps": 100, "epochs": 2})
    with pytest.raises(ArchscoutError, match="must be a positive number"):
        ASHA(SPACE, fidelity={"steps": 0})
    with pytest.raises(ArchscoutError, match="whole number"):
        ASHA(SPACE, max_fidelity=10.5)


# -- successive halving and Hyperband --------------------------------------------------------------------------

def test_a_successive_halving_bracket_keeps_the_best_third_of_each_rung():
    sh = SuccessiveHalving(SPACE, seed=0, fidelity=TOP)
    asked, told = run(sh, 40)
    assert [rung(p) for p in asked] == [0] * 27 + [1] * 9 + [2] * 3 + [3]
    assert [p.fidelity for p in asked[::9]] == [{"steps": 3}] * 3 + [{"steps": 9}, {"steps": 27}]
    by_rung = collections.defaultdict(dict)
    for r in told:
        by_rung[r.fidelity["steps"]][r.arch] = r
    for low, high, keep in ((3, 9, 9), (9, 27, 3), (27, 81, 1)):
        best = sorted(by_rung[low].values(), key=lambda r: -r.score)[:keep]
        promoted = [p for p in asked if p.fidelity == {"steps": high}]
        assert {p.arch for p in promoted} == {r.arch for r in best}
        assert all(p.parent == by_rung[low][p.arch].trial for p in promoted)  # continues the lower trial
    assert asked[-1].details["bracket"] == 0 and sh.ask().details == {"rung": 0, "bracket": 1}


def test_successive_halving_waits_while_a_rung_is_incomplete():
    sh = make_strategy("sh", SPACE, fidelity=TOP)
    pending = [sh.ask() for _ in range(27)]
    assert sh.ask() is None
    for trial, p in enumerate(pending[:-1]):
        sh.tell_result(result(p, trial))
        assert sh.ask() is None  # the last result of the rung is still missing
    sh.tell_result(result(pending[-1], 26))
    assert rung(sh.ask()) == 1
    # with two brackets at once a free worker starts the next bracket instead of waiting
    two = make_strategy("sh", SPACE, fidelity=TOP, parallel_brackets=2)
    asked = [two.ask() for _ in range(54)]
    assert [p.details["bracket"] for p in asked] == [0] * 27 + [1] * 27 and two.ask() is None


def test_a_discarded_candidate_is_replaced():
    sh = SuccessiveHalving(SPACE, seed=0, fidelity=TOP)
    first = sh.ask()
    sh.discard(first.arch)
    asked = [sh.ask() for _ in range(27)]
    assert all(rung(p) == 0 for p in asked) and first.arch not in {p.arch for p in asked}
    assert sh.ask() is None


def test_hyperband_cycles_through_its_brackets():
    hb = Hyperband(SPACE, seed=0, fidelity=TOP)
    assert [hb.layout(b) for b in range(5)] == [{0: 27, 1: 9, 2: 3, 3: 1}, {1: 12, 2: 4, 3: 1}, {2: 6, 3: 2},
                                                {3: 4}, {0: 27, 1: 9, 2: 3, 3: 1}]
    asked, _ = run(hb, 40 + 17 + 8 + 4 + 1)
    counts = collections.Counter((p.details["bracket"], rung(p)) for p in asked)
    assert counts == {(0, 0): 27, (0, 1): 9, (0, 2): 3, (0, 3): 1, (1, 1): 12, (1, 2): 4, (1, 3): 1,
                      (2, 2): 6, (2, 3): 2, (3, 3): 4, (4, 0): 1}
    new = [p for p in asked if p.parent is None]
    assert [rung(p) for p in new] == [0] * 27 + [1] * 12 + [2] * 6 + [3] * 4 + [0]


# -- ASHA and MO-ASHA ----------------------------------------------------------------------------------------

def test_asha_never_waits_and_promotes_only_the_top_third_with_results_out_of_order():
    asha = ASHA(SPACE, seed=0, fidelity=TOP)
    finish = random.Random(1)
    running, rungs, promotions = [], collections.defaultdict(dict), 0
    for trial in range(300):
        proposal = asha.ask()
        assert proposal is not None
        k = rung(proposal)
        if proposal.parent is not None:  # the top floor(n / 3) of the rung below, when it was asked
            below = rungs[k - 1]
            top = sorted(below.values(), key=lambda r: -r.score)[:len(below) // 3]
            assert proposal.arch in {r.arch for r in top} and below[proposal.arch].trial == proposal.parent
            promotions += 1
        else:
            assert k == 0
        running.append(result(proposal, trial))
        if len(running) > 4:  # four trials run at once, and any of them may finish first
            done = running.pop(finish.randrange(len(running)))
            asha.tell_result(done)
            rungs[rung_of(done)][done.arch] = done
    assert promotions > 50 and len(rungs[3]) >= 3


def rung_of(r: Result) -> int:
    return [3, 9, 27, 81].index(r.fidelity["steps"])


def test_mo_asha_promotes_the_non_dominated_first():
    mo = make_strategy("mo-asha", SPACE, objectives=2, fidelity=TOP)
    assert mo.multi_objective and isinstance(mo, MOASHA)
    front = [(1.0, 4.0), (2.0, 3.0), (3.0, 2.0), (4.0, 1.0)]
    dominated = [(0.5, 0.5), (1.5, 1.5), (2.5, 0.5), (0.5, 2.5), (1.0, 1.0)]
    values = dominated[:2] + front + dominated[2:]  # told mixed up
    asked = [mo.ask() for _ in values]
    for trial, (p, v) in enumerate(zip(asked, values)):
        mo.tell_result(result(p, trial, value=v))
    promoted = [mo.ask() for _ in range(3)]
    by_arch = {p.arch: v for p, v in zip(asked, values)}
    assert [rung(p) for p in promoted] == [1, 1, 1]
    # nine results: the top three; the front's two ends (largest crowding distance) come first
    assert [by_arch[p.arch] for p in promoted] == [(1.0, 4.0), (4.0, 1.0), (2.0, 3.0)]
    assert rung(mo.ask()) == 0  # nothing else is in the top third


def test_one_objective_schedulers_refuse_several_values():
    asha = ASHA(SPACE, fidelity=TOP)
    p = asha.ask()
    asha.tell_result(result(p, 0, value=(0.5,)))  # a one-objective tuple is fine
    with pytest.raises(ArchscoutError, match="one objective"):
        asha.tell_result(result(asha.ask(), 1, value=(0.5, 0.2)))


# -- failures, other processes, other fidelities -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["sh", "hyperband", "asha", "bohb"])
def test_failed_results_are_never_promoted(name):
    strategy = make_strategy(name, SPACE, seed=3, fidelity=TOP)
    asked, told = run(strategy, 200, workers=3, fails=lambda p: unit(p.arch.id, rung(p)) < 0.3)
    status = {(r.arch, rung_of(r)): r.status for r in told}
    promoted = [p for p in asked if p.parent is not None]
    assert len(promoted) > 20
    assert all(status[(p.arch, rung(p) - 1)] == "complete" for p in promoted)


def test_results_of_other_processes_and_other_fidelities_are_filed_by_fidelity():
    asha = ASHA(SPACE, seed=0, fidelity=TOP)
    others = [SPACE.sample(random.Random(i)) for i in range(12)]
    for i, arch in enumerate(others[:9]):  # another process's results at the lowest rung
        asha.tell_result(Result(arch, 0.1 * i, {}, {"steps": 3}, 100 + i, "complete"))
    asha.tell_result(Result(others[9], 5.0, {}, {"steps": 5}, 109, "complete"))  # no rung of ours
    asha.tell_result(Result(others[10], 5.0, {}, {"epochs": 1}, 110, "complete"))
    asha.tell_result(Result(others[11], 5.0, {}, None, 111, "complete"))  # the study's own fidelity: the top
    assert asha.rung_of(None) == 3 and asha.rung_of({"steps": 5}) is None and asha.rung_of({"epochs": 3}) is None
    assert asha.ranking(0) == others[8::-1] and asha.ranking(3) == [others[11]]
    promoted = [asha.ask() for _ in range(3)]
    assert [(p.arch, p.parent, p.fidelity) for p in promoted] == [(others[8 - i], 108 - i, {"steps": 9})
                                                                    for i in range(3)]
    new = [asha.ask() for _ in range(50)]
    assert all(p.parent is None and p.arch not in others for p in new)  # anything told is not new any more


def test_a_repeat_told_from_the_records_counts_once():
    asha = ASHA(SPACE, seed=0, fidelity=TOP)
    asked = [asha.ask() for _ in range(3)]
    for trial, (p, value) in enumerate(zip(asked, (1.0, 0.5, 0.2))):
        asha.tell_result(result(p, trial, value=value))
    best = asked[0]
    asha.tell_result(Result(best.arch, 0.0, {}, best.fidelity, None, "complete"))  # answered from the records
    assert asha.ranking(0) == [p.arch for p in asked]
    promoted = asha.ask()
    assert (promoted.arch, promoted.parent, rung(promoted)) == (best.arch, 0, 1)


# -- BOHB ----------------------------------------------------------------------------------------------------

def test_bohb_switches_to_its_model_once_a_rung_has_enough_results():
    bohb = BOHB(SPACE, seed=0, fidelity=TOP, min_points_in_model=6, random_fraction=0)
    asked, _ = run(bohb, 40)
    new = [(i, p) for i, p in enumerate(asked) if p.parent is None]
    first = next(i for i, p in new if p.details["model_based"])
    # 6 good + 6 bad results at the lowest rung, the two sets disjoint as HpBandSter splits them (one worker: all
    # earlier ones are told)
    assert first == 12
    assert all(not p.details["model_based"] for i, p in new if i < first)
    later = [p.details["model_based"] for i, p in new if i >= first]
    assert sum(later) >= 0.9 * len(later) and asked[first].details["model_rung"] == 0


def test_bohb_model_proposals_beat_random_ones_where_few_choices_matter():
    model, uniform = [], []
    for seed in range(3):
        bohb = BOHB(SPACE, seed=seed, fidelity=TOP, min_points_in_model=6)
        asked, _ = run(bohb, 200, workers=2, order=seed)
        new = [p for p in asked if p.parent is None]
        model += [quality(p.arch) for p in new if p.details["model_based"]]
        uniform += [quality(p.arch) for p in new if not p.details["model_based"]]
    assert len(model) > 100 and len(uniform) > 100
    # a random architecture is worth 0.83 on average (1/4 + 1/3 + 1/4); the model's are worth clearly more
    assert statistics.mean(model) > statistics.mean(uniform) + 0.4


def test_bohb_model_size_follows_the_number_of_decisions():
    bohb = BOHB(SPACE, fidelity=TOP)
    assert len(bohb.decisions) == 1 + 4 * 5 and bohb.min_points_in_model == 20  # d + 1 = 22, capped at 20
    assert BOHB(get_space("gnn"), fidelity=TOP).min_points_in_model == 5 + 1


@pytest.mark.parametrize("space", ["mlp", "conv1d", "gnn"])
def test_bohb_reads_and_writes_the_decisions_of_an_architecture(space):
    decisions = BOHB(get_space(space), fidelity=TOP).decisions
    for seed in range(20):
        arch = decisions.space.sample(seed)
        code = decisions.encode(arch)
        # inactive decisions and absent blocks are NaN; whatever fills them in, the architecture is the same
        filled = decisions.impute(code[None, :], np.random.default_rng(seed))[0]
        assert decisions.decode(filled) == arch


def test_asha_kde_promotes_as_asha_and_proposes_from_the_model():
    model, uniform = [], []
    for seed in range(3):
        asked, _ = run(ASHAKDE(SPACE, seed=seed, fidelity=TOP, min_points_in_model=6, min_fidelity=3), 200,
                       workers=2, order=seed)
        new = [p for p in asked if p.parent is None]
        assert all(rung(p) == 0 for p in new)  # one bracket: every new candidate starts at the lowest rung
        assert any(rung(p) == 3 for p in asked)  # and the best climb to the top
        model += [quality(p.arch) for p in new if p.details["model_based"]]
        uniform += [quality(p.arch) for p in new if not p.details["model_based"]]
    assert len(model) > 100 and len(uniform) > 30
    assert statistics.mean(model) > statistics.mean(uniform) + 0.4


def test_asha_kde_switches_to_its_model_once_the_lowest_rung_has_enough_results():
    asked, _ = run(ASHAKDE(SPACE, seed=0, fidelity=TOP, min_points_in_model=6, random_fraction=0, min_fidelity=3), 40)
    new = [(i, p) for i, p in enumerate(asked) if p.parent is None]
    first = next(i for i, p in new if p.details["model_based"])
    # 6 good + 6 bad results at the lowest rung first (disjoint sets, as BOHB's)
    assert first >= 12 and len([i for i, _ in new if i < first]) == 12
    assert all(p.details["model_based"] for i, p in new if i >= first)  # random_fraction 0: the model every time


# -- resume ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sh", "hyperband", "asha", "bohb", "mo-asha", "asha-kde"])
def test_the_same_replayed_history_gives_the_same_next_proposals(name):
    def make():
        return make_strategy(name, SPACE, seed=7, fidelity=TOP, **({"min_points_in_model": 6} if name in ("bohb", "asha-kde")
                                                                    else {}))

    _, told = run(make(), 60, workers=3, order=2)
    one, two = replayed(make, told), replayed(make, told)
    a, _ = run(one, 30)
    b, _ = run(two, 30)
    assert [(p.arch.id, p.fidelity, p.parent) for p in a] == [(p.arch.id, p.fidelity, p.parent) for p in b]
    done = {(r.arch, r.fidelity["steps"]) for r in told}
    assert not [p for p in a if (p.arch, p.fidelity["steps"]) in done]  # nothing evaluated is proposed again


def test_after_a_resume_lost_trials_are_not_waited_for():
    def make():
        return SuccessiveHalving(SPACE, seed=1, fidelity=TOP)

    asked, told = run(make(), 25, workers=4)  # the process dies with two candidates of the rung running
    assert len(asked) == 27
    fresh = replayed(make, told)
    again = [fresh.ask(), fresh.ask()]
    assert [(rung(p), p.parent) for p in again] == [(0, None), (0, None)]  # two new ones fill the rung
    assert fresh.ask() is None  # and the rung waits for them
    for trial, p in enumerate(again, start=100):
        fresh.tell_result(result(p, trial))
    promoted = fresh.ask()
    assert rung(promoted) == 1 and promoted.details["bracket"] == 0


def test_after_a_resume_a_bracket_goes_on_with_the_promotions_it_lost():
    def make():
        return SuccessiveHalving(SPACE, seed=2, fidelity=TOP)

    asked, told = run(make(), 27 + 5, workers=9)  # dies with four of the nine promotions running
    lost = {p.arch for p in asked[27:]} - {r.arch for r in told[27:]}
    assert len(lost) == 4
    fresh = replayed(make, told)
    again = [fresh.ask() for _ in range(4)]
    assert {p.arch for p in again} == lost and all(rung(p) == 1 for p in again)
    assert fresh.ask() is None


def test_asha_kde_starts_at_the_top_over_eta_squared_by_default():
    assert make_strategy("asha-kde", SPACE, fidelity={"steps": 1500}).rungs == [167, 500, 1500]
    assert make_strategy("asha", SPACE, fidelity={"steps": 1500}).rungs == [56, 167, 500, 1500]
    assert make_strategy("asha-kde", SPACE, fidelity={"steps": 1500}, min_fidelity=55.56).rungs == [56, 167, 500, 1500]
