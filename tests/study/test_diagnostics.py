"""Diagnostics of a real-training search: validation resolution, search-vs-final rank agreement, repeated seeds."""
import json
import math

import pytest

from archscout.cli import main
from archscout.errors import ArchscoutError
from archscout.study import Study

FAST = {"steps": 5, "batch_size": 16}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('diag')}/d.db"
    study = Study("d", space="mlp", task="iris", strategy="random", storage=db, train=FAST,
                  final_train={"steps": 10, "batch_size": 16})
    study.run(trials=6, final_top_k=3, final_seeds=1)
    return study, db


@pytest.mark.slow
def test_resolution_and_rank_agreement_over_the_retrained_trials(searched):
    study, _ = searched
    diag = study.diagnostics()
    n = len(study.task.valid)
    assert diag["validation_resolution"] == {"samples": n, "points_per_sample": pytest.approx(100 / n)}
    agree = diag["search_vs_final"]
    retrained = [t for t in study.trials("complete") if t.final]
    assert agree["n"] == len(retrained) == 3 and agree["metric"] == "accuracy"
    from scipy.stats import spearmanr
    x = [t.metrics["accuracy"] for t in retrained]
    y = [t.final["test_accuracy_mean"] for t in retrained]
    if len(set(x)) > 1 and len(set(y)) > 1:
        assert agree["spearman"] == pytest.approx(spearmanr(x, y)[0])
    else:
        assert math.isnan(agree["spearman"])
    assert diag["revalidation"] == {}


@pytest.mark.slow
def test_repeated_seed_validation_is_stored_once_and_leaves_the_final_summary_alone(searched):
    study, _ = searched
    before = study.final_summary()
    result = study.revalidate(top_k=2, seeds=2)
    top = study.leaderboard(2)
    assert set(result) == {t.number for t in top}
    for t in top:
        r = result[t.number]
        assert r["seeds"] == [t.seed, t.seed + 1, t.seed + 2] and len(r["values"]) == 3
        assert r["values"][0] == t.metrics["accuracy"] and all(0 <= v <= 1 for v in r["values"])
        assert r["mean"] == pytest.approx(sum(r["values"]) / 3)
    rows = len(study.storage.finals(study.id))
    again = study.revalidate(top_k=2, seeds=2)  # nothing trained twice
    assert len(study.storage.finals(study.id)) == rows and again == result
    assert study.final_summary() == before  # the final retrainings' summary ignores these rows
    reopened = Study.load("d", study.storage)
    assert reopened.diagnostics()["revalidation"] == {str(k): v for k, v in result.items()}


def test_diagnose_command(searched, capsys):
    study, db = searched
    assert main(["diagnose", "d", "--storage", db]) == 0
    out = capsys.readouterr().out
    assert "one sample is" in out and "points of accuracy" in out and "search budget vs final retraining" in out
    assert main(["diagnose", "d", "--storage", db, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["study"] == "d" and doc["validation_resolution"]["samples"] == len(study.task.valid)


def test_a_lookup_study_cannot_be_validated_again(tmp_path, capsys):
    study = Study("t", evaluator="nas-bench-graph:cora", strategy="random", storage=f"sqlite:///{tmp_path}/t.db")
    study.run(trials=3)
    with pytest.raises(ArchscoutError, match="trains nothing"):
        study.revalidate()
    with pytest.raises(ArchscoutError, match="seeds >= 1"):
        Study("u", space="mlp", task="iris", storage=f"sqlite:///{tmp_path}/u.db", train=FAST).revalidate(seeds=0)
    assert main(["diagnose", "t", "--storage", f"sqlite:///{tmp_path}/t.db", "--revalidate", "2"]) == 2
    assert "trains nothing" in capsys.readouterr().err
    assert study.diagnostics() == {"validation_resolution": None, "search_vs_final": None, "revalidation": {}}


def test_the_report_shows_the_diagnostics(searched):
    from archscout.report.html import report
    study, _ = searched
    html = report(study)
    assert "How far the ranking can be trusted" in html and "one sample is" in html


@pytest.mark.slow
def test_diagnose_revalidate_shows_the_spread_but_leaves_the_choice_alone(tmp_path, capsys):
    """Issue 29, part 1, item 4: `archscout diagnose --revalidate` changed what `best` and `export` chose."""
    db = f"sqlite:///{tmp_path}/c.db"
    study = Study("c", space="mlp", task="iris", strategy="random", storage=db, train=FAST,
                  final_train={"steps": 10, "batch_size": 16})
    study.run(trials=4, final_top_k=1, final_seeds=1)
    board = [t.number for t in study.leaderboard()]
    assert main(["diagnose", "c", "--storage", db, "--revalidate", "3", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    again = Study.load("c", db)
    assert [t.number for t in again.leaderboard()] == board and again.best().number == board[0]
    assert again.revalidated_means() == {}  # nothing the ranking follows
    budgets = [f.budget for f in again.storage.finals(again.id) if f.seed > 0]
    assert len(budgets) == 6 and all(b.startswith("diagnose:") for b in budgets)
    assert f"the choice stays trial #{board[0]}: `archscout diagnose --revalidate` only looks" in out
    assert "choice: trial #" not in out
    shown = again.diagnostics()["revalidation"]
    assert set(shown) == {str(n) for n in board[:3]} and not any(r["chooses"] for r in shown.values())
    # a search's own revalidation (study.revalidate) still ranks by the mean, with runs of its own
    rows = len(again.storage.finals(again.id))
    again.revalidate(3, 2)
    assert len(again.storage.finals(again.id)) == rows + 6 and set(again.revalidated_means()) == set(board[:3])


def test_repeated_seed_means_are_shown_to_enough_digits_to_tell_them_apart():
    from types import SimpleNamespace

    from archscout.study.diagnostics import lines
    study = SimpleNamespace(objectives=[("f1_macro", "max")], multi_objective=False)
    reval = {"3": {"metric": "f1_macro", "seeds": [0, 1, 2], "values": [0.9290, 0.9310, 0.9330], "mean": 0.9310,
                   "std": 0.0020, "chooses": True},
             "5": {"metric": "f1_macro", "seeds": [0, 1, 2], "values": [0.9340, 0.9270, 0.9275], "mean": 0.92950,
                   "std": 0.0039, "chooses": True}}
    said = lines(study, {"validation_resolution": None, "search_vs_final": None, "revalidation": reval})
    assert said[0] == "choice: trial #3, the best mean over seeds of the 2 validated again (on the search's single " \
                      "seed #5 looked best)"
    assert "trial #3 f1_macro over seeds 0, 1, 2: 0.9310 ± 0.0020 (the search saw 0.9290)" in said
    assert "trial #5 f1_macro over seeds 0, 1, 2: 0.9295 ± 0.0039 (the search saw 0.9340)" in said


def test_other_splits_validate_on_parts_of_the_validations_size_each_held_out_once():
    import numpy as np

    from archscout.study.diagnostics import other_splits
    from archscout.tasks import get_task
    task = get_task("iris")
    splits = other_splits(task, 3)
    pool = task.full_train()
    k = round(len(pool) / len(task.valid))
    assert [label for _, label in splits] == [f"split {i}/{k}:" for i in (1, 2, 3)]
    seen = []
    for copy, _ in splits:
        assert len(copy.train) + len(copy.valid) == len(pool) and abs(len(copy.valid) - len(task.valid)) <= k
        assert copy.test is task.test and copy.num_classes == task.num_classes
        assert set(np.unique(copy.valid.y)) == set(np.unique(pool.y))  # stratified: every class validated
        seen.append({tuple(np.round(np.ravel(x), 6)) for x in copy.valid.X})
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])  # each sample held out once
    with pytest.raises(ArchscoutError, match=f"at most {k} more seeds"):
        other_splits(task, k + 1)
    from dataclasses import replace
    with pytest.raises(ArchscoutError, match="not --folds"):
        other_splits(replace(task, folds=5), 2)


@pytest.mark.slow
def test_revalidation_on_other_splits_is_stored_per_split_and_ranks_the_leaderboard(tmp_path):
    study = Study("sp", space="mlp", task="iris", strategy="random", storage=f"sqlite:///{tmp_path}/sp.db",
                  train=FAST)
    study.search(trials=4)
    made = []
    real = study.evaluator
    study.evaluator = lambda task=None: made.append(task) or real(task)
    result = study.revalidate(top_k=2, seeds=2, on="splits")
    assert len(made) == 2 and all(t is not None and t.valid is not study.task.valid for t in made)
    budgets = sorted(f.budget for f in study.storage.finals(study.id))
    assert len(budgets) == 4 and sum("split 1/" in b for b in budgets) == 2 and sum("split 2/" in b for b in budgets) == 2
    assert all(r["chooses"] and len(r["values"]) == 3 for r in result.values())
    assert set(study.revalidated_means()) == set(result)
    with pytest.raises(ArchscoutError, match="choose one of seeds, splits"):
        study.revalidate(top_k=2, seeds=2, on="folds")
