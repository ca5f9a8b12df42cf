"""Your own data: task kinds (classification / regression), CSV label columns and delimiters, validation
fractions, k-fold cross-validation, PyTorch Datasets, devices and the metrics of each kind."""
from __future__ import annotations

import numpy as np
import pytest

from archscout import Study
from archscout.errors import ArchscoutError
from archscout.evaluate.training import resolve_device, scores
from archscout.tasks import from_arrays, from_datasets, get_task


def _regression(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 0.1 * rng.normal(size=n) + 50.0
    return X, y


def test_continuous_targets_are_a_regression_and_say_so():
    X, y = _regression()
    task = from_arrays(X, y, name="reg")
    assert task.kind == "regression" and task.num_classes == 1 and task.metric == "r2"
    assert any("regression" in n for n in task.notes)
    # trained on the standardised target; the preprocessing maps it back to the target's own units
    assert abs(float(task.train.y.mean())) < 1e-5
    raw = task.preprocessing.raw_targets(task.train.y)
    assert abs(raw.mean() - y.mean()) < 2.0


def test_integer_targets_with_many_values_are_a_regression_not_hundreds_of_classes():
    task = get_task("diabetes")
    assert task.kind == "regression"
    assert "214 distinct values" in " ".join(task.notes)


def test_a_continuous_target_given_as_classification_is_refused():
    X, y = _regression()
    with pytest.raises(ArchscoutError, match="continuous, not classes"):
        from_arrays(X, y, kind="classification")


def test_few_integer_classes_stay_classification_and_kind_can_be_forced():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, 60)
    assert from_arrays(X, y).kind == "classification"
    assert from_arrays(X, y, kind="regression").kind == "regression"


def test_scores_of_each_kind():
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1, 1, 1])
    s = scores(logits, y, "classification")
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["balanced_accuracy"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert s["log_loss"] == s["loss"] > 0
    from sklearn.metrics import roc_auc_score  # the reference: one tie with the negative counts half, 2.5 / 3
    assert s["auroc"] == pytest.approx(roc_auc_score(y, logits[:, 1] - logits[:, 0])) == pytest.approx(2.5 / 3)
    f1_0 = 2 * 1 / (2 + 1)
    f1_1 = 2 * 2 / (2 + 3)
    assert s["f1_macro"] == pytest.approx((f1_0 + f1_1) / 2)
    r = scores(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 4.0]), "regression")
    assert r["mse"] == pytest.approx(1 / 3) and r["mae"] == pytest.approx(1 / 3)
    assert r["r2"] == pytest.approx(1 - 1.0 / (((np.array([1, 2, 4]) - 7 / 3) ** 2).sum()))


def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(0, 2)), *np.round(rng.normal(size=3), 3), int(rng.integers(0, 4))) for _ in range(n)]


def test_csv_label_is_named_and_printed_and_an_unknown_header_is_refused(tmp_path):
    rows = _rows()
    text = "outcome,f1,f2,f3,age_group\n" + "\n".join(",".join(map(str, r)) for r in rows)
    path = _csv(tmp_path, text)
    task = get_task(path)  # 'outcome' is a label name: used, and said
    assert "column 'outcome'" in task.notes[0] and task.input_shape == (4,)
    assert get_task(path, {"label": "age_group"}).num_classes == 4
    assert get_task(path + ":age_group").num_classes == 4
    with pytest.raises(ArchscoutError, match="no column named 'nope'; the columns are outcome, f1"):
        get_task(path, {"label": "nope"})
    other = _csv(tmp_path, "a,b,c\n" + "\n".join(f"{i % 3},{i},{i % 2}" for i in range(30)), "o.csv")
    with pytest.raises(ArchscoutError, match="name the label column with --label"):
        get_task(other)


def test_csv_column_and_label_option_are_one_stored_form_and_resume_each_other(tmp_path):
    """FILE.csv:COLUMN and --label COLUMN are documented as the same: a study created with one resumes with the
    other (issue 29, part 1, item 5), and one stored by an older version as FILE.csv:COLUMN resumes too."""
    rows = _rows()
    path = _csv(tmp_path, "outcome,f1,f2,f3,age_group\n" + "\n".join(",".join(map(str, r)) for r in rows))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    kw = dict(space="mlp", storage=db, strategy="random", train={"steps": 5})
    a = Study("csv", task=path + ":age_group", **kw)
    assert (a.config.task, a.config.task_options) == (path, {"label": "age_group"})
    b = Study("csv", task=path, task_options={"label": "age_group"}, **kw)  # resumes: no "other settings"
    assert b.id == a.id and b.task.num_classes == 4
    with pytest.raises(ArchscoutError, match="the label column is named twice"):
        Study("csv", task=path + ":age_group", task_options={"label": "outcome"}, **kw)
    with pytest.raises(ArchscoutError, match="already exists with other settings"):
        Study("csv", task=path, task_options={"label": "outcome"}, **kw)
    # a study an older version stored with the column in the task's name
    stored = dict(a.config.to_json(), task=path + ":age_group", task_options=None)
    assert not a.config.differences(stored)
    assert a.config.differences(dict(stored, task=path + ":outcome")) == ["task_options"]


def test_csv_delimiter_is_detected(tmp_path):
    rows = _rows()
    path = _csv(tmp_path, "label;f1;f2;f3;g\n" + "\n".join(";".join(map(str, r)) for r in rows))
    task = get_task(path)
    assert task.input_shape == (4,) and "semicolon" in task.notes[0]


def test_validation_fraction_and_small_validation_warning():
    assert len(get_task("wine").valid) == 15
    assert any("holds 15 samples" in n for n in get_task("wine").notes)
    task = get_task("wine", {"val_fraction": 0.4})
    assert len(task.valid) > 50 and not any(n.startswith("warning") for n in task.notes)


def test_folds_cover_every_sample_once_and_are_stratified():
    task = get_task("iris", {"folds": 4})
    held = np.concatenate([va.y for _, va in task.cv_splits()])
    assert len(held) == len(task.train) + len(task.valid)
    for tr, va in task.cv_splits():
        assert set(np.unique(va.y)) == {0, 1, 2} and len(tr) + len(va) == len(held)


@pytest.mark.parametrize("folds", [1, 0, 500])
def test_bad_fold_counts_are_refused(folds):
    with pytest.raises(ArchscoutError, match="folds"):
        get_task("iris", {"folds": folds})


def test_more_folds_than_samples_of_a_class_is_refused():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.array([0] * 17 + [1] * 3)
    with pytest.raises(ArchscoutError, match="class 1 has only"):
        from_arrays(X, y, test_fraction=0, folds=5)


class _Pairs:
    """A map-style dataset of (input, target) pairs (what torch.utils.data.Dataset subclasses provide)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        import torch
        return torch.as_tensor(self.X[i]), int(self.y[i])


@pytest.mark.slow
def test_a_dataset_task_trains_through_a_dataloader(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 1, 16)).astype(np.float32)
    y = (X[:, 0, :8].sum(1) > 0).astype(int)
    task = from_datasets(_Pairs(X[:160], y[:160]), test=_Pairs(X[160:], y[160:]), name="pairs")
    assert task.input_shape == (1, 16) and task.kind == "classification" and len(task.valid) == 16
    study = Study("ds", space="conv1d", task=task, storage=f"sqlite:///{tmp_path}/s.db", train={"steps": 30})
    study.run(trials=2, strategy="evolution", final_top_k=1, final_seeds=1, progress=False)
    best = study.best()
    assert 0 <= best.metrics["accuracy"] <= 1 and "f1_macro" in best.metrics
    assert best.final["seeds"] == 1 and "test_accuracy_mean" in best.final


def test_a_dataset_with_mismatched_shapes_is_refused():
    class Ragged(_Pairs):
        def __getitem__(self, i):
            import torch
            return torch.zeros(3 if i < 5 else 4), 0
    with pytest.raises(ArchscoutError, match="sample 5 has input shape \\[4\\], sample 0 has \\[3\\]"):
        from_datasets(Ragged(np.zeros(10), np.zeros(10)))


@pytest.mark.slow
def test_a_regression_study_selects_on_r2_and_reports_test_r2(tmp_path):
    X, y = _regression(200)
    task = from_arrays(X, y, name="lin")
    study = Study("reg", space="mlp", task=task, storage=f"sqlite:///{tmp_path}/r.db", train={"steps": 150})
    assert study.objectives == [("r2", "max")]
    study.run(trials=2, final_top_k=1, final_seeds=1, progress=False)
    best = study.best()
    assert {"r2", "mse", "mae", "loss"} <= set(best.metrics) and "accuracy" not in best.metrics
    assert best.metrics["r2"] > 0.5  # a linear target: any of these networks fits it far better than the mean
    assert "test_r2_mean" in best.final and "test_mse_mean" in best.final


def test_a_metric_of_the_other_kind_is_refused(tmp_path):
    with pytest.raises(ArchscoutError, match="r2 is a regression metric, but task 'wine' is classification"):
        Study("x", space="mlp", task="wine", objectives="r2:max", storage=f"sqlite:///{tmp_path}/k.db")
    with pytest.raises(ArchscoutError, match="accuracy is a classification metric"):
        Study("y", space="mlp", task="diabetes", objectives="accuracy", storage=f"sqlite:///{tmp_path}/k.db")


def test_devices_are_resolved_or_refused_in_one_line():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ArchscoutError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ArchscoutError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_mixed_precision_on_the_cpu_trains_and_is_part_of_the_budget(tmp_path):
    study = Study("amp", space="mlp", task="iris", storage=f"sqlite:///{tmp_path}/a.db",
                  train={"steps": 40, "amp": True})
    assert study.train_config.budget_key().endswith(",amp")
    study.run(trials=1, final_top_k=0, progress=False)
    assert study.best().metrics["accuracy"] >= 0


def test_gpu_latency_is_measured_synchronised_and_refused_without_a_gpu(tmp_path):
    import torch

    from archscout.cost import measure_latency_device
    from archscout.metrics import check_metric, latency_spec
    assert latency_spec(check_metric("latency_ms@cuda:b8")) == ("cuda", 8)
    calls = []
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    lat = measure_latency_device(net, (4,), batch_size=2, warmup=2, repeats=5, device="cpu",
                                 sync=lambda: calls.append(1), max_repeats=5)
    assert lat.repeats == 5 and lat.runtime == "cpu" and lat.median_ms > 0
    assert len(calls) == 1 + 2 + 5  # once before timing, then after every warm-up and timed run
    if not torch.cuda.is_available():
        with pytest.raises(ArchscoutError, match="latency_ms@cuda:b1 is measured on a CUDA GPU"):
            Study("g", space="mlp", task="iris", objectives="accuracy,latency_ms@cuda:b1",
                  strategy="nsga2", storage=f"sqlite:///{tmp_path}/g.db")


def test_pool_workers_are_spread_over_gpus_and_ray_asks_for_one_per_trial(monkeypatch):
    from archscout.evaluate.train_evaluator import TrainingEvaluator
    from archscout.execute.pool import gpu_env
    from archscout.execute.ray import gpus_per_trial
    assert [gpu_env(i, gpus=3) for i in range(4)] == [{"ARCHSCOUT_DEVICE": f"cuda:{k}"} for k in (0, 1, 2, 0)]
    assert gpu_env(1, gpus=1) == {} and gpu_env(0, gpus=0) == {}
    assert gpus_per_trial("cuda", 0) == 1 and gpus_per_trial("cuda:1", 4) == 1
    assert gpus_per_trial("auto", 2) == 1 and gpus_per_trial("auto", 0) == 0 and gpus_per_trial("cpu", 8) == 0
    # a worker given a GPU uses it when the study asked for auto or cuda, never when it asked for the CPU
    ev = TrainingEvaluator(get_task("iris"))
    monkeypatch.setenv("ARCHSCOUT_DEVICE", "cpu")  # stands in for cuda:N on this CPU-only machine
    assert ev.use_device("auto").torch_device().type == "cpu"
    monkeypatch.setenv("ARCHSCOUT_DEVICE", "tpu")
    with pytest.raises(ArchscoutError, match="unknown device 'tpu'"):
        ev.use_device("auto").torch_device()
    assert ev.use_device("cpu").torch_device().type == "cpu"


def test_zero_cost_proxies_on_a_regression_take_the_regression_loss():
    import random

    from archscout.evaluate.zero_cost import ZeroCostEvaluator
    from archscout.space import get_space
    X, y = _regression(120)
    ev = ZeroCostEvaluator(from_arrays(X, y, name="reg"), metrics=["proxy@snip", "proxy@synflow"])
    details: dict = {}
    arch = get_space("mlp").sample(random.Random(0))
    scores_ = ev.measurer.proxy_scores(ev.measurer.build(arch, 0), details)
    assert set(scores_) == {"proxy@snip", "proxy@synflow"} and "proxy_errors" not in details


def test_a_dataset_task_reads_only_the_samples_a_proxy_batch_needs():
    from archscout.evaluate.proxies import proxy_batch
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1, 8)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(int)

    class Counting(_Pairs):
        reads = 0

        def __getitem__(self, i):
            Counting.reads += 1
            return super().__getitem__(i)

    task = from_datasets(Counting(X, y), name="count")
    Counting.reads = 0
    inputs, targets, _ = proxy_batch(task, size=16)
    assert inputs[0].shape == (16, 1, 8) and Counting.reads == 16  # not all 270 training samples
