"""Crash safety, failure isolation, parallel workers, cooperating processes, Ray, determinism.

Most tests use the synthetic evaluator (no training; faults injected per architecture), so
they exercise the framework in seconds; determinism is also checked with real training.
"""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import sqlalchemy as sa

from archscout import ArchscoutError, Study
from archscout.storage import _normalise_url
from archscout.tasks import get_task

CLI = [sys.executable, "-m", "archscout.cli"]


def _rows(where):
    """The trials table as dicts: ``where`` is a SQLite file path or any storage URL."""
    url = where if "://" in str(where) else f"sqlite:///{where}"
    engine = sa.create_engine(_normalise_url(url))
    try:
        with engine.connect() as c:
            return [dict(r) for r in c.execute(sa.text("select * from trials order by number")).mappings()]
    except sa.exc.DBAPIError:  # the search process is still creating the database
        return []
    finally:
        engine.dispose()


def _exists(where):
    return "://" in str(where) or os.path.exists(where)


def _wait_for(pred, timeout=90.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _finished(rows):
    return [r for r in rows if r["status"] in ("complete", "failed", "infeasible")]


@pytest.mark.parametrize("workers,backend", [(1, "sqlite"), (2, "sqlite"), (2, "postgresql")])
@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes_and_loses_nothing(tmp_path, workers, backend):
    if backend == "sqlite":
        path, url = tmp_path / "runs.db", f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        from conftest import _fresh_postgres
        path = url = _fresh_postgres()
    cmd = CLI + ["search", "--evaluator", "synthetic:delay=0.4", "--space", "conv1d", "--strategy", "evolution",
                 "--population-size", "4", "--sample-size", "2", "--trials", "14", "--study", "k",
                 "--storage", url, "--no-progress", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _exists(path) and len(_finished(_rows(path))) >= 5
                         and any(r["status"] == "running" for r in _rows(path))), proc.stderr.read1()
        children = psutil.Process(proc.pid).children()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = _rows(path)
    done_before = {r["id"]: r for r in _finished(before)}
    in_flight = [r for r in before if r["status"] == "running"]
    assert in_flight and len(done_before) >= 5
    assert len(children) >= (workers if workers > 1 else 0)
    # orphaned pool workers notice the driver is gone (their pipe closes) and exit
    assert _wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), 15)

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    after = {r["id"]: r for r in _rows(path)}
    for tid, r in done_before.items():  # every finished trial is still there, unchanged
        assert after[tid] == r
    for r in in_flight:  # in-flight trials are marked interrupted, with the time, and evaluated again
        a = after[r["id"]]
        assert a["status"] == "interrupted" and a["finished_at"] is not None and a["claim"] is None
        assert "interrupted" in a["error"] and "noticed at" in a["error"]
        assert any(x["arch_id"] == r["arch_id"] and x["status"] == "complete" for x in after.values())
    finished = _finished(after.values())
    assert len(finished) == 14
    assert len({r["arch_id"] for r in finished}) == len(finished)  # nothing evaluated twice


@pytest.mark.slow
def test_on_interrupted_fail_stores_the_in_flight_trial_as_failed(tmp_path):
    path = tmp_path / "runs.db"
    cmd = CLI + ["search", "--evaluator", "synthetic:delay=0.4", "--space", "mlp", "--trials", "6",
                 "--study", "f", "--storage", f"sqlite:///{path}", "--no-progress", "--on-interrupted", "fail"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: _exists(path) and len(_finished(_rows(path))) >= 2
                         and any(r["status"] == "running" for r in _rows(path)))
    finally:
        proc.kill()
        proc.wait()
    running = [r["id"] for r in _rows(path) if r["status"] == "running"]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    after = {r["id"]: r for r in _rows(path)}
    assert all(after[t]["status"] == "failed" and "not retried" in after[t]["error"] for t in running)
    assert len(_finished(after.values())) == 6


def test_an_architecture_interrupted_three_times_is_stored_failed(db):
    """A candidate whose process keeps dying under it is retried twice, then failed."""
    study = Study("crashy", space="mlp", evaluator="synthetic:crash=1", storage=db, strategy="random")
    arch = study.space.sample(0)
    store = study.storage
    budget = study.evaluator().budget_key
    requeued = []
    for _ in range(3):  # three processes died while evaluating it
        store.start_trial(study.id, arch.id, arch.to_json(), budget, 0)
        requeued.append(study._recover(budget, "requeue", 60))
    assert requeued == [[arch], [arch], []]
    rows = store.trials(study.id)
    assert [r.status for r in rows] == ["interrupted", "interrupted", "failed"]
    assert "interrupted 3 times" in rows[2].error
    # a stop of the search itself (Ctrl-C) is not the architecture's fault and does not count
    other = study.space.sample(1)
    t = store.start_trial(study.id, other.id, other.to_json(), budget, 0)
    store.interrupt_trials([t.id], "the search was interrupted while this trial was running")
    assert store.count_interrupted(study.id, other.id, budget) == 0


def _study(db, name="s", evaluator="synthetic", space="conv1d", strategy="random", **kw):
    return Study(name, space=space, evaluator=evaluator, storage=db, strategy=strategy, **kw)


@pytest.mark.slow
def test_raising_nan_and_slow_candidates_fail_with_reasons_and_the_search_goes_on(db):
    study = _study(db, evaluator="synthetic:fail=0.2,nan=0.2,hang=0.15")
    study.search(trials=25, trial_timeout=0.5, max_failures=0)
    trials = study.trials()
    assert len(trials) == 25
    errors = [t.error for t in trials if t.status == "failed"]
    assert any("injected failure" in e for e in errors)
    assert any("non-finite metric" in e and "accuracy=nan" in e for e in errors)
    assert any("per-trial time limit of 0.5 s" in e for e in errors)
    assert sum(t.status == "complete" for t in trials) >= 5


@pytest.mark.slow
def test_pool_workers_survive_crashes_hangs_and_memory_hogs(db):
    study = _study(db, evaluator="synthetic:crash=0.2,block=0.15,delay=0.05")
    study.search(trials=20, workers=2, trial_timeout=0.5, max_failures=0)
    trials = study.trials()
    assert len(trials) == 20
    errors = [t.error for t in trials if t.status == "failed"]
    assert any("worker process exited (exit code 13)" in e for e in errors)
    assert any("the worker was stopped" in e and "time limit" in e for e in errors)
    assert sum(t.status == "complete" for t in trials) >= 5
    hog = _study(db, "hog", evaluator="synthetic:delay=0.5")
    hog.search(trials=2, workers=2, trial_memory_mb=1, max_failures=0)
    assert all("per-trial memory limit of 1 MB" in t.error for t in hog.trials())


def test_memory_limit_in_process(db):
    study = _study(db, evaluator="synthetic:delay=0.2")
    study.search(trials=2, trial_memory_mb=1, max_failures=0)
    assert [t.status for t in study.trials()] == ["failed", "failed"]
    assert "memory limit" in study.trials()[0].error


def test_max_failures_stops_a_study_that_only_fails(db):
    study = _study(db, evaluator="synthetic:fail=1")
    with pytest.raises(ArchscoutError, match=r"last 4 trials all failed.*injected failure"):
        study.search(trials=100, max_failures=4)
    assert len(study.trials()) == 4


def test_max_failures_on_the_command_line(db, capsys):
    from archscout.cli import main

    code = main(["search", "--evaluator", "synthetic:fail=1", "--space", "mlp", "--trials", "50",
                 "--storage", db, "--max-failures", "3", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the last 3 trials all failed" in err[0]


@pytest.mark.slow
def test_pool_runs_trials_at_the_same_time_without_duplicates(any_db):
    study = _study(any_db, evaluator="synthetic:delay=0.3", strategy="evolution",
                   strategy_options={"population_size": 4, "sample_size": 2})
    study.search(trials=12, workers=2)
    trials = study.trials()
    assert len(trials) == 12 and all(t.status == "complete" for t in trials)
    assert len({t.arch.id for t in trials}) == 12
    assert len({t.details["worker"]["pid"] for t in trials}) == 2
    rows = study.storage.trials(study.id)
    overlaps = sum(1 for a, b in zip(rows, rows[1:]) if b.started_at < a.finished_at)
    assert overlaps >= 3  # trials ran concurrently
    study.search(trials=16, workers=2)  # resuming on the same storage adds 4
    assert len(study.trials()) == 16 and len({t.arch.id for t in study.trials()}) == 16


@pytest.mark.slow
def test_several_search_processes_cooperate_on_one_study(any_db):
    path = any_db
    cmd = CLI + ["search", "--evaluator", "synthetic:delay=0.15", "--space", "conv1d", "--strategy", "evolution",
                 "--population-size", "6", "--trials", "30", "--study", "shared", "--storage", any_db,
                 "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        p.wait(300)
        assert p.returncode == 0, p.stderr.read()
    rows = _rows(path)
    assert len(rows) == 30 and all(r["status"] == "complete" for r in rows)
    assert len({r["arch_id"] for r in rows}) == 30  # no architecture evaluated twice
    assert len({r["session_id"] for r in rows}) >= 2  # the work was shared
    engine = sa.create_engine(_normalise_url(any_db))
    with engine.connect() as c:
        assert c.execute(sa.text("select count(*) from sessions where stopped_at is not null")).scalar() == 3
    engine.dispose()


@pytest.mark.slow
def test_ray_executor_on_a_ray_instance_started_by_the_test(tmp_path):
    ray = pytest.importorskip("ray")
    import logging

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    try:
        address = ray.get_runtime_context().gcs_address
        path = tmp_path / "ray.db"
        cmd = CLI + ["search", "--evaluator", "synthetic:delay=0.1,fail=0.15,crash=0.1,block=0.1", "--space",
                     "conv1d", "--trials", "20", "--study", "r", "--storage", f"sqlite:///{path}", "--no-progress",
                     "--executor", "ray", "--address", address, "--workers", "2", "--trial-timeout", "10",
                     "--max-failures", "0"]  # a limit only the blocked trials reach, even on a loaded machine
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    finally:
        ray.shutdown()
    rows = _rows(path)
    assert len(rows) == 20 and len({r["arch_id"] for r in rows}) == 20
    errors = [r["error"] for r in rows if r["status"] == "failed"]
    assert any("injected failure" in e for e in errors), errors
    assert any("Ray worker died" in e for e in errors)
    assert any("time limit" in e and "cancelled" in e for e in errors)
    assert sum(r["status"] == "complete" for r in rows) >= 5


def test_ray_address_nobody_listens_on_is_a_clear_error(db):
    pytest.importorskip("ray")
    study = _study(db)
    with pytest.raises(ArchscoutError, match="cannot reach the Ray cluster"):
        study.search(trials=2, executor="ray", address="127.0.0.1:1")


def _sequence(db, name, seed, strategy="evolution", trials=30):
    s = _study(db, name, strategy=strategy, seed=seed,
               strategy_options={"population_size": 5, "sample_size": 2} if strategy == "evolution" else None)
    s.search(trials=trials)
    return [t.arch.id for t in s.trials()], s


@pytest.mark.parametrize("strategy", ["random", "evolution", "local_search"])
def test_same_seed_same_proposals(tmp_path, strategy):
    a, _ = _sequence(f"sqlite:///{tmp_path / 'a.db'}", "x", 7, strategy)
    b, _ = _sequence(f"sqlite:///{tmp_path / 'b.db'}", "x", 7, strategy)
    c, _ = _sequence(f"sqlite:///{tmp_path / 'c.db'}", "x", 8, strategy)
    assert a == b and a != c


def test_a_resumed_study_continues_deterministically(tmp_path):
    runs = []
    for name in ("a", "b"):
        s = _study(f"sqlite:///{tmp_path / name}.db", "r", strategy="evolution",
                   strategy_options={"population_size": 5, "sample_size": 2})
        s.search(trials=12)
        s.search(trials=25)  # a second run rebuilds the strategy from the stored history
        runs.append([t.arch.id for t in s.trials()])
    assert runs[0] == runs[1] and len(set(runs[0])) == 25


@pytest.mark.slow
def test_same_seed_same_metrics_with_real_training(tmp_path):
    task = get_task("iris")
    out = []
    for name in ("a", "b"):
        s = Study("t", space="mlp", task=task, storage=f"sqlite:///{tmp_path / name}.db", strategy="random",
                  train={"steps": 25, "batch_size": 16}, seed=3)
        s.search(trials=3)
        out.append([(t.arch.id, {k: v for k, v in t.metrics.items() if k not in ("train_seconds", "latency_ms")})
                    for t in s.trials()])
    assert out[0] == out[1]
    assert all(m["accuracy"] is not None for _, m in out[0])


def test_interrupted_architectures_stay_queued_until_evaluated_again(db):
    """A process that recovers interrupted trials and dies before evaluating them loses nothing:
    the queue is rebuilt from storage (interrupted and not held by another trial), Ctrl-C stops included."""
    study = _study(db, space="mlp")
    budget = study.evaluator().budget_key
    store = study.storage
    a, b = study.space.sample(0), study.space.sample(1)
    store.start_trial(study.id, a.id, a.to_json(), budget, 0)  # its process died
    t = store.start_trial(study.id, b.id, b.to_json(), budget, 0)
    store.interrupt_trials([t.id], "the search was interrupted while this trial was running")  # Ctrl-C
    assert study._recover(budget, "requeue", 60) == [a, b]
    assert study._recover(budget, "requeue", 60) == [a, b]  # the recovering process died: still queued
    store.start_trial(study.id, a.id, a.to_json(), budget, 0, session_id=store.open_session(study.id))
    assert study._recover(budget, "requeue", 60) == [b]  # a is held again
    study.search(trials=3)
    done = {t.arch.id for t in study.trials("complete")}
    assert b.id in done


@pytest.mark.slow
def test_pool_workers_train_real_networks(any_db):
    """The training evaluator (task data, torch) travels to spawned workers and trains there."""
    study = Study("pool-train", space="mlp", task="iris", storage=any_db, strategy="random",
                  train={"steps": 20, "batch_size": 16})
    study.run(trials=4, workers=2, final_top_k=1, final_seeds=1)
    trials = study.trials()
    assert len(trials) == 4 and all(t.status == "complete" for t in trials)
    assert all(t.metrics["params"] > 0 and 0 <= t.metrics["accuracy"] <= 1 for t in trials)
    assert {t.details["worker"]["pid"] for t in trials} != {os.getpid()}
    assert study.best().final["seeds"] == 1
