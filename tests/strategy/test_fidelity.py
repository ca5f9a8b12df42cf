"""Fidelity as a budget (issue 18, part 1): runs stopped early in the study's schedule, continued from their
checkpoint when promoted, resumed after a crash; learning curves; early stopping; the revalidated choice."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import archscout
from archscout import Study
from archscout.errors import ArchscoutError
from archscout.evaluate.checkpoints import CheckpointStore
from archscout.evaluate.stopping import StopRule, curve_family, parse_rule
from archscout.evaluate.training import TrainConfig, fit
from archscout.strategy import Proposal, Strategy
from archscout.tasks import Split, from_arrays

TEST_STRATEGIES = ("promote-test", "waits-test", "never-test")


@pytest.fixture(autouse=True, scope="module")
def _unregister_test_strategies():
    """The strategies these tests register leave the registry with the module (later tests list the registry)."""
    yield
    from archscout.strategy import STRATEGIES
    for name in TEST_STRATEGIES:
        if name in STRATEGIES.names():
            STRATEGIES.unregister(name)


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _task():
    X, y = _blobs(300)
    return from_arrays(X[:240], y[:240], X[240:], y[240:], name="blobs")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_continued_run_ends_where_an_uninterrupted_one_does(tmp_path):
    split = Split(*_blobs())
    full = TrainConfig(steps=60, batch_size=32)
    straight = _net()
    fit(straight, split, full, seed=3)
    store = CheckpointStore(tmp_path, every=0)
    low = full.with_(steps=20, horizon=60)
    assert low.budget_key().startswith("steps=20/60,") and low.partial
    assert low.run_key() == full.run_key()  # one run, stopped at different steps
    continued = _net()
    fit(continued, split, low, seed=3, checkpoint=store.line("a", low, 3))
    assert store.lines() == 1  # the low fidelity's end is kept for a promotion
    stats = fit(continued, split, full, seed=3, checkpoint=store.line("a", full, 3))
    assert stats["start"] == 20 and stats["steps"] == 40
    assert _same(straight, continued)
    assert store.lines() == 0  # the run reached its schedule's end: nothing will continue it


def test_restart_mode_and_other_seeds_do_not_share_a_run(tmp_path):
    full = TrainConfig(steps=60, batch_size=32)
    store = CheckpointStore(tmp_path, every=0)
    assert store.line("a", full, 0).path != store.line("a", full, 1).path
    assert store.line("a", full.with_(steps=20), 0).path != store.line("a", full, 0).path  # own schedule
    with pytest.raises(ArchscoutError, match="horizon"):
        TrainConfig(steps=60, horizon=30)
    with pytest.raises(ArchscoutError, match="fidelity mode"):
        TrainConfig(fidelity_mode="resume")


class _Crash(Exception):
    pass


class _CrashAt:
    """A guard whose check() raises after ``n`` training steps (a process that dies mid-trial)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def check(self):
        self.calls += 1
        if self.calls > self.n:
            raise _Crash


def test_a_crashed_run_resumes_from_its_last_save(tmp_path):
    split = Split(*_blobs())
    cfg = TrainConfig(steps=60, batch_size=32)
    straight = _net()
    fit(straight, split, cfg, seed=1, validate=lambda step: {"v": 0.0})
    store = CheckpointStore(tmp_path, every=0)
    crashed = _net()
    with pytest.raises(_Crash):
        fit(crashed, split, cfg, seed=1, guard=_CrashAt(40), validate=lambda step: {"v": 0.0},
            checkpoint=store.line("a", cfg, 1))
    resumed = _net()
    stats = fit(resumed, split, cfg, seed=1, validate=lambda step: {"v": float(step)},
                checkpoint=store.line("a", cfg, 1))
    assert stats["start"] == 36  # the last validation before the crash (every 6 steps)
    assert [p["step"] for p in stats["curve"]] == list(range(6, 61, 6))  # the saved points come back
    assert _same(straight, resumed)


def test_an_unreadable_checkpoint_is_ignored(tmp_path):
    cfg = TrainConfig(steps=60, batch_size=32)
    line = CheckpointStore(tmp_path, every=0).line("a", cfg, 0)
    line.path.mkdir(parents=True)
    (line.path / "30.pt").write_bytes(b"not a checkpoint")
    assert line.latest(60) is None
    assert not (line.path / "30.pt").exists()


class _Promote(Strategy):
    """Proposes one architecture at 20 steps, then the same at the study's 60 (a promotion), then waits."""

    name = "promote-test"

    def __init__(self, space, seed=0):
        super().__init__(space, seed)
        self.arch = space.sample(seed)
        self.step, self.low = 0, None

    def ask(self):
        self.step += 1
        if self.step == 1:
            return Proposal(self.arch, {"steps": 20})
        if self.step == 2:
            return Proposal(self.arch, {"steps": 60}, parent=self.low)
        return self.space.sample(self.rng)

    def tell_result(self, result):
        if result.fidelity == {"steps": 20}:
            self.low = result.trial


def _study(tmp_path, name="s", **kw):
    from archscout.strategy import STRATEGIES
    if "promote-test" not in STRATEGIES.names():
        STRATEGIES.register("promote-test", _Promote)
    kw.setdefault("train", {"steps": 60})
    return Study(name, space="mlp", task=_task(), storage=f"sqlite:///{tmp_path}/s.db", **kw)


@pytest.mark.slow
def test_a_promotion_continues_the_lower_fidelity_and_checkpoints_are_cleaned(tmp_path):
    study = _study(tmp_path, strategy="promote-test")
    study.search(trials=2, progress=False)
    low, top = study.trials()
    assert low.budget.startswith("steps=20/60,") and low.fidelity == {"steps": 20}
    assert top.budget == study.train_config.budget_key()  # the top rung is the study's own budget: ranked
    assert top.details["continued_from"] == {"step": 20, "trial": low.number}
    assert top.details["train"]["trained_steps"] == 40
    assert top.details["learning_curve"]["step"][:3] == [6, 12, 18]  # the curve starts at step 0
    assert low.details["learning_curve"]["step"] == [6, 12, 18, 20]
    assert study.leaderboard() == [top] and study.unranked() == [low]
    assert not study.checkpoints.root.exists()  # the search ended: nothing left to continue
    # the same architecture trained straight through scores the same (up to the float rounding of another
    # thread count: the search trains with its own; test_a_continued_run_... checks the weights are equal)
    plain = _study(tmp_path, name="plain", strategy="random")
    straight = plain.evaluator().evaluate(top.arch, seed=0)
    assert straight.metrics["accuracy"] == pytest.approx(top.metrics["accuracy"], abs=1.01 / 24)
    assert straight.metrics["loss"] == pytest.approx(top.metrics["loss"], rel=1e-3)


@pytest.mark.slow
def test_restart_mode_trains_each_fidelity_from_the_start(tmp_path):
    study = _study(tmp_path, strategy="promote-test", train={"steps": 60, "fidelity_mode": "restart"})
    study.search(trials=2, progress=False)
    low, top = study.trials()
    assert low.budget.startswith("steps=20,")
    assert "continued_from" not in top.details and top.details["train"]["trained_steps"] == 60


class _Waits(Strategy):
    """Waits (None) while its one proposal runs; asks again when told."""

    name = "waits-test"

    def __init__(self, space, seed=0):
        super().__init__(space, seed)
        self.pending = False
        self.asked = 0

    def ask(self):
        if self.pending:
            return None
        self.pending = True
        self.asked += 1
        return self.space.sample(self.rng)

    def tell_result(self, result):
        self.pending = False


def test_a_strategy_that_waits_gets_asked_again_after_results(tmp_path):
    from archscout.strategy import STRATEGIES
    if "waits-test" not in STRATEGIES.names():
        STRATEGIES.register("waits-test", _Waits)
    study = Study("w", space="conv1d", evaluator="synthetic", strategy="waits-test",
                  storage=f"sqlite:///{tmp_path}/w.db")
    study.search(trials=6, progress=False, workers=1)
    assert len(study.trials("complete")) == 6


class _Never(Strategy):
    name = "never-test"

    def ask(self):
        return None


def test_a_strategy_waiting_for_nothing_stops_the_search(tmp_path, monkeypatch):
    from archscout.strategy import STRATEGIES
    from archscout.study import loop
    if "never-test" not in STRATEGIES.names():
        STRATEGIES.register("never-test", _Never)
    monkeypatch.setattr(loop, "WAIT_LIMIT", 0.3)
    notes = []
    study = Study("n", space="conv1d", evaluator="synthetic", strategy="never-test",
                  storage=f"sqlite:///{tmp_path}/n.db")
    study.search(trials=3, progress=lambda event, **d: notes.append(d.get("text")))
    assert study.trials() == []
    assert any("waits for results that no running trial will give" in (n or "") for n in notes)


def test_stop_rules_follow_the_percentile_pruner():
    assert parse_rule("median") == ("median", 50.0)
    assert parse_rule("percentile:25") == ("percentile", 25.0)
    assert parse_rule(None) is None and parse_rule("none") is None
    for bad in ("percentile:0", "percentile:x", "mean"):
        with pytest.raises(ArchscoutError):
            parse_rule(bad)
    curves = [{"step": [10, 20], "accuracy": [v, v + 0.1]} for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    median = StopRule.from_curves(curves, "accuracy", True)
    assert median.thresholds == {10: pytest.approx(0.3), 20: pytest.approx(0.4)}
    assert median.check(10, 0.25) == pytest.approx(0.3) and median.check(10, 0.35) is None
    assert median.check(15, 0.0) is None  # no comparison at a step others were not validated at
    top25 = StopRule.from_curves(curves, "accuracy", True, "percentile", 25.0)
    assert top25.check(10, 0.35) is not None  # above the median, not in the top quarter
    loss = StopRule.from_curves([{"step": [10], "loss": [v]} for v in (1, 2, 3, 4, 5)], "loss", False)
    assert loss.check(10, 3.5) == pytest.approx(3.0) and loss.check(10, 2.5) is None
    assert StopRule.from_curves(curves[:4], "accuracy", True) is None  # fewer than five completed
    assert curve_family("steps=111/1000,bs=100") == curve_family("steps=1000,bs=100") != curve_family("steps=111,bs=100")


@pytest.mark.slow
def test_early_stopping_stores_stopped_trials_that_are_not_ranked(tmp_path):
    study = _study(tmp_path, strategy="random", early_stopping="percentile:10")
    study.search(trials=10, progress=False)
    stopped = study.trials("stopped")
    assert stopped, "a rule that keeps the top 10 % stops some of ten trials"
    for t in stopped:
        assert t.error.startswith("stopped early at step") and t.details["stopped"]["rule"] == "percentile:10"
        assert t.details["learning_curve"]["step"][-1] == t.details["stopped"]["step"] < 60
        assert "accuracy" in t.metrics and "params" in t.metrics
        assert t not in study.leaderboard()
    assert len(study.trials("complete")) >= 5
    reopened = Study.load("s", storage=f"sqlite:///{tmp_path}/s.db", task=_task())
    assert reopened.early_stopping == "percentile:10"


def test_early_stopping_needs_a_training_evaluator(tmp_path):
    with pytest.raises(ArchscoutError, match="trains nothing"):
        Study("x", space="conv1d", evaluator="synthetic", early_stopping="median",
              storage=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ArchscoutError, match="unknown early stopping rule"):
        _study(tmp_path, early_stopping="sometimes")


@pytest.mark.slow
def test_revalidation_chooses_by_the_mean_over_seeds(tmp_path):
    study = _study(tmp_path, strategy="random")
    study.run(trials=4, final_top_k=0, revalidate=2, revalidate_seeds=1)
    reval = study.diagnostics()["revalidation"]
    assert len(reval) == 2
    means = study.revalidated_means()
    board = study.leaderboard()
    first, second = board[0], board[1]
    assert {first.number, second.number} == set(means)
    assert means[first.number] >= means[second.number]
    from archscout.study.diagnostics import lines
    assert any(line.startswith(f"choice: trial #{first.number}") for line in lines(study))


@pytest.mark.slow
def test_asha_promotes_by_continuing_and_ranks_its_top_rung(tmp_path):
    study = _study(tmp_path, strategy="asha", train={"steps": 27}, strategy_options={"min_fidelity": 3})
    study.search(trials=24, progress=False)
    trials = study.trials("complete")
    by_fidelity = {}
    for t in trials:
        by_fidelity.setdefault(t.fidelity["steps"], []).append(t)
    assert set(by_fidelity) >= {3, 9}, "ASHA promotes some of the first rung's candidates"
    assert len(by_fidelity[3]) > len(by_fidelity[9])
    promoted = [t for t in trials if t.parent is not None]
    assert promoted and all(t.details["continued_from"]["trial"] == t.parent for t in promoted)
    parents = {t.number: t for t in study.trials()}
    for t in promoted:
        assert parents[t.parent].arch == t.arch and parents[t.parent].fidelity["steps"] < t.fidelity["steps"]
        assert t.details["continued_from"]["step"] == parents[t.parent].fidelity["steps"]
    if 27 in by_fidelity:  # the top rung is the study's own budget: ranked
        assert {t.number for t in study.leaderboard()} == {t.number for t in by_fidelity[27]}
    assert not study.checkpoints.root.exists()


@pytest.mark.slow
def test_a_synchronous_scheduler_with_two_workers_waits_for_its_rung(tmp_path):
    study = _study(tmp_path, strategy="successive-halving", train={"steps": 9},
                   strategy_options={"min_fidelity": 1})
    study.search(trials=13, progress=False, workers=2)
    trials = study.trials()
    rungs = [t.fidelity["steps"] for t in sorted(trials, key=lambda t: t.number)]
    assert rungs[:9] == [1] * 9, "the bracket's first rung is filled before any promotion"
    assert rungs[9:12] == [3] * 3 and rungs[12] == 9
    assert study.leaderboard()[0].fidelity == {"steps": 9}


def test_a_guide_cannot_drive_a_scheduler(tmp_path):
    with pytest.raises(ArchscoutError, match="schedules fidelities itself"):
        _study(tmp_path, strategy="asha", guide="proxies")



@archscout.evaluator(measures={"score": "max"}, model=False, fidelities=("steps",))
def _curve(arch, ctx):
    """A learning curve that rises to a quality fixed by the architecture, at the fidelity's steps (5 by
    default), reported at every step."""
    quality = int(arch.id[:8], 16) % 1000 / 1000
    steps = int((ctx.fidelity or {}).get("steps", 5))
    for step in range(1, steps + 1):
        ctx.report(step, score=quality * step / 5)
    return {"score": quality * steps / 5}


def test_a_user_evaluator_that_reports_is_stopped_early(tmp_path):
    study = Study("u", space="conv1d", evaluator=_curve, objectives="score:max", early_stopping="median",
                  storage=f"sqlite:///{tmp_path}/u.db")
    study.search(trials=20, progress=False)
    stopped, complete = study.trials("stopped"), study.trials("complete")
    assert stopped and len(complete) >= 5
    for t in stopped:
        curve = t.details["learning_curve"]
        assert curve["step"][-1] == t.details["stopped"]["step"]
        assert t.metrics["score"] == pytest.approx(curve["score"][-1], abs=1e-6)
        assert t.metrics["score"] < t.details["stopped"]["threshold"]


def test_a_scheduler_drives_a_user_evaluators_own_budget(tmp_path):
    study = Study("a", space="conv1d", evaluator=_curve, objectives="score:max", strategy="asha",
                  strategy_options={"max_fidelity": 9, "min_fidelity": 1}, storage=f"sqlite:///{tmp_path}/a.db")
    study.search(trials=30, progress=False)
    levels = {t.fidelity["steps"] for t in study.trials("complete")}
    assert {1, 3} <= levels <= {1, 3, 9}
    assert all(t.fidelity["steps"] == max(levels) for t in study.leaderboard())


RUNS: list = []


@archscout.evaluator(measures={"score": "max"}, model=False, fidelities=("steps",))
def _resumable(arch, ctx):
    """Counts steps from where its checkpoint left off; records (fidelity, the step it started from)."""
    saved = ctx.load_checkpoint()
    start = int(saved["step"]) if saved else 0
    total = float(saved["total"]) if saved else 0.0
    steps = int(ctx.fidelity["steps"])
    for step in range(start + 1, steps + 1):
        total += 1.0
        ctx.report(step, score=total)
    ctx.save_checkpoint({"total": total}, steps)
    RUNS.append((steps, start))
    return {"score": total}


def test_a_user_evaluator_continues_a_promotion_from_its_own_checkpoint(tmp_path):
    RUNS.clear()
    study = Study("c", space="conv1d", evaluator=_resumable, objectives="score:max", strategy="asha",
                  strategy_options={"max_fidelity": 9, "min_fidelity": 1}, storage=f"sqlite:///{tmp_path}/c.db")
    study.search(trials=20, progress=False)
    promoted = [t for t in study.trials("complete") if t.parent is not None]
    assert promoted
    for t in promoted:
        below = study.trial(t.parent).fidelity["steps"]
        assert t.details["continued_from"] == {"step": below, "trial": t.parent}
        assert t.metrics["score"] == t.fidelity["steps"]  # the steps before were counted once, not again
    assert (3, 1) in RUNS and all(start < steps for steps, start in RUNS)
    assert not study.checkpoints.root.exists()


@pytest.mark.slow
def test_a_trial_whose_process_was_killed_resumes_from_its_checkpoint(tmp_path):
    """kill -9 in the middle of a long trial; the same command again continues it from its last save."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "k.db"
    cmd = [sys.executable, "-m", "archscout.cli", "search", "--task", "digits", "--space", "mlp", "--steps", "4000",
           "--strategy", "evolution", "--trials", "1", "--top-k", "0", "--study", "k", "--storage", f"sqlite:///{db}", "--no-progress"]
    env = {**os.environ, "ARCHSCOUT_CHECKPOINT_EVERY": "0", "OMP_NUM_THREADS": "1"}
    folder = tmp_path / "k.db-checkpoints" / "k"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 240
        while time.monotonic() < end and not any(p.stem.replace(".", "").isdigit() and float(p.stem) >= 800
                                                 for p in folder.glob("*/*.pt")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = max(float(p.stem) for p in folder.glob("*/*.pt") if p.stem.replace(".", "").isdigit())
    assert 800 <= saved < 4000
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    study = Study.load("k", storage=f"sqlite:///{db}")
    first, again = study.trials()
    assert first.status == "interrupted" and again.status == "complete" and again.arch == first.arch
    assert again.details["continued_from"]["step"] >= saved
    assert again.details["train"]["trained_steps"] <= 4000 - saved
    assert again.details["learning_curve"]["step"][0] == 400  # the points saved before the kill come back
    assert not folder.exists()
