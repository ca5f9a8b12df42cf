"""A time budget for the whole run: the reserve the search leaves for revalidating and retraining the best."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from archscout.recipe import TrainConfig
from archscout.study import default_search
from archscout.study.timing import MARGIN, RESERVE_SHARE, THREAD_SPEEDUP, Finish, TimeSplit, run_seconds, speedup


def trial(number, train_seconds, trained_steps, duration, acc):
    return SimpleNamespace(number=number, status="complete", final=None, metrics={"train_seconds": train_seconds,
                           "accuracy": acc}, details={"train": {"trained_steps": trained_steps}}, duration=duration)


class FakeStudy:
    """What TimeSplit reads of a study: its trials, leaderboard, fidelities and task."""

    def __init__(self, trials, top_steps=1000, final_steps=3000):
        self._trials = trials
        self.top_fidelity = {"steps": top_steps}
        self.final_train = TrainConfig(steps=final_steps)
        self.evaluator_spec = SimpleNamespace(needs_task=True)
        self.task = SimpleNamespace(folds=None)

    def trials(self):
        return self._trials

    def leaderboard(self, n=None):
        return sorted(self._trials, key=lambda t: -t.metrics["accuracy"])[:n]


def test_a_run_costs_the_trials_seconds_per_step_times_the_steps_plus_its_overhead():
    t = trial(0, train_seconds=2.0, trained_steps=100, duration=2.5, acc=0.9)
    assert run_seconds(t, 1000) == pytest.approx(20.0 + 0.5)
    assert run_seconds(trial(1, None, 100, 1.0, 0.5), 1000) is None


def test_the_estimate_adds_the_revalidation_of_the_leaders_and_the_retraining_of_the_slowest_contender():
    fast, slow, other = trial(0, 1.0, 100, 1.0, 0.9), trial(1, 3.0, 100, 3.0, 0.8), trial(2, 9.0, 100, 9.0, 0.1)
    study = FakeStudy([fast, slow, other])
    split = TimeSplit(study, 600, Finish(revalidate=2, revalidate_seeds=2, top_k=1, final_seeds=3))
    revalidation = (10.0 + 30.0) * 2  # the two leaders, 1,000 steps, 2 seeds
    retraining = 90.0 * 3  # the slower leader's 3,000 steps, 3 seeds (the third, not a contender, is left out)
    assert split.estimate() == pytest.approx(MARGIN * (revalidation + retraining))
    assert TimeSplit(study, 600, Finish(0, 2, 0, 3)).estimate() == 0.0
    fast.fidelity = slow.fidelity = {"steps": 100}  # leaders at a lower rung are validated again there
    assert split.estimate() == pytest.approx(MARGIN * ((1.0 + 3.0) * 2 + retraining))
    assert TimeSplit(FakeStudy([]), 600, Finish(3, 2, 1, 3)).estimate() == 0.0  # nothing measured yet
    # the steps after the search on two threads, the search's workers on one: the training part runs faster
    faster = TimeSplit(study, 600, Finish(2, 2, 1, 3), speedup(1, 2))
    assert faster.estimate() == pytest.approx(MARGIN * ((1.0 + 3.0) * 2 + retraining) / THREAD_SPEEDUP)


def test_more_threads_train_faster_by_the_measured_factor_per_doubling():
    assert speedup(1, 1) == speedup(2, 1) == 1.0
    assert speedup(1, 2) == pytest.approx(THREAD_SPEEDUP) and speedup(1, 4) == pytest.approx(THREAD_SPEEDUP ** 2)


def test_the_summary_says_what_each_step_took_and_when_the_budget_was_too_small():
    split = TimeSplit(FakeStudy([]), 0.0, Finish(3, 2, 1, 3))
    split.searched()
    split.revalidated()
    text = split.summary()
    assert text.startswith("time: search") and "revalidation" in text and "final retraining" in text
    assert "budget is too small" in text
    roomy = TimeSplit(FakeStudy([]), 3600, Finish(3, 2, 1, 3))
    roomy.searched()
    assert "too small" not in roomy.summary() and "of the 3600 s budget" in roomy.summary()
    assert "whole run" in TimeSplit(FakeStudy([]), 60, Finish(3, 2, 1, 3)).describe()


def test_the_default_space_follows_the_task_inputs():
    assert default_search.space_for(SimpleNamespace(input_shape=(1, 40))) == "conv1d-recipe"
    assert default_search.space_for(SimpleNamespace(input_shape=(1, 8, 8))) == "conv2d-recipe"
    assert default_search.space_for(SimpleNamespace(input_shape=(13,))) == "mlp-recipe"
    assert default_search.space_for(SimpleNamespace()) == "gnn"


@pytest.mark.slow
def test_a_graph_task_gets_the_gnn_space_though_its_node_features_look_like_a_vector():
    from archscout.tasks import get_task
    assert default_search.space_for(get_task("mnist1d-knn")) == "gnn"


def test_small_inputs_and_a_long_budget_get_one_thread_workers_on_every_core():
    small, large = SimpleNamespace(input_shape=(1, 40)), SimpleNamespace(input_shape=(3, 64, 64))
    assert default_search.parallelism(small, 1800, 2) == (2, None)  # one thread each: the default for 2
    assert default_search.parallelism(small, 60, 2) == (1, None)  # too short to start worker processes
    assert default_search.parallelism(large, 1800, 2) == (1, None)
    assert default_search.parallelism(small, 1800, 1) == (1, None)
    assert default_search.parallelism(small, None, 4) == (1, None)


def test_the_default_strategy_depends_on_the_evaluator_and_the_objectives():
    assert default_search.strategy_for(None, "train", 1) == "auto"
    assert default_search.strategy_for(None, "train", 2) == "mo-asha"
    assert default_search.strategy_for(None, "synthetic", 1) == "evolution"
    assert default_search.strategy_for("random", "train", 1) == "random"
    assert default_search.is_default("default") and default_search.is_default("auto")
    assert not default_search.is_default("asha") and not default_search.is_default("no-such")


def test_the_search_starts_no_trial_once_search_time_plus_the_reserve_reaches_the_budget(tmp_path):
    from archscout import Study
    study = Study("r", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/r.db")
    assert study.search(time_budget=3600, reserve=lambda: 3600.0) == []  # nothing left for the search
    assert study.trials() == []
    assert len(study.search(time_budget=3600, trials=3, reserve=lambda: 0.0)) == 3  # no reserve: it runs


def test_the_steps_after_the_search_drop_seeds_then_leaders_to_fit_the_time_left():
    # three contenders at 1,000 steps: 10, 20 and 30 s a revalidation seed; 30, 60 and 90 s a final seed (3,000)
    a, b, c = trial(0, 1.0, 100, 1.0, 0.9), trial(1, 2.0, 100, 2.0, 0.8), trial(2, 3.0, 100, 3.0, 0.7)
    split = TimeSplit(FakeStudy([a, b, c]), 10_000, Finish(revalidate=3, revalidate_seeds=2, top_k=1, final_seeds=3))
    assert split.revalidation_that_fits([a, b, c], 2) == (3, 2)  # roomy: what was asked
    assert split.seeds_that_fit([b], 3) == 3

    def left(seconds):  # the budget's clock moved on: ``seconds`` remain (a fixed clock: no stall can flip it)
        split.left = lambda: seconds

    left(MARGIN * (60 * 2 + 90) + 5)  # 3 leaders, 2 seeds, and one final seed of the slowest (90 s)
    assert split.revalidation_that_fits([a, b, c], 2) == (3, 2)
    left(MARGIN * (60 * 1 + 90) + 5)  # one seed each
    assert split.revalidation_that_fits([a, b, c], 2) == (3, 1)
    left(MARGIN * (30 * 1 + 90) + 5)  # the best two, one seed each
    assert split.revalidation_that_fits([a, b, c], 2) == (2, 1)
    left(MARGIN * 90)  # not even that
    assert split.revalidation_that_fits([a, b, c], 2) == (0, 0)
    assert split.revalidation_that_fits([a], 2) == (1, 2)  # one asked (its own final seed after it): it fits
    left(MARGIN * (60 * 2) + 5)  # the final retraining of b: 60 s a seed
    assert split.seeds_that_fit([b], 3) == 2
    left(1)
    assert split.seeds_that_fit([b], 3) == 1  # a model always comes out
    mute = trial(3, None, 100, 1.0, 0.95)  # a trial that says nothing of its speed: what was asked
    assert split.seeds_that_fit([mute], 3) == 3 and split.revalidation_that_fits([mute, a], 2) == (2, 2)


def test_a_whole_budget_run_says_what_it_dropped_to_keep_the_budget(tmp_path, monkeypatch):
    from archscout import Study
    from archscout.study import timing
    said = []
    study = Study("fit", space="mlp", task="iris", storage=f"sqlite:///{tmp_path}/f.db", train={"steps": 30})
    monkeypatch.setattr(timing.TimeSplit, "left", lambda self: 0.0)  # the search used it all
    study.run(trials=3, time_budget=3600, whole_budget=True, revalidate=2, final_top_k=1, final_seeds=3,
              progress=lambda kind, **kw: said.append(kw.get("text")) if kind == "note" else None)
    notes = [s for s in said if s]
    assert any(s.startswith("no revalidation") for s in notes)
    assert any(s.startswith("final retraining with 1 seed(s), not 3") for s in notes)
    assert study.revalidated_means() == {}
    best = study.leaderboard(1)[0]
    assert len([f for f in study.storage.finals(study.id) if f.trial_id == best.id]) == 1


def test_the_reserve_keeps_at_most_half_the_budget_from_the_search():
    slow = trial(0, 10.0, 100, 10.0, 0.9)  # 0.1 s a step: 3 x 3,000 final steps alone take 900 s
    split = TimeSplit(FakeStudy([slow]), 600, Finish(revalidate=1, revalidate_seeds=2, top_k=1, final_seeds=3))
    assert split.estimate() > 600
    assert split.reserve() == pytest.approx(RESERVE_SHARE * 600)
    roomy = TimeSplit(FakeStudy([slow]), 36_000, Finish(revalidate=1, revalidate_seeds=2, top_k=1, final_seeds=3))
    assert roomy.reserve() == pytest.approx(roomy.estimate())  # below the cap: the estimate itself
