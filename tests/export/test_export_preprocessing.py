"""Preprocessing travels with the exported model (issue #17, part 3).

A tabular task standardises its inputs with the training part's statistics, and a regression trains on
the standardised target. The exported model (ONNX, TorchScript, state dict) and what ``archscout.load``
returns hold that preprocessing: they take the raw rows a user has and give the study's predictions, a
regression's in the target's own units, with the label names in the metadata.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from sklearn.datasets import load_diabetes, load_iris, load_wine

import archscout as asc
from archscout import ArchscoutError, Study
from archscout.cli import main
from archscout.export import ARCHITECTURE_KEY
from archscout.export.deploy import Deployed, deployable
from archscout.tasks import _stratified_split, from_arrays
from archscout.tasks.base import Preprocessing

FAST = {"steps": 100, "batch_size": 32}
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _outputs(model, X):
    with torch.inference_mode():
        return model(torch.as_tensor(X)).numpy()


def _raw_test(loader, kind: str = "classification"):
    """The held-out test rows of a built-in scikit-learn task, raw, as from_arrays splits them off (20 %, seed 0)."""
    data = loader()
    X, y = data.data.astype(np.float32), data.target
    if kind == "regression":
        y = y.astype(np.float64)
    _, held = _stratified_split(y, 0.2, 0, kind)
    return X[held], y[held]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('prep') / 'runs.db'}"


@pytest.fixture(scope="module")
def wine(db, tmp_path_factory):
    """A small wine study (INT8 accuracy measured too) and its best trial exported in every format with INT8."""
    study = Study("wine-mlp", space="mlp", task="wine", storage=db, train=FAST, strategy="random",
                  measure=["accuracy@int8"])
    study.search(trials=2)
    folder = tmp_path_factory.mktemp("wine") / "model"
    info = study.best().export(str(folder), formats="onnx,torchscript,state", int8=True)
    return study, folder, info


@pytest.fixture(scope="module")
def diabetes(db, tmp_path_factory):
    """A small diabetes (regression) study and its best trial exported in every format."""
    study = Study("diabetes-mlp", space="mlp", task="diabetes", storage=db, train=FAST, strategy="random")
    study.search(trials=1)
    folder = tmp_path_factory.mktemp("diabetes") / "model"
    info = study.best().export(str(folder), formats="onnx,torchscript,state")
    return study, folder, info


# -- the acceptance test: raw wine rows give the study's test accuracy ------------------------------

@pytest.mark.slow
def test_raw_wine_rows_give_the_stored_test_accuracy(wine):
    study, folder, info = wine
    X, y = _raw_test(load_wine)
    task = study.task
    assert np.array_equal(y, task.test.y)  # the same rows the final retraining was scored on
    np.testing.assert_allclose(task.preprocessing.raw_inputs(task.test.X), X, rtol=1e-5, atol=1e-3)
    stored = info["retrained"]["test_accuracy"]

    model = asc.load(folder)
    assert isinstance(model, Deployed) and model.kind == "classification" and model.classes == (0, 1, 2)
    predicted = _outputs(model, X).argmax(1)
    assert abs(float(np.mean(predicted == y)) - stored) <= 1e-6
    # ONNX Runtime and TorchScript on the same raw rows: the same predictions
    onnx_logits = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"input": X})[0]
    assert np.array_equal(onnx_logits.argmax(1), predicted)
    assert np.array_equal(_outputs(torch.jit.load(str(folder / "model.ts")), X).argmax(1), predicted)
    # the network alone would need standardised inputs: with them it predicts the same
    assert np.array_equal(_outputs(model.net, task.test.X).argmax(1), predicted)


def test_the_preprocessing_is_recorded_with_the_model(wine):
    study, folder, _ = wine
    doc = json.loads((folder / "architecture.json").read_text())
    prep = study.task.preprocessing
    assert doc["kind"] == "classification" and doc["classes"] == [0, 1, 2]
    assert doc["preprocessing"] == json.loads(json.dumps(prep.as_dict()))
    assert len(doc["preprocessing"]["input_mean"]) == 13 and doc["preprocessing"]["target_mean"] is None
    assert Preprocessing.from_dict(doc["preprocessing"]) == prep
    for name in ("model.onnx", "model.int8.onnx"):
        meta = {p.key: p.value for p in onnx.load(str(folder / name)).metadata_props}
        assert json.loads(meta[ARCHITECTURE_KEY]) == doc
    state = torch.load(folder / "model.pt", weights_only=True)
    assert {"standardise.mean", "standardise.std"} <= set(state) and all(
        k.startswith(("net.", "standardise.")) for k in state)
    np.testing.assert_array_equal(state["standardise.mean"].numpy(), np.asarray(prep.input_mean, np.float32))


def test_int8_is_calibrated_and_scored_on_raw_rows(wine):
    study, folder, info = wine
    q = info["int8"]
    trial = study.best()
    # the search's quantization: the same INT8 weights, and the INT8 test accuracy the final retraining stored
    assert q["size_bytes_int8"] == trial.metrics["size_bytes@int8"]
    assert q["preprocessing_bytes"] == 2 * 13 * 4
    assert q["test_accuracy_int8"] == pytest.approx(info["retrained"]["test_accuracy@int8"])
    assert q["test_accuracy_fp32"] == pytest.approx(info["retrained"]["test_accuracy"])
    X, y = _raw_test(load_wine)
    logits = ort.InferenceSession(str(folder / "model.int8.onnx")).run(None, {"input": X})[0]
    assert float(np.mean(logits.argmax(1) == y)) == pytest.approx(q["test_accuracy_int8"])
    # the input standardisation stays in fp32: raw features (proline near 1000, hue near 1) share no INT8 scale
    nodes = onnx.load(str(folder / "model.int8.onnx")).graph.node
    first = [n for n in nodes if "input" in n.input]
    assert [n.op_type for n in first] == ["Sub"]


# -- a regression: predictions in the target's units ------------------------------------------------

@pytest.mark.slow
def test_raw_diabetes_rows_give_the_stored_r2_in_target_units(diabetes):
    study, folder, info = diabetes
    X, y = _raw_test(load_diabetes, "regression")
    task = study.task
    np.testing.assert_allclose(task.preprocessing.raw_targets(task.test.y), y, rtol=1e-6)
    model = asc.load(folder)
    assert model.kind == "regression" and model.classes == ()
    pred = _outputs(model, X)
    assert pred.shape == (len(y), 1)
    pred = pred[:, 0].astype(np.float64)
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    stored = info["retrained"]
    assert r2 == pytest.approx(stored["test_r2"], abs=1e-5)
    assert np.mean((pred - y) ** 2) == pytest.approx(stored["test_mse"], rel=1e-5)
    assert abs(pred.mean() - y.mean()) < 0.5 * y.std()  # target units, not standardised values near 0
    sess = ort.InferenceSession(str(folder / "model.onnx"))
    assert [o.name for o in sess.get_outputs()] == ["prediction"]
    np.testing.assert_allclose(sess.run(None, {"input": X})[0][:, 0], pred, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(_outputs(torch.jit.load(str(folder / "model.ts")), X)[:, 0], pred, rtol=1e-5,
                               atol=1e-4)
    doc = json.loads((folder / "architecture.json").read_text())
    assert doc["kind"] == "regression" and doc["preprocessing"]["target_mean"] == task.preprocessing.target_mean


def test_cli_export_of_a_regression_prints_r2(capsys, diabetes, db, tmp_path):
    code, out, err = run(capsys, "export", "diabetes-mlp", "--storage", db, "--out", tmp_path, "--format", "onnx")
    assert code == 0, err
    retrained = json.loads((tmp_path / "metrics.json").read_text())["retrained"]
    assert "test_accuracy" not in retrained
    line = out.splitlines()[1]
    assert line.startswith(f"the model of its final retraining with seed 0: test R² {retrained['test_r2']:.4f} (MSE ")


def test_int8_export_of_a_regression_is_refused(capsys, diabetes, db, tmp_path):
    study, _, _ = diabetes
    message = "study 'diabetes-mlp' is a regression: --int8 exports an INT8 model judged by its accuracy"
    with pytest.raises(ArchscoutError, match=message):
        study.best().export(str(tmp_path / "py"), int8=True)
    code, _, err = run(capsys, "export", "diabetes-mlp", "--storage", db, "--out", tmp_path / "cli", "--int8")
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {message}")
    assert err.rstrip().endswith("export it without --int8")
    assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()


# -- label names, old exports, what needs no wrapping ----------------------------------------------

@pytest.mark.slow
def test_text_labels_are_the_loaded_models_classes(db, tmp_path):
    data = load_iris()
    names = np.asarray(data.target_names)[data.target]
    task = from_arrays(data.data, names, name="iris-names")
    study = Study("iris-names", space="mlp", task=task, storage=db, train={"steps": 20}, strategy="random")
    study.search(trials=1)
    study.best().export(str(tmp_path), formats="state")
    model = asc.load(tmp_path)
    assert model.classes == ("setosa", "versicolor", "virginica")
    assert json.loads((tmp_path / "architecture.json").read_text())["preprocessing"]["classes"] == list(model.classes)
    predicted = [model.classes[i] for i in _outputs(model, data.data.astype(np.float32)).argmax(1)]
    assert set(predicted) <= set(model.classes)


def test_an_export_in_the_old_layout_loads_as_before(wine, tmp_path):
    """An export written before preprocessing travelled with the model: architecture.json without
    ``preprocessing`` or ``kind``, model.pt the bare network's state dict. It loads as the bare network."""
    study, folder, info = wine
    doc = json.loads((folder / "architecture.json").read_text())
    old = {k: v for k, v in doc.items() if k not in ("preprocessing", "kind")}
    (tmp_path / "architecture.json").write_text(json.dumps(old))
    state = torch.load(folder / "model.pt", weights_only=True)
    torch.save({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}, tmp_path / "model.pt")
    model = asc.load(tmp_path)
    assert not isinstance(model, Deployed) and model.kind == "classification" and model.classes == (0, 1, 2)
    task = study.task
    predicted = _outputs(model, task.test.X).argmax(1)  # standardised inputs, as such an export expected
    assert float(np.mean(predicted == task.test.y)) == pytest.approx(info["retrained"]["test_accuracy"])
    # the new layout's model.pt does not fit the old layout's architecture.json, and says so
    torch.save(state, tmp_path / "model.pt")
    with pytest.raises(ArchscoutError, match=r"does not hold the weights .* unexpected: "):
        asc.load(tmp_path)


def test_a_damaged_preprocessing_entry_is_one_clear_error(wine, tmp_path):
    _, folder, _ = wine
    doc = json.loads((folder / "architecture.json").read_text())
    (tmp_path / "model.pt").write_bytes((folder / "model.pt").read_bytes())
    for edit, message in (({"input_mean": [0.0] * 3}, "preprocessing input_mean holds 3 values for inputs of shape "
                                                      r"\[13\]"),
                          ({"input_std": None}, "preprocessing gives input_mean without input_std"),
                          ({"kind": "ranking"}, "preprocessing kind 'ranking' is not one of")):
        (tmp_path / "architecture.json").write_text(json.dumps({**doc, "preprocessing": {**doc["preprocessing"],
                                                                                           **edit}}))
        with pytest.raises(ArchscoutError, match=r"not a readable architecture file \(ValueError: " + message):
            asc.load(tmp_path)


def test_nothing_to_do_leaves_the_network_as_it_is():
    net = torch.nn.Linear(4, 3)
    assert deployable(net, None) is net
    assert deployable(net, Preprocessing()) is net  # inputs as given, a classification: graphs, images, Datasets
    wrapped = deployable(net, Preprocessing("classification", (1.0,) * 4, (2.0,) * 4), (4,))
    x = torch.randn(5, 4)
    with torch.inference_mode():
        torch.testing.assert_close(wrapped(x), net((x - 1.0) / 2.0))
    regression = deployable(torch.nn.Linear(4, 1), Preprocessing("regression", None, None, 10.0, 3.0), (4,))
    assert isinstance(regression.standardise, torch.nn.Identity)
    with torch.inference_mode():
        torch.testing.assert_close(regression(x), regression.net(x) * 3.0 + 10.0)
