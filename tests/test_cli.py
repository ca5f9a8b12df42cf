import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from archscout.cli import main
from archscout.storage import Storage

TINY = ["--steps", "15", "--batch-size", "32", "--no-progress"]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_persists_resumes_and_exports(capsys, db, tmp_path):
    code, out, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "3", "--storage", db,
                         "--top-k", "1", "--final-seeds", "2", *TINY)
    assert code == 0, err
    assert "iris-mlp" in out and "test acc" in out
    store = Storage(db)
    study = store.get_study("iris-mlp")
    assert len(store.trials(study.id)) == 3 and len(store.finals(study.id)) == 2

    code, out, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "5", "--storage", db,
                         "--top-k", "1", "--final-seeds", "2", *TINY)
    assert code == 0, err
    trials = store.trials(study.id)
    assert len(trials) == 5
    assert len({(t.arch_id, t.budget) for t in trials}) == 5  # resumed, nothing evaluated twice

    code, out, _ = run(capsys, "show", "iris-mlp", "--storage", db)
    assert code == 0 and "rank" in out
    code, out, _ = run(capsys, "best", "iris-mlp", "--storage", db, "--json")
    best = json.loads(out)
    assert best["architecture"]["space"] == "mlp" and best["final"]["seeds"] == 2
    code, out, _ = run(capsys, "list", "--storage", db)
    assert code == 0 and "iris-mlp" in out

    target = tmp_path / "model"
    code, out, err = run(capsys, "export", "iris-mlp", "--storage", db, "--out", str(target))
    assert code == 0, err
    assert sorted(os.listdir(target)) == ["architecture.json", "metrics.json", "model.onnx", "model.pt"]
    from archscout import load_model
    model = load_model(str(target))
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    with torch.inference_mode():
        ref = model(torch.as_tensor(x)).numpy()
    got = ort.InferenceSession(str(target / "model.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize("args,message", [
    (["search", "--space", "conv3d", "--trials", "1"],
     "Valid spaces: conv1d, conv1d-quant, conv2d, conv2d-quant, gnn, gnn-proteins, mlp, mlp-quant"),
    (["search", "--task", "mnist", "--trials", "1"], "Did you mean 'mnist1d'"),
    (["search", "--strategy", "genetic", "--trials", "1"], "Valid strategies: bo, evolution, linas, local_search, "
     "nsga2, optuna, optuna-nsga2, optuna-random, optuna-tpe, random, rl"),
    (["search", "--time-budget", "ten minutes"], "cannot read time budget"),
    (["search", "--trials", "0"], "positive integer"),
    (["search"], "give a budget"),
    (["search", "--trials", "1", "--constraint", "params <<< 3"], "cannot read constraint"),
    (["search", "--trials", "1", "--constraint", "weight <= 3"], "unknown metric"),
    (["search", "--trials", "1", "--task", "no/such/file.npz"], "does not exist"),
    (["search", "--trials", "1", "--storage", "mysql+nodriver://x"], "cannot open storage"),
    (["search", "--trials", "1", "--task", "iris", "--space", "conv2d"], "does not fit task 'iris'"),
    (["search", "--trials", "1", "--study", "has space", "--task", "iris"], "study name"),
    (["search", "--trials", "1", "--steps", "-3"], "steps must be a positive integer"),
    (["show", "nothing-here"], "no database at"),  # a read command never creates the database
])
def test_bad_input_is_one_clear_message(capsys, db, args, message):
    code, out, err = run(capsys, *args, *(["--storage", db] if "--storage" not in args else []))
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_data_file_is_one_clear_message(capsys, tmp_path, db):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    code, _, err = run(capsys, "search", "--task", str(bad), "--trials", "1", "--storage", db)
    assert code == 2 and "not a number" in err


def test_nothing_stored_is_lost_when_a_resume_is_refused(capsys, db):
    assert run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "2", "--storage", db,
               "--top-k", "0", *TINY)[0] == 0
    store = Storage(db)
    before = store.trials(store.get_study("iris-mlp").id)
    code, _, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "3", "--storage", db,
                       "--strategy", "random", *TINY)
    assert code == 2 and "already exists with other settings" in err
    assert store.trials(store.get_study("iris-mlp").id) == before


@pytest.mark.parametrize("command", ["search", "list", "show", "best", "export", "spaces", "tasks", "strategies"])
def test_every_command_has_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Usage:" in out


def test_listing_commands(capsys):
    assert "conv1d" in run(capsys, "spaces")[1]
    assert "mnist1d" in run(capsys, "tasks")[1]
    assert "evolution" in run(capsys, "strategies")[1]


def test_console_script_exit_code_and_no_traceback(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "archscout")
    res = subprocess.run([exe, "search", "--space", "nope", "--trials", "1"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: unknown space 'nope'") and "Traceback" not in res.stderr
