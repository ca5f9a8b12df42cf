"""Contract tests: every registered strategy, space and evaluator keeps the promises of its interface.

The contracts themselves ship in the package, ``archscout.testing`` (a user runs them on their own parts:
docs/extending.md); this file runs each of them over every registered name (as Optuna tests every sampler
with one shared suite), so a new strategy, space or evaluator is checked by registering it:

* strategies (``archscout.strategy.STRATEGIES``, the ask/tell contract of ``strategy/_base.py``):
  the same seed gives the same proposals; replaying the same stored history and calling
  ``resume(n)`` gives the same next proposals (also in another process, whose string hashes
  differ); told failures (None) are taken; every proposal belongs to the space. Strategies that
  take several objectives are checked with two as well.
* spaces (``archscout.space.list_spaces()``): samples build into networks for the inputs the space
  is meant for and run forward; architectures round-trip through JSON; mutation, neighbours and
  crossover stay in the space; every encoding has a fixed length.
* evaluators (``archscout.evaluate.EVALUATORS``): a completed evaluation stores exactly the metrics
  its class declares (``measured()`` and the ``on_request`` prefixes); a cost check that gives a
  reason makes the candidate infeasible; a spec's text round-trips; one that needs no task runs
  without one; a fidelity it does not understand is refused.
* every registry answers a misspelt name with the close match.

The quick settings of the built-ins live beside the checks (``archscout.testing.contracts.FAST_OPTIONS``,
``SPACE_INPUTS``); how to run each evaluator is ``_setup`` below. A part registered later without an entry
runs with its defaults, except a space or an evaluator, whose test then fails and asks for an entry (which
data it is for cannot be guessed).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from archscout.evaluate import EVALUATORS, EvaluatorSpec
from archscout.space import get_space, list_spaces
from archscout.strategy import STRATEGIES, make_strategy
from archscout.testing import (
    EVALUATOR_CHECKS,
    SPACE_CHECKS,
    STRATEGY_CHECKS,
    EvaluatorCase,
    SpaceCase,
    StrategyCase,
    check_evaluator_cost_check,
    check_evaluator_metrics,
    check_strategy_resume_in_another_process,
    check_unknown_name,
    parametrize_with_contracts,
    strategy_cases,
)
from archscout.testing.contracts import SPACE_INPUTS, _unit


def _name(check) -> str:
    return check.__name__.removeprefix("check_")


# -- strategies ----------------------------------------------------------------------------------------

# the differentiable methods train their own weights and never ask (tests/oneshot/test_differentiable.py)
ASKING = [name for name in STRATEGIES.names() if not getattr(STRATEGIES.get(name), "oneshot", False)]
STRATEGY_CASES = [case for name in ASKING for case in strategy_cases(name)]


@pytest.mark.parametrize("check", STRATEGY_CHECKS, ids=_name)
@pytest.mark.parametrize("case", STRATEGY_CASES, ids=str)
@pytest.mark.slow
def test_strategy_contract(case, check):
    check(case)


@pytest.mark.slow
def test_a_resumed_strategy_proposes_the_same_in_another_process():
    """Resuming happens in a new process, whose string hashes (the order of sets of architectures) differ; one
    other process for all the strategies."""
    check_strategy_resume_in_another_process(*STRATEGY_CASES)


# -- spaces ------------------------------------------------------------------------------------------------

SPACES = list_spaces()


@pytest.mark.parametrize("check", SPACE_CHECKS, ids=_name)
@pytest.mark.parametrize("name", SPACES)
def test_space_contract(name, check):
    if name not in SPACE_INPUTS:
        pytest.fail(f"space {name!r} is registered but archscout.testing.contracts does not know which inputs it "
                    f"is for: add it to SPACE_INPUTS")
    check(SpaceCase(name))


# -- evaluators --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def predictor_file(tmp_path_factory):
    """A small predictor of the mlp space on iris, reading one proxy (nwot): fitted on made-up targets."""
    from archscout.evaluate import predictors

    space = get_space("mlp")
    archs = [space.sample(seed=s) for s in range(8)]
    targets = [0.5 + 0.4 * _unit(a.id, "target") for a in archs]
    proxies = [{"nwot": 100 * _unit(a.id, "nwot")} for a in archs]
    model = predictors.make_predictor("gbt", space, ["nwot"], seed=0).fit(archs, targets, proxies)
    path = tmp_path_factory.mktemp("predictor") / "iris-mlp.pkl"
    predictors.save(model, str(path), task="iris")
    return str(path)


SMALL_SUPERNET = dict(widths=(8, 16), kernels=(3, 5), max_depth=2)


@pytest.fixture(scope="module")
def supernet_file(tmp_path_factory):
    """A small conv1d supernet for mnist1d, trained for 3 steps."""
    from archscout.oneshot.supernet import elastic_spec
    from archscout.oneshot.supernet.net import SuperNet
    from archscout.oneshot.supernet.store import save_supernet
    from archscout.oneshot.supernet.train import SupernetTraining, train_supernet
    from archscout.tasks import get_task

    task = get_task("mnist1d")
    net = SuperNet(elastic_spec("conv1d", **SMALL_SUPERNET), task.input_shape, task.num_classes)
    cfg = SupernetTraining(steps=3, batch_size=16)
    out = train_supernet(net, task.train, cfg)
    path = tmp_path_factory.mktemp("supernet") / "mnist1d.supernet"
    save_supernet(net, str(path), task=task, training=cfg, seed=0, train_seconds=out["train_seconds"],
                  curve=out["curve"])
    return str(path)


def _case(name: str, request) -> EvaluatorCase:
    """How to run an evaluator quickly: its options, task, space and the metrics a study would name."""
    setups = {
        "train": {"task": "iris", "space": "mlp"},
        "zero-cost": {"task": "iris", "space": "mlp", "metrics": ("proxy@nwot",)},
        "predictor": {"task": "iris", "space": "mlp", "options": "predictor_file"},
        "synthetic": {"space": "mlp"},
        "nas-bench-graph": {"space": "gnn", "options": "cora"},
        "nas-bench-201": {"space": "cell", "options": "cifar10"},
        "python": {"task": "iris", "space": "mlp",
                   "options": str(Path(__file__).with_name("contract_user_evaluator.py")) + ":short_training"},
        "supernet": {"task": "mnist1d", "space": "supernet_space", "options": "supernet_file"},
    }
    if name not in setups:
        pytest.fail(f"evaluator {name!r} is registered but tests/test_contracts.py does not know how to run it: "
                    f"add it to _case")
    setup = {"options": "", "task": None, "metrics": (), **setups[name]}
    if setup["options"] in ("predictor_file", "supernet_file"):
        setup["options"] = request.getfixturevalue(setup["options"])
    space = setup["space"]
    if space == "supernet_space":  # the small supernet's elastic space
        from archscout.oneshot.supernet import elastic_spec
        space = elastic_spec("conv1d", **SMALL_SUPERNET).space()
    spec = EvaluatorSpec.parse(name + (f":{setup['options']}" if setup["options"] else ""))
    assert spec.name == name and spec.cls is EVALUATORS.get(name)
    return EvaluatorCase(spec, space=space, task=setup["task"], metrics=setup["metrics"])


@pytest.mark.parametrize("check", EVALUATOR_CHECKS, ids=_name)
@pytest.mark.parametrize("name", EVALUATORS.names())
def test_evaluator_contract(name, check, request):
    check(_case(name, request))


# -- registries --------------------------------------------------------------------------------------------

def _registries():
    from archscout.evaluate.predictors import PREDICTORS
    from archscout.tasks import TASKS

    return [("strategy", STRATEGIES.get, "evolutoin", "evolution"),
            ("strategy", lambda n: make_strategy(n, get_space("mlp")), "randon", "random"),
            ("space", get_space, "conv1", "conv1d"),
            ("evaluator", EVALUATORS.get, "synthetc", "synthetic"),
            ("evaluator", EvaluatorSpec.parse, "zero-cots", "zero-cost"),
            ("task", TASKS.get, "iriss", "iris"),
            ("predictor", PREDICTORS.get, "ensembel", "ensemble")]


@pytest.mark.parametrize("kind, lookup, typo, meant", _registries(), ids=lambda v: v if isinstance(v, str) else "")
def test_an_unknown_name_is_answered_with_the_close_match(kind, lookup, typo, meant):
    check_unknown_name(lookup, kind, typo, meant)


# -- the suite as a user runs it (docs/extending.md) ------------------------------------------------------

USER_FILE = str(Path(__file__).with_name("contract_user_evaluator.py"))


@parametrize_with_contracts(evaluators=[f"{USER_FILE}:short_training"], strategies=[StrategyCase("random", space="mlp")])
def test_parametrize_with_contracts_runs_every_check_of_a_users_part(obj, check):
    check(obj)


def test_parametrize_with_contracts_names_one_test_per_check():
    mark = parametrize_with_contracts(evaluators=["synthetic"], spaces=["mlp"]).mark
    assert mark.args[0] == "obj, check"
    ids = mark.kwargs["ids"]
    assert len(ids) == len(EVALUATOR_CHECKS) + len(SPACE_CHECKS) == len(set(ids))
    assert "synthetic-evaluator_cost_check" in ids and "mlp-space_json" in ids


def test_a_broken_contract_is_reported_by_name():
    case = EvaluatorCase(f"{USER_FILE}:IgnoresCostCheck")
    with pytest.raises(AssertionError, match="nothing was raised .*Infeasible"):
        check_evaluator_cost_check(case)
    check_evaluator_metrics(case)  # the other promises are kept


def test_the_package_imports_no_pytest_until_asked():
    import subprocess
    import sys

    code = "import sys, archscout.testing; assert 'pytest' not in sys.modules, 'pytest imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
