"""A pool of worker processes on this machine, each evaluating one trial at a time.

Workers are started with ``spawn`` (a clean interpreter: no inherited OpenMP or lock state)
and given ``cores // workers`` threads each (or ``--threads``), so N workers do not oversubscribe the
cores; their idle OpenMP threads spin only briefly before they sleep (``GOMP_SPINCOUNT=1000`` unless the
environment says how OpenMP waits; see :func:`archscout.execute.openmp_wait_env`).
The driver watches every worker: one that dies (a segfault, the kernel's OOM killer, an
``os._exit``), outlives the per-trial time limit, or grows past the memory limit is
stopped and replaced, and its trial becomes a failed trial with the reason.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
from multiprocessing.connection import wait as wait_conns
from typing import Any

from ..errors import ArchscoutError
from ._base import Executor, openmp_wait_env, usable_cores
from .trial import Outcome

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
MAX_START_FAILURES = 3
START_TIMEOUT = 300.0

cpu_count = usable_cores  # the name this module used before


def worker_env(threads: int) -> dict[str, str]:
    """The environment variables a worker starts with: its thread count for every threading library, and idle
    OpenMP threads that spin only briefly (unless this process's environment says how OpenMP waits). Read by the
    worker's OpenMP when it loads, i.e. when the worker imports torch."""
    return {**{k: str(threads) for k in _THREAD_VARS}, **openmp_wait_env()}


def gpu_env(index: int, gpus: int | None = None) -> dict[str, str]:
    """Worker ``index``'s GPU when the machine has several: ``ARCHSCOUT_DEVICE=cuda:(index mod count)``, which an
    evaluator asked to train on ``auto`` or ``cuda`` uses (see ``Evaluator.torch_device``); nothing with one GPU or
    none. ``gpus``: the count (default: what PyTorch sees here)."""
    if gpus is None:
        try:
            import torch
            gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        except ImportError:  # pragma: no cover - torch is a dependency
            gpus = 0
    return {"ARCHSCOUT_DEVICE": f"cuda:{index % gpus}"} if gpus > 1 else {}


def _worker_main(conn, runner_bytes: bytes, threads: int, files: dict | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        if files:  # Python files the driver loaded by reference (--space path/to/file.py:attr)
            from ..registry import preload

            preload(files)
        runner = pickle.loads(runner_bytes)
        runner.prepare()
    except Exception as e:  # noqa: BLE001 - reported to the driver, which stops the search
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, arch_json, seed, fidelity, stop_rule = msg
        out = runner(arch_json, seed, fidelity, stop_rule)
        try:
            conn.send(("done", key, out))
        except (BrokenPipeError, OSError):  # the driver is gone: nobody to report to
            return


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{hint} while evaluating this trial"
    return f"the worker process exited (exit code {exitcode}) while evaluating this trial"


class _Worker:
    def __init__(self, ctx, runner_bytes: bytes, threads: int, index: int, gpu: bool = False):
        parent, child = ctx.Pipe()
        from ..registry import loaded_files

        env = worker_env(threads)
        if gpu:
            env.update(gpu_env(index))  # several GPUs: the workers are spread over them
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # a spawned process takes the environment of the moment it starts
        try:
            self.proc = ctx.Process(target=_worker_main, args=(child, runner_bytes, threads, loaded_files()),
                                    daemon=True, name=f"archscout-worker-{index}")
            self.proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.conn = parent
        self.ready = False
        self.job: tuple | None = None  # (key, started) ; started counts from when the worker is ready
        self._ps: Any = None  # psutil.Process of the worker, made on first use

    def rss_mb(self) -> float:
        import psutil

        try:
            self._ps = self._ps or psutil.Process(self.proc.pid)
            return self._ps.memory_info().rss / 2**20
        except psutil.Error:
            return 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class PoolExecutor(Executor):
    name = "pool"

    def __init__(self, workers: int, time_limit: float | None = None, memory_mb: float | None = None,
                 threads: int | None = None):
        self.workers = workers
        self.time_limit, self.memory_mb = time_limit, memory_mb
        self.threads = threads  # None: default_threads(workers), see Executor.trial_threads
        self.ctx = mp.get_context("spawn")
        self.pool: list[_Worker] = []
        self.start_failures = 0

    def start(self, runner) -> None:
        try:
            self.runner_bytes = pickle.dumps(runner)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise ArchscoutError(f"the evaluator or space cannot be sent to worker processes ({e}); define custom "
                                 f"builders and constraints at module level, or run with one worker") from None
        # a study training on auto / cuda: with several GPUs, worker i gets GPU i mod their count
        self.gpu = getattr(getattr(runner, "evaluator", None), "device", "cpu") in ("auto", "cuda")
        self.pool = [_Worker(self.ctx, self.runner_bytes, self.trial_threads(), i, self.gpu)
                     for i in range(self.workers)]
        # wait until every worker has imported torch and unpacked the evaluator, so trials are claimed (and
        # timed) only when a worker can start them
        deadline = time.monotonic() + START_TIMEOUT
        while not all(w.ready for w in self.pool):
            if time.monotonic() > deadline:
                self.close()
                raise ArchscoutError(f"worker processes did not start within {START_TIMEOUT:g} s")
            waiting = [w for w in self.pool if not w.ready]
            wait_conns([w.conn for w in waiting] + [w.proc.sentinel for w in waiting], timeout=0.5)
            for w in waiting:
                self._read(w)

    def free(self) -> int:
        return sum(1 for w in self.pool if w.job is None)

    def running(self) -> int:
        return sum(1 for w in self.pool if w.job is not None)

    def submit(self, key, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> None:
        w = next(w for w in self.pool if w.job is None)
        w.job = (key, time.monotonic())
        w.conn.send((key, arch_json, seed, fidelity, stop_rule))

    def _replace(self, w: _Worker) -> None:
        w.kill()
        i = self.pool.index(w)
        self.pool[i] = _Worker(self.ctx, self.runner_bytes, self.trial_threads(), i, self.gpu)

    def wait(self, timeout: float):
        done: list = []
        deadline = time.monotonic() + timeout
        while not done:
            busy = [w for w in self.pool if w.job is not None or not w.ready]
            if not busy:
                return done
            ready = wait_conns([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                               timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            for w in list(busy):
                if w.conn in ready or w.proc.sentinel in ready:
                    done.extend(self._read(w))
            done.extend(self._enforce_limits())
            if time.monotonic() >= deadline:
                break
        return done

    def _read(self, w: _Worker) -> list:
        out = []
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.ready = True
                    if w.job is not None:
                        w.job = (w.job[0], time.monotonic())
                elif msg[0] == "done":
                    out.append((msg[1], msg[2]))
                    w.job = None
                elif msg[0] == "error":
                    w.proc.join(5)
                    raise ArchscoutError(f"a worker process could not start: {msg[1]}")
        except (EOFError, OSError):
            pass
        if not w.proc.is_alive():
            w.proc.join(1)
            if w.job is not None:
                out.append((w.job[0], Outcome("failed", error=_death(w.proc.exitcode))))
                w.job = None
            elif not w.ready:
                self.start_failures += 1
                if self.start_failures >= MAX_START_FAILURES:
                    raise ArchscoutError(f"worker processes keep dying at start ({_death(w.proc.exitcode)})")
            self._replace(w)
        return out

    def _enforce_limits(self) -> list:
        out: list = []
        now = time.monotonic()
        for w in list(self.pool):
            if w.job is None or not w.ready:
                continue
            key, started = w.job
            reason = None
            if self.time_limit is not None:
                grace = max(2.0, 0.1 * self.time_limit)
                if now - started > self.time_limit + grace:
                    reason = (f"exceeded the per-trial time limit of {self.time_limit:g} s "
                              f"(the worker was stopped after {now - started:.1f} s)")
            if reason is None and self.memory_mb is not None:
                rss = w.rss_mb()
                if rss > self.memory_mb:
                    reason = (f"exceeded the per-trial memory limit of {self.memory_mb:g} MB "
                              f"(worker RSS {rss:,.0f} MB; the worker was stopped)")
            if reason:
                w.job = None
                out.append((key, Outcome("failed", error=reason)))
                self._replace(w)
        return out

    def close(self) -> None:
        for w in self.pool:
            if w.job is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self.pool:
            if w.job is None:
                w.proc.join(2)
            w.kill()
        self.pool = []
