"""A table benchmark: results its authors measured once, looked up per architecture instead of trained.

Two things describe a table, and a new table is one module that defines both:

* a :class:`TableBenchmark` (registered in :data:`TABLES`): what the table *is* — its datasets,
  the space it answers, the key of an architecture, its rows in one shape (:data:`BenchRow`), what
  a strategy is told and what is reported, its source, the datasets strategy defaults are tuned on
  and those reported, and a note on its noise. ``archscout bench`` asks this object and nothing else.
* a :class:`TableEvaluator` (registered in :data:`~archscout.evaluate.base.EVALUATORS` as
  ``NAME:DATASET``): what one trial of a study returns. It shares the skeleton of every lookup
  evaluator (:class:`LookupEvaluator`): look the metrics up, check the constraints on them, answer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from ...errors import ArchscoutError, unknown_name
from ...registry import Registry
from ..base import Evaluation, Evaluator, Infeasible

if TYPE_CHECKING:
    from ...space import Architecture, Space

BenchRow = tuple[float, float, float, int]
"""A table row as ``archscout bench`` reads it: (the accuracy a strategy is told, the accuracy reported for a pick,
latency in ms, parameters)."""

AUTHORS_LATENCY = "measured by the benchmark's authors on their hardware"


class TableBenchmark(ABC):
    """One table benchmark. Class attributes state what is fixed; methods read the table of a dataset."""

    name: ClassVar[str]  # the evaluator's name and ``archscout bench NAME``
    title: ClassVar[str]  # how prose and messages name it ("NAS-Bench-Graph")
    datasets: ClassVar[tuple[str, ...]]  # every dataset the table holds, in the table's own order
    tuning_datasets: ClassVar[tuple[str, ...]]  # strategy defaults are tuned on these ...
    report_datasets: ClassVar[tuple[str, ...]]  # ... and a report runs on these (no overlap)
    told: ClassVar[str]  # what a strategy is told of a row (column 0 of a BenchRow)
    reported: ClassVar[str]  # what is reported for the architecture a run picks (column 1)
    noise: ClassVar[str]  # the noise note every bench report prints
    report_note: ClassVar[str | None] = None  # a paragraph a bench report adds under its headline (or None)

    def check_dataset(self, dataset: str) -> str:
        """``dataset``, or the error that names the valid ones."""
        if dataset not in self.datasets:
            raise unknown_name(f"{self.title} dataset", dataset, self.datasets)
        return dataset

    @abstractmethod
    def source(self, dataset: str) -> str:
        """Where the dataset's table comes from (stored with every trial)."""

    @abstractmethod
    def space_for(self, dataset: str) -> Space:
        """The space whose architectures the dataset's table answers, one architecture per row."""

    @abstractmethod
    def key(self, arch: Architecture) -> int:
        """The architecture's row key in the table."""

    @abstractmethod
    def rows(self, dataset: str) -> dict[int, BenchRow]:
        """{key: (told, reported, latency in ms, parameters)} for every row of the dataset's table."""


TABLES: Registry[TableBenchmark] = Registry("benchmark")
"""The table benchmarks ``archscout bench`` runs, by name, in the order they were registered."""


def table_of(dataset: str) -> TableBenchmark:
    """The table that holds ``dataset`` (datasets of different tables do not share names); for a dataset no table
    holds, the first table registered names the error."""
    for _, table in TABLES.items():
        if dataset in table.datasets:
            return table
    first = TABLES.get(TABLES.names(sort=False)[0])
    first.check_dataset(dataset)
    raise AssertionError("unreachable: check_dataset refused the dataset")  # pragma: no cover


class LookupEvaluator(Evaluator):
    """The skeleton of an evaluator that looks metrics up: :meth:`lookup` gives what the constraints are checked
    on (a candidate that fails them is :class:`Infeasible`), :meth:`answer` the trial's :class:`Evaluation`."""

    @abstractmethod
    def lookup(self, arch: Architecture, seed: int = 0) -> dict:
        """The metrics the study's constraints are checked on."""

    def answer(self, arch: Architecture, seed: int, metrics: dict, guard=None,
               fidelity: dict | None = None) -> Evaluation:
        """The trial's evaluation, once ``metrics`` met the constraints: by default the metrics and
        :meth:`details`."""
        return Evaluation(metrics, self.details())

    def details(self) -> dict:
        return {}

    @property
    def budget_key(self) -> str:
        return self.spec

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        if fidelity:
            self.check_fidelity(fidelity)
        metrics = self.lookup(arch, seed)
        if cost_check is not None:
            reason = cost_check(metrics)
            if reason:
                raise Infeasible(reason, metrics)
        return self.answer(arch, seed, metrics, guard, fidelity)


class TableEvaluator(LookupEvaluator):
    """The evaluator of a :class:`TableBenchmark` (``table``): spec ``NAME:DATASET``, one dataset's table."""

    table: ClassVar[TableBenchmark]
    holds = "table holds"

    def __init__(self, dataset: str):
        self.dataset = self.table.check_dataset(dataset)

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if not options:
            raise ArchscoutError(f"name the dataset: {cls.name}:DATASET with DATASET one of "
                                 f"{', '.join(cls.table.datasets)}")
        return cls.table.check_dataset(options.strip())

    @classmethod
    def required_space(cls, options: str = "") -> str | None:
        return cls.table.space_for(options).name

    @classmethod
    def create(cls, options: str = "", *, task=None, train=None, latency=None,
               metrics: tuple | list = ()) -> TableEvaluator:
        return cls(options)

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.dataset}"

    @property
    def space_name(self) -> str:
        return self.table.space_for(self.dataset).name

    def details(self) -> dict:
        return {"source": self.table.source(self.dataset), "latency": AUTHORS_LATENCY}
