"""Ray tasks: evaluations run on a Ray cluster; the search process (the driver) keeps the storage.

``--executor ray`` starts a private local Ray instance; ``--address HOST:PORT`` joins a
running cluster (``ray start --head`` on one machine, ``ray start --address HEAD:PORT`` on
the others; see docs/scale-out.md). Each trial is one task with no retries, asking Ray for one CPU
per intra-op thread (one thread unless ``--threads N`` is given: Ray places tasks, so the local
cores say nothing about a cluster's): a task that raises, whose worker dies, or that outlives the
per-trial time limit (it is cancelled, which kills its worker) becomes a failed trial with the reason.
"""
from __future__ import annotations

import logging
import os
import socket
import time

from ..errors import ArchscoutError
from ._base import Executor
from .trial import Outcome


def _ray_task(runner, arch_json: str, seed: int, fidelity: dict | None = None, threads: int = 1, stop_rule=None):
    try:
        import torch

        torch.set_num_threads(threads)  # workers are reused: set for every task (it asked for that many CPUs)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return runner(arch_json, seed, fidelity, stop_rule)


def gpus_per_trial(device: str, cluster_gpus: float) -> int:
    """GPUs a trial asks Ray for: one when the study trains on a GPU (``cuda``, ``cuda:N``, or ``auto`` on a cluster
    that has GPUs; Ray then makes the task's GPU the one ``cuda`` names), else none."""
    if device.startswith("cuda"):
        return 1
    return 1 if device == "auto" and cluster_gpus > 0 else 0


def _warm_up(hold: float) -> int:
    """Import what a trial needs, then hold the CPU a moment so that every worker gets one of these tasks."""
    import archscout.execute.trial  # noqa: F401 - the import is the point: torch and archscout loaded
    time.sleep(hold)
    return os.getpid()


def check_reachable(address: str) -> None:
    """ray.init() waits forever on an address nobody listens on: look first."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        port_n = int(port)
    except ValueError:
        raise ArchscoutError(f"Ray address {address!r}: expected HOST:PORT, e.g. 10.0.0.5:6379") from None
    try:
        socket.create_connection((host or "127.0.0.1", port_n), timeout=3).close()
    except OSError as e:
        raise ArchscoutError(f"cannot reach the Ray cluster at {address} ({e.strerror or e}); start it with "
                             f"`ray start --head --port={port_n}` or check the address") from None


def _pickle_files_by_value(ray) -> None:
    """Python files loaded by reference (``--space path/to/file.py:attr``) exist only in this process: ship
    what they define by value, so Ray's workers need not find the files."""
    import sys

    from ..registry import loaded_files

    register = getattr(getattr(ray, "cloudpickle", None), "register_pickle_by_value", None)
    for name in loaded_files():
        if register is not None and name in sys.modules:
            register(sys.modules[name])


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, workers: int, address: str | None = None, time_limit: float | None = None,
                 threads: int | None = None):
        self.workers, self.address, self.time_limit = workers, address, time_limit
        self.threads = threads
        self.inflight: dict = {}  # ObjectRef -> (key, submitted)
        self._started_ray = False

    def trial_threads(self) -> int:
        """One thread per task unless given: a Ray task asks for one CPU per thread, wherever Ray places it."""
        return self.threads or 1

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "address": self.address or "local",
                "threads_per_worker": self.trial_threads()}

    def start(self, runner) -> None:
        try:
            import ray
        except ImportError:
            raise ArchscoutError("Ray is not installed; pip install 'archscout[ray]' (or ray>=2.9)") from None
        self.ray = ray
        if not ray.is_initialized():
            if self.address:
                check_reachable(self.address)
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
            else:
                os.environ.setdefault("RAY_DEDUP_LOGS", "0")
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                from ._base import openmp_wait_env

                added = openmp_wait_env()  # a private instance's workers start with this process's environment
                os.environ.update(added)
                try:
                    ray.init(address="local", num_cpus=self.workers * self.trial_threads(), include_dashboard=False,
                             log_to_driver=False, logging_level=logging.ERROR)
                finally:
                    for key in added:
                        os.environ.pop(key, None)
            self._started_ray = True
        _pickle_files_by_value(ray)
        gpus = gpus_per_trial(getattr(getattr(runner, "evaluator", None), "device", "cpu"),
                              ray.cluster_resources().get("GPU", 0))
        self.task = ray.remote(num_cpus=self.trial_threads(), num_gpus=gpus, max_retries=0)(_ray_task)
        self.runner_ref = ray.put(runner)
        # start the workers and load torch and archscout in each before the first trial, so that a busy machine's
        # slow start-up is not counted against the first trials' time limit
        warm = ray.remote(num_cpus=1, max_retries=0)(_warm_up)
        ray.get([warm.remote(0.5) for _ in range(self.workers)])

    def free(self) -> int:
        return self.workers - len(self.inflight)

    def running(self) -> int:
        return len(self.inflight)

    def submit(self, key, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> None:
        ref = self.task.remote(self.runner_ref, arch_json, seed, fidelity, self.trial_threads(), stop_rule)
        self.inflight[ref] = (key, time.monotonic())

    def wait(self, timeout: float):
        from ray.exceptions import (
            GetTimeoutError,
            NodeDiedError,
            RayError,
            RayTaskError,
            TaskCancelledError,
            WorkerCrashedError,
        )

        out: list = []
        if not self.inflight:
            return out
        ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=min(timeout, 0.5))
        for ref in ready:
            key, started = self.inflight.pop(ref)
            try:
                out.append((key, self.ray.get(ref)))
            except TaskCancelledError:
                out.append((key, Outcome("failed", error=f"exceeded the per-trial time limit of {self.time_limit:g} s "
                                                         f"(the Ray task was cancelled)")))
            except RayTaskError as e:
                cause = getattr(e, "cause", None)
                out.append((key, Outcome("failed", error=f"{type(cause).__name__}: {cause}" if cause else
                                         str(e).strip().splitlines()[-1])))
            except (WorkerCrashedError, NodeDiedError) as e:
                out.append((key, Outcome("failed", error=f"the Ray worker died while evaluating this trial "
                                                         f"({type(e).__name__})")))
            except (RayError, GetTimeoutError) as e:
                out.append((key, Outcome("failed", error=f"Ray: {type(e).__name__}: "
                                                         f"{str(e).strip().splitlines()[-1] if str(e) else ''}")))
        if self.time_limit is not None:
            # the task's own guard stops it at the limit; this hard stop is the backstop for code that never
            # checks. Ray does not say when a task started (it may wait for a worker, or for a new worker to
            # load torch after one died), so it counts from submission with a wide margin
            now = time.monotonic()
            grace = max(30.0, 0.5 * self.time_limit)  # a worker started after a crash loads torch first
            for ref, (_key, started) in list(self.inflight.items()):
                if now - started > self.time_limit + grace:
                    self.ray.cancel(ref, force=True)  # reported as TaskCancelledError by a later wait
        return out

    def close(self) -> None:
        for ref in list(self.inflight):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
        self.inflight.clear()
        if self._started_ray or self.address:
            self.ray.shutdown()
