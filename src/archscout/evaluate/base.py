"""The Evaluator interface, the registry that names evaluators, and the spec a study stores for one.

An evaluator measures one architecture and returns its metrics. It is named on the command
line and in a study's stored settings by a spec: its registered name, then optionally ``:``
and options that the evaluator reads itself (``train``, ``synthetic:delay=0.1``,
``nas-bench-graph:cora``, ``predictor:FILE``). Everything a study needs to know about an
evaluator before it builds one (what it measures, whether it needs a task, which space it
requires, the fingerprint of a file it reads) is asked of its class through
:class:`EvaluatorSpec`, so no code outside an evaluator reads the text of a spec.

A user's evaluator registers exactly as the built-ins do::

    from archscout.evaluate import EVALUATORS, Evaluation, Evaluator

    @EVALUATORS.register("my-eval")
    class MyEvaluator(Evaluator):
        "Scores architectures by ..."
        measures = ("accuracy", "params")

        def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
            return Evaluation({"accuracy": ..., "params": ...})
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..checks import positive_number
from ..errors import ArchscoutError, TrialFailed
from ..registry import Registry

if TYPE_CHECKING:
    from ..recipe import TrainConfig
    from ..space import Architecture


class Infeasible(TrialFailed):
    """A candidate that violates a constraint; carries the metrics measured so far."""

    def __init__(self, reason: str, metrics: dict):
        super().__init__(reason)
        self.metrics = metrics


@dataclass
class Evaluation:
    """What an evaluator returns: the metrics (stored and compared) and details (stored, shown)."""

    metrics: dict
    details: dict = field(default_factory=dict)


class Evaluator(ABC):
    """Measures one architecture: :meth:`evaluate` returns an :class:`Evaluation`.

    Class attributes say what a study may ask of it: ``measures`` (metrics stored for every
    completed trial), ``on_request`` (prefixes of metrics measured when a study names them,
    e.g. ``"latency_ms@"``), ``needs_task`` (it builds networks for the study's task, which then
    has a final retraining), ``trains`` (it trains every candidate, as a guide or the proxy
    correlations need) and ``fidelities`` (the keys of a fidelity it understands, e.g.
    ``("steps", "epochs")``). Class methods read the options of a spec; a study builds the
    evaluator with :meth:`create`. ``prepare`` runs once per worker process, ``after_trial``
    after each trial.
    """

    name: ClassVar[str] = ""
    measures: ClassVar[tuple[str, ...]] = ()
    on_request: ClassVar[tuple[str, ...]] = ()
    needs_task: ClassVar[bool] = False
    trains: ClassVar[bool] = False
    checkpoints = None  # a CheckpointStore the study gives a training evaluator before a search (or None)
    fidelities: ClassVar[tuple[str, ...]] = ()
    holds: ClassVar[str] = "evaluator needs"  # how a space mismatch reads: "the SPEC evaluator needs architectures of"
    device: str = "cpu"  # where it trains and scores: auto, cpu, cuda, cuda:N, mps (see use_device)

    # -- what a study asks of a spec, before anything is built -------------------------------
    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        """The options of a spec in canonical form (``""``: none), or ArchscoutError naming what is wrong.
        ``load=False``: do not read files the options name (a study opened only to read its trials)."""
        if options:
            raise ArchscoutError(f"the {cls.name} evaluator takes no options, got {options!r}")
        return ""

    @classmethod
    def measured(cls, options: str = "") -> tuple[str, ...]:
        """The metrics stored for every trial it completes."""
        return cls.measures

    @classmethod
    def can_measure(cls, metric: str, options: str = "") -> bool:
        """Whether it stores ``metric`` when a study names it."""
        return metric in cls.measured(options) or bool(cls.on_request) and metric.startswith(cls.on_request)

    @classmethod
    def takes_task(cls, options: str = "") -> bool:
        """Whether it builds networks for the study's task (which then has a final retraining): ``needs_task``."""
        return cls.needs_task

    @classmethod
    def does_train(cls, options: str = "") -> bool:
        """Whether it trains every candidate: ``trains``."""
        return cls.trains

    @classmethod
    def required_space(cls, options: str = "") -> str | None:
        """The built-in space it requires (a tabular benchmark's), or None when any space works."""
        return None

    @classmethod
    def searched_space(cls, options: str, space):
        """The space a study searches when it asks for ``space``: by default ``space`` itself; a lookup table
        may swap in a form of it with one architecture per table row (NAS-Bench-Graph's canonical form)."""
        return space

    @classmethod
    def source_fingerprint(cls, options: str = "") -> str | None:
        """The fingerprint of a file the options name (a predictor, a table, a supernet's checkpoint),
        stored with the study so that a changed file is refused on resume; None when it reads none."""
        return None

    @classmethod
    def check_space(cls, options: str, space) -> None:
        """Refuse (ArchscoutError) a space the evaluator cannot take: by default one other than
        :meth:`required_space`."""
        required = cls.required_space(options)
        if required is not None and space.name != required:
            spec = cls.name + (f":{options}" if options else "")
            raise ArchscoutError(f"the {spec} {cls.holds} architectures of the {required!r} space, not "
                                 f"{space.name!r}; use --space {required} (or leave it out)")

    @classmethod
    def check_task(cls, options: str, task) -> None:
        """Refuse (ArchscoutError) a task the evaluator cannot take, before its data is loaded: ``task`` as the
        study names it (a built-in's name, a file, a reference, or a Task; None without one). By default any."""

    @classmethod
    def default_objective(cls, options: str = "") -> str:
        """What a study optimises when it names no objective."""
        return "accuracy"

    @classmethod
    def default_fidelity(cls, options: str, train: TrainConfig) -> dict | None:
        """The study's own fidelity in the terms of ``fidelities`` (None: the evaluator has no such scale);
        trials at lower fidelities rank below it."""
        return None

    @classmethod
    def budget(cls, options: str, train: TrainConfig) -> str:
        """The key stored as the study's budget (trials at the same key are not evaluated twice)."""
        return cls.name + (f":{options}" if options else "")

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None, latency=None,
               metrics: tuple | list = ()) -> Evaluator:
        """The evaluator a study runs: ``task`` (None unless ``needs_task``), the training and latency
        settings, and ``metrics``, what the study's objectives and constraints name besides its own."""
        return cls()

    # -- what a search runs -----------------------------------------------------------------
    @property
    def spec(self) -> str:
        return self.name

    @property
    def budget_key(self) -> str:
        """The key the trials of the study's own fidelity are stored under."""
        return self.spec

    def fidelity_key(self, fidelity: dict | None) -> str:
        """The key trials at ``fidelity`` are stored under (the study's own key for None)."""
        if not fidelity:
            return self.budget_key
        self.check_fidelity(fidelity)
        return f"{self.budget_key}|" + ",".join(f"{k}={fidelity[k]:g}" for k in sorted(fidelity))

    def check_fidelity(self, fidelity: dict) -> None:
        """Refuse a fidelity with keys the evaluator does not understand, or values that are not positive."""
        bad = [k for k in fidelity if k not in self.fidelities]
        if bad:
            understood = ", ".join(self.fidelities) or "none"
            raise ArchscoutError(f"the {self.name} evaluator does not understand fidelity {', '.join(bad)}; "
                                 f"it understands: {understood}")
        for k, v in fidelity.items():
            positive_number(v, f"fidelity {k}")

    def prepare(self) -> None:
        """Called once in each worker process before its first trial."""

    def use_device(self, device: str | None) -> Evaluator:
        """Train and score on ``device`` (auto, cpu, cuda, cuda:N, mps); checked where it runs. A worker of a
        pool may be given one GPU of several through ``ARCHSCOUT_DEVICE`` (see :meth:`torch_device`)."""
        self.device = device or "cpu"
        return self

    def torch_device(self):
        """The ``torch.device`` this process uses: ``ARCHSCOUT_DEVICE`` when a pool gave this worker a GPU and the
        evaluator asked for auto or cuda, else :attr:`device`."""
        import os

        from .training import resolve_device
        assigned = os.environ.get("ARCHSCOUT_DEVICE")
        if assigned and self.device in ("auto", "cuda"):
            return resolve_device(assigned)
        return resolve_device(self.device)

    def after_trial(self) -> None:
        """Called after each trial, whatever its outcome."""

    @abstractmethod
    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        """Measure ``arch``. ``cost_check(metrics) -> reason | None``: call it once cost metrics are known and
        raise :class:`Infeasible` with the reason; ``guard.check()``: call it now and then in long work (per-trial
        time and memory limits); ``fidelity``: how much to spend (keys of ``fidelities``), None for the
        study's own setting."""

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """Retrain on training + validation data, score on the test part; returns the state dict bytes too."""
        raise ArchscoutError(f"the {self.name} evaluator trains nothing, so it has no final retraining")

    def rows(self) -> list[dict] | None:
        """Every architecture's metrics when the evaluator is a lookup table (reference points and
        impossible constraints are worked out from them), else None."""
        return None


def _named(name: str, cls: type[Evaluator]) -> None:
    """A registered evaluator class carries its registered name (what a study stores and resolves on load): set it
    when the class left it empty, refuse a class whose own name differs."""
    own = cls.__dict__.get("name", "")  # its own, not a parent's (a subclass registered anew is another evaluator)
    if not own:
        cls.name = name
    elif own != name:
        raise ArchscoutError(f"evaluator class {cls.__name__} names itself {own!r} but is registered as {name!r}; "
                             f"give it name = {name!r} or register it under {own!r}")


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator", on_register=_named)
