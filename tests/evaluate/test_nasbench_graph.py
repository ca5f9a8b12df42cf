"""The gnn space against NAS-Bench-Graph's own hashing, and the tabular evaluator in studies."""
import itertools
import random

import pytest
from nas_bench_graph import Arch, light_read

from archscout import ArchscoutError, Study
from archscout.cli import main
from archscout.evaluate.tables.nas_bench_graph import DATASETS, NasBenchGraphEvaluator, load_table, space_for
from archscout.space import benchmark_key, get_space
from archscout.space.gnn import LINKS, NODES, OPS, PROTEINS_OPS


def _values(link, ops):
    return {"link": link, **dict(zip(NODES, ops))}


@pytest.mark.parametrize("space_name, ops, dataset", [("gnn", OPS, "cora"), ("gnn-proteins", PROTEINS_OPS, "proteins")])
@pytest.mark.slow
def test_every_choice_maps_to_the_benchmarks_key_and_every_entry_is_reachable(space_name, ops, dataset):
    """In the table's space (the benchmark's canonical form) one architecture is one row; the built-in space
    (canonical as archscout builds networks) finds the same row for every choice."""
    space, built = space_for(dataset), get_space(space_name)
    assert space.name == space_name and space.form == "benchmark" and built.form == "builder"
    table = set(light_read(dataset))
    archs_by_key: dict[int, set] = {}
    for link in LINKS:
        for combo in itertools.product(ops, repeat=4):
            if all(op == "skip" for op in combo):
                continue
            arch = space.architecture(_values(link, combo))
            key = benchmark_key(arch)
            assert key == Arch([int(p) for p in link.split("-")], list(combo)).valid_hash(), (link, combo)
            assert benchmark_key(built.architecture(_values(link, combo))) == key
            archs_by_key.setdefault(key, set()).add(arch)
    assert set(archs_by_key) == table  # every choice has an entry, every entry is reached
    assert all(len(archs) == 1 for archs in archs_by_key.values())  # one canonical architecture per key
    assert [benchmark_key(a) for a in space.enumerate()] == sorted(table)
    assert {benchmark_key(a) for a in built.enumerate()} == table


def test_the_nine_datasets_hold_the_same_architectures():
    keys = set(load_table("cora"))
    assert len(keys) == 26206
    for dataset in DATASETS:
        assert len(load_table(dataset)) == (2021 if dataset == "proteins" else 26206)
        if dataset != "proteins":
            assert set(load_table(dataset)) == keys


def test_equivalent_networks_are_one_architecture():
    space = get_space("gnn")
    # siblings under the input in another order
    assert space.architecture(_values("0-0-0-0", ["sage", "gcn", "gat", "fc"])) == \
        space.architecture(_values("0-0-0-0", ["fc", "gat", "gcn", "sage"]))
    # a skip that feeds another node is the identity: the same as that node hanging from the skip's input
    a = space.architecture(_values("0-1-1-1", ["skip", "gcn", "gat", "sage"]))
    assert a.values["op1"] == "skip" and a == space.architecture(_values("0-1-1-1", ["skip", "sage", "gcn", "gat"]))
    rng = random.Random(0)
    for _ in range(300):  # canonical forms are fixed points; variation stays canonical
        arch = space.sample(rng)
        assert space.architecture(arch.values) == arch and space.contains(arch)
        child = space.mutate(arch, rng)
        assert space.contains(child) and child != arch
        assert all(space.contains(n) for n in space.neighbors(arch))


def test_all_skip_is_outside_the_space():
    with pytest.raises(ArchscoutError, match="constraint"):
        get_space("gnn").architecture(_values("0-1-2-3", ["skip"] * 4))


@pytest.mark.parametrize("kind, length", [("onehot", 45), ("path", 9 + 81 + 729 + 6561), ("graph", None)])
def test_encodings_have_a_fixed_length_and_tell_architectures_apart(kind, length):
    space = get_space("gnn")
    archs = space.enumerate()[::500]
    codes = [tuple(space.encode(a, kind)) for a in archs]
    assert len({len(c) for c in codes}) == 1 and (length is None or len(codes[0]) == length)
    assert len(set(codes)) >= 0.95 * len(codes)


def test_a_path_encoding_counts_input_to_output_paths():
    space = get_space("gnn")
    arch = space.architecture(_values("0-0-1-1", ["gcn", "gat", "sage", "fc"]))
    code = space.encode(arch, "path")
    # paths: gat (a leaf on the input), gcn->sage, gcn->fc
    assert sum(code) == 3
    assert code[OPS.index("gat")] == 1
    assert code[9 + OPS.index("gcn") * 9 + OPS.index("sage")] == 1


def test_lookup_returns_the_tables_numbers():
    ev = NasBenchGraphEvaluator("citeseer")
    arch = get_space("gnn").architecture(_values("0-0-1-2", ["gcn", "gcn", "sage", "sage"]))
    raw = light_read("citeseer")[benchmark_key(arch)]
    m = ev.evaluate(arch).metrics
    assert m["accuracy"] == pytest.approx(float(raw["valid_perf"]))
    assert m["test_accuracy"] == pytest.approx(float(raw["perf"]))
    assert m["latency_ms"] == pytest.approx(1000 * float(raw["latency"]))
    assert m["params"] == round(float(raw["para"]) * 1e6)


def test_a_tabular_study_searches_resumes_and_reports_the_benchmarks_figures(tmp_path):
    db = f"sqlite:///{tmp_path / 'nb.db'}"
    study = Study("nb", evaluator="nas-bench-graph:pubmed", strategy="evolution", storage=db, seed=1)
    assert study.space.name == "gnn"
    study.search(trials=60, progress=False)
    again = Study("nb", evaluator="nas-bench-graph:pubmed", strategy="evolution", storage=db, seed=1)
    again.search(trials=90, progress=False)
    trials = again.trials()
    assert len(trials) == 90 and len({t.arch.id for t in trials}) == 90
    table = load_table("pubmed")
    for t in trials:
        assert t.metrics["accuracy"] == table[benchmark_key(t.arch)][0]
    assert again.best().metrics["accuracy"] == max(t.metrics["accuracy"] for t in trials)


def test_cost_constraints_use_the_tables_costs(tmp_path):
    study = Study("c", evaluator="nas-bench-graph:cora", storage=f"sqlite:///{tmp_path / 'c.db'}",
                  strategy="random", constraints=["params <= 900000"])
    study.search(trials=40, progress=False)
    statuses = {t.status for t in study.trials()}
    assert statuses == {"complete", "infeasible"}
    assert all(t.metrics["params"] <= 900000 for t in study.trials("complete"))


@pytest.mark.parametrize("kwargs, message", [
    ({"evaluator": "nas-bench-graph:coraa"}, "Did you mean 'cora'"),
    ({"evaluator": "nas-bench-graph"}, "name the dataset"),
    ({"evaluator": "nas-bench-graph:proteins", "space": "gnn"}, "use --space gnn-proteins"),
    ({"evaluator": "nas-bench-graph:cora", "space": "conv1d"}, "use --space gnn"),
    ({"evaluator": "nas-bench-graph:cora", "objective": "test_accuracy"}, "validation data only"),
    ({"evaluator": "nas-bench-graph:cora", "task": "iris"}, "trains nothing"),
])
def test_bad_benchmark_settings_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ArchscoutError, match=message):
        Study("x", storage=f"sqlite:///{tmp_path / 'x.db'}", **kwargs)


def test_cli_search_on_the_table(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code = main(["search", "--evaluator", "nas-bench-graph:photo", "--strategy", "bo", "--trials", "40",
                 "--storage", db, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "nas-bench-graph-photo-gnn" in out and "test acc % (table)" in out
    code = main(["search", "--evaluator", "nas-bench-graph:photoo", "--trials", "5", "--storage", db,
                 "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and "Valid NAS-Bench-Graph datasets: arxiv, citeseer" in err and "Traceback" not in err
