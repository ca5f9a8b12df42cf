"""Executors: where evaluations run. The search process (the driver) asks, claims and stores;
an executor only evaluates, and hands each outcome back to the driver.

- ``local``: in the search process, one trial at a time (no start-up cost).
- ``pool``: a pool of worker processes on this machine (``--workers N``); a worker that
  crashes, overruns the per-trial time limit or the memory limit is stopped and replaced,
  and its trial stored as failed with the reason.
- ``ray``: Ray tasks on a Ray cluster (``--executor ray --address HOST:PORT``).

Every trial runs with a fixed number of PyTorch intra-op threads (``--threads N``, ``threads=``), by default
:func:`default_threads` of the number of workers (the usable cores shared among them), so that the workers
never oversubscribe the cores; idle OpenMP threads spin only briefly before they sleep (``GOMP_SPINCOUNT=1000``,
set by the command line and in every pool worker; :func:`openmp_wait_env`), so a busy machine slows a search
down instead of stalling it.
"""
from __future__ import annotations

from ..errors import ArchscoutError
from ..registry import Registry
from ._base import Executor, check_threads, default_threads, intra_op_threads, openmp_wait_env, usable_cores
from .local import LocalExecutor
from .pool import PoolExecutor


EXECUTORS: Registry = Registry("executor")


@EXECUTORS.register("local")
def _local(workers: int, address: str | None, time_limit: float | None, memory_mb: float | None) -> Executor:
    """In the search process, one trial at a time (no start-up cost)."""
    if workers != 1:
        raise ArchscoutError(f"the local executor runs one trial at a time; use --executor pool for {workers} workers")
    return LocalExecutor()


@EXECUTORS.register("pool")
def _pool(workers: int, address: str | None, time_limit: float | None, memory_mb: float | None) -> Executor:
    """A pool of worker processes on this machine, each stopped and replaced when it crashes or overruns."""
    return PoolExecutor(workers, time_limit=time_limit, memory_mb=memory_mb)


@EXECUTORS.register("ray")
def _ray(workers: int, address: str | None, time_limit: float | None, memory_mb: float | None) -> Executor:
    """Ray tasks on a Ray cluster (a local one by default); Ray is imported only when used."""
    from .ray import RayExecutor
    return RayExecutor(workers, address=address, time_limit=time_limit)


def make_executor(name: str | None, workers: int = 1, address: str | None = None,
                  time_limit: float | None = None, memory_mb: float | None = None) -> Executor:
    """An executor by name; ``None`` picks ``local`` for one worker and ``pool`` for more. A registered
    executor factory takes ``(workers, address, time_limit, memory_mb)``."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ArchscoutError(f"the number of workers must be a positive integer, got {workers!r}")
    if name is None:
        name = "local" if workers == 1 else "pool"
    factory = EXECUTORS.get(name)
    if address is not None and EXECUTORS.canonical(name) != "ray":
        raise ArchscoutError("--address is the address of a Ray cluster; use it with --executor ray")
    return factory(workers, address, time_limit, memory_mb)


__all__ = ["Executor", "LocalExecutor", "PoolExecutor", "make_executor", "EXECUTORS", "default_threads",
           "check_threads", "intra_op_threads", "openmp_wait_env", "usable_cores"]
