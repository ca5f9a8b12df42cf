"""Bring your own evaluator: a declared function (or Evaluator class) named by reference, its metrics in the
vocabulary, cost constraints before it runs, intermediate values, failures stored with their reason, workers
and resume finding it again, and a study read back where its code is missing."""
from __future__ import annotations

import re
import sys
import textwrap

import pytest

from archscout import Study
from archscout.cli import main
from archscout.errors import ArchscoutError

CODE = textwrap.dedent('''
    import torch
    import archscout
    from archscout.evaluate import Evaluation, Evaluator

    CALLS = []

    @archscout.evaluator(measures={"val_error": "min", "accuracy": "max"}, fidelities=("steps",))
    def my_loop(model, ctx):
        CALLS.append(ctx.arch.id)
        X = torch.as_tensor(ctx.task.train.X)
        y = torch.as_tensor(ctx.task.train.y)
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        steps = int((ctx.fidelity or {}).get("steps", 20))
        for step in range(steps):
            loss = torch.nn.functional.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 5 == 0:
                ctx.report(step, train_loss=loss.item())
        model.eval()
        with torch.no_grad():
            pred = model(torch.as_tensor(ctx.task.valid.X)).argmax(1).numpy()
        acc = float((pred == ctx.task.valid.y).mean())
        return {"accuracy": acc, "val_error": 1 - acc}

    @archscout.evaluator(measures={"f1_macro": "max"})
    def f1_loop(model, ctx):  # a classification scored by macro F1 alone: no accuracy, no train_seconds
        X, y = torch.as_tensor(ctx.task.train.X), torch.as_tensor(ctx.task.train.y)
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = model(torch.as_tensor(ctx.task.valid.X)).argmax(1).numpy()
        truth = ctx.task.valid.y
        f1s = [2 * ((pred == c) & (truth == c)).sum() / max(1, (pred == c).sum() + (truth == c).sum())
               for c in set(truth.tolist())]
        return {"f1_macro": float(sum(f1s) / len(f1s))}

    @archscout.evaluator(measures={"score": "max"}, model=False)
    def instant(arch, ctx):
        return {"score": float(len(arch.describe()))}

    @archscout.evaluator(measures={"score": "max"}, model=False)
    def text(arch, ctx):
        return {"score": "high"}

    @archscout.evaluator(measures={"score": "max"}, model=False)
    def extra(arch, ctx):
        return {"score": 1.0, "other": 2.0}

    @archscout.evaluator(measures={"score": "max"}, model=False)
    def raises(arch, ctx):
        raise ValueError("my loop broke")

    def undeclared(arch, ctx):
        return {"score": 1.0}

    class Width(Evaluator):
        "Scores by the number of blocks (a class named by reference)."
        measures = ("blocks",)
        directions = {"blocks": "max"}

        def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
            return Evaluation({"blocks": float(len(arch.describe().split("|")))})
''')


@pytest.fixture
def mod(tmp_path, monkeypatch):
    path = tmp_path / "my_evals.py"
    path.write_text(CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_evals", None)
    yield str(path)
    sys.modules.pop("my_evals", None)


def _db(tmp_path):
    return f"sqlite:///{tmp_path}/u.db"


@pytest.mark.slow
def test_a_declared_function_trains_the_built_model_and_its_metrics_join_the_vocabulary(tmp_path, mod):
    study = Study("u", space="mlp", task="iris", evaluator="my_evals:my_loop", objectives="val_error:min",
                  storage=_db(tmp_path), train={"steps": 10})
    study.run(trials=2, final_top_k=1, final_seeds=1, progress=False)
    best = study.best()
    assert {"val_error", "accuracy", "params", "flops", "latency_ms"} <= set(best.metrics)
    assert best.details["intermediate"][0]["step"] == 0 and "train_loss" in best.details["intermediate"][0]
    # the final retraining ran the user's loop on training + validation data, scored on test
    assert "test_val_error_mean" in best.final and "test_accuracy_mean" in best.final
    # the vocabulary knows its direction: a constraint and a report name it like a built-in
    Study("u2", space="mlp", task="iris", evaluator="my_evals:my_loop", objectives="val_error",
          constraints=["val_error <= 0.9"], storage=_db(tmp_path))


@pytest.mark.slow
def test_cost_constraints_reject_before_the_function_runs(tmp_path, mod):
    import my_evals
    my_evals.CALLS.clear()
    study = Study("c", space="mlp", task="iris", evaluator="my_evals:my_loop", constraints=["params <= 2000"],
                  storage=_db(tmp_path), train={"steps": 5})
    study.search(trials=4, progress=False, max_failures=None)
    statuses = [t.status for t in study.trials()]
    assert "infeasible" in statuses and "complete" in statuses
    # the function ran for exactly the candidates within the bound
    assert sorted(my_evals.CALLS) == sorted(t.arch.id for t in study.trials("complete"))
    assert all(t.metrics["params"] > 2000 for t in study.trials("infeasible"))


def test_a_fidelity_reaches_the_function(tmp_path, mod):
    from archscout.evaluate import EvaluatorSpec
    study = Study("f", space="mlp", task="iris", evaluator="my_evals:my_loop", storage=_db(tmp_path))
    ev = study.evaluator()
    arch = study.space.sample(__import__("random").Random(0))
    res = ev.evaluate(arch, fidelity={"steps": 6})
    assert [r["step"] for r in res.details["intermediate"]] == [0, 5]
    assert EvaluatorSpec.parse("my_evals:my_loop").text == "python:my_evals:my_loop"


@pytest.mark.parametrize("fn,reason", [("text", "returned score = 'high', not a number"),
                                       ("extra", "returned metric 'other', which it does not declare"),
                                       ("raises", "raised ValueError: my loop broke")])
def test_a_bad_return_or_error_fails_the_trial_with_its_reason_and_the_search_goes_on(tmp_path, mod, fn, reason):
    study = Study(fn, space="mlp", evaluator=f"my_evals:{fn}", storage=_db(tmp_path))
    study.search(trials=2, progress=False, max_failures=None)
    assert [t.status for t in study.trials()] == ["failed", "failed"]
    assert reason in study.trials()[0].error


@pytest.mark.parametrize("ref,message", [
    ("my_evals:undeclared", "declare what it measures with @archscout.evaluator"),
    ("my_evals:nothere", "'my_evals' has no attribute 'nothere'"),
    ("no_such_module_xyz:fn", "no module named 'no_such_module_xyz'"),
])
def test_a_reference_that_cannot_be_used_is_one_clear_error(tmp_path, mod, ref, message):
    with pytest.raises(ArchscoutError, match=message):
        Study("r", space="mlp", evaluator=ref, storage=_db(tmp_path))


def test_the_cli_names_a_file_reference_and_refuses_undeclared_objectives(tmp_path, mod, capsys):
    db = _db(tmp_path)
    assert main(["search", "--space", "mlp", "--evaluator", f"{mod}:instant", "--trials", "2", "--storage", db,
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "study instant-mlp" in out
    assert main(["search", "--space", "mlp", "--evaluator", f"{mod}:instant", "--objectives", "val_error", "--trials", "1",
                 "--storage", db]) == 2
    assert "not measured by the python:" in capsys.readouterr().err


def test_an_evaluator_class_by_reference(tmp_path, mod):
    study = Study("w", space="mlp", evaluator="my_evals:Width", objectives="blocks:max", storage=_db(tmp_path))
    study.search(trials=2, progress=False)
    assert study.best().metrics["blocks"] >= 1


@pytest.mark.slow
def test_workers_import_the_function_again(tmp_path, mod):
    study = Study("p", space="mlp", evaluator=mod + ":instant", storage=_db(tmp_path))
    study.search(trials=4, workers=2, progress=False)
    assert sorted(t.status for t in study.trials()) == ["complete"] * 4


def test_a_study_opens_for_reading_where_its_code_is_missing(tmp_path, mod, monkeypatch):
    study = Study("gone", space="mlp", evaluator="my_evals:instant", storage=_db(tmp_path))
    study.search(trials=2, progress=False)
    from archscout.evaluate.user import PythonEvaluator
    PythonEvaluator._known.clear()
    sys.modules.pop("my_evals", None)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    monkeypatch.chdir("/")
    read = Study.load("gone", _db(tmp_path), check_task=False)
    assert len(read.trials("complete")) == 2 and read.objectives == [("score", "max")]
    with pytest.raises(ArchscoutError, match="no module named 'my_evals'"):
        Study.load("gone", _db(tmp_path))


def test_a_process_that_cannot_import_the_function_fails_its_trials_with_the_reason(tmp_path, mod):
    import pickle
    import random

    study = Study("lost", space="mlp", evaluator=mod + ":instant", storage=_db(tmp_path))
    ev = pickle.loads(pickle.dumps(study.evaluator()))  # what a worker receives: the reference, not the code
    ev.reference = str(tmp_path / "elsewhere.py") + ":instant"  # as if the file were not on this machine
    from archscout.errors import TrialFailed
    with pytest.raises(TrialFailed, match="cannot load the evaluator: .*no file"):
        ev.evaluate(study.space.sample(random.Random(0)))


def test_numpy_and_torch_scalars_are_numbers_and_arrays_are_not():
    import numpy as np
    import torch

    from archscout.errors import TrialFailed
    from archscout.evaluate.user import check_metrics
    assert check_metrics({"a": np.float32(0.5), "b": torch.tensor(2.0)}, {"a": "max", "b": "min"}, "f") == \
        {"a": 0.5, "b": 2.0}
    with pytest.raises(TrialFailed, match="not a number"):
        check_metrics({"a": np.array([0.5, 0.6])}, {"a": "max"}, "f")


@pytest.mark.slow
def test_a_macro_f1_study_is_shown_by_its_metric_everywhere(tmp_path, mod, capsys):
    """Issue 29, part 1: the progress lines name f1_macro (no `acc nan`, no `test R² nan`), `best` shows the final
    test macro F1 (not "not retrained yet"), and the report heads it as such, without a training budget the
    evaluator's own loop never used."""
    db = _db(tmp_path)
    assert main(["search", "--task", "iris", "--space", "mlp", "--evaluator", "my_evals:f1_loop", "--objectives",
                 "f1_macro:max", "--trials", "2", "--top-k", "1", "--final-seeds", "1", "--revalidate", "0",
                 "--storage", db, "--no-progress"]) == 0
    out = capsys.readouterr().out
    trial_lines = [line for line in out.splitlines() if line.startswith("#")]
    assert len(trial_lines) == 2 and all(re.match(r"#\d +f1_macro [01]\.\d{4} ", line) for line in trial_lines), out
    assert "nan" not in out and re.search(r"final  #\d +seed 0  test f1_macro [01]\.\d{4}", out), out
    assert main(["best", "iris-mlp", "--storage", db]) == 0
    out = capsys.readouterr().out
    assert "not retrained yet" not in out and re.search(r"test_f1_macro [01]\.\d+ ± 0 over 1 seeds", out), out
    from archscout.report.html import report
    html = report(Study.load("iris-mlp", db))
    assert "test acc %" not in html and "test_f1_macro (seeds)" in html
    assert "own loop (ctx.train offered steps=" in html and "validation data by the evaluator's own loop, scored" in html
