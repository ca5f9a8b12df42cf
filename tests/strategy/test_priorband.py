"""PriorBand (Mallik et al., NeurIPS 2023, as NePS implements it): Hyperband's brackets whose new candidates come
from the priors, the incumbent's neighbourhood or uniformly, by rung and by how each explains the best results."""
from __future__ import annotations

import collections

import pytest

from archscout import ArchscoutError
from archscout.space import Block, Choice, Repeat, Space, get_space
from archscout.strategy import Result, make_strategy

TOP = {"steps": 81}  # rungs 3, 9, 27, 81


def drive(strategy, n: int, value) -> list:
    out = []
    for i in range(n):
        p = strategy.ask()
        assert p is not None
        out.append(p)
        strategy.tell_result(Result(p.arch, value(p.arch), {"accuracy": value(p.arch)}, p.fidelity, i, "complete",
                                    p.parent))
    return out


def _space():
    return Space("pb", act=Choice(["relu", "gelu", "silu"], prior="relu", confidence="high"),
                 stages=Repeat(1, 4, Block(width=Choice([8, 16, 32, 64, 128], prior=16, confidence="high")),
                               prior=1, confidence="high"))


def wide(arch) -> float:
    """Rewards what the priors do not point at: silu and wide, long networks."""
    v = arch.values
    return (v["act"] == "silu") + sum(s["width"] for s in v["stages"]) / 512


def test_before_the_incumbent_counts_the_uniform_share_falls_with_the_bracket_s_starting_rung():
    pb = make_strategy("priorband", _space(), seed=0, fidelity=TOP)
    assert pb.weights(0) == {"prior": pytest.approx(0.5), "incumbent": 0.0, "uniform": pytest.approx(0.5)}
    assert pb.weights(3)["uniform"] == pytest.approx(1 / 28) and pb.weights(3)["incumbent"] == 0.0
    first = pb.ask()
    assert first.parent is None and first.fidelity == {"steps": 3} and first.details["source"] in ("prior", "uniform")
    assert first.details["weights"] == {"prior": 0.5, "incumbent": 0.0, "uniform": 0.5}


def test_incumbent_sampling_starts_after_a_top_result_a_bracket_s_fidelity_and_eta_results_on_a_rung():
    pb = make_strategy("priorband", _space(), seed=1, fidelity=TOP)
    # one bracket from rung 0: 27 x 3 + 9 x 6 + 3 x 18 + 1 x 54 steps (a promotion adds what it continues)
    assert pb.bracket_cost() == 27 * 3 + 9 * 6 + 3 * 18 + 1 * 54
    seen_on = None
    for i, p in enumerate(drive(pb, 60, wide)):
        if p.details.get("weights", {}).get("incumbent", 0) > 0 and seen_on is None:
            seen_on = i
    assert pb.incumbent_on() and seen_on is not None
    assert pb.ranking(pb.top) and pb.spent() >= pb.bracket_cost()
    assert pb.incumbent() == max((a for k in range(4) for a in pb.ranking(k)), key=wide)


def test_where_the_best_results_are_far_from_the_priors_the_incumbent_takes_the_prior_s_share():
    pb = make_strategy("priorband", _space(), seed=2, fidelity=TOP)
    proposals = drive(pb, 200, wide)
    w = pb.weights(0)
    assert w["uniform"] == pytest.approx(0.5) and w["incumbent"] > w["prior"]
    late = [p for p in proposals[100:] if p.parent is None]
    sources = collections.Counter(p.details["source"] for p in late)
    assert sources["incumbent"] > 0
    # where the best result is the priors' mode, the distribution centred on it is the priors' (every choice of
    # this space has a prior): the two split the share evenly
    space = _space()
    pb2 = make_strategy("priorband", space, seed=2, fidelity=TOP, prior_first=True)
    drive(pb2, 200, space.log_prob)
    assert pb2.incumbent() == space.prior_mode()
    assert pb2.weights(0)["prior"] == pytest.approx(pb2.weights(0)["incumbent"]) == pytest.approx(0.25)


def test_incumbent_draws_are_local_mutations_of_the_best_result():
    pb = make_strategy("priorband", _space(), seed=3, fidelity=TOP)
    proposals = drive(pb, 200, wide)
    space = pb.space
    for p in proposals:
        if p.details.get("source") == "incumbent":
            assert p.arch not in {q.arch for q in proposals[:proposals.index(p)] if q.parent is None}
    inc = pb.incumbent()
    drawn = [space.local_mutation(inc, i) for i in range(50)]
    assert sum(space.log_prob(a, inc) for a in drawn) / 50 > sum(space.log_prob(space.sample(i), inc)
                                                                for i in range(50)) / 50


def test_prior_first_proposes_the_priors_mode_first_and_bad_options_are_clear_errors():
    space = get_space("mlp-recipe")
    p = make_strategy("priorband", space, seed=0, fidelity=TOP, prior_first=True).ask()
    assert p.arch == space.prior_mode() and p.details["source"] == "prior-mode"
    assert make_strategy("priorband", space, seed=0, fidelity=TOP).ask().details["source"] != "prior-mode"
    for bad, phrase in (({"mutation_rate": 1.5}, "mutation_rate"), ({"mutation_std": 0.0}, "mutation_std"),
                        ({"prior_first": "yes"}, "prior_first")):
        with pytest.raises(ArchscoutError, match=phrase):
            make_strategy("priorband", space, seed=0, fidelity=TOP, **bad)


def test_a_study_runs_priorband_and_resumes_it(tmp_path):
    from archscout import Study
    db = f"sqlite:///{tmp_path}/pb.db"
    study = Study("pb", space="mlp-recipe", task="iris", strategy="priorband", storage=db, train={"steps": 27})
    study.search(trials=6)
    again = Study.load("pb", study.storage)
    again.search(trials=10)
    trials = again.trials()
    assert len(trials) == 10 and all(t.status == "complete" for t in trials)
    assert {(t.details or {}).get("source") for t in trials if t.parent is None} <= {"prior", "uniform", "incumbent"}
