"""Contract tests: every registered strategy, space and evaluator keeps the promises of its interface.

Each contract is written once and parametrized over the registries (as Optuna tests every sampler
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
  its class declares (``measured()`` and the ``on_request`` prefixes); a spec's text round-trips;
  one that needs no task runs without one; a fidelity it does not understand is refused.
* every registry answers a misspelt name with the close match.

The settings below (``FAST_OPTIONS``, ``SPACE_INPUTS``, ``EVALUATOR_SETUPS``) name the registered
parts by name; a part registered later without an entry runs with its defaults, except a space or
an evaluator, whose test then fails and asks for an entry (which data it is for cannot be guessed).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archscout.strategy import Result

from archscout import ArchscoutError
from archscout.evaluate import EVALUATORS, EvaluatorSpec, LatencyConfig, TrainConfig
from archscout.space import Architecture, get_space, list_spaces
from archscout.strategy import STRATEGIES, make_strategy

# -- strategies ----------------------------------------------------------------------------------------

# small populations and short random phases, so that a dozen steps reach each strategy's model phase
FAST_OPTIONS: dict[str, dict] = {
    "bo": {"initial": 3, "batch": 2, "pool": 200, "candidates": 20},
    "evolution": {"population_size": 4, "sample_size": 2},
    "bananas": {"num_init": 4, "k": 3, "epochs": 20},
    "linas": {"population_size": 6, "inner_evaluations": 24},
    "linas-lite": {"population_size": 4, "batch": 3, "inner_population": 8, "inner_generations": 2},
    "local_search": {"num_init": 3},
    "nsga2": {"population_size": 4},
    "optuna": {"n_startup_trials": 3},
    "optuna-tpe": {"n_startup_trials": 3},
    "optuna-nsga2": {"population_size": 4},
    "rl": {"batch_size": 3},
    # the multi-fidelity schedulers: four rungs of 3, 9, 27 steps (no study gives them a top fidelity here)
    "asha": {"max_fidelity": 27, "min_fidelity": 3},
    "asha-kde": {"max_fidelity": 27, "min_fidelity": 3, "min_points_in_model": 3},
    "bohb": {"max_fidelity": 27, "min_fidelity": 3},
    "hyperband": {"max_fidelity": 27, "min_fidelity": 3},
    "mo-asha": {"max_fidelity": 27, "min_fidelity": 3},
    "successive-halving": {"max_fidelity": 27, "min_fidelity": 3},
}
STRATEGY_SPACES = ("conv1d", "gnn")  # conditional choices, a Repeat and a constraint; a space with symmetries
STEPS = 12  # results told before a resume
AFTER = 8  # proposals compared after it

# the differentiable methods train their own weights and never ask (tests/oneshot/test_differentiable.py)
ASKING = [name for name in STRATEGIES.names() if not getattr(STRATEGIES.get(name), "oneshot", False)]
STRATEGY_CASES = [pytest.param(name, 1, id=name) for name in ASKING] + [
    pytest.param(name, 2, id=f"{name}-2obj") for name in ASKING if STRATEGIES.get(name).multi_objective]


def _unit(*parts) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big") / 2**64


def fake_score(arch: Architecture, objectives: int = 1) -> float | tuple:
    """A deterministic score ("higher is better"), one per objective, that depends only on the architecture."""
    values = tuple(_unit(arch.id, k) for k in range(objectives))
    return values[0] if objectives == 1 else values


def make(name: str, objectives: int, space: str, seed: int = 0):
    return make_strategy(name, get_space(space), seed=seed, objectives=objectives, **FAST_OPTIONS.get(name, {}))


def as_arch(proposal) -> Architecture:
    """``ask()`` returns an Architecture or a Proposal that carries one."""
    return proposal if isinstance(proposal, Architecture) else proposal.arch


def tell(strategy, arch: Architecture, score, fidelity: dict | None = None, number: int | None = None) -> None:
    # what a study calls with every finished trial: its result at the fidelity the proposal asked for
    strategy.tell_result(Result(arch, score, fidelity=fidelity, trial=number,
                                status="complete" if score is not None else "failed"))


def drive(strategy, steps: int, objectives: int, failed=lambda i: False) -> list[tuple]:
    """``steps`` rounds of ask and tell (a failure, None, where ``failed(i)``); the (arch, score, fidelity)
    history."""
    history: list[tuple] = []
    for i in range(steps):
        proposal = strategy.ask()
        assert proposal is not None, "with every result told at once, a strategy has no reason to wait"
        arch = as_arch(proposal)
        fidelity = getattr(proposal, "fidelity", None)
        score = None if failed(i) else fake_score(arch, objectives)
        tell(strategy, arch, score, fidelity, len(history))
        history.append((arch, score, fidelity))
    return history


def ids(history) -> list[str]:
    return [arch.id for arch, *_ in history]


def resumed_ids(name: str, objectives: int, space: str) -> list[str]:
    """The proposals of a fresh strategy after the stored history of another one was replayed into it and
    ``resume`` was called, as a study resumes (one result in four of that history failed)."""
    history = drive(make(name, objectives, space, seed=5), STEPS, objectives, failed=lambda i: i % 4 == 1)
    fresh = make(name, objectives, space, seed=5)
    for number, (arch, score, fidelity) in enumerate(history):
        tell(fresh, arch, score, fidelity, number)
    fresh.resume(len(history))
    return ids(drive(fresh, AFTER, objectives))


def assert_in_space(space, arch: Architecture) -> None:
    assert isinstance(arch, Architecture), arch
    assert arch.space_name == space.name
    assert space.contains(arch), arch
    again = Architecture.from_json(arch.to_json(), space)
    assert again == arch and again.id == arch.id


@pytest.mark.parametrize("space", STRATEGY_SPACES)
@pytest.mark.parametrize("name, objectives", STRATEGY_CASES)
def test_the_same_seed_gives_the_same_proposals(name, objectives, space):
    def run(seed):
        return ids(drive(make(name, objectives, space, seed=seed), 15, objectives, failed=lambda i: i % 5 == 3))

    first = run(3)
    assert run(3) == first
    assert run(4) != first, "the seed changes nothing"


@pytest.mark.parametrize("space", STRATEGY_SPACES)
@pytest.mark.parametrize("name, objectives", STRATEGY_CASES)
def test_the_same_replayed_history_gives_the_same_next_proposals(name, objectives, space):
    assert resumed_ids(name, objectives, space) == resumed_ids(name, objectives, space)


def test_a_resumed_strategy_proposes_the_same_in_another_process():
    """Resuming happens in a new process, whose string hashes (the order of sets of architectures) differ."""
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import test_contracts as c; "
              "print(json.dumps({f'{p.values[0]}/{p.values[1]}/{s}': c.resumed_ids(*p.values, s) "
              "for p in c.STRATEGY_CASES for s in c.STRATEGY_SPACES}))")
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"  # not this process's
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    here = {f"{p.values[0]}/{p.values[1]}/{s}": resumed_ids(*p.values, s)
            for p in STRATEGY_CASES for s in STRATEGY_SPACES}
    differ = sorted(k for k in here if here[k] != there.get(k))
    assert not differ, f"proposals after a resume depend on the process (its string hashes): {differ}"


@pytest.mark.parametrize("space", STRATEGY_SPACES)
@pytest.mark.parametrize("name, objectives", STRATEGY_CASES)
def test_told_failures_are_taken_and_proposals_stay_valid(name, objectives, space):
    some = make(name, objectives, space, seed=1)
    history = drive(some, 15, objectives, failed=lambda i: i % 3 == 0)  # the very first result failed
    only = make(name, objectives, space, seed=2)
    history += drive(only, 10, objectives, failed=lambda i: True)  # nothing but failures ...
    history += drive(only, 6, objectives)  # ... and it recovers once scores arrive
    for arch, *_ in history:
        assert_in_space(some.space, arch)


@pytest.mark.parametrize("space", STRATEGY_SPACES)
@pytest.mark.parametrize("name, objectives", STRATEGY_CASES)
def test_every_proposal_belongs_to_the_space(name, objectives, space):
    strategy = make(name, objectives, space, seed=0)
    history = drive(strategy, 24, objectives)
    for arch, *_ in history:
        assert_in_space(strategy.space, arch)
    assert len(set(ids(history))) > 1


# -- spaces ------------------------------------------------------------------------------------------------

# what each built-in space is for: ("vector", input shape without the batch, classes) or ("graph", features,
# classes); a space registered later needs an entry here
SPACE_INPUTS: dict[str, tuple] = {
    "cell": ("vector", (1, 40), 10),  # mnist1d (2-D inputs too: tests/space/test_cell_space.py)
    "conv1d-elastic": ("vector", (1, 40), 10),  # what a conv1d supernet holds
    "conv1d-quant-elastic": ("vector", (1, 40), 10),
    "conv2d-elastic": ("vector", (1, 8, 8), 10),
    "conv2d-quant-elastic": ("vector", (1, 8, 8), 10),
    "conv1d": ("vector", (1, 40), 10),  # mnist1d
    "conv1d-quant": ("vector", (1, 40), 10),
    "conv2d": ("vector", (1, 8, 8), 10),  # digits
    "conv2d-quant": ("vector", (1, 8, 8), 10),
    "mlp": ("vector", (4,), 3),  # iris
    "mlp-quant": ("vector", (4,), 3),
    "conv1d-recipe": ("vector", (1, 40), 10),
    "conv2d-recipe": ("vector", (1, 8, 8), 10),
    "mlp-recipe": ("vector", (4,), 3),
    "gnn": ("graph", 8, 3),  # node classification (mnist1d-knn, NAS-Bench-Graph's datasets)
    "gnn-proteins": ("graph", 8, 3),
}
SPACES = list_spaces()
SAMPLE_SEEDS = range(6)


def _inputs_for(name: str) -> tuple:
    if name not in SPACE_INPUTS:
        pytest.fail(f"space {name!r} is registered but tests/test_contracts.py does not know which inputs it is "
                    f"for: add it to SPACE_INPUTS")
    return SPACE_INPUTS[name]


@pytest.mark.parametrize("name", SPACES)
def test_samples_build_networks_that_run_forward(name):
    import torch

    kind, shape, classes = _inputs_for(name)
    space = get_space(name)
    torch.manual_seed(0)
    for seed in SAMPLE_SEEDS:
        arch = space.sample(seed=seed)
        model = arch.build(shape if kind == "vector" else (shape,), classes)
        assert isinstance(model, torch.nn.Module)
        model.eval()
        with torch.no_grad():
            if kind == "vector":
                out = model(torch.randn(3, *shape))
                assert tuple(out.shape) == (3, classes), arch
            else:
                x = torch.randn(6, shape)
                edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
                out = model(x, edge_index)
                assert tuple(out.shape) == (6, classes), arch
        assert torch.isfinite(out).all(), arch


@pytest.mark.parametrize("name", SPACES)
def test_architectures_round_trip_through_json(name):
    space = get_space(name)
    for seed in SAMPLE_SEEDS:
        arch = space.sample(seed=seed)
        assert space.contains(arch)
        text = arch.to_json()
        for again in (Architecture.from_json(text, space), Architecture.from_json(text),
                      Architecture.from_json(json.loads(text), space), space.architecture(arch.values)):
            assert again == arch and again.id == arch.id and hash(again) == hash(arch)
            assert again.to_json() == text


@pytest.mark.parametrize("name", SPACES)
def test_mutation_neighbours_and_crossover_stay_in_the_space(name):
    import random

    space = get_space(name)
    rng = random.Random(0)
    samples = [space.sample(seed=seed) for seed in SAMPLE_SEEDS]
    for arch, other in zip(samples, samples[1:] + samples[:1]):
        for _ in range(5):
            child = space.mutate(arch, rng)
            assert space.contains(child), child
            assert child != arch
        neighbours = space.neighbors(arch)
        assert neighbours and arch not in neighbours
        assert all(space.contains(n) for n in neighbours)
        assert space.contains(space.crossover(arch, other, rng))


@pytest.mark.parametrize("name", SPACES)
def test_every_encoding_has_a_fixed_length(name):
    import math
    import random

    space = get_space(name)
    rng = random.Random(1)
    archs = [space.sample(seed=seed) for seed in SAMPLE_SEEDS]
    archs += [space.mutate(a, rng) for a in archs]
    for kind in space.ENCODINGS:
        codes = [space.encode(a, kind) for a in archs]
        assert len({len(c) for c in codes}) == 1, f"{kind}: lengths {sorted({len(c) for c in codes})}"
        assert len(codes[0]) > 0
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for c in codes for v in c), kind
        assert space.encode(archs[0], kind) == codes[0]  # deterministic
    assert len({tuple(space.encode(a, "onehot")) for a in archs}) == len(set(archs))  # tells them apart


# -- evaluators --------------------------------------------------------------------------------------------

FAST_TRAIN = TrainConfig(steps=5, batch_size=16)
FAST_LATENCY = LatencyConfig(warmup=1, repeats=3)


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
    from archscout.oneshot.supernet import SuperNet, elastic_spec
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


def _setup(name: str, request) -> dict:
    """How to run an evaluator quickly: its options, task, space and the metrics a study would name."""
    setups = {
        "train": {"task": "iris", "space": "mlp"},
        "zero-cost": {"task": "iris", "space": "mlp", "metrics": ["proxy@nwot"]},
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
                    f"add it to _setup")
    setup = {"options": "", "task": None, "metrics": [], **setups[name]}
    if setup["options"] in ("predictor_file", "supernet_file"):
        setup["options"] = request.getfixturevalue(setup["options"])
    if setup["space"] == "supernet_space":  # the small supernet's elastic space
        from archscout.oneshot.supernet import elastic_spec
        setup["space"] = elastic_spec("conv1d", **SMALL_SUPERNET).space()
    return setup


def _spec(name: str, setup: dict) -> EvaluatorSpec:
    return EvaluatorSpec.parse(name + (f":{setup['options']}" if setup["options"] else ""))


def _create(spec: EvaluatorSpec, setup: dict, task=True):
    from archscout.tasks import get_task

    return spec.create(task=get_task(setup["task"]) if task and setup["task"] else None, train=FAST_TRAIN,
                       latency=FAST_LATENCY, metrics=list(setup["metrics"]))


def _completed(evaluator, space, wanted: int = 2, tries: int = 8) -> list:
    """Evaluations of the first ``wanted`` sampled architectures that complete (a proxy may fail a network)."""
    from archscout.errors import TrialFailed

    done = []
    for seed in range(tries):
        try:
            done.append(evaluator.evaluate(space.sample(seed=seed), seed=0))
        except TrialFailed:
            continue
        if len(done) == wanted:
            break
    assert len(done) == wanted, f"only {len(done)} of {tries} sampled architectures completed"
    return done


EVALUATOR_NAMES = EVALUATORS.names()
WITHOUT_TASK = [n for n in EVALUATOR_NAMES if not EVALUATORS.get(n).needs_task]


@pytest.mark.parametrize("name", EVALUATOR_NAMES)
def test_an_evaluation_stores_exactly_the_declared_metrics(name, request):
    from archscout.evaluate import Evaluation

    setup = _setup(name, request)
    spec = _spec(name, setup)
    cls = spec.cls
    space = get_space(setup["space"])
    spec.check_space(space)
    evaluator = _create(spec, setup)
    declared = [m for m in spec.measured() if "NAME" not in m]  # "proxy@NAME" stands for the proxies named
    for evaluation in _completed(evaluator, space):
        assert isinstance(evaluation, Evaluation) and isinstance(evaluation.details, dict)
        metrics = evaluation.metrics
        undeclared = sorted(k for k in metrics if k not in spec.measured() and not k.startswith(tuple(cls.on_request)))
        assert not undeclared, f"{name} stores metrics it does not declare: {undeclared}"
        missing = sorted(m for m in declared if m not in metrics)
        assert not missing, f"{name} declares metrics it did not store: {missing}"
        assert all(spec.can_measure(k) for k in metrics)
        for m in setup["metrics"]:  # what the study named is measured
            assert m in metrics
        json.dumps(metrics)  # storable as they are
    rows = evaluator.rows()  # a lookup table's rows hold declared metrics only
    if rows is not None:
        assert rows and all(spec.can_measure(k) for k in rows[0])


@pytest.mark.parametrize("name", EVALUATOR_NAMES)
def test_a_cost_check_that_gives_a_reason_makes_the_candidate_infeasible(name, request):
    """base.py: ``cost_check(metrics) -> reason | None`` is called once cost metrics are known, and a reason
    is raised as Infeasible carrying the metrics measured so far."""
    from archscout.evaluate import Infeasible

    setup = _setup(name, request)
    spec = _spec(name, setup)
    evaluator = _create(spec, setup)
    seen = []

    def too_costly(metrics):
        seen.append(dict(metrics))
        return "over the made-up budget"

    with pytest.raises(Infeasible, match="over the made-up budget") as e:
        evaluator.evaluate(get_space(setup["space"]).sample(seed=0), seed=0, cost_check=too_costly)
    assert len(seen) == 1 and seen[0], "cost_check is called once, with the cost metrics"
    assert e.value.metrics and all(spec.can_measure(k) for k in e.value.metrics)


@pytest.mark.parametrize("name", EVALUATOR_NAMES)
def test_a_spec_text_round_trips(name, request):
    setup = _setup(name, request)
    spec = _spec(name, setup)
    assert spec.name == name and spec.cls is EVALUATORS.get(name)
    again = EvaluatorSpec.parse(spec.text)
    assert again.text == spec.text and again == spec and hash(again) == hash(spec)
    assert EvaluatorSpec.parse(spec) is spec
    assert EvaluatorSpec.parse(spec.text, load=False).text == spec.text
    assert str(spec) == spec.text
    assert spec.can_measure(spec.default_objective()), "it cannot measure its own default objective"


@pytest.mark.parametrize("name", WITHOUT_TASK)
def test_an_evaluator_that_needs_no_task_runs_without_one(name, request):
    setup = _setup(name, request)
    evaluator = _create(_spec(name, setup), setup, task=False)
    assert _completed(evaluator, get_space(setup["space"]), wanted=1)[0].metrics


@pytest.mark.parametrize("name", EVALUATOR_NAMES)
def test_an_unknown_fidelity_has_no_budget_key(name, request):
    setup = _setup(name, request)
    evaluator = _create(_spec(name, setup), setup)
    with pytest.raises(ArchscoutError, match="no_such_budget"):
        evaluator.fidelity_key({"no_such_budget": 3})


@pytest.mark.parametrize("name", EVALUATOR_NAMES)
def test_evaluating_at_an_unknown_fidelity_is_refused(name, request):
    setup = _setup(name, request)
    evaluator = _create(_spec(name, setup), setup)
    arch = get_space(setup["space"]).sample(seed=0)
    with pytest.raises(ArchscoutError, match="no_such_budget"):
        evaluator.evaluate(arch, seed=0, fidelity={"no_such_budget": 3})


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
    with pytest.raises(ArchscoutError) as e:
        lookup(typo)
    message = str(e.value)
    assert f"unknown {kind} {typo!r}" in message
    assert f"Did you mean {meant!r}" in message
