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

The registry of executors and :func:`make_executor` are in :mod:`.registry`.
"""
from ._base import Executor, check_threads, default_threads, intra_op_threads, openmp_wait_env, usable_cores
from .local import LocalExecutor
from .pool import PoolExecutor
from .registry import EXECUTORS, make_executor

__all__ = ["Executor", "LocalExecutor", "PoolExecutor", "make_executor", "EXECUTORS", "default_threads",
           "check_threads", "intra_op_threads", "openmp_wait_env", "usable_cores"]
