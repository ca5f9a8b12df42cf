"""The registry of executors (``local``, ``pool``, ``ray``) and :func:`make_executor`, which picks one by name."""
from __future__ import annotations

from ..checks import positive_int
from ..errors import ArchscoutError
from ..registry import Registry
from ._base import Executor
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
    positive_int(workers, "the number of workers")
    if name is None:
        name = "local" if workers == 1 else "pool"
    factory = EXECUTORS.get(name)
    if address is not None and EXECUTORS.canonical(name) != "ray":
        raise ArchscoutError("--address is the address of a Ray cluster; use it with --executor ray")
    return factory(workers, address, time_limit, memory_mb)
