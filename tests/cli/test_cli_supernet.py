"""`archscout supernet train | check` and searching a supernet from the command line (issue 19)."""
from __future__ import annotations

import json

import pytest

from archscout.cli import main
from archscout.oneshot.supernet.store import load_supernet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "m.supernet"
    code = main(["supernet", "train", "--steps", "12", "--batch-size", "32", "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_supernet_train_writes_a_file_with_its_curve_and_cleans_its_checkpoints(trained):
    net, header = load_supernet(str(trained))
    assert header["task"] == "mnist1d" and header["training"]["method"] == "bignas"
    assert header["training"]["steps"] == 12
    assert [p["step"] for p in header["curve"]] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert {"largest", "smallest"} <= set(header["curve"][-1])
    assert not (trained.parent / "m.supernet.checkpoints").exists()
    assert net.spec.base == "conv1d"


@pytest.mark.slow
def test_supernet_check_ranks_inherited_against_stand_alone_and_writes_json(trained, capsys):
    code = main(["supernet", "check", str(trained), "--samples", "3", "--steps", "5"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Kendall τ" in out and "Spearman ρ" in out and "largest" in out
    result = json.loads((trained.parent / "m.supernet.check.json").read_text())
    spanning = [r for r in result["rows"] if "spanning" in r["sample"]]
    uniform = [r for r in result["rows"] if "uniform" in r["sample"]]
    assert result["samples"] == 3 and len(spanning) == 3 and len(uniform) == 3  # --uniform defaults to --samples
    assert 3 <= len(result["rows"]) <= 6  # a sub-network drawn by both samples is trained once
    params = [r["params"] for r in spanning]
    assert params == sorted(params) and params[0] < params[-1]  # from the smallest to the largest
    assert {"spanning", "uniform", "binned"} <= set(result["rankings"]) and "uniform sample" in out
    assert set(result["gaps"]) == {"smallest", "middle", "largest"}


@pytest.mark.slow
def test_search_with_the_supernet_evaluator_then_export_the_fine_tuned_pick(trained, tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/s.db"
    code = main(["search", "--evaluator", f"supernet:{trained}", "--strategy", "random", "--trials", "4",
                 "--top-k", "1", "--final-seeds", "1", "--steps", "10", "--storage", db, "--no-progress"])
    assert code == 0
    assert "conv1d-elastic" in capsys.readouterr().out
    # the study opens again by its stored space name, and its pick exports like any model
    code = main(["export", "mnist1d-conv1d-elastic", "--storage", db, "--out", str(tmp_path / "model")])
    assert code == 0
    import archscout
    model = archscout.load(str(tmp_path / "model"))
    assert type(model).__name__ == "MacroNet"


@pytest.mark.parametrize("args, message", [
    (["supernet", "train", "--space", "mlp", "--out", "{tmp}/x"], "a supernet is built for the conv spaces"),
    (["supernet", "train", "--task", "diabetes", "--out", "{tmp}/x"], "a supernet is trained for a classification"),
    (["supernet", "train", "--method", "darts", "--out", "{tmp}/x"], "Invalid value for '--method'"),
    (["supernet", "train", "--time-budget", "soon", "--out", "{tmp}/x"], "cannot read time budget 'soon'"),
    (["supernet", "check", "{tmp}/missing.supernet"], "no supernet file at"),
    (["supernet", "check", "{file}", "--samples", "2"], "--samples must be at least 3"),
])
def test_bad_supernet_commands_get_one_clear_line(trained, tmp_path, capsys, args, message):
    code = main([a.format(tmp=tmp_path, file=trained) for a in args])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_a_killed_supernet_training_continues_from_its_checkpoint(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "k.supernet"
    cmd = [sys.executable, "-m", "archscout.cli", "supernet", "train", "--steps", "400", "--batch-size", "16",
           "--out", str(out)]
    env = {**os.environ, "ARCHSCOUT_CHECKPOINT_EVERY": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = tmp_path / "k.supernet.checkpoints"
    deadline = time.monotonic() + 600
    try:  # wait for a checkpoint after a validation (every 40 steps), then kill it hard
        while not any(p.suffix == ".pt" for p in saved.rglob("*")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the training ended before a checkpoint was saved"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "continued from the checkpoint at step" in again.stdout
    assert out.exists() and not saved.exists()
