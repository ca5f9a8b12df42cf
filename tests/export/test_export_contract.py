"""Every built-in task's transform travels with the exported model (issue 29, part 1 item 1).

For every task in the registry (a new one is covered, or this test says what it lacks), a quickly trained
model is exported and run on the task's test inputs as its source gives them, before any scaling: its
metric there must be the test metric the study stored. The raw inputs are read here from the source
(scikit-learn's loaders, MNIST-1D's generator), never through the task's own preprocessing, so a transform
the task applies and the export leaves out is caught.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import archscout as asc
from archscout import Study
from archscout.tasks import TASKS, _stratified_split
from archscout.tasks.graphs import KNN_PARTS

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")]

FAST = {"steps": 60, "batch_size": 32}


def _sklearn_test(loader: str, kind: str = "classification", images: bool = False):
    """The test rows a built-in scikit-learn task holds out (20 %, seed 0), as the loader gives them."""
    import sklearn.datasets as ds

    data = getattr(ds, loader)()
    X = (data.images[:, None] if images else data.data).astype(np.float32)
    y = data.target.astype(np.float64) if kind == "regression" else data.target
    _, held = _stratified_split(y, 0.2, 0, kind)
    return X[held], y[held]


def _mnist1d_raw():
    from mnist1d.data import get_dataset_args, make_dataset

    return make_dataset(get_dataset_args())


def _mnist1d_test():
    d = _mnist1d_raw()
    return d["x_test"].astype(np.float32)[:, None, :], d["y_test"]


def _mnist1d_hard_test():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    for key, value in {"iid_noise_scale": 0.05, "corr_noise_scale": 0.35, "shear_scale": 0.9, "seed": 7}.items():
        setattr(args, key, value)  # the generator's own arguments, as the task documents them (tasks/builtin.py)
    d = make_dataset(args)
    return d["x_test"].astype(np.float32)[:, None, :], d["y_test"]


def _mnist1d_knn_graph():
    """The graph's node features from MNIST-1D as generated: mnist1d's train / validation split (10 %, seed 1)
    and its test part, the first KNN_PARTS of each."""
    d = _mnist1d_raw()
    X, y = d["x"].astype(np.float32), d["y"]
    train, valid = _stratified_split(y, 0.1, 1)
    parts = [(X[train], y[train], KNN_PARTS["train"]), (X[valid], y[valid], KNN_PARTS["valid"]),
             (d["x_test"].astype(np.float32), d["y_test"], KNN_PARTS["test"])]
    x = np.concatenate([p[:k] for p, _, k in parts])
    labels = np.concatenate([t[:k] for _, t, k in parts])
    test = np.arange(len(x)) >= KNN_PARTS["train"] + KNN_PARTS["valid"]
    return x, labels, test


# how to read each built-in task's raw test inputs from its source, and the space to search it in
RAW = {
    "mnist1d": ("conv1d", _mnist1d_test),
    "mnist1d-hard": ("conv1d", _mnist1d_hard_test),
    "digits": ("mlp", lambda: _sklearn_test("load_digits", images=True)),
    "iris": ("mlp", lambda: _sklearn_test("load_iris")),
    "wine": ("mlp", lambda: _sklearn_test("load_wine")),
    "breast_cancer": ("mlp", lambda: _sklearn_test("load_breast_cancer")),
    "diabetes": ("mlp", lambda: _sklearn_test("load_diabetes", "regression")),
    "mnist1d-knn": ("gnn", _mnist1d_knn_graph),
}


def test_every_built_in_task_says_where_its_raw_inputs_come_from():
    missing = sorted(set(TASKS.names()) - set(RAW))
    assert not missing, f"add the raw test inputs of {missing} to RAW: the export contract must cover them"


def _export(name: str, space: str, tmp_path, evaluator: str = "train"):
    study = Study(f"{name}-contract", space=space, task=name, storage=f"sqlite:///{tmp_path / 'runs.db'}",
                  train=FAST, final_train=FAST, strategy="random", evaluator=evaluator)
    study.search(trials=1)
    info = study.best().export(str(tmp_path / "model"), formats="onnx,torchscript,state")
    return asc.load(tmp_path / "model"), info


@pytest.mark.parametrize("name", sorted(TASKS.names()))
def test_the_exported_model_on_raw_test_inputs_gives_the_stored_test_metric(name, tmp_path):
    if name not in RAW:
        pytest.fail(f"no raw test inputs known for the built-in task {name!r}")
    space, raw = RAW[name]
    model, info = _export(name, space, tmp_path)
    stored = info["retrained"]
    with torch.inference_mode():
        if space == "gnn":
            x, y, test = raw()
            task = asc.tasks.get(name)
            out = model(torch.as_tensor(x), torch.as_tensor(task.edge_index)).numpy()
            assert float(np.mean(out.argmax(1)[test] == y[test])) == pytest.approx(stored["test_accuracy"], abs=1e-6)
            return
        X, y = raw()
        out = model(torch.as_tensor(X)).numpy()
    if "test_r2" in stored:
        pred = out[:, 0].astype(np.float64)
        r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
        assert r2 == pytest.approx(stored["test_r2"], abs=1e-5)
    else:
        assert float(np.mean(out.argmax(1) == y)) == pytest.approx(stored["test_accuracy"], abs=1e-6)


def test_a_user_evaluator_study_of_digits_exports_a_model_for_raw_pixels(tmp_path):
    """The issue's second figure: a user's training loop on digits (61.3 % on raw rows against a stored 95.3 %)."""
    model, info = _export("digits", "mlp", tmp_path, evaluator="tests/contract_user_evaluator.py:short_training")
    X, y = _sklearn_test("load_digits", images=True)
    with torch.inference_mode():
        predicted = model(torch.as_tensor(X)).numpy().argmax(1)
    assert float(np.mean(predicted == y)) == pytest.approx(info["retrained"]["test_accuracy"], abs=1e-6)
