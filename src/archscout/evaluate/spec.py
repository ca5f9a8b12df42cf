"""The evaluator spec: a registered evaluator with its options (``train``, ``supernet:FILE``, ``module:attr``), as a
study stores it and asks about it. It sits above the :class:`~.base.Evaluator` base and the user evaluator, since
a declared function given as an object is named by its reference."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ArchscoutError
from .base import EVALUATORS, Evaluator
from .user import reference_for

if TYPE_CHECKING:
    from ..recipe import TrainConfig
    from .measure import LatencyConfig


def _is_reference(text: str) -> bool:
    """``module.path:attr`` or ``path/to/file.py:attr`` (a user's evaluator), not a registered ``NAME:OPTIONS``."""
    where, sep, attr = text.rpartition(":")
    if not sep or not attr.isidentifier():
        return False
    return where.endswith(".py") or all(p.isidentifier() for p in where.split("."))


@dataclass(frozen=True, eq=False)
class EvaluatorSpec:
    """A registered evaluator with its options, as a study stores it (``text``) and asks about it.

    It equals its text (``study.evaluator_spec == "train"``), so code written when a study held the
    spec as a string keeps working."""

    cls: type[Evaluator]
    options: str = ""

    @classmethod
    def parse(cls, text: str | EvaluatorSpec, *, load: bool = True) -> EvaluatorSpec:
        """From ``NAME`` or ``NAME:OPTIONS``; unknown names list the registered ones."""
        if isinstance(text, EvaluatorSpec):
            return text
        if isinstance(text, type) and issubclass(text, Evaluator):
            return cls(text, "")
        if callable(text) and hasattr(text, "__archscout_evaluator__"):  # a declared function given as an object
            text = f"python:{reference_for(text)}"
        if not isinstance(text, str):
            raise ArchscoutError(f"an evaluator is named by a string, got {text!r}")
        name, _, options = text.partition(":")
        if name not in EVALUATORS and _is_reference(text):  # a user's function: module:attr or file.py:attr
            name, options = "python", text
        evaluator = EVALUATORS.get(name)
        return cls(evaluator, evaluator.parse_options(options, load=load))

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def text(self) -> str:
        return self.name + (f":{self.options}" if self.options else "")

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EvaluatorSpec):
            return self.text == other.text
        return isinstance(other, str) and self.text == other

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def needs_task(self) -> bool:
        return self.cls.takes_task(self.options)

    @property
    def trains(self) -> bool:
        return self.cls.does_train(self.options)

    def measured(self) -> tuple[str, ...]:
        return self.cls.measured(self.options)

    def can_measure(self, metric: str) -> bool:
        return self.cls.can_measure(metric, self.options)

    def required_space(self) -> str | None:
        return self.cls.required_space(self.options)

    def source_fingerprint(self) -> str | None:
        return self.cls.source_fingerprint(self.options)

    def check_space(self, space) -> None:
        self.cls.check_space(self.options, space)

    def check_task(self, task) -> None:
        self.cls.check_task(self.options, task)

    def searched_space(self, space):
        return self.cls.searched_space(self.options, space)

    def default_objective(self) -> str:
        return self.cls.default_objective(self.options)

    def budget(self, train: TrainConfig) -> str:
        return self.cls.budget(self.options, train)

    def create(self, *, task=None, train=None, latency=None, metrics: tuple | list = ()) -> Evaluator:
        return self.cls.create(self.options, task=task, train=train, latency=latency, metrics=metrics)


def list_evaluators(pattern: str | None = None) -> list[str]:
    return EVALUATORS.names(pattern)


def uses_task(spec: str | EvaluatorSpec) -> bool:
    """Whether the evaluator builds networks for a task (training them or scoring them untrained), as opposed
    to looking results up."""
    return EvaluatorSpec.parse(spec, load=False).needs_task


def measured_metrics(spec: str | EvaluatorSpec) -> tuple:
    """The metrics an evaluator stores for every trial it completes."""
    return EvaluatorSpec.parse(spec, load=False).measured()


def measurable(spec: str | EvaluatorSpec, metric: str) -> bool:
    """Whether the evaluator stores ``metric`` when a study names it."""
    return EvaluatorSpec.parse(spec, load=False).can_measure(metric)


def check_evaluator_spec(spec: str | EvaluatorSpec, load: bool = True) -> str:
    """A spec in canonical form (a predictor file by its absolute path); ``load=False``: do not read the
    files it names (a study opened for reading its trials)."""
    return EvaluatorSpec.parse(spec, load=load).text


def evaluator_space(spec: str | EvaluatorSpec) -> str | None:
    """The built-in space an evaluator requires, or None when any space works."""
    return EvaluatorSpec.parse(spec).required_space()


def make_evaluator(spec: str | EvaluatorSpec, task=None, train: TrainConfig | None = None,
                   latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> Evaluator:
    """The evaluator of a spec for ``task``; ``metrics``: what the study's objectives and constraints name,
    measured besides the evaluator's own."""
    return EvaluatorSpec.parse(spec).create(task=task, train=train, latency=latency, metrics=metrics)
