"""Export (ONNX, TorchScript, state dict, INT8) and reload with archscout.load (issue #7).

Three tiny iris studies are searched once for the module: ``q8`` measures accuracy@int8, ``plain``
measures no INT8 variant and holds infeasible (params <= 3000), failed (a 1 MB memory limit) and,
added through the Storage API, running and interrupted trials; a graph study on a 30-node ring.
"""
from __future__ import annotations

import io
import json
import os
import types

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import archscout as asc
from archscout import ArchscoutError, Study
from archscout.cli import main
from archscout.export import ARCHITECTURE_KEY, export_trial, measured_int8
from archscout.storage import PROCESS_DIED

FAST = {"steps": 15, "batch_size": 32}
# PyTorch deprecates TorchScript (torch.jit.load here, torch.jit.script when PyG is imported); it still works
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('export') / 'runs.db'}"


@pytest.fixture(scope="module")
def q8(db):
    """A study that measured the INT8 variant of every trial (accuracy@int8)."""
    study = Study("q8", space="mlp", task="iris", storage=db, train=FAST, strategy="random",
                  measure=["accuracy@int8"])
    study.search(trials=2)
    return study


@pytest.fixture(scope="module")
def plain(db):
    """No INT8 measured; trials complete, infeasible (params <= 3000), failed (1 MB memory limit), and a
    running and an interrupted one written through the Storage API."""
    study = Study("plain", space="mlp", task="iris", storage=db, train=FAST, strategy="random",
                  constraints=["params <= 3000"])
    study.search(trials=6)
    study.search(trials=9, trial_memory_mb=1, max_failures=0)  # feasible candidates now fail
    budget = study.train_config.budget_key()
    tried = {t.arch.id for t in study.trials()}
    archs = [a for a in dict.fromkeys(study.space.sample(seed) for seed in range(1000, 1100)) if a.id not in tried][:2]
    study.storage.start_trial(study.id, archs[0].id, archs[0].to_json(), budget, 0)
    stopped = study.storage.start_trial(study.id, archs[1].id, archs[1].to_json(), budget, 0)
    study.storage.interrupt_trials([stopped.id], f"{PROCESS_DIED} (noticed at 2024-01-01 00:00:00)")
    statuses = {t.status for t in study.trials()}
    assert {"complete", "infeasible", "failed", "running", "interrupted"} <= statuses, statuses
    return study


@pytest.fixture(scope="module")
def exported(q8, tmp_path_factory):
    """The best q8 trial exported in every format, and the retrained PyTorch model it came from with the task's
    input standardisation (what every exported file computes: it takes raw inputs)."""
    from archscout.export.deploy import deployable

    trial = q8.best()
    folder = tmp_path_factory.mktemp("all") / "model"
    info = trial.export(str(folder), formats=["onnx", "torchscript", "state"])
    model = trial.build()
    model.load_state_dict(torch.load(io.BytesIO(q8.final_weights(trial, 0)), weights_only=True))
    return folder, info, deployable(model, q8.task.preprocessing, q8.task.input_shape).eval()


def _raw(study, X):
    """A task's (standardised) inputs in the raw units an exported model takes."""
    return study.task.preprocessing.raw_inputs(X)


def _outputs(model, X):
    with torch.inference_mode():
        return model(torch.as_tensor(X)).numpy()


# -- formats -------------------------------------------------------------------------------------

@pytest.mark.parametrize("formats,files", [
    ("onnx", ["model.onnx"]),
    ("torchscript", ["model.ts"]),
    ("state", ["model.pt"]),
    ("onnx,torchscript,state", ["model.onnx", "model.ts", "model.pt"]),
    ("state,onnx", ["model.onnx", "model.pt"]),
], ids=["onnx", "torchscript", "state", "all", "state-and-onnx"])
@pytest.mark.slow
def test_each_format_alone_and_together(q8, tmp_path, formats, files):
    out = tmp_path / "m"
    info = q8.best().export(str(out), formats=formats)
    expected = files + ["architecture.json", "metrics.json"]
    assert info["files"] == expected and sorted(os.listdir(out)) == sorted(expected)
    assert info["formats"] == [f for f in ("onnx", "torchscript", "state") if f in formats.split(",")]
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(info, default=float))
    assert ("onnx_max_abs_diff" in info) == ("onnx" in formats)
    assert ("torchscript_max_abs_diff" in info) == ("torchscript" in formats)
    if "onnx" in formats:
        assert info["onnx_max_abs_diff"] < 1e-4
    if "torchscript" in formats:
        assert info["torchscript_max_abs_diff"] < 1e-5
    doc = json.loads((out / "architecture.json").read_text())
    assert doc["space"] == "mlp" and doc["input_shape"] == [4] and doc["num_classes"] == 3


def test_reexport_replaces_the_model_files_of_an_earlier_export(q8, tmp_path):
    trial = q8.best()
    trial.export(str(tmp_path), formats="onnx,torchscript,state")
    trial.export(str(tmp_path), formats="state")
    assert sorted(os.listdir(tmp_path)) == ["architecture.json", "metrics.json", "model.pt"]


def test_onnx_runtime_matches_pytorch_and_carries_the_architecture(exported, q8):
    folder, info, model = exported
    X = _raw(q8, q8.task.valid.X)
    got = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"input": X})[0]
    np.testing.assert_allclose(got, _outputs(model, X), atol=1e-4)
    assert info["onnx_max_abs_diff"] < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(folder / "model.onnx")).metadata_props}
    assert json.loads(meta[ARCHITECTURE_KEY]) == json.loads((folder / "architecture.json").read_text())


def test_torchscript_reloads_and_matches_pytorch(exported, q8):
    folder, info, model = exported
    X = _raw(q8, q8.task.valid.X)
    ts = torch.jit.load(str(folder / "model.ts"))
    np.testing.assert_allclose(_outputs(ts, X), _outputs(model, X), atol=1e-6)
    assert info["torchscript_max_abs_diff"] < 1e-5
    assert list(ts.state_dict()) == list(model.state_dict())  # what load() reads from it


# -- archscout.load ---------------------------------------------------------------------------------

def test_archscout_load_is_the_model_loader():
    from archscout import export
    assert asc.load is export.load and asc.load_model is export.load


@pytest.mark.parametrize("name", [None, "model.pt", "model.ts", "model.onnx", "architecture.json"])
def test_load_from_the_folder_and_from_each_file(exported, q8, name):
    folder, _, model = exported
    loaded = asc.load(folder if name is None else folder / name)
    assert isinstance(loaded, torch.nn.Module) and not loaded.training
    X = _raw(q8, q8.task.valid.X)
    np.testing.assert_allclose(_outputs(loaded, X), _outputs(model, X), atol=1e-6)


def test_load_from_a_torchscript_only_export(q8, tmp_path, exported):
    _, _, model = exported
    q8.best().export(str(tmp_path), formats="torchscript")
    X = _raw(q8, q8.task.valid.X)
    np.testing.assert_allclose(_outputs(asc.load(str(tmp_path)), X), _outputs(model, X), atol=1e-6)


def test_load_of_an_onnx_only_export_says_to_use_onnx_runtime(q8, tmp_path):
    q8.best().export(str(tmp_path), formats="onnx")
    with pytest.raises(ArchscoutError, match=r"holds only ONNX \(model.onnx\), which runs with ONNX Runtime.*"
                                             r"export with --format state or torchscript"):
        asc.load(str(tmp_path))


def test_load_of_what_is_not_an_export_is_one_clear_error(tmp_path, exported):
    folder, _, _ = exported
    (tmp_path / "notes.txt").write_text("hello")
    cases = [(tmp_path / "nothere", "no export at '.*nothere': the path does not exist"),
             (tmp_path, "is not an archscout export: architecture.json is missing"),
             (tmp_path / "notes.txt", "is not a file of an archscout export; give the export folder")]
    for path, message in cases:
        with pytest.raises(ArchscoutError, match=message):
            asc.load(path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "architecture.json").write_text((folder / "architecture.json").read_text())
    (broken / "model.pt").write_bytes(b"not a state dict")
    with pytest.raises(ArchscoutError, match=r"model.pt' is damaged or not a PyTorch state dict \(UnpicklingError"):
        asc.load(broken)
    (broken / "model.pt").unlink()
    (broken / "model.ts").write_bytes((folder / "model.ts").read_bytes()[:200])
    with pytest.raises(ArchscoutError, match=r"model.ts' is damaged or not a TorchScript file"):
        asc.load(broken)
    torch.save({"w": torch.zeros(2)}, broken / "model.pt")
    with pytest.raises(ArchscoutError, match=r"does not hold the weights of the architecture in architecture.json "
                                             r"\(\d+ missing: .*; 1 unexpected: w\)"):
        asc.load(broken)
    (broken / "architecture.json").write_text("{not json")
    with pytest.raises(ArchscoutError, match="architecture.json' is not a readable architecture file"):
        asc.load(broken)
    for f in ("model.pt", "model.ts"):
        (broken / f).unlink(missing_ok=True)
    (broken / "architecture.json").write_text((folder / "architecture.json").read_text())
    with pytest.raises(ArchscoutError, match="holds no model weights: model.pt, model.ts and model.onnx are all "
                                             "missing"):
        asc.load(broken)
    doc = json.loads((folder / "architecture.json").read_text())
    (broken / "architecture.json").write_text(json.dumps({**doc, "space": "mine"}))
    with pytest.raises(ArchscoutError, match=r"holds an architecture of the space 'mine', which is not built in; for "
                                             r"a space of your own pass its Space object: load\(path, space=...\)"):
        asc.load(broken)
    for edit in ({"num_classes": -1}, {"input_shape": []}):
        (broken / "architecture.json").write_text(json.dumps({**doc, **edit}))
        with pytest.raises(ArchscoutError, match=r"not a readable architecture file \(ValueError: input_shape .* "
                                                 r"must be positive\)"):
            asc.load(broken)


def test_a_model_torchscript_cannot_express_is_reported_not_raised(capsys, q8, db, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    monkeypatch.setattr(torch.jit, "script", refuse)
    code, out, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path, "--format", "torchscript,state")
    assert code == 0, err
    assert "no TorchScript file: RuntimeError: tracing failed (RuntimeError: unsupported operator); scripting " \
           "failed (RuntimeError: unsupported operator)" in out
    info = json.loads((tmp_path / "metrics.json").read_text())
    assert info["torchscript_max_abs_diff"] is None and "unsupported operator" in info["torchscript_error"]
    assert sorted(os.listdir(tmp_path)) == ["architecture.json", "metrics.json", "model.pt"]


# -- INT8 -------------------------------------------------------------------------------------------

def test_int8_export_of_a_study_that_measured_int8(capsys, q8, db, tmp_path):
    trial = q8.best()
    code, out, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path, "--format", "onnx", "--int8")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["architecture.json", "metrics.json", "model.int8.onnx", "model.onnx"]
    assert "ONNX Runtime matches PyTorch within" in out
    assert "INT8 (model.int8.onnx) in ONNX Runtime: accuracy" in out and "fp32 on validation data" in out
    q = json.loads((tmp_path / "metrics.json").read_text())["int8"]
    for key in ("accuracy_fp32", "accuracy_int8", "test_accuracy_fp32", "test_accuracy_int8"):
        assert 0.0 <= q[key] <= 1.0
    assert q["accuracy_fp32"] > 0.5 and q["quantized_nodes"] >= 1
    # the same quantization as the search measured: the same stored INT8 size, and the retrained network's
    # INT8 test accuracy that the final retraining stored
    assert q["size_bytes_int8"] == trial.metrics["size_bytes@int8"] < q["size_bytes_fp32"]
    retrained = json.loads((tmp_path / "metrics.json").read_text())["retrained"]
    assert q["test_accuracy_int8"] == pytest.approx(retrained["test_accuracy@int8"])
    sess = ort.InferenceSession(str(tmp_path / "model.int8.onnx"))
    X = q8.task.valid.X
    assert sess.run(None, {"input": X})[0].shape == (len(X), 3)
    meta = {p.key for p in onnx.load(str(tmp_path / "model.int8.onnx")).metadata_props}
    assert ARCHITECTURE_KEY in meta


def test_int8_export_without_the_onnx_format(q8, tmp_path):
    info = q8.best().export(str(tmp_path), formats="state", int8=True)
    assert info["files"] == ["model.int8.onnx", "model.pt", "architecture.json", "metrics.json"]
    assert info["int8"]["accuracy_int8"] >= 0.0


@pytest.mark.slow
def test_int8_export_is_refused_for_a_study_that_never_measured_int8(capsys, plain, db, tmp_path):
    message = "study 'plain' never measured an INT8 variant"
    with pytest.raises(ArchscoutError, match=message + r".*--measure accuracy@int8, or a -quant space"):
        plain.best().export(str(tmp_path / "py"), int8=True)
    code, _, err = run(capsys, "export", "plain", "--storage", db, "--out", tmp_path / "cli", "--int8")
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {message}")
    assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()


def test_which_studies_measured_int8(db, q8, plain):
    assert measured_int8(q8) and not measured_int8(plain)
    assert measured_int8(Study("quant", space="mlp-quant", task="iris", storage=db, train=FAST))
    assert measured_int8(Study("size8", space="mlp", task="iris", storage=db, train=FAST,
                               constraints=["size_bytes@int8 <= 100000"]))


# -- trials that cannot be exported ----------------------------------------------------------------

@pytest.mark.parametrize("status,message", [
    ("failed", r"trial #\d+ did not complete \(failed\): exceeded the per-trial memory limit of 1 MB \(process RSS "
               r"[\d,]+ MB\); a failed trial has no trained model to export: pick a completed trial \(archscout show "
               r"plain lists them\)"),
    ("infeasible", r"trial #\d+ did not complete \(infeasible\): params = [\d,]+ violates params <= 3000; it breaks "
                   r"a constraint of the study, so it was never retrained and there is no model to export: pick a "
                   r"completed trial \(archscout show plain lists them\)"),
    ("interrupted", r"trial #\d+ did not complete \(interrupted\): the process running this trial stopped \(noticed "
                    r"at 2024-01-01 00:00:00\); its evaluation stopped before it finished, so there is no model to "
                    r"export: resuming the search evaluates it again"),
    ("running", r"trial #\d+ has not completed: it is still running, so there is no model to export yet; export "
                r"it once it completes"),
], ids=["failed", "infeasible", "interrupted", "running"])
def test_a_trial_that_did_not_complete_is_not_exported(capsys, plain, db, tmp_path, status, message):
    trial = next(t for t in plain.trials() if t.status == status)
    finals = len(plain.storage.finals(plain.id))
    with pytest.raises(ArchscoutError, match=message) as python:
        trial.export(str(tmp_path / "py"))
    code, _, err = run(capsys, "export", "plain", "--trial", trial.number, "--storage", db, "--out", tmp_path / "cli")
    assert code == 2 and err == f"error: {python.value}\n"  # the same message from the command line
    assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()
    assert len(plain.storage.finals(plain.id)) == finals  # nothing retrained


def test_unknown_or_empty_format_lists_the_valid_ones(capsys, q8, db, tmp_path):
    with pytest.raises(ArchscoutError, match=r"unknown export format 'onx'. Did you mean 'onnx'\? Valid export "
                                             r"formats: onnx, state, torchscript."):
        q8.best().export(str(tmp_path / "py"), formats=["onx"])
    with pytest.raises(ArchscoutError, match="give at least one export format: onnx, torchscript, state"):
        export_trial(q8, q8.best(), str(tmp_path / "py"), formats=[])
    code, _, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path / "cli", "--format", "onnx,pt")
    assert code == 2 and err.startswith("error: unknown export format 'pt'") and err.count("\n") == 1
    code, _, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path / "cli", "--format", ",")
    assert code == 2 and err == "error: give at least one export format: onnx, torchscript, state\n"
    assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()


def test_cli_export_prints_each_check(capsys, q8, db, tmp_path):
    code, out, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path, "--format",
                         "onnx,torchscript,state", "--trial", q8.best().number)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"exported trial #{q8.best().number} (") and lines[0].endswith(
        "model.onnx, model.ts, model.pt, architecture.json, metrics.json")
    test = json.loads((tmp_path / "metrics.json").read_text())["retrained"]["test_accuracy"]
    assert lines[1] == f"the model of its final retraining with seed 0: test accuracy {100 * test:.2f} %"
    assert lines[2].startswith("ONNX Runtime matches PyTorch within")
    assert lines[3].startswith("TorchScript reloaded matches PyTorch within") and len(lines) == 4


# -- graph networks ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ring(db):
    from archscout.tasks import from_graph

    rng = np.random.default_rng(0)
    n = 30
    src = np.arange(n)
    edges = np.stack([np.concatenate([src, [0, 5]]), np.concatenate([(src + 1) % n, [15, 20]])])
    data = types.SimpleNamespace(x=rng.normal(size=(n, 5)).astype(np.float32), edge_index=edges, y=src % 2)
    study = Study("ring", space="gnn", task=from_graph(data, name="ring"), storage=db, train={"steps": 5},
                  strategy="random")
    study.search(trials=1)
    return study


@pytest.mark.slow
def test_a_graph_network_exports_to_torchscript_and_reloads(ring, tmp_path):
    info = ring.best().export(str(tmp_path), formats="onnx,torchscript,state")
    assert info["files"] == ["model.onnx", "model.ts", "model.pt", "architecture.json", "metrics.json"], info
    assert info["onnx_max_abs_diff"] < 1e-4 and info["torchscript_max_abs_diff"] < 1e-5
    x, edge_index = torch.from_numpy(ring.task.x), torch.from_numpy(ring.task.edge_index)
    with torch.inference_mode():
        ref = asc.load(tmp_path)(x, edge_index)
        np.testing.assert_allclose(asc.load(tmp_path / "model.ts")(x, edge_index), ref, atol=1e-6)
        np.testing.assert_allclose(torch.jit.load(str(tmp_path / "model.ts"))(x, edge_index), ref, atol=1e-5)


def test_a_graph_network_is_not_quantized(ring, tmp_path):
    with pytest.raises(ArchscoutError, match=r"trial #0 of study 'ring' is a graph network: graph networks are not "
                                             r"quantized to INT8; export it without --int8"):
        ring.best().export(str(tmp_path / "g"), int8=True)
    assert not (tmp_path / "g").exists()


def test_an_export_folder_that_cannot_be_written_is_refused_before_any_retraining(plain, tmp_path):
    trial = next(t for t in plain.trials("complete") if not t.final)
    finals = len(plain.storage.finals(plain.id))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ArchscoutError, match="cannot create export folder .*afile' is a file"):
        trial.export(str(tmp_path / "afile" / "model"))
    assert len(plain.storage.finals(plain.id)) == finals  # nothing retrained, nothing stored


# -- the checks can fail, the seed, the folder -----------------------------------------------------

def test_a_file_whose_outputs_differ_from_pytorch_is_not_kept(q8, tmp_path, monkeypatch):
    run_onnx, load_ts = ort.InferenceSession.run, torch.jit.load

    def off_by_five(self, *args, **kwargs):
        return [out + 5.0 for out in run_onnx(self, *args, **kwargs)]

    class Tripled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return 3 * self.inner(*inputs)

    def tripled(*args, **kwargs):
        return Tripled(load_ts(*args, **kwargs))

    monkeypatch.setattr(ort.InferenceSession, "run", off_by_five)
    monkeypatch.setattr(torch.jit, "load", tripled)
    info = q8.best().export(str(tmp_path), formats="onnx,torchscript,state")
    assert info["onnx_max_abs_diff"] is None and info["torchscript_max_abs_diff"] is None
    assert "ONNX Runtime's outputs differ from PyTorch's by up to 5" in info["onnx_error"]
    assert "reloaded TorchScript module's outputs differ from PyTorch's" in info["torchscript_error"]
    assert sorted(os.listdir(tmp_path)) == ["architecture.json", "metrics.json", "model.pt"]


@pytest.mark.slow
def test_metrics_json_describes_the_exported_seed(plain, tmp_path):
    trial = next(t for t in plain.trials("complete") if not t.final and t.number != plain.best().number)
    first = trial.export(str(tmp_path / "s0"), formats="state")
    assert first["final"]["seeds"] == 1 and first["final"]["test_accuracies"] == [first["retrained"]["test_accuracy"]]
    second = trial.export(str(tmp_path / "s3"), formats="state", seed=3)
    assert second["seed"] == 3 and second["final"]["seeds"] == 2
    assert second["final"]["test_accuracies"] == [first["retrained"]["test_accuracy"],
                                                  second["retrained"]["test_accuracy"]]
    test = plain.task.test
    raw = _raw(plain, test.X)  # an exported model takes raw inputs
    for folder, info in (("s0", first), ("s3", second)):
        predicted = _outputs(asc.load(tmp_path / folder), raw).argmax(1)
        assert float(np.mean(predicted == test.y)) == pytest.approx(info["retrained"]["test_accuracy"])
    assert not np.array_equal(_outputs(asc.load(tmp_path / "s0"), raw), _outputs(asc.load(tmp_path / "s3"), raw))
    again = trial.export(str(tmp_path / "s0"), formats="state")  # read back, not retrained
    assert again["retrained"] == first["retrained"] and again["final"]["seeds"] == 2


@pytest.mark.parametrize("seed", [-1, 2.5, "a", True])
def test_a_bad_seed_is_refused_before_any_retraining(plain, tmp_path, seed):
    finals = len(plain.storage.finals(plain.id))
    with pytest.raises(ArchscoutError, match=f"a retraining seed is a non-negative integer, got {seed!r}"):
        plain.best().export(str(tmp_path / "m"), seed=seed)
    assert len(plain.storage.finals(plain.id)) == finals


def test_a_folder_of_other_files_is_not_overwritten(q8, db, tmp_path, capsys):
    (tmp_path / "model.pt").write_text("the user's own file")
    (tmp_path / "notes.txt").write_text("notes")
    message = "holds other files and no earlier export; give a new or empty folder"
    with pytest.raises(ArchscoutError, match=message):
        q8.best().export(str(tmp_path))
    code, _, err = run(capsys, "export", "q8", "--storage", db, "--out", tmp_path)
    assert code == 2 and message in err and err.count("\n") == 1
    assert (tmp_path / "model.pt").read_text() == "the user's own file"
    assert sorted(os.listdir(tmp_path)) == ["model.pt", "notes.txt"]
