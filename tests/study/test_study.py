import numpy as np
import pytest
import torch

import archscout as asc
from archscout import ArchscoutError, Choice, Space, Study
from archscout.tasks import from_arrays

FAST = {"steps": 15, "batch_size": 32}


def blobs(n=240, seed=0):
    """A small, learnable 3-class tabular task made on the spot."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + y[:, None] * 1.5
    return from_arrays(X, y, name="blobs")


def linear_space(name="lin", widths=(4, 8, 16), builder=None):
    def build(values, shape, classes):
        if builder is not None:
            return builder(values, shape, classes)
        return torch.nn.Sequential(torch.nn.Linear(shape[0], values["width"]), torch.nn.ReLU(),
                                   torch.nn.Linear(values["width"], classes))
    return Space(name, width=Choice(list(widths)), builder=build)


@pytest.mark.slow
def test_search_stores_every_trial_and_resumes_without_duplicates(db):
    study = Study("s", space="mlp", task=blobs(), strategy="evolution", storage=db, train=FAST,
                  strategy_options={"population_size": 4, "sample_size": 2})
    study.run(trials=5, final_top_k=0)
    first = study.trials()
    assert len(first) == 5 and all(t.status == "complete" for t in first)
    assert all(0 <= t.metrics["accuracy"] <= 1 and t.metrics["params"] > 0 and t.metrics["flops"] > 0
               and t.metrics["latency_ms"] > 0 for t in first)
    assert first[0].details["latency"]["repeats"] >= 30 and first[0].details["latency"]["threads"] >= 1
    again = Study("s", space="mlp", task=blobs(), strategy="evolution", storage=db, train=FAST,
                  strategy_options={"population_size": 4, "sample_size": 2})
    again.run(trials=5, final_top_k=0)  # budget already met: nothing new
    assert len(again.trials()) == 5
    again.run(trials=9, final_top_k=0)
    trials = again.trials()
    assert len(trials) == 9 and [t.number for t in trials] == list(range(9))
    ids = [t.arch.id for t in trials]
    assert len(set(ids)) == len(ids)
    assert [t.arch for t in trials[:5]] == [t.arch for t in first]  # the first five are untouched


@pytest.mark.slow
def test_exhausted_space_stops_instead_of_retraining(db):
    study = Study("tiny", space=linear_space(), task=blobs(), strategy="random", storage=db, train=FAST)
    study.search(trials=10)
    trials = study.trials()
    assert sorted(t.arch["width"] for t in trials) == [4, 8, 16]  # each trained once


@pytest.mark.slow
def test_failing_candidates_are_stored_and_the_search_goes_on(db):
    def builder(values, shape, classes):
        if values["width"] == 4:
            raise RuntimeError("this op does not exist on this device")

        class NaNNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(shape[0], classes)

            def forward(self, x):
                return self.fc(x) * float("nan")

        if values["width"] == 8:
            return NaNNet()
        return torch.nn.Sequential(torch.nn.Linear(shape[0], classes))

    study = Study("fail", space=linear_space(builder=builder), task=blobs(), strategy="random", storage=db,
                  train=FAST)
    study.search(trials=3)
    by_width = {t.arch["width"]: t for t in study.trials()}
    assert by_width[4].status == "failed" and "does not exist" in by_width[4].error
    assert by_width[8].status == "failed" and "diverged" in by_width[8].error
    assert by_width[16].status == "complete"
    assert study.best().arch["width"] == 16


def test_cost_constraints_reject_before_training(db):
    study = Study("c", space=linear_space(widths=(4, 64)), task=blobs(), strategy="random", storage=db,
                  train=FAST, constraints=["params <= 100"])
    study.search(trials=2)
    by_width = {t.arch["width"]: t for t in study.trials()}
    assert by_width[64].status == "infeasible" and "params" in by_width[64].error
    assert "train_seconds" not in by_width[64].metrics and by_width[64].metrics["params"] > 100
    assert by_width[4].status == "complete"
    assert [t.arch["width"] for t in study.leaderboard()] == [4]


@pytest.mark.slow
def test_final_retraining_reports_test_accuracy_and_is_not_repeated(db):
    study = Study("f", space="mlp", task=blobs(), strategy="random", storage=db, train=FAST,
                  final_train={"steps": 30, "batch_size": 32})
    study.run(trials=3, final_top_k=2, final_seeds=2)
    finals = study.storage.finals(study.id)
    assert len(finals) == 4
    top = study.leaderboard(2)
    for t in top:
        assert t.final["seeds"] == 2 and 0 <= t.final["test_accuracy_mean"] <= 1
    study.finalize(top_k=2, seeds=2)
    assert len(study.storage.finals(study.id)) == 4


@pytest.mark.slow
def test_search_never_reads_test_data(db, monkeypatch):
    task = blobs()
    study = Study("iso", space="mlp", task=task, strategy="random", storage=db, train=FAST)

    class Poison:
        def __getattr__(self, name):
            raise AssertionError("the search touched the test split")

    object.__setattr__(task, "test", Poison())
    study.search(trials=2)
    assert len(study.trials("complete")) == 2


def test_resuming_with_other_settings_is_refused(db):
    Study("r", space="mlp", task="iris", storage=db, train=FAST)
    with pytest.raises(ArchscoutError, match="already exists with other settings"):
        Study("r", space="mlp", task="wine", storage=db, train=FAST)
    with pytest.raises(ArchscoutError, match="already exists"):
        Study("r", space="mlp", task="iris", storage=db, train={"steps": 99})


@pytest.mark.parametrize("kwargs,message", [
    ({"trials": 0}, "positive integer"),
    ({"time_budget": "soon"}, "cannot read time budget"),
    ({}, "give a budget"),
])
def test_impossible_budgets(db, kwargs, message):
    study = Study("b", space="mlp", task="iris", storage=db, train=FAST)
    with pytest.raises(ArchscoutError, match=message):
        study.search(**kwargs)


def test_bad_settings_are_clear_errors(db):
    with pytest.raises(ArchscoutError, match="unknown metric"):
        Study("x", space="mlp", task="iris", storage=db, objective="acc")
    with pytest.raises(ArchscoutError, match="cannot read constraint"):
        Study("x", space="mlp", task="iris", storage=db, constraints=["params is small"])
    with pytest.raises(ArchscoutError, match="unknown training setting"):
        Study("x", space="mlp", task="iris", storage=db, train={"stepz": 3})
    with pytest.raises(ArchscoutError, match="batch size"):
        Study("x", space="mlp", task="iris", storage=db, train={"batch_size": 0})
    with pytest.raises(ArchscoutError, match="study name"):
        Study("bad name!", space="mlp", task="iris", storage=db)


@pytest.mark.slow
def test_time_budget_stops_the_search(db):
    study = Study("t", space="mlp", task=blobs(), strategy="random", storage=db, train=FAST)
    study.search(time_budget="1s")
    n = len(study.trials())
    assert n >= 1 and study.search_seconds >= 1.0
    study.search(time_budget="1s")  # the budget counts all runs of the study together
    assert len(study.trials()) == n


@pytest.mark.slow
def test_trial_builds_and_exports_a_model_whose_onnx_matches(db, tmp_path):
    import onnxruntime as ort

    study = Study("e", space="mlp", task=blobs(), strategy="random", storage=db, train=FAST,
                  final_train={"steps": 20, "batch_size": 32})
    study.run(trials=2, final_top_k=1, final_seeds=1)
    best = study.best()
    assert isinstance(best.build(), torch.nn.Module)
    info = best.export(str(tmp_path / "model"))
    assert info["onnx_max_abs_diff"] < 1e-4
    model = asc.load_model(str(tmp_path / "model"))
    x = study.task.valid.X[:5]
    sess = ort.InferenceSession(str(tmp_path / "model" / "model.onnx"))
    with torch.inference_mode():
        ref = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], ref, atol=1e-4)


def test_leaderboard_breaks_accuracy_ties_with_validation_loss(db):
    study = Study("ties", space=linear_space(widths=(4, 8, 16)), task=blobs(), strategy="random", storage=db,
                  train=FAST)
    space = study.space
    for width, acc, loss in [(4, 0.9, 0.30), (8, 0.9, 0.10), (16, 0.8, 0.01)]:
        arch = space.architecture({"width": width})
        row = study.storage.start_trial(study.id, arch.id, arch.to_json(), study.train_config.budget_key(), 0)
        study.storage.finish_trial(row.id, "complete", {"accuracy": acc, "loss": loss})
    assert [t.arch["width"] for t in study.leaderboard()] == [8, 4, 16]
