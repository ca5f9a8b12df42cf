"""Intra-op threads per trial (issue #17): the default rule, --threads / threads= in every executor, the thread
count restored after a run, and idle OpenMP threads that spin only briefly (GOMP_SPINCOUNT=1000) in the command
line and in pool workers. Behaviour only: timings are in benchmarks/threads_under_load.py."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from archscout import ArchscoutError, Study
from archscout.execute import (
    LocalExecutor,
    PoolExecutor,
    check_threads,
    default_threads,
    make_executor,
    openmp_wait_env,
)
from archscout.execute.pool import worker_env


@pytest.fixture
def cores(monkeypatch):
    """Pretend this process may run on ``n`` cores, with no OMP_NUM_THREADS in the environment."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def set_cores(n: int):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
    return set_cores


@pytest.fixture
def torch_threads():
    """Whatever a test does to torch's thread count is undone after it."""
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_default_threads_share_the_usable_cores_among_the_workers(cores, monkeypatch):
    cores(8)
    assert [default_threads(w) for w in (1, 2, 3, 4, 8, 16)] == [8, 4, 2, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's own cap
    assert default_threads(1) == 1 and default_threads(16) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "6")
    assert default_threads(1) == 6 and default_threads(2) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a number: no cap
    assert default_threads(1) == 8


def test_default_threads_fall_back_to_the_cpu_count(cores, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert default_threads(1) == 6 and default_threads(4) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_thread_count_is_a_positive_whole_number(bad):
    with pytest.raises(ArchscoutError, match="must be a positive integer"):
        check_threads(bad)
    assert check_threads(None) is None and check_threads(3) == 3


def test_executors_default_to_the_rule_and_take_an_explicit_count(cores):
    cores(6)
    assert make_executor(None, 1).trial_threads() == 6
    assert make_executor(None, 3).trial_threads() == 2
    assert PoolExecutor(2, threads=5).trial_threads() == 5
    assert LocalExecutor(threads=2).describe() == {"executor": "local", "workers": 1, "threads_per_worker": 2}
    from archscout.execute.ray import RayExecutor  # a Ray task asks for one CPU per thread: one unless given
    assert RayExecutor(4).trial_threads() == 1 and RayExecutor(4, threads=2).trial_threads() == 2


def test_a_local_run_uses_the_threads_and_restores_the_process_setting(tmp_path, torch_threads):
    torch.set_num_threads(2)
    seen = []
    study = Study("t", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/t.db")
    study.run(trials=3, threads=1, progress=lambda event, **d: seen.append(torch.get_num_threads()))
    assert seen == [1, 1, 1] and torch.get_num_threads() == 2
    assert study.storage.sessions(study.id)[-1].info["threads_per_worker"] == 1
    study.search(trials=5, threads=3, progress=lambda event, **d: seen.append(torch.get_num_threads()))
    assert seen[3:] == [3, 3] and torch.get_num_threads() == 2


def test_a_local_run_defaults_to_the_rule(tmp_path, torch_threads, cores):
    cores(3)
    torch.set_num_threads(1)
    seen = []
    study = Study("t", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/t.db")
    study.run(trials=2, progress=lambda event, **d: seen.append(torch.get_num_threads()))
    assert seen == [3, 3] and torch.get_num_threads() == 1


def test_threads_are_restored_when_the_search_stops_with_an_error(tmp_path, torch_threads):
    torch.set_num_threads(2)
    study = Study("t", space="mlp", evaluator="synthetic:fail=1", storage=f"sqlite:///{tmp_path}/t.db")
    with pytest.raises(ArchscoutError):
        study.run(trials=10, max_failures=2, threads=1)
    assert torch.get_num_threads() == 2


def test_threads_are_not_stored_as_a_study_setting(tmp_path):
    db = f"sqlite:///{tmp_path}/t.db"
    Study("t", space="mlp", evaluator="synthetic", storage=db).run(trials=2, threads=1)
    again = Study("t", space="mlp", evaluator="synthetic", storage=db)  # resumes: the same settings
    again.run(trials=4, threads=2)
    assert len(again.trials()) == 4 and "threads" not in again.config.to_json()


def test_a_bad_thread_count_is_refused_before_anything_runs(tmp_path):
    study = Study("t", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/t.db")
    with pytest.raises(ArchscoutError, match="positive integer, got 0"):
        study.run(trials=2, threads=0)
    assert study.trials() == [] and study.storage.sessions(study.id) == []


@pytest.fixture
def no_openmp_wait(monkeypatch):
    for key in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(key, raising=False)


def test_openmp_spins_briefly_unless_the_user_said_how_it_waits(no_openmp_wait):
    assert openmp_wait_env() == {"GOMP_SPINCOUNT": "1000"}
    assert openmp_wait_env({"OMP_WAIT_POLICY": "PASSIVE"}) == {}
    assert openmp_wait_env({"GOMP_SPINCOUNT": "0"}) == {}
    assert openmp_wait_env({"OMP_WAIT_POLICY": ""}) == {"GOMP_SPINCOUNT": "1000"}  # set but empty: unset


def test_pool_workers_start_with_their_threads_and_a_short_spin(no_openmp_wait, monkeypatch):
    env = worker_env(3)
    assert env == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3",
                   "GOMP_SPINCOUNT": "1000"}
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice stands (the workers inherit it)
    assert "GOMP_SPINCOUNT" not in worker_env(1)


PROBE = '''
import os

import torch

from archscout.evaluate import EVALUATORS, Evaluation, Evaluator


@EVALUATORS.register("threads-probe")
class ThreadsProbe(Evaluator):
    """Reports the thread settings of the process that evaluates."""

    measures = ("accuracy",)

    def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
        return Evaluation({"accuracy": 0.5 + 0.01 * len(arch.to_json()) % 0.4},
                          {"torch_threads": torch.get_num_threads(), "pid": os.getpid(),
                           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                           "spincount": os.environ.get("GOMP_SPINCOUNT")})
'''


@pytest.mark.slow
def test_pool_workers_evaluate_with_the_given_threads(tmp_path, no_openmp_wait):
    """Two spawned workers, --threads 3: each trial ran with 3 torch threads and the short OpenMP spin, in a
    worker (not this process); the evaluator comes from a file loaded by reference, which the workers load
    before they unpickle it."""
    from archscout.evaluate import EVALUATORS
    from archscout.registry import load_reference

    (tmp_path / "probe.py").write_text(PROBE)
    load_reference(f"{tmp_path}/probe.py:ThreadsProbe", "evaluator")
    try:
        study = Study("p", space="mlp", evaluator="threads-probe", storage=f"sqlite:///{tmp_path}/p.db")
        study.search(trials=4, workers=2, threads=3)
        details = [t.details for t in study.trials()]
        assert len(details) == 4 and all(t.status == "complete" for t in study.trials())
        assert {d["torch_threads"] for d in details} == {3}
        assert {d["omp_num_threads"] for d in details} == {"3"} and {d["spincount"] for d in details} == {"1000"}
        assert os.getpid() not in {d["pid"] for d in details}
        assert study.storage.sessions(study.id)[-1].info["threads_per_worker"] == 3
    finally:
        EVALUATORS.unregister("threads-probe")


def test_the_command_line_makes_idle_openmp_threads_spin_briefly(no_openmp_wait, monkeypatch, capsys):
    from archscout.cli import main

    assert main(["spaces"]) == 0
    assert os.environ["GOMP_SPINCOUNT"] == "1000"
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert main(["spaces"]) == 0 and "GOMP_SPINCOUNT" not in os.environ  # never overrides the user's choice
    capsys.readouterr()


def test_the_command_line_imports_torch_only_inside_a_command():
    """GOMP_SPINCOUNT only works if it is set before torch (its OpenMP) loads: the CLI module must not import
    torch."""
    code = textwrap.dedent("""
        import sys
        import archscout.cli
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_search_threads_option(tmp_path, capsys, torch_threads):
    from archscout.cli import main

    db = f"sqlite:///{tmp_path}/t.db"
    code = main(["search", "--evaluator", "synthetic", "--space", "mlp", "--trials", "2", "--threads", "1",
                 "--no-progress", "--storage", db, "--study", "t"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 worker × 1 thread" in out
    study = Study.load("t", db)
    assert study.storage.sessions(study.id)[-1].info["threads_per_worker"] == 1


@pytest.mark.slow
def test_ray_tasks_run_with_the_given_threads(tmp_path, no_openmp_wait):
    """A private Ray instance (two workers, --threads 2): every task ran with 2 torch threads and the short spin,
    and the evaluator defined in a file loaded by reference was shipped to the workers by value."""
    pytest.importorskip("ray")
    from archscout.evaluate import EVALUATORS
    from archscout.registry import load_reference

    (tmp_path / "probe_ray.py").write_text(PROBE.replace('"threads-probe"', '"threads-probe-ray"'))
    load_reference(f"{tmp_path}/probe_ray.py:ThreadsProbe", "evaluator")
    try:
        study = Study("r", space="mlp", evaluator="threads-probe-ray", storage=f"sqlite:///{tmp_path}/r.db")
        study.search(trials=3, workers=2, executor="ray", threads=2)
        details = [t.details for t in study.trials()]
        assert [t.status for t in study.trials()] == ["complete"] * 3
        assert {d["torch_threads"] for d in details} == {2} and {d["spincount"] for d in details} == {"1000"}
        assert study.storage.sessions(study.id)[-1].info["threads_per_worker"] == 2
        assert "GOMP_SPINCOUNT" not in os.environ  # set for Ray's workers only
    finally:
        EVALUATORS.unregister("threads-probe-ray")
