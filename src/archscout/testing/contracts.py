"""The contracts every strategy, space and evaluator keeps, as checks you can run on your own.

Each check takes a *case* (what is checked and how to run it quickly) and raises ``AssertionError``
with a message that names the broken promise; it returns None when the promise is kept. The
``check_strategy``, ``check_space`` and ``check_evaluator`` functions run every check of one part;
:func:`contracts` yields the (case, check) pairs one by one and :func:`parametrize_with_contracts`
turns them into a pytest parametrization (as scikit-learn's ``parametrize_with_checks``). The
repository's own tests (tests/test_contracts.py) run these very checks over every registered part.

* strategies (the ask/tell contract of ``strategy/_base.py``): the same seed gives the same proposals;
  replaying the same stored history and calling ``resume(n)`` gives the same next proposals, also in
  another process, whose string hashes differ; told failures (None) are taken; every proposal belongs
  to the space. Strategies that take several objectives are checked with two as well.
* spaces: samples build into networks for the inputs the space is meant for and run forward;
  architectures round-trip through JSON; mutation, neighbours and crossover stay in the space; every
  encoding has a fixed length.
* evaluators: a completed evaluation stores exactly the metrics its class declares (``measured()``
  and the ``on_request`` prefixes); a cost check that gives a reason makes the candidate infeasible;
  a spec's text round-trips; one that needs no task runs without one; a fidelity it does not
  understand is refused.
* registries: an unknown name is answered with the close match.

Nothing here imports pytest unless :func:`parametrize_with_contracts` is called.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArchscoutError, TrialFailed
from ..evaluate import EVALUATORS, Evaluation, EvaluatorSpec, Infeasible, LatencyConfig, TrainConfig
from ..space import Architecture, Space, get_space
from ..strategy import STRATEGIES, Proposal, Result, Strategy, make_strategy

# -- settings that make the checks quick --------------------------------------------------------------

# small populations and short random phases, so that a dozen steps reach each built-in strategy's model phase
FAST_OPTIONS: dict[str, dict[str, Any]] = {
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
    "auto": {"max_fidelity": 27, "min_fidelity": 3, "min_points_in_model": 3},
    "bohb": {"max_fidelity": 27, "min_fidelity": 3},
    "hyperband": {"max_fidelity": 27, "min_fidelity": 3},
    "priorband": {"max_fidelity": 27, "min_fidelity": 3},
    "mo-asha": {"max_fidelity": 27, "min_fidelity": 3},
    "successive-halving": {"max_fidelity": 27, "min_fidelity": 3},
}
STRATEGY_SPACES = ("conv1d", "gnn")  # conditional choices, a Repeat and a constraint; a space with symmetries
STEPS = 12  # results told before a resume
AFTER = 8  # proposals compared after it

# what each built-in space is for: ("vector", input shape without the batch, classes) or ("graph", node
# features, classes); another space is given its inputs in its SpaceCase
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
SAMPLE_SEEDS = range(6)

FAST_TRAIN = TrainConfig(steps=5, batch_size=16)
FAST_LATENCY = LatencyConfig(warmup=1, repeats=3)


# -- what is checked ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StrategyCase:
    """A strategy (a registered name or a :class:`Strategy` subclass) for ``objectives`` objectives on
    ``space``; ``options`` are its constructor's keywords (None: :data:`FAST_OPTIONS` for a built-in)."""

    strategy: str | type[Strategy]
    objectives: int = 1
    space: str | Space = "conv1d"
    options: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.strategy if isinstance(self.strategy, str) else self.strategy.__name__

    def __str__(self) -> str:
        space = self.space if isinstance(self.space, str) else self.space.name
        return f"{self.name}{'' if self.objectives == 1 else f'-{self.objectives}obj'}-{space}"

    def make(self, seed: int = 0) -> Strategy:
        """A fresh strategy of this case, seeded ``seed``."""
        options = dict(FAST_OPTIONS.get(self.name, {}) if self.options is None else self.options)
        space = get_space(self.space)
        if isinstance(self.strategy, str):
            return make_strategy(self.strategy, space, seed=seed, objectives=self.objectives, **options)
        params = inspect.signature(self.strategy.__init__).parameters
        if "objectives" in params:
            options["objectives"] = self.objectives
        elif self.objectives > 1:
            raise AssertionError(f"strategy {self.name} takes no objectives, so it cannot be checked with "
                                 f"{self.objectives}")
        return self.strategy(space, seed=seed, **options)


@dataclass(frozen=True)
class SpaceCase:
    """A space (registered name or object) and the inputs its networks are for: ``("vector", shape, classes)``
    (shape without the batch) or ``("graph", node features, classes)``; None: :data:`SPACE_INPUTS`."""

    space: str | Space
    inputs: tuple | None = None

    def __str__(self) -> str:
        return self.space if isinstance(self.space, str) else self.space.name

    def get(self) -> Space:
        return get_space(self.space)

    def input_kind(self) -> tuple:
        if self.inputs is not None:
            return self.inputs
        name = str(self)
        if name not in SPACE_INPUTS:
            raise AssertionError(f"space {name!r}: which inputs its networks are for is not known; check it as "
                                 f"SpaceCase({name!r}, inputs=('vector', shape, classes)) or ('graph', features, "
                                 f"classes)")
        return SPACE_INPUTS[name]


@dataclass(frozen=True)
class EvaluatorCase:
    """An evaluator (spec text ``NAME[:OPTIONS]``, ``module:attr`` reference, :class:`EvaluatorSpec`, class or
    declared function) run on ``space`` for ``task`` (None: ``iris`` when the evaluator needs a task), with
    the ``metrics`` a study's objectives and constraints would name; tiny training and latency budgets."""

    spec: Any
    space: str | Space = "mlp"
    task: str | None = None
    metrics: tuple[str, ...] = ()
    train: TrainConfig = field(default_factory=lambda: FAST_TRAIN)
    latency: LatencyConfig = field(default_factory=lambda: FAST_LATENCY)

    def __str__(self) -> str:
        return self.parsed().text

    def parsed(self) -> EvaluatorSpec:
        return EvaluatorSpec.parse(self.spec)

    def get_space(self) -> Space:
        return get_space(self.space)

    def create(self, task: bool = True):
        """The evaluator as a study creates it (without its task when ``task`` is False)."""
        from ..tasks import get_task

        spec = self.parsed()
        name = self.task if self.task is not None else ("iris" if spec.needs_task else None)
        return spec.create(task=get_task(name) if task and name else None, train=self.train,
                           latency=self.latency, metrics=list(self.metrics))


# -- helpers ---------------------------------------------------------------------------------------

def _unit(*parts) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big") / 2**64


def fake_score(arch: Architecture, objectives: int = 1) -> float | tuple:
    """A deterministic score ("higher is better"), one per objective, that depends only on the architecture."""
    values = tuple(_unit(arch.id, k) for k in range(objectives))
    return values[0] if objectives == 1 else values


def _arch(proposal: Architecture | Proposal) -> Architecture:
    """``ask()`` returns an Architecture or a Proposal that carries one."""
    return proposal if isinstance(proposal, Architecture) else proposal.arch


def _tell(strategy: Strategy, arch: Architecture, score, fidelity: dict | None, number: int) -> None:
    # what a study calls with every finished trial: its result at the fidelity the proposal asked for
    strategy.tell_result(Result(arch, score, fidelity=fidelity, trial=number,
                                status="complete" if score is not None else "failed"))


def drive(strategy: Strategy, steps: int, objectives: int, failed: Callable[[int], bool] = lambda i: False) -> list:
    """``steps`` rounds of ask and tell (a failure, None, where ``failed(i)``); the (arch, score, fidelity)
    history."""
    history: list[tuple] = []
    for i in range(steps):
        proposal = strategy.ask()
        assert proposal is not None, (f"{strategy.name}: ask() returned None (wait) although every result was told "
                                      f"at once")
        arch = _arch(proposal)
        fidelity = getattr(proposal, "fidelity", None)
        score = None if failed(i) else fake_score(arch, objectives)
        _tell(strategy, arch, score, fidelity, len(history))
        history.append((arch, score, fidelity))
    return history


def _ids(history: list) -> list[str]:
    return [arch.id for arch, *_ in history]


def resumed_ids(case: StrategyCase) -> list[str]:
    """The proposals of a fresh strategy after the stored history of another one was replayed into it and
    ``resume`` was called, as a study resumes (one result in four of that history failed)."""
    history = drive(case.make(seed=5), STEPS, case.objectives, failed=lambda i: i % 4 == 1)
    fresh = case.make(seed=5)
    for number, (arch, score, fidelity) in enumerate(history):
        _tell(fresh, arch, score, fidelity, number)
    fresh.resume(len(history))
    return _ids(drive(fresh, AFTER, case.objectives))


def _assert_in_space(space: Space, arch: Architecture, who: str) -> None:
    assert isinstance(arch, Architecture), f"{who}: proposed {arch!r}, not an Architecture (or a Proposal)"
    assert arch.space_name == space.name, f"{who}: proposed an architecture of space {arch.space_name!r}"
    assert space.contains(arch), f"{who}: proposed {arch}, which is not in space {space.name!r}"
    again = Architecture.from_json(arch.to_json(), space)
    assert again == arch and again.id == arch.id, f"{who}: {arch} does not round-trip through JSON"


@contextlib.contextmanager
def _raises(kind: type[BaseException], match: str, what: str) -> Iterator[list]:
    """Like ``pytest.raises``: the block must raise ``kind`` with ``match`` in its message; the error is put
    in the yielded list."""
    caught: list = []
    try:
        yield caught
    except kind as e:
        if not re.search(match, str(e)):
            raise AssertionError(f"{what}: raised {type(e).__name__}({str(e)!r}), which does not say {match!r}") from e
        caught.append(e)
        return
    except Exception as e:
        raise AssertionError(f"{what}: raised {type(e).__name__}({e}) instead of {kind.__name__}") from e
    raise AssertionError(f"{what}: nothing was raised (expected {kind.__name__} saying {match!r})")


# -- strategies --------------------------------------------------------------------------------------

def check_strategy_seed(case: StrategyCase) -> None:
    """The same seed gives the same proposals; another seed other ones."""
    def run(seed: int) -> list[str]:
        return _ids(drive(case.make(seed=seed), 15, case.objectives, failed=lambda i: i % 5 == 3))

    first = run(3)
    assert run(3) == first, f"{case}: the same seed gives other proposals"
    assert run(4) != first, f"{case}: the seed changes nothing"


def check_strategy_resume(case: StrategyCase) -> None:
    """Replaying the same stored history and calling ``resume(n)`` gives the same next proposals."""
    first, again = resumed_ids(case), resumed_ids(case)
    assert first == again, f"{case}: the same replayed history gives other next proposals: {first} != {again}"


def check_strategy_failures(case: StrategyCase) -> None:
    """Told failures (None) are taken, even nothing but failures, and proposals stay valid."""
    some = case.make(seed=1)
    history = drive(some, 15, case.objectives, failed=lambda i: i % 3 == 0)  # the very first result failed
    only = case.make(seed=2)
    history += drive(only, 10, case.objectives, failed=lambda i: True)  # nothing but failures ...
    history += drive(only, 6, case.objectives)  # ... and it recovers once scores arrive
    for arch, *_ in history:
        _assert_in_space(some.space, arch, str(case))


def check_strategy_in_space(case: StrategyCase) -> None:
    """Every proposal belongs to the space, and they are not all the same."""
    strategy = case.make(seed=0)
    history = drive(strategy, 24, case.objectives)
    for arch, *_ in history:
        _assert_in_space(strategy.space, arch, str(case))
    assert len(set(_ids(history))) > 1, f"{case}: 24 proposals, all the same architecture"


def _portable(case: StrategyCase) -> dict:
    """The case as JSON a fresh interpreter rebuilds it from (with the module that defines the strategy)."""
    cls = STRATEGIES.get(case.strategy) if isinstance(case.strategy, str) else case.strategy
    space = case.space if isinstance(case.space, str) else case.space.name
    if not isinstance(case.space, str):
        try:
            same = get_space(space) is case.space
        except ArchscoutError:
            same = False
        assert same, f"{case}: its space is not registered, so another process cannot rebuild it"
    assert cls.__module__ != "__main__" and "<locals>" not in cls.__qualname__, (
        f"{case}: {cls.__qualname__} is defined where another process cannot import it; define it in a module")
    strategy = case.strategy if isinstance(case.strategy, str) else f"{cls.__module__}:{cls.__qualname__}"
    try:
        json.dumps(case.options)
    except TypeError as e:
        raise AssertionError(f"{case}: its options cannot be passed to another process as JSON: {e}") from e
    return {"module": cls.__module__, "strategy": strategy, "objectives": case.objectives, "space": space,
            "options": None if case.options is None else dict(case.options), "id": str(case)}


def _resumed_ids_from_stdin() -> None:
    """Run in the other process by :func:`check_strategy_resume_in_another_process`."""
    import importlib

    from ..registry import load_reference

    answer = {}
    for case in json.loads(sys.stdin.read()):
        importlib.import_module(case["module"])  # registers a strategy of the user's by its name
        strategy: Any = case["strategy"]
        if strategy not in STRATEGIES:
            strategy = load_reference(strategy, "strategy")
        rebuilt = StrategyCase(strategy, case["objectives"], case["space"], case["options"])
        answer[case["id"]] = resumed_ids(rebuilt)
    print(json.dumps(answer))


def check_strategy_resume_in_another_process(*cases: StrategyCase) -> None:
    """Resuming happens in a new process, whose string hashes (the order of sets of architectures) differ: the
    proposals after a resume are the same there. All ``cases`` share one other process."""
    portable = [_portable(c) for c in cases]
    script = "from archscout.testing.contracts import _resumed_ids_from_stdin as f; f()"
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"  # not this process's
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(portable), env=env, check=False,
                          capture_output=True, text=True, timeout=300 + 10 * len(cases))
    assert done.returncode == 0, f"the other process failed:\n{done.stderr[-3000:]}"
    there = json.loads(done.stdout.strip().splitlines()[-1])
    differ = sorted(str(c) for c in cases if resumed_ids(c) != there.get(str(c)))
    assert not differ, f"proposals after a resume depend on the process (its string hashes): {differ}"


# -- spaces ------------------------------------------------------------------------------------------

def check_space_builds(case: SpaceCase) -> None:
    """Samples build into networks for the space's inputs, which run forward to finite outputs."""
    import torch

    kind, shape, classes = case.input_kind()
    space = case.get()
    torch.manual_seed(0)
    for seed in SAMPLE_SEEDS:
        arch = space.sample(seed=seed)
        model = arch.build(shape if kind == "vector" else (shape,), classes)
        assert isinstance(model, torch.nn.Module), f"{case}: {arch} built {type(model).__name__}, not an nn.Module"
        model.eval()
        with torch.no_grad():
            if kind == "vector":
                out = model(torch.randn(3, *shape))
                expected = (3, classes)
            else:
                x = torch.randn(6, shape)
                edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
                out = model(x, edge_index)
                expected = (6, classes)
        assert tuple(out.shape) == expected, f"{case}: {arch} gives outputs of shape {tuple(out.shape)}, not {expected}"
        assert torch.isfinite(out).all(), f"{case}: {arch} gives outputs that are not finite"


def check_space_json(case: SpaceCase) -> None:
    """Architectures round-trip through JSON (text or parsed, with or without the space) and their values."""
    space = case.get()
    for seed in SAMPLE_SEEDS:
        arch = space.sample(seed=seed)
        assert space.contains(arch), f"{case}: its own sample {arch} is not in it"
        text = arch.to_json()
        for how, again in (("from_json(text, space)", Architecture.from_json(text, space)),
                           ("from_json(text)", Architecture.from_json(text)),
                           ("from_json(dict, space)", Architecture.from_json(json.loads(text), space)),
                           ("space.architecture(values)", space.architecture(arch.values))):
            assert again == arch and again.id == arch.id and hash(again) == hash(arch), (
                f"{case}: {arch} read back by {how} is another architecture: {again}")
            assert again.to_json() == text, f"{case}: {arch} read back by {how} writes other JSON"


def check_space_variation(case: SpaceCase) -> None:
    """Mutation, neighbours and crossover stay in the space; a mutation changes the architecture."""
    space = case.get()
    rng = random.Random(0)
    samples = [space.sample(seed=seed) for seed in SAMPLE_SEEDS]
    for arch, other in zip(samples, samples[1:] + samples[:1]):
        for _ in range(5):
            child = space.mutate(arch, rng)
            assert space.contains(child), f"{case}: mutating {arch} gave {child}, outside the space"
            assert child != arch, f"{case}: mutating {arch} changed nothing"
        neighbours = space.neighbors(arch)
        assert neighbours, f"{case}: {arch} has no neighbours"
        assert arch not in neighbours, f"{case}: {arch} is its own neighbour"
        outside = [n for n in neighbours if not space.contains(n)]
        assert not outside, f"{case}: neighbours of {arch} outside the space: {outside[:3]}"
        child = space.crossover(arch, other, rng)
        assert space.contains(child), f"{case}: crossing {arch} with {other} gave {child}, outside the space"


def check_space_encodings(case: SpaceCase) -> None:
    """Every encoding has a fixed length of finite numbers, is deterministic, and one-hot tells architectures
    apart."""
    space = case.get()
    rng = random.Random(1)
    archs = [space.sample(seed=seed) for seed in SAMPLE_SEEDS]
    archs += [space.mutate(a, rng) for a in archs]
    for kind in space.ENCODINGS:
        codes = [space.encode(a, kind) for a in archs]
        lengths = sorted({len(c) for c in codes})
        assert len(lengths) == 1, f"{case}: encoding {kind!r} has lengths {lengths}"
        assert lengths[0] > 0, f"{case}: encoding {kind!r} is empty"
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for c in codes for v in c), (
            f"{case}: encoding {kind!r} holds values that are not finite numbers")
        assert space.encode(archs[0], kind) == codes[0], f"{case}: encoding {kind!r} is not deterministic"
    assert len({tuple(space.encode(a, "onehot")) for a in archs}) == len(set(archs)), (
        f"{case}: the onehot encoding gives two architectures the same code")


# -- evaluators -------------------------------------------------------------------------------------

def _completed(case: EvaluatorCase, evaluator, wanted: int = 2, tries: int = 8) -> list:
    """Evaluations of the first ``wanted`` sampled architectures that complete (a proxy may fail a network)."""
    space = case.get_space()
    done = []
    for seed in range(tries):
        try:
            done.append(evaluator.evaluate(space.sample(seed=seed), seed=0))
        except TrialFailed:
            continue
        if len(done) == wanted:
            break
    assert len(done) == wanted, f"{case}: only {len(done)} of {tries} sampled architectures completed"
    return done


def check_evaluator_metrics(case: EvaluatorCase) -> None:
    """A completed evaluation stores exactly the metrics its class declares, storable as JSON, and those the
    study named; a lookup table's rows hold declared metrics only."""
    spec = case.parsed()
    spec.check_space(case.get_space())
    evaluator = case.create()
    declared = [m for m in spec.measured() if "NAME" not in m]  # "proxy@NAME" stands for the proxies named
    for evaluation in _completed(case, evaluator):
        assert isinstance(evaluation, Evaluation) and isinstance(evaluation.details, dict), (
            f"{case}: evaluate() returned {type(evaluation).__name__}, not an Evaluation with a details dict")
        metrics = evaluation.metrics
        undeclared = sorted(k for k in metrics
                            if k not in spec.measured() and not k.startswith(tuple(spec.cls.on_request)))
        assert not undeclared, f"{case} stores metrics it does not declare: {undeclared}"
        missing = sorted(m for m in declared if m not in metrics)
        assert not missing, f"{case} declares metrics it did not store: {missing}"
        unmeasurable = sorted(k for k in metrics if not spec.can_measure(k))
        assert not unmeasurable, f"{case} stores metrics it says it cannot measure: {unmeasurable}"
        unnamed = [m for m in case.metrics if m not in metrics]
        assert not unnamed, f"{case}: the metrics a study named were not measured: {unnamed}"
        try:
            json.dumps(metrics)
        except (TypeError, ValueError) as e:
            raise AssertionError(f"{case}: its metrics cannot be stored as JSON: {e}") from e
    rows = evaluator.rows()
    if rows is not None:
        assert rows, f"{case}: rows() is an empty table"
        bad = sorted(k for k in rows[0] if not spec.can_measure(k))
        assert not bad, f"{case}: its table's rows hold metrics it does not declare: {bad}"


def check_evaluator_cost_check(case: EvaluatorCase) -> None:
    """``cost_check(metrics) -> reason | None`` is called once cost metrics are known, and a reason is raised
    as Infeasible carrying the metrics measured so far."""
    spec = case.parsed()
    evaluator = case.create()
    seen: list[dict] = []

    def too_costly(metrics: dict) -> str:
        seen.append(dict(metrics))
        return "over the made-up budget"

    with _raises(Infeasible, "over the made-up budget", f"{case} with a cost_check that gives a reason") as caught:
        evaluator.evaluate(case.get_space().sample(seed=0), seed=0, cost_check=too_costly)
    assert len(seen) == 1, f"{case}: cost_check was called {len(seen)} times, not once"
    assert seen[0], f"{case}: cost_check was called without the cost metrics"
    metrics = caught[0].metrics
    assert metrics and all(spec.can_measure(k) for k in metrics), (
        f"{case}: Infeasible carries {metrics!r}, not the declared metrics measured so far")


def check_evaluator_spec(case: EvaluatorCase) -> None:
    """The spec's text round-trips, and the evaluator can measure its own default objective."""
    spec = case.parsed()
    assert spec.name and spec.name in EVALUATORS, (
        f"evaluator class {spec.cls.__qualname__} has the name {spec.name!r}, under which no evaluator is "
        f"registered: set its class attribute name to the name it is registered under")
    assert spec.cls is EVALUATORS.get(spec.name), f"{case}: the spec's class is not the one registered as {spec.name!r}"
    again = EvaluatorSpec.parse(spec.text)
    assert again.text == spec.text and again == spec and hash(again) == hash(spec), (
        f"{case}: its text {spec.text!r} reads back as another spec, {again.text!r}")
    assert EvaluatorSpec.parse(spec) is spec
    assert EvaluatorSpec.parse(spec.text, load=False).text == spec.text, (
        f"{case}: its text reads back otherwise without loading its files")
    assert str(spec) == spec.text
    assert spec.can_measure(spec.default_objective()), (
        f"{case}: it cannot measure its own default objective {spec.default_objective()!r}")


def check_evaluator_without_task(case: EvaluatorCase) -> None:
    """An evaluator that needs no task runs without one."""
    if case.parsed().needs_task:
        return
    assert _completed(case, case.create(task=False), wanted=1)[0].metrics, f"{case}: no metrics without a task"


def check_evaluator_fidelity_key(case: EvaluatorCase) -> None:
    """A fidelity the evaluator does not understand has no budget key."""
    evaluator = case.create()
    with _raises(ArchscoutError, "no_such_budget", f"{case}.fidelity_key of an unknown fidelity"):
        evaluator.fidelity_key({"no_such_budget": 3})


def check_evaluator_unknown_fidelity(case: EvaluatorCase) -> None:
    """Evaluating at a fidelity the evaluator does not understand is refused with an ArchscoutError that names
    it."""
    evaluator = case.create()
    arch = case.get_space().sample(seed=0)
    with _raises(ArchscoutError, "no_such_budget", f"{case}.evaluate at an unknown fidelity"):
        evaluator.evaluate(arch, seed=0, fidelity={"no_such_budget": 3})


# -- registries --------------------------------------------------------------------------------------

def check_unknown_name(lookup: Callable[[str], Any], kind: str, typo: str, meant: str) -> None:
    """``lookup(typo)`` raises an ArchscoutError saying ``unknown KIND 'typo'`` and ``Did you mean 'meant'``."""
    with _raises(ArchscoutError, re.escape(f"unknown {kind} {typo!r}"), f"looking up {kind} {typo!r}") as caught:
        lookup(typo)
    assert f"Did you mean {meant!r}" in str(caught[0]), (
        f"looking up {kind} {typo!r}: {str(caught[0])!r} does not suggest {meant!r}")


# -- every check of a part ----------------------------------------------------------------------------

STRATEGY_CHECKS: tuple[Callable[[StrategyCase], None], ...] = (
    check_strategy_seed, check_strategy_resume, check_strategy_failures, check_strategy_in_space)
SPACE_CHECKS: tuple[Callable[[SpaceCase], None], ...] = (
    check_space_builds, check_space_json, check_space_variation, check_space_encodings)
EVALUATOR_CHECKS: tuple[Callable[[EvaluatorCase], None], ...] = (
    check_evaluator_metrics, check_evaluator_cost_check, check_evaluator_spec, check_evaluator_without_task,
    check_evaluator_fidelity_key, check_evaluator_unknown_fidelity)


def strategy_cases(strategy: str | type[Strategy] | StrategyCase, *, spaces: Iterable[str | Space] = STRATEGY_SPACES,
                   options: Mapping[str, Any] | None = None) -> list[StrategyCase]:
    """A strategy on each of ``spaces``, for one objective and, if it takes several, for two."""
    if isinstance(strategy, StrategyCase):
        return [strategy]
    cls = STRATEGIES.get(strategy) if isinstance(strategy, str) else strategy
    assert not getattr(cls, "oneshot", False), (
        f"strategy {getattr(cls, 'name', cls)!r} trains its own weights and never asks: it has no ask/tell contract")
    counts = (1, 2) if getattr(cls, "multi_objective", False) else (1,)
    return [StrategyCase(strategy, n, space, options) for n in counts for space in spaces]


def check_strategy(strategy: str | type[Strategy] | StrategyCase, *, spaces: Iterable[str | Space] = STRATEGY_SPACES,
                   options: Mapping[str, Any] | None = None, other_process: bool = True) -> None:
    """Every contract of a strategy (a registered name, a class or a :class:`StrategyCase`) on each of
    ``spaces``, with ``options`` for its constructor; ``other_process``: also resume it in a fresh interpreter
    (its class must then be importable there)."""
    cases = strategy_cases(strategy, spaces=spaces, options=options)
    for case in cases:
        for check in STRATEGY_CHECKS:
            check(case)
    if other_process:
        check_strategy_resume_in_another_process(*cases)


def check_space(space: str | Space | SpaceCase, *, inputs: tuple | None = None) -> None:
    """Every contract of a space (a registered name, an object or a :class:`SpaceCase`) whose networks are for
    ``inputs`` (see :class:`SpaceCase`; None for a built-in)."""
    case = space if isinstance(space, SpaceCase) else SpaceCase(space, inputs)
    for check in SPACE_CHECKS:
        check(case)


def check_evaluator(spec: Any, *, space: str | Space = "mlp", task: str | None = None,
                    metrics: Iterable[str] = ()) -> None:
    """Every contract of an evaluator (a spec text, ``module:attr`` reference, class, declared function or
    :class:`EvaluatorCase`) run on ``space`` for ``task`` (None: iris when it needs one), asked for
    ``metrics`` besides its own."""
    case = spec if isinstance(spec, EvaluatorCase) else EvaluatorCase(spec, space, task, tuple(metrics))
    for check in EVALUATOR_CHECKS:
        check(case)


def contracts(*, strategies: Iterable[Any] = (), evaluators: Iterable[Any] = (),
              spaces: Iterable[Any] = ()) -> Iterator[tuple[Any, Callable[[Any], None]]]:
    """The (case, check) pairs of the parts named: ``check(case)`` raises AssertionError on a broken contract.
    Names and objects are checked with the defaults of :func:`check_strategy`, :func:`check_space` and
    :func:`check_evaluator`; a :class:`StrategyCase`, :class:`SpaceCase` or :class:`EvaluatorCase` says how.
    A strategy's resume in another process is one more check per strategy."""
    for strategy in strategies:
        cases = strategy_cases(strategy)
        for case in cases:
            for check in STRATEGY_CHECKS:
                yield case, check
        yield tuple(cases), _strategy_resume_in_another_process
    for space in spaces:
        space_case = space if isinstance(space, SpaceCase) else SpaceCase(space)
        for space_check in SPACE_CHECKS:
            yield space_case, space_check
    for spec in evaluators:
        evaluator_case = spec if isinstance(spec, EvaluatorCase) else EvaluatorCase(spec)
        for evaluator_check in EVALUATOR_CHECKS:
            yield evaluator_case, evaluator_check


def _strategy_resume_in_another_process(cases: tuple[StrategyCase, ...]) -> None:
    check_strategy_resume_in_another_process(*cases)


def _case_id(obj: Any) -> str:
    """The case in a test id: a strategy's cases together by its name, a file reference by its file name."""
    text = obj[0].name if isinstance(obj, tuple) else str(obj)
    return re.sub(r"^[^:]*:.*[/\\]", "", text)


def parametrize_with_contracts(*, strategies: Iterable[Any] = (), evaluators: Iterable[Any] = (),
                               spaces: Iterable[Any] = ()):
    """A ``pytest.mark.parametrize`` of ``(obj, check)`` over :func:`contracts`, one test per check::

        @parametrize_with_contracts(evaluators=["mypkg.evals:my_eval"])
        def test_my_evaluator(obj, check):
            check(obj)
    """
    import pytest

    pairs = list(contracts(strategies=strategies, evaluators=evaluators, spaces=spaces))
    ids = [f"{_case_id(obj)}-{check.__name__.removeprefix('check_').lstrip('_')}" for obj, check in pairs]
    return pytest.mark.parametrize("obj, check", pairs, ids=ids)
