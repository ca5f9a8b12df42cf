"""Graph tasks and GNN training: the operators, the tree network, the loaders, the study, and bad graph input.

Bad input runs the command line in-process, as tests/cli/test_bad_input.py does: exit code 2, one
``error:`` line, no traceback, nothing stored (docs/bad-input.md, section 8).
"""
from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest
import torch

from archscout import ArchscoutError
from archscout.cli import main
from archscout.evaluate import TrainConfig, make_evaluator
from archscout.evaluate.graph import GraphTrainingEvaluator, evaluate_graph, train_graph
from archscout.space import get_space
from archscout.space.gnn import LINKS, NODES, OPS
from archscout.space.gnn_build import build_gnn, make_op
from archscout.study import Study
from archscout.tasks import GraphTask, from_graph, from_graph_files, get_task, list_tasks

SEARCH = ["--space", "gnn", "--steps", "5", "--trials", "1", "--top-k", "0", "--no-progress"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Full-graph steps are many small scatter kernels: with two threads on a busy two-core machine each
    kernel waits for a descheduled thread (30x slower measured), so these tests train on one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def knn():
    return get_task("mnist1d-knn")


def tiny_graph(n: int = 6):
    x = torch.randn(n, 8)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
    return x, edge_index


# -- operators and the network ------------------------------------------------------------------

@pytest.mark.parametrize("op", OPS)
def test_every_operator_runs_forward_and_backward(op):
    torch.manual_seed(0)
    module = make_op(op, 8)
    x, edge_index = tiny_graph()
    x.requires_grad_(True)
    out = module(x, edge_index)
    assert out.shape == (6, 8)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    unused = {name for name, p in module.named_parameters() if p.grad is None}
    # PyG's ARMAConv allocates the weight of its inner layers even when it has only one
    assert unused == ({"conv.weight"} if op == "arma" else set())
    assert (op == "skip") == (not list(module.parameters()))


@pytest.mark.parametrize("link", LINKS)
def test_the_network_sums_the_leaves_of_its_tree(link):
    """With identity nodes every leaf carries the pre-processed features: the output is the
    classifier of (number of leaves) x pre(x)."""
    parents = [int(p) for p in link.split("-")]
    leaves = [v for v in range(1, 5) if v not in parents]
    model = build_gnn({"link": link, **{n: "skip" for n in NODES}}, (8,), 3, hidden=16, dropout=0.0).eval()
    assert model.leaves == leaves
    x, edge_index = tiny_graph()
    with torch.no_grad():
        expected = model.classifier(len(leaves) * model.pre(x))
        assert torch.allclose(model(x, edge_index), expected, atol=1e-5)


def test_the_network_wires_nodes_to_their_parents():
    """Node 2 takes node 1's output: with fc at node 1 and skip at node 2 (the only leaf), the
    output is the classifier of relu(fc(pre(x)))."""
    model = build_gnn({"link": "0-1-2-3", "op1": "fc", "op2": "skip", "op3": "skip", "op4": "skip"}, (8,), 3,
                      hidden=16, dropout=0.0).eval()
    x, edge_index = tiny_graph()
    with torch.no_grad():
        expected = model.classifier(torch.relu(model.ops[0].lin(model.pre(x))))
        assert torch.allclose(model(x, edge_index), expected, atol=1e-5)


def test_graph_operators_use_the_edges_and_fc_does_not():
    x, edge_index = tiny_graph()
    none = torch.zeros((2, 0), dtype=torch.long)
    for op in OPS:
        torch.manual_seed(0)
        module = make_op(op, 8).eval()
        with torch.no_grad():
            same = torch.allclose(module(x, edge_index), module(x, none))
        assert same == (op in ("fc", "skip")), op


def test_gnn_space_refuses_inputs_that_are_not_node_features():
    space = get_space("gnn")
    with pytest.raises(ArchscoutError, match="needs a graph task"):
        space.sample(0).build((1, 40), 10)


# -- the built-in graph ---------------------------------------------------------------------------

def test_mnist1d_knn_is_a_registered_graph_task(knn):
    assert "mnist1d-knn" in list_tasks()
    assert isinstance(knn, GraphTask) and knn.input_shape == (40,) and knn.num_classes == 10
    assert (len(knn.train), len(knn.valid), len(knn.test)) == (1200, 300, 500)
    assert not (knn.train_mask & knn.valid_mask).any() and not (knn.valid_mask & knn.test_mask).any()
    e = knn.edge_index
    assert e.dtype == np.int64 and knn.x.dtype == np.float32
    assert (e[0] != e[1]).all()  # no self-loops
    pairs = set(zip(e[0].tolist(), e[1].tolist()))
    assert len(pairs) == e.shape[1] and all((b, a) in pairs for a, b in pairs)  # undirected, no duplicates
    assert np.bincount(e[0], minlength=knn.num_nodes).min() >= 8  # every node keeps its 8 neighbours
    assert "2,000 nodes" in knn.summary() and knn.fingerprint() == get_task("mnist1d-knn").fingerprint()


@pytest.mark.slow
def test_a_gcn_learns_mnist1d_knn_well_above_chance(knn):
    """100 full-graph steps of a one-layer GCN reach about 41 % on the 300 validation nodes (10 classes:
    chance is 10 %; 30 % is 90 of 300 right, which guessing reaches with probability below 1e-20)."""
    arch = get_space("gnn").architecture({"link": "0-1-2-3", "op1": "skip", "op2": "skip", "op3": "skip",
                                          "op4": "gcn"})
    ev = make_evaluator("train", knn, TrainConfig(steps=100))
    assert isinstance(ev, GraphTrainingEvaluator)
    m = ev.evaluate(arch, seed=0).metrics
    assert m["accuracy"] > 0.30, m
    assert m["params"] > 0 and m["flops"] > 0 and m["latency_ms"] > 0 and m["size_bytes@fp32"] == 4 * m["params"]
    assert m["train_loss"] < 2.3  # below the loss of a uniform guess, ln 10


def test_a_network_whose_leaf_is_a_skip_still_trains(knn):
    """A canonical architecture keeps a skip leaf below a graph operator: it adds that operator's output
    to the sum unchanged."""
    arch = get_space("gnn").architecture({"link": "0-1-1-1", "op1": "gcn", "op2": "skip", "op3": "fc",
                                          "op4": "fc"})
    assert "skip" in arch.values.values()
    model = arch.build(knn.input_shape, knn.num_classes)
    assert any(model.op_names[v - 1] == "skip" for v in model.leaves)
    x, e, y = (torch.from_numpy(a) for a in (knn.x, knn.edge_index, knn.y))
    stats = train_graph(model, x, e, y, knn.train_mask, TrainConfig(steps=40), seed=0)
    assert stats["steps"] == 40 and np.isfinite(stats["train_loss"])
    assert evaluate_graph(model, x, e, y, knn.valid_mask)["accuracy"] > 0.25


@pytest.mark.slow
def test_study_searches_and_retrains_on_mnist1d_knn(tmp_path, knn):
    study = Study("g", space="gnn", task="mnist1d-knn", train={"steps": 30}, storage=f"sqlite:///{tmp_path}/r.db",
                  strategy="random")
    study.run(strategy="random", trials=3, final_top_k=1, final_seeds=1, progress=False)
    trials = study.trials()
    assert [t.status for t in trials] == ["complete"] * 3, [t.error for t in trials]
    assert all(t.metrics["accuracy"] > 0.2 for t in trials), [t.metrics["accuracy"] for t in trials]
    best = study.best()
    assert best.final["seeds"] == 1 and best.final["test_accuracy_mean"] > 0.3, best.final
    assert best.details["train"]["steps"] == 30 and best.details["latency"]["graph_nodes"] == 2000

    info = best.export(str(tmp_path / "out"))
    assert info["onnx_max_abs_diff"] is not None and info["onnx_max_abs_diff"] < 1e-3, info
    assert sorted(os.listdir(tmp_path / "out")) == ["architecture.json", "metrics.json", "model.onnx", "model.pt"]
    from archscout.export import load_model
    model = load_model(str(tmp_path / "out"))
    with torch.no_grad():
        out = model(torch.from_numpy(knn.x), torch.from_numpy(knn.edge_index))
    assert out.shape == (2000, 10)
    doc = json.loads((tmp_path / "out" / "architecture.json").read_text())
    assert doc["input_shape"] == [40] and doc["space"] == "gnn"


def test_a_graph_network_that_onnx_cannot_express_is_reported_not_raised(tmp_path, monkeypatch):
    from archscout.export.formats import graph_onnx

    task = from_graph_files(str(write_graph(tmp_path / "ring")))
    model = get_space("gnn").sample(0).build(task.input_shape, task.num_classes).eval()

    def refuse(*args, **kwargs):
        (tmp_path / "m.onnx").write_bytes(b"partial")
        raise RuntimeError("no symbolic function for this operator")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    out = graph_onnx(model, task, str(tmp_path / "m.onnx"))
    assert out == {"onnx_max_abs_diff": None, "onnx_error": "RuntimeError: no symbolic function for this operator"}
    assert not (tmp_path / "m.onnx").exists()


def test_study_refuses_a_space_and_task_that_do_not_go_together(tmp_path):
    db = tmp_path / "r.db"
    with pytest.raises(ArchscoutError, match="needs a graph task"):
        Study(space="gnn", task="iris", storage=f"sqlite:///{db}")
    with pytest.raises(ArchscoutError, match="the task is a graph"):
        Study(space="mlp", task="mnist1d-knn", storage=f"sqlite:///{db}")
    assert _studies(db) == []


# -- PyG Data and the file loader ------------------------------------------------------------------

def test_pyg_data_round_trip(knn):
    data = knn.to_data()
    assert data.num_nodes == 2000 and int(data.train_mask.sum()) == 1200
    again = from_graph(data, name="mnist1d-knn")
    assert again.fingerprint() == knn.fingerprint()
    assert np.array_equal(again.edge_index, knn.edge_index)


def test_pyg_data_without_masks_gets_a_stratified_split(knn):
    from torch_geometric.data import Data

    data = Data(x=torch.from_numpy(knn.x), edge_index=torch.from_numpy(knn.edge_index), y=torch.from_numpy(knn.y))
    task = from_graph(data, name="nomask", seed=3)
    sizes = (len(task.train), len(task.valid), len(task.test))
    assert sum(sizes) == 2000 and all(abs(a - b) <= 10 for a, b in zip(sizes, (1200, 400, 400))), sizes
    for mask in (task.train_mask, task.valid_mask, task.test_mask):  # every class in every part
        assert len(np.unique(task.y[mask])) == 10
    assert "stratified 60/20/20" in task.description and "seed 3" in task.description
    assert from_graph(data, name="nomask", seed=3).fingerprint() == task.fingerprint()
    with pytest.raises(ArchscoutError, match="has no y"):
        from_graph(Data(x=data.x, edge_index=data.edge_index), name="g")
    data.train_mask = torch.ones(2000, 3, dtype=torch.bool)
    with pytest.raises(ArchscoutError, match="one true/false value per node"):
        from_graph(data, name="g")


def write_graph(folder, n: int = 20, *, edges="csv", features="csv", labels="csv", split="csv"):
    """A small graph folder: a ring over n nodes plus chords, 3 features, labels a/b, a 10/5/5 split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ring = [(i, (i + 1) % n) for i in range(n)] + [(0, 10), (10, 0), (3, 3)]
    x = rng.normal(size=(n, 3)).round(3)
    y = np.array(["a", "b"] * (n // 2))
    parts = ["train"] * 10 + ["valid"] * 5 + ["test"] * (n - 15)
    if edges == "csv":
        (folder / "edges.csv").write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in ring))
    elif edges == "tsv":
        (folder / "edges.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in ring))
    else:
        np.save(folder / "edges.npy", np.array(ring))
    if features == "csv":
        (folder / "features.csv").write_text("f1,f2,f3\n" + "".join(",".join(map(str, r)) + "\n" for r in x))
    else:
        np.save(folder / "features.npy", x)
    if labels == "csv":
        (folder / "labels.csv").write_text("label\n" + "\n".join(y) + "\n")
    else:
        np.save(folder / "labels.npy", (y == "b").astype(np.int64))
    if split == "csv":
        (folder / "split.csv").write_text("\n".join(parts) + "\n")
    elif split == "npy":
        for k in ("train", "valid", "test"):
            np.save(folder / f"{k}_mask.npy", np.array(parts) == k)
    return folder


def test_graph_folder_loader(tmp_path):
    task = from_graph_files(str(write_graph(tmp_path / "ring")))
    assert task.name == "ring" and task.num_nodes == 20 and task.input_shape == (3,)
    assert task.classes == ("a", "b") and task.num_classes == 2
    assert (len(task.train), len(task.valid), len(task.test)) == (10, 5, 5)
    assert task.num_edges == 21  # the ring's 20 and one chord; its reverse, a repeat and a self-loop dropped
    same = from_graph_files(str(write_graph(tmp_path / "ring2", edges="npy", features="npy", labels="npy",
                                            split="npy")), name="ring")
    assert np.array_equal(same.edge_index, task.edge_index) and np.allclose(same.x, task.x)
    assert np.array_equal(same.y, task.y) and np.array_equal(same.valid_mask, task.valid_mask)
    tsv = from_graph_files(str(write_graph(tmp_path / "ring3", edges="tsv", split=None)))
    assert np.array_equal(tsv.edge_index, task.edge_index) and "stratified" in tsv.description
    assert isinstance(get_task(str(tmp_path / "ring")), GraphTask)


def test_search_on_a_graph_folder_from_the_command_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = write_graph(tmp_path / "ring")
    assert main(["search", "--task", str(folder) + os.sep, *SEARCH, "--storage", "sqlite:///r.db"]) == 0
    out = capsys.readouterr().out
    assert "study ring-gnn" in out and "20 nodes and 21 edges" in out
    assert main(["tasks"]) == 0
    assert "mnist1d-knn" in capsys.readouterr().out


# -- bad graph input (docs/bad-input.md, section 8) --------------------------------------------------

def _write(name: str, content):
    def make(folder):
        path = folder / name
        if isinstance(content, np.ndarray):
            np.save(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return make


def _remove(name: str):
    return lambda folder: (folder / name).unlink()


def _replace(old: str, new_name: str, content):
    def make(folder):
        (folder / old).unlink()
        _write(new_name, content)(folder)
    return make


LABELS = ["a", "b"] * 10
BAD_GRAPHS = [
    # (id, change to the good folder, phrase of the message)
    ("edge-id-too-large", _write("edges.csv", "0,1\n1,2\n2,25\n"), "line 3: node id 25 is out of range; node ids "
                                                                    "are 0..19"),
    ("edge-id-negative", _write("edges.csv", "0,1\n-1,2\n"), "node id -1 is out of range"),
    ("edges-npy-id-out-of-range", _replace("edges.csv", "edges.npy", np.array([[0, 1], [1, 20]])),
     "edge 1 (numbered from 0): node id 20 is out of range; node ids are 0..19"),
    ("edges-three-columns", _write("edges.csv", "0,1\n1,2,3\n"), "line 2 has 3 column(s); an edge list has two "
                                                                 "integer columns"),
    ("edges-one-column", _write("edges.csv", "0\n1\n"), "line 1 has 1 column(s)"),
    ("edges-not-integers", _write("edges.csv", "0,1\n1,2.5\n"), "line 2: '2.5' is not an integer node id"),
    ("edges-words", _write("edges.csv", "0,1\nx,y\n"), "line 2: 'x' is not an integer node id"),
    ("edges-npy-three-columns", _replace("edges.csv", "edges.npy", np.zeros((4, 3), dtype=np.int64)),
     "an edge list has two integer columns (source and target node ids); got an array shaped (4, 3)"),
    ("edges-npy-fractions", _replace("edges.csv", "edges.npy", np.array([[0.0, 1.5]])), "node ids must be integers"),
    ("edges-not-utf8", _write("edges.csv", b"0,1\n\xff\xfe,2\n"), "cannot read"),
    ("edges-missing", _remove("edges.csv"), "has no edge list: add edges.csv, edges.tsv, edges.txt or edges.npy"),
    ("edges-two-files", _write("edges.npy", np.array([[0, 1]])),
     "holds edges.csv and edges.npy (edge list); keep only one"),
    ("labels-missing-rows", _write("labels.csv", "\n".join(LABELS[:18]) + "\n"), "labels are missing: 18 labels "
                                                                                 "for 20 nodes"),
    ("labels-empty-cell", _write("labels.csv", "\n".join(LABELS[:4] + [""] + LABELS[5:]) + "\n"),
     "line 5: the label is empty"),
    ("labels-nan", _replace("labels.csv", "labels.npy", np.array([0.0, 1.0, np.nan] + [1.0] * 17)),
     "labels are missing: 1 are NaN"),
    ("labels-longer-than-features", _replace("labels.csv", "labels.npy", np.arange(23) % 2),
     "23 labels for 20 nodes (features.csv has 20 rows)"),
    ("labels-single-class", _write("labels.csv", "a\n" * 20), "at least two classes"),
    ("labels-missing", _remove("labels.csv"), "has no node labels"),
    ("features-not-a-number", _write("features.csv", "1,2,3\n" * 2 + "1,abc,3\n" + "1,2,3\n" * 17),
     "line 3, column 2: 'abc' is not a number"),
    ("features-npy-text", _replace("features.csv", "features.npy", np.array([["a", "b"]] * 20)),
     "features must be numbers"),
    ("features-nan", _write("features.csv", "1,2,3\n" * 5 + "1,nan,3\n" + "1,2,3\n" * 14),
     "1 node(s) have NaN or infinite features (first: node 5)"),
    ("features-ragged", _write("features.csv", "1,2,3\n1,2\n" + "1,2,3\n" * 18), "line 2 has 2 column(s), expected 3"),
    ("features-npy-corrupt", _replace("features.csv", "features.npy", b"not numpy"),
     "not a valid .npy file (it does not start with the .npy header)"),
    ("features-missing", _remove("features.csv"), "has no node features: add features.csv or features.npy"),
    ("no-training-nodes", _write("split.csv", "valid\n" * 10 + "test\n" * 10), "no training nodes"),
    ("no-validation-nodes", _write("split.csv", "train\n" * 10 + "test\n" * 10), "no validation nodes"),
    ("split-unknown-word", _write("split.csv", "train\n" * 10 + "tset\n" + "valid\n" * 9),
     "line 11: 'tset' is not one of train, valid, test, none"),
    ("split-wrong-length", _write("split.csv", "train\n" * 10 + "valid\n" * 5), "15 lines for 20 nodes"),
    ("masks-overlap", lambda f: (_remove("split.csv")(f), _write("train_mask.npy", np.ones(20, bool))(f),
                                 _write("valid_mask.npy", np.arange(20) > 15)(f)),
     "4 node(s) are in both the train and the valid split"),
    ("mask-wrong-length", lambda f: (_remove("split.csv")(f), _write("train_mask.npy", np.ones(19, bool))(f),
                                     _write("valid_mask.npy", np.arange(20) > 15)(f)),
     "one true/false value per node (20 nodes); got shape (19,)"),
]


def _studies(db) -> list:
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT name FROM studies").fetchall()
    finally:
        con.close()


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, *capsys.readouterr()


def assert_user_error(code, err, phrase):
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert phrase.lower() in err.lower(), err


@pytest.mark.parametrize("case,make,phrase", BAD_GRAPHS, ids=[c[0] for c in BAD_GRAPHS])
def test_bad_graph_folder(capsys, tmp_path, monkeypatch, case, make, phrase):
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)
    folder = write_graph(tmp_path / "g")
    make(folder)
    db = tmp_path / "r.db"
    code, _, err = cli(capsys, "search", "--task", folder, *SEARCH, "--storage", f"sqlite:///{db}")
    assert_user_error(code, err, phrase)
    assert _studies(db) == []


@pytest.mark.parametrize("case,args,phrase", [
    ("graph-folder-missing", ["--task", "{tmp}/nothere/", "--space", "gnn"], "does not exist"),
    ("gnn-space-on-a-table", ["--task", "iris", "--space", "gnn"],
     "space 'gnn' does not fit task 'iris': the space builds graph neural networks and needs a graph task"),
    ("graph-task-on-mlp", ["--task", "mnist1d-knn", "--space", "mlp"],
     "space 'mlp' does not fit task 'mnist1d-knn': the task is a graph"),
])
def test_space_and_task_mismatch_and_missing_folder(capsys, tmp_path, monkeypatch, case, args, phrase):
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)
    db = tmp_path / "r.db"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = cli(capsys, "search", *args, "--steps", "5", "--trials", "1", "--top-k", "0", "--no-progress",
                       "--storage", f"sqlite:///{db}")
    assert_user_error(code, err, phrase)
    assert _studies(db) == []
