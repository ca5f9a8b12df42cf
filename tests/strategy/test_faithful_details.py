"""Details that must be true to what is built and measured: GNN identity follows archscout's builder, the final
retraining times latency as the search did, INT8 calibration sees every class."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

import archscout.cost.quantize as quantize
from archscout.cost.quantize import calibration_indices
from archscout.evaluate import CALIBRATION_SAMPLES, LatencyConfig, TrainConfig, make_evaluator
from archscout.evaluate.tables.nas_bench_graph import NasBenchGraphEvaluator, space_for
from archscout.space import benchmark_key, get_space
from archscout.space.gnn import LINKS, NODES, OPS
from archscout.space.gnn_build import build_gnn
from archscout.tasks import from_arrays, from_graph


def _values(link: str, ops) -> dict:
    return {"link": link, **dict(zip(NODES, ops))}


@pytest.fixture
def one_thread():
    """PyTorch on one thread, so a latency measured on two shows that the configured count was used."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- GNN identity follows the builder ------------------------------------------------------------

def _function(values: dict) -> str:
    """What the gnn builder computes, up to the names of its parameters: the tree of operator nodes over the
    pre-processed input (a skip passes on what it is fed) and how often each node's output is summed into the
    classifier's input, written canonically (children sorted)."""
    parents = [int(p) for p in values["link"].split("-")]
    ops = [values[n] for n in NODES]
    source = [0]  # the operator node (0: the pre-processing layer) whose output node v passes on
    for v in range(1, 5):
        source.append(source[parents[v - 1]] if ops[v - 1] == "skip" else v)
    children: dict[int, list[int]] = {u: [] for u in range(5)}
    for v in range(1, 5):
        if ops[v - 1] != "skip":
            children[source[parents[v - 1]]].append(v)
    summed = Counter(source[v] for v in range(1, 5) if v not in parents)

    def write(u: int) -> str:
        label = "pre" if u == 0 else ops[u - 1]
        return f"{label}*{summed[u]}(" + ",".join(sorted(write(c) for c in children[u])) + ")"

    return write(0)


@pytest.mark.slow
def test_two_choices_share_an_architecture_exactly_when_the_builder_computes_the_same_network():
    space = get_space("gnn")
    function_of: dict[str, str] = {}
    id_of: dict[str, str] = {}
    for link in LINKS:
        for combo in itertools.product(OPS, repeat=4):
            if all(op == "skip" for op in combo):
                continue
            values = _values(link, combo)
            arch, f = space.architecture(values), _function(values)
            assert function_of.setdefault(arch.id, f) == f, (values, arch.values)  # one id, one network
            assert id_of.setdefault(f, arch.id) == arch.id, (values, arch.values)  # one network, one id
    assert len(id_of) == len(space.enumerate()) == 27934


def _logits(arch, x, edge_index):
    torch.manual_seed(0)
    model = arch.build((x.shape[1],), 3).eval()
    with torch.no_grad():
        return model, model(x, edge_index)


def test_a_skip_leaf_on_the_input_is_a_residual_of_the_builder_not_of_the_benchmark():
    space = get_space("gnn")
    residual = space.architecture(_values("0-0-0-0", ["skip", "gcn", "sage", "fc"]))
    # the benchmark's form: the skip moved in front of the input, where it feeds gcn, sage and fc
    table_form = space.architecture(_values("0-1-1-1", ["skip", "gcn", "sage", "fc"]))
    assert table_form.values == _values("0-1-1-1", ["skip", "gcn", "sage", "fc"])
    assert benchmark_key(residual) == benchmark_key(table_form)  # one row of the table
    assert residual != table_form and residual.id != table_form.id  # two networks here

    torch.manual_seed(1)
    x, edge_index = torch.randn(12, 8), torch.randint(0, 12, (2, 40))
    # the same seed gives gcn, sage and fc the same weights in both: what differs is the skip leaf
    model, with_skip = _logits(residual, x, edge_index)
    _, without = _logits(table_form, x, edge_index)
    with torch.no_grad():
        residual_term = model.pre(x) @ model.classifier.weight.T
    assert torch.allclose(with_skip - without, residual_term, atol=1e-5)
    assert (with_skip - without).abs().max() > 0.1


def test_choices_the_builder_treats_alike_are_one_architecture_and_one_network():
    space = get_space("gnn")
    # node 1, a skip, feeds node 4 (fc): node 4 then reads the input's features, as gcn and sage do
    choices = [_values(link, ["skip", "gcn", "sage", "fc"]) for link in ("0-0-0-1", "0-1-1-1")]
    a, b = (space.architecture(v) for v in choices)
    assert a == b and a.id == b.id
    c = space.architecture(_values("0-0-0-0", ["fc", "skip", "sage", "gcn"]))  # siblings in another order
    assert c == space.architecture(_values("0-0-0-0", ["gcn", "sage", "fc", "skip"])) != a

    torch.manual_seed(1)
    x, edge_index = torch.randn(12, 8), torch.randint(0, 12, (2, 40))
    outputs = []
    for values in choices:  # the networks of the choices as given, not of their canonical form
        torch.manual_seed(0)
        model = build_gnn(values, (8,), 3).eval()
        with torch.no_grad():
            outputs.append(model(x, edge_index))
    assert torch.allclose(outputs[0], outputs[1], atol=1e-6)


def test_the_table_space_keeps_the_benchmarks_form_and_answers_every_form_from_its_row():
    residual = get_space("gnn").architecture(_values("0-0-0-0", ["skip", "gcn", "sage", "fc"]))
    table_space = space_for("cora")
    table_form = table_space.architecture(residual.values)
    assert table_form.values == _values("0-1-1-1", ["skip", "gcn", "sage", "fc"])
    assert table_space.contains(table_form) and not table_space.contains(residual)
    lookup = NasBenchGraphEvaluator("cora").lookup
    assert lookup(residual) == lookup(table_form)


def test_architectures_stored_in_the_benchmark_form_read_back_with_their_ids():
    """Studies stored before the builder form hold benchmark-form architectures; each is also in builder form,
    with the same values and id, so their trials are found again on resume."""
    built = get_space("gnn-proteins")
    for arch in space_for("proteins").enumerate():
        again = built.architecture(arch.values)
        assert again.values == arch.values and again.id == arch.id


# -- the final retraining times latency as the search did ----------------------------------------

def test_the_final_retraining_measures_latency_on_the_configured_threads(one_thread):
    rng = np.random.default_rng(0)
    task = from_arrays(rng.standard_normal((120, 6)), np.arange(120) % 3, name="tiny")
    ev = make_evaluator("train", task, TrainConfig(steps=2, batch_size=32),
                        LatencyConfig(warmup=1, repeats=3, threads=2))
    arch = get_space("mlp").sample(0)
    search = ev.evaluate(arch, seed=0).details["latency"]
    final, _ = ev.final(arch, 0, TrainConfig(steps=2, batch_size=32))
    assert search["threads"] == final.details["latency"]["threads"] == 2


def test_graph_latency_is_measured_on_the_configured_threads(one_thread):
    from torch_geometric.data import Data

    n = 30
    torch.manual_seed(0)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    task = from_graph(Data(x=torch.randn(n, 5), edge_index=ring, y=torch.arange(n) % 3), name="ring")
    ev = make_evaluator("train", task, TrainConfig(steps=2), LatencyConfig(warmup=1, repeats=3, threads=2))
    arch = get_space("gnn").architecture(_values("0-0-0-0", ["gcn", "fc", "skip", "skip"]))
    search = ev.evaluate(arch, seed=0).details["latency"]
    final, _ = ev.final(arch, 0, TrainConfig(steps=2))
    assert search["threads"] == final.details["latency"]["threads"] == 2


# -- INT8 calibration is a stratified random subset ----------------------------------------------

def test_calibration_of_class_sorted_data_covers_every_class_in_proportion():
    y = np.repeat(np.arange(10), [400, 200, 100, 100, 50, 50, 40, 30, 20, 10])  # sorted by class
    picked = calibration_indices(y, 256, seed=3)
    assert len(picked) == len(set(picked.tolist())) == 256
    share = np.bincount(y[picked], minlength=10) / 256
    assert (share > 0).all()
    assert np.abs(share - np.bincount(y) / len(y)).max() <= 1 / 256 + 1e-9
    assert (calibration_indices(y, 256, seed=3) == picked).all()  # reproducible from the seed
    assert not (calibration_indices(y, 256, seed=4) == picked).all()
    # more classes than samples: one each from as many classes, none twice
    many = np.repeat(np.arange(300), 2)
    assert len(set(many[calibration_indices(many, 256)].tolist())) == 256
    # rare classes keep one sample each, the others share the rest in proportion
    rare = np.repeat(np.arange(60), [1] * 20 + [50] * 40)
    counts = np.bincount(rare[calibration_indices(rare, 256)], minlength=60)
    assert (counts[:20] == 1).all() and counts[20:].min() >= 5 and counts.sum() == 256


def test_calibration_of_regression_targets_is_a_plain_random_subset():
    y = np.linspace(0.0, 1.0, 1000)  # sorted targets: the first samples would be the smallest
    picked = calibration_indices(y, 256, seed=0)
    assert len(set(picked.tolist())) == 256 and (calibration_indices(y, 256, seed=0) == picked).all()
    assert y[picked].max() > 0.9 and y[picked].min() < 0.1
    assert (calibration_indices(y[:100], 256) == np.arange(100)).all()  # no more samples than asked: all


def test_int8_measurement_calibrates_on_every_class_of_class_sorted_training_data(monkeypatch):
    """The evaluator's quantization calibrates on a class-stratified subset: with training data sorted by class,
    the first 256 samples would hold 3 of the 10 classes."""
    n_classes, per_class = 10, 100
    y = np.repeat(np.arange(n_classes), per_class)
    X = np.zeros((len(y), 4), dtype=np.float32)
    X[:, 0] = y  # a sample says its class
    task = from_arrays(X, y, X_test=X[:20], y_test=y[:20], val_fraction=0.1, standardize=False, name="sorted")
    order = np.argsort(task.train.y, kind="stable")
    task = type(task)(task.name, type(task.train)(task.train.X[order], task.train.y[order]), task.valid,
                      task.test, task.num_classes)
    assert len(np.unique(task.train.y[:CALIBRATION_SAMPLES])) <= 3

    seen = []
    real = quantize.quantize_int8

    def recording(model_bytes, calibration, **kwargs):
        seen.append(np.array(calibration))
        return real(model_bytes, calibration, **kwargs)

    monkeypatch.setattr(quantize, "quantize_int8", recording)
    ev = make_evaluator("train", task, TrainConfig(steps=1), LatencyConfig(warmup=0, repeats=1),
                        metrics=["size_bytes@int8"])
    arch = get_space("mlp").sample(0)
    for _ in range(2):
        ev.evaluate(arch, seed=0)
    assert len(seen) == 2 and len(seen[0]) == CALIBRATION_SAMPLES
    assert sorted(np.unique(seen[0][:, 0]).astype(int).tolist()) == list(range(n_classes))
    assert np.array_equal(seen[0], seen[1])  # every candidate calibrates on the same samples


def test_a_study_on_the_table_never_looks_one_row_up_twice(tmp_path):
    from archscout.space import benchmark_key
    from archscout.study import Study

    study = Study("rows", evaluator="nas-bench-graph:cora", strategy="random", storage=f"sqlite:///{tmp_path}/r.db")
    assert study.space is space_for("cora")
    study.run(trials=300)
    keys = [benchmark_key(t.arch) for t in study.trials("complete")]
    assert len(keys) == 300 and len(set(keys)) == 300
    assert Study.load("rows", f"sqlite:///{tmp_path}/r.db").space is space_for("cora")
