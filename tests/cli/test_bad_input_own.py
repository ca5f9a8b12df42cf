"""Bad input of your own problem (docs/bad-input.md, section 14): one ``error:`` line, exit 2, nothing stored;
inside a trial, a failed trial with its reason."""
from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
from test_bad_input import assert_user_error, dump

from archscout.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},{i % 3},{rng.normal() * 10 + 50:.4f}" for i in range(60)]
    (tmp_path / "data.csv").write_text("a,b,group,price\n" + "\n".join(rows) + "\n")
    (tmp_path / "evals_bad.py").write_text(textwrap.dedent('''
        import archscout

        @archscout.evaluator(measures={"score": "max"}, model=False)
        def text(arch, ctx):
            return {"score": "high"}

        @archscout.evaluator(measures={"score": "max"}, model=False)
        def extra(arch, ctx):
            return {"score": 1.0, "surprise": 2.0}

        def plain(arch, ctx):
            return {"score": 1.0}
    '''))


def run(capsys, *args):
    code = main(["search", "--no-progress", "--storage", "sqlite:///db.sqlite", "--trials", "1", *args])
    out, err = capsys.readouterr()
    return code, out, err


REFUSED = [
    ("continuous-as-classes", ["--task", "data.csv", "--label", "price", "--task-kind", "classification",
                               "--space", "mlp"], "continuous, not classes; use --task-kind regression"),
    ("label-missing", ["--task", "data.csv", "--label", "nope", "--space", "mlp"],
     "no column named 'nope'; the columns are a, b, group, price"),
    ("label-unnamed", ["--task", "data.csv", "--space", "mlp"], "name the label column with --label COLUMN"),
    ("label-with-builtin", ["--task", "wine", "--label", "x", "--space", "mlp"], "--label names a column of a CSV"),
    ("folds-one", ["--task", "iris", "--folds", "1", "--space", "mlp"], "--folds must be an integer >= 2, got 1"),
    ("folds-over-class", ["--task", "data.csv", "--label", "group", "--folds", "30", "--space", "mlp"],
     "30 folds but class"),
    ("val-fraction", ["--task", "iris", "--val-fraction", "1.5", "--space", "mlp"],
     "--val-fraction must be a number in (0, 1), got 1.5"),
    ("device-unknown", ["--task", "iris", "--device", "tpu", "--space", "mlp"], "unknown device 'tpu'"),
    ("metric-of-other-kind", ["--task", "wine", "--objectives", "r2", "--space", "mlp"],
     "r2 is a regression metric, but task 'wine' is classification"),
    ("evaluator-undeclared", ["--evaluator", "evals_bad:plain", "--space", "mlp"],
     "declare what it measures with @archscout.evaluator"),
    ("evaluator-missing-attr", ["--evaluator", "evals_bad:nothing", "--space", "mlp"],
     "'evals_bad' has no attribute 'nothing'"),
    ("evaluator-no-module", ["--evaluator", "no_such_mod_q:fn", "--space", "mlp"], "no module named 'no_such_mod_q'"),
    ("evaluator-file-missing", ["--evaluator", "missing.py:fn", "--space", "mlp"], "missing.py"),
]


@pytest.mark.parametrize("args,phrase", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_with_one_line_and_nothing_stored(capsys, tmp_path, args, phrase):
    code, out, err = run(capsys, *args)
    assert_user_error(code, err, phrase)
    assert dump(tmp_path / "db.sqlite") in (None, []) or not any("INSERT INTO studies" in r
                                                                  for r in dump(tmp_path / "db.sqlite"))


def test_a_gpu_that_is_not_there(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without it")
    code, _, err = run(capsys, "--task", "iris", "--space", "mlp", "--device", "cuda:0")
    assert_user_error(code, err, "no CUDA GPU")
    code, _, err = run(capsys, "--task", "iris", "--space", "mlp", "--strategy", "nsga2", "--objectives",
                       "accuracy,latency_ms@cuda:b1")
    assert_user_error(code, err, "latency_ms@cuda:b1 is measured on a CUDA GPU")


@pytest.mark.parametrize("fn,reason", [("text", "returned score = 'high', not a number"),
                                       ("extra", "returned metric 'surprise', which it does not declare")])
def test_a_bad_return_is_a_failed_trial_with_its_reason(capsys, fn, reason):
    run(capsys, "--evaluator", f"evals_bad:{fn}", "--space", "mlp")
    code = main(["show", f"{fn}-mlp", "--failed", "--storage", "sqlite:///db.sqlite"])
    out, _ = capsys.readouterr()
    assert code == 0 and reason in out


def test_a_dataset_with_mismatched_shapes():
    import torch

    from archscout.errors import ArchscoutError
    from archscout.tasks import from_datasets

    class Ragged(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.zeros(3 if i < 4 else 5), 0

    with pytest.raises(ArchscoutError, match=r"sample 4 has input shape \[5\], sample 0 has \[3\]"):
        from_datasets(Ragged())
    assert os.getcwd()
