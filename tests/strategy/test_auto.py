"""The default search strategy, ``auto``: asha-kde whose candidates start from the space's priors."""
from __future__ import annotations

import pytest

from archscout import ArchscoutError
from archscout.space import Block, Choice, Repeat, Space, get_space
from archscout.strategy import Result, make_strategy

TOP = {"steps": 81}


def value(arch) -> float:
    """A score that rewards the prior's learning rate and two stages (no training)."""
    v = arch.values
    lr = (v.get("recipe") or {}).get("lr")
    return (lr == 3e-3) + (len(v["stages"]) == 2) + 0.01 * (hash(arch.id) % 7)


def drive(strategy, n: int) -> list:
    """Ask and tell ``n`` times, one trial at a time, as the search loop does with one worker."""
    out = []
    for i in range(n):
        p = strategy.ask()
        out.append(p)
        strategy.tell_result(Result(p.arch, value(p.arch), {"accuracy": value(p.arch)}, p.fidelity, i, "complete",
                                    p.parent))
    return out


def test_the_first_candidate_is_the_prior_mode_at_the_lowest_rung():
    space = get_space("mlp-recipe")
    p = make_strategy("auto", space, seed=3, fidelity=TOP).ask()
    assert p.arch == space.prior_mode() and p.details["source"] == "prior-mode" and p.fidelity == {"steps": 9}


def test_candidates_come_from_the_prior_the_uniform_draw_and_then_the_model():
    space = get_space("mlp-recipe")
    proposals = drive(make_strategy("auto", space, seed=0, fidelity=TOP), 150)
    sources = [p.details.get("source") for p in proposals if p.parent is None]
    assert sources[0] == "prior-mode" and {"prior", "uniform", "model"} <= set(sources)
    first_model = sources.index("model")
    assert first_model > 10  # the model waits for enough results at a rung
    early = [p for p in proposals[:first_model] if p.parent is None]
    prior_lr = [p.arch.values["recipe"]["lr"] == 3e-3 for p in early if p.details["source"] == "prior"]
    uniform_lr = [p.arch.values["recipe"]["lr"] == 3e-3 for p in early if p.details["source"] == "uniform"]
    assert prior_lr and uniform_lr and sum(prior_lr) / len(prior_lr) > sum(uniform_lr) / len(uniform_lr)


def test_prior_fraction_one_draws_every_early_candidate_from_the_prior_and_zero_none():
    space = get_space("mlp-recipe")
    all_prior = drive(make_strategy("auto", space, seed=1, fidelity=TOP, prior_fraction=1.0, prior_first=False), 8)
    assert {p.details["source"] for p in all_prior if p.parent is None} == {"prior"}
    none = drive(make_strategy("auto", space, seed=1, fidelity=TOP, prior_fraction=0.0, prior_first=False), 8)
    assert {p.details["source"] for p in none if p.parent is None} == {"uniform"}


def test_on_a_space_without_priors_auto_proposes_what_asha_kde_proposes():
    space = Space("plain", stages=Repeat(1, 3, Block(w=Choice([8, 16, 32]), a=Choice(["relu", "gelu"]))),
                  head=Choice(["gap", "max"]))
    auto = drive(make_strategy("auto", space, seed=5, fidelity=TOP), 120)
    kde = drive(make_strategy("asha-kde", space, seed=5, fidelity=TOP), 120)
    assert [(p.arch, p.fidelity, p.parent) for p in auto] == [(p.arch, p.fidelity, p.parent) for p in kde]


def test_after_a_resume_the_prior_mode_is_not_proposed_again():
    space = get_space("conv1d-recipe")
    first = make_strategy("auto", space, seed=2, fidelity=TOP)
    told = drive(first, 3)
    again = make_strategy("auto", space, seed=2, fidelity=TOP)
    for i, p in enumerate(told):
        again.tell_result(Result(p.arch, value(p.arch), {"accuracy": value(p.arch)}, p.fidelity, i, "complete",
                                 p.parent))
    again.resume(len(told))
    asked = [again.ask() for _ in range(5)]
    assert all(p.arch != space.prior_mode() for p in asked if p.parent is None)


def test_bad_options_are_clear_errors():
    space = get_space("mlp-recipe")
    with pytest.raises(ArchscoutError, match="prior_fraction"):
        make_strategy("auto", space, fidelity=TOP, prior_fraction=1.5)
    with pytest.raises(ArchscoutError, match="prior_first must be true or false"):
        make_strategy("auto", space, fidelity=TOP, prior_first="yes")
    assert make_strategy("default", space, fidelity=TOP).name == "auto"
