"""NAS-Bench-Graph as an evaluator: every trial is a lookup of the results the benchmark's authors measured.

The ``nas-bench-graph`` package ships, for nine datasets, the validation and test accuracy,
inference latency and parameter count of every architecture of the ``gnn`` space (the
"light" tables, no download). A table row is a class of architectures the benchmark does not
tell apart, so the table's space (:func:`space_for`) is the ``gnn`` space in the benchmark's
canonical form, one architecture per row: a search of it (``archscout bench`` runs them) never
spends a query on a row it has already read. The built-in ``gnn`` space, canonical as archscout
builds networks, tells apart a few networks that share a row (a skip leaf on the input, see
:mod:`archscout.space.gnn`); the table answers each of them from that row.

A trial returns the validation accuracy as ``accuracy`` (what selection uses), the test
accuracy as ``test_accuracy`` (reported only: a study refuses it as an objective or
constraint), ``latency_ms`` and ``params``. Latency was measured by the benchmark's authors on
their GPU, not on this machine; ``details`` says so.
"""
from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from ...errors import ArchscoutError
from ...space import Architecture, GNNSpace, benchmark_key, gnn, gnn_proteins
from ..base import EVALUATORS
from .base import TABLES, BenchRow, TableBenchmark, TableEvaluator

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
NAME = "nas-bench-graph"


class NasBenchGraph(TableBenchmark):
    """NAS-Bench-Graph's light tables: one validation and one test accuracy per architecture of the ``gnn`` space."""

    name = NAME
    title = "NAS-Bench-Graph"
    datasets = DATASETS
    tuning_datasets = ("cora", "citeseer", "pubmed", "physics", "computers")
    report_datasets = ("cs", "photo", "arxiv", "proteins")
    told = "the validation accuracy"
    reported = "the test accuracy"
    noise = ("noise-free: NAS-Bench-Graph's light tables hold one validation and one test accuracy per "
             "architecture, so every query of an architecture returns the same figures")

    def source(self, dataset: str) -> str:
        return f"nas-bench-graph light table, {dataset}"

    def space_for(self, dataset: str) -> GNNSpace:
        return space_for(dataset)

    def key(self, arch: Architecture) -> int:
        return benchmark_key(arch)

    def rows(self, dataset: str) -> dict[int, BenchRow]:
        return load_table(dataset)


TABLE = TABLES.register(NAME, NasBenchGraph())


def space_for(dataset: str) -> GNNSpace:
    """The space whose architectures the dataset's table holds: the built-in space of that name (``gnn``, for
    proteins ``gnn-proteins``) in the benchmark's canonical form, one architecture per row."""
    return _table_space(dataset == "proteins")


@lru_cache(maxsize=2)
def _table_space(proteins: bool) -> GNNSpace:
    return (gnn_proteins if proteins else gnn)("benchmark")


@lru_cache(maxsize=len(DATASETS))
def load_table(dataset: str) -> dict[int, BenchRow]:
    """{benchmark key: (validation accuracy, test accuracy, latency in ms, parameters)} for one dataset."""
    check_dataset(dataset)
    try:
        from nas_bench_graph import light_read
    except ImportError:  # pragma: no cover - a dependency of archscout
        raise ArchscoutError("the NAS-Bench-Graph tables need the nas-bench-graph package: "
                             "pip install nas-bench-graph") from None
    raw = light_read(dataset)
    return {int(k): (float(r["valid_perf"]), float(r["perf"]), float(r["latency"]) * 1000.0,
                     int(round(float(r["para"]) * 1e6))) for k, r in raw.items()}


def check_dataset(dataset: str) -> str:
    return TABLE.check_dataset(dataset)


@EVALUATORS.register(NAME)
class NasBenchGraphEvaluator(TableEvaluator):
    """Looks an architecture of the ``gnn`` space up in NAS-Bench-Graph's table for one dataset.

    Spec: ``nas-bench-graph:cora`` (datasets: cora, citeseer, pubmed, cs, physics, photo,
    computers, arxiv, proteins; proteins uses the ``gnn-proteins`` space).
    """

    name = NAME
    table = TABLE
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "test_accuracy", "latency_ms", "params")

    @classmethod
    def searched_space(cls, options: str, space):
        """The benchmark's canonical form of the space: one architecture per table row, so a study never
        looks one row up twice (the built-in ``gnn`` keeps residual variants the table does not tell apart)."""
        table = space_for(options)
        return table if space.name == table.name else space

    def lookup(self, arch: Architecture, seed: int = 0) -> dict:
        """The table's metrics for ``arch`` (no Evaluation wrapper)."""
        if arch.space_name != self.space_name:
            raise ArchscoutError(f"NAS-Bench-Graph's {self.dataset} table holds architectures of the "
                                 f"{self.space_name!r} space, not {arch.space_name!r}")
        row = load_table(self.dataset).get(benchmark_key(arch))
        if row is None:  # pragma: no cover - the space test shows every architecture has a row
            raise ArchscoutError(f"architecture {arch.describe()} has no entry in the {self.dataset} table")
        valid, test, latency, params = row
        return {"accuracy": valid, "test_accuracy": test, "latency_ms": latency, "params": params}

    def rows(self) -> list[dict]:
        """Every architecture's metrics in the table (for the exact range of each metric)."""
        return [{"accuracy": v, "latency_ms": lat, "params": p} for v, _, lat, p in load_table(self.dataset).values()]
