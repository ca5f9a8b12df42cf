"""The interface every executor implements, and the intra-op thread count trials run with."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from ..checks import positive_int
from .trial import Outcome, TrialRunner

# How long an idle OpenMP thread of PyTorch's (GNU OpenMP, libgomp) spins before it sleeps: 1000 spins, about
# 10 microseconds, instead of libgomp's default of a few milliseconds. When another process keeps the cores busy,
# one of our threads is often descheduled in the middle of an operation and the others spin at the barrier for
# their milliseconds, operation after operation: a search next to busy loops on every core took 4.7x to more than
# 17x as long as alone, and 2x with this setting; alone it costs little, whereas OMP_WAIT_POLICY=PASSIVE (no
# spinning) made a small network's search up to 2x slower alone (docs/benchmarks/threads-under-load.md).
OPENMP_SPIN = ("GOMP_SPINCOUNT", "1000")
# a user who set either has chosen how OpenMP waits: leave it alone
OPENMP_WAIT_VARS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


def openmp_wait_env(environ=None) -> dict[str, str]:
    """The environment variables to add so that idle OpenMP threads spin only briefly: ``GOMP_SPINCOUNT=1000``,
    unless ``environ`` (default ``os.environ``) sets GOMP_SPINCOUNT or OMP_WAIT_POLICY already. OpenMP reads them
    once, when it loads, i.e. when torch is imported."""
    environ = os.environ if environ is None else environ
    if any(environ.get(k) for k in OPENMP_WAIT_VARS):
        return {}
    key, value = OPENMP_SPIN
    return {key: value}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _env_threads() -> int | None:
    """A positive OMP_NUM_THREADS set in the environment (the user's own thread budget), else None."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "").strip())
    except ValueError:
        return None
    return n if n >= 1 else None


def default_threads(workers: int = 1) -> int:
    """Intra-op threads per trial when none are given: the usable cores shared among the workers,
    ``max(1, usable_cores() // workers)``, so that workers x threads never exceeds the cores. An
    OMP_NUM_THREADS set in the environment is a cap (``OMP_NUM_THREADS=1`` keeps every trial on one thread)."""
    n = max(1, usable_cores() // max(1, workers))
    cap = _env_threads()
    return min(n, cap) if cap is not None else n


def check_threads(threads) -> int | None:
    """``threads`` (intra-op threads per trial) if it is None or a positive whole number; else a clear error."""
    if threads is None:
        return None
    return positive_int(threads, "--threads (intra-op threads per trial)")


@contextlib.contextmanager
def intra_op_threads(threads: int, load: bool = True) -> Iterator[int]:
    """Within the block, PyTorch in this process uses ``threads`` intra-op threads; the previous count is
    restored after it. ``load=False``: only if torch is imported already (work that never uses torch need
    not import it)."""
    if not load and "torch" not in sys.modules:
        yield threads
        return
    import torch

    previous = torch.get_num_threads()
    if threads != previous:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


class Executor:
    """Runs trials of one :class:`TrialRunner` and returns outcomes as they finish.

    ``submit(key, arch_json, seed, fidelity, stop_rule)`` starts a trial (only while ``free() > 0``) at
    ``fidelity`` (None: the study's own; the evaluator reads it), held to ``stop_rule`` (an early-stopping
    :class:`~archscout.evaluate.stopping.StopRule`, or None);
    ``wait(timeout)`` returns ``[(key, Outcome), ...]`` of trials that finished (possibly
    none); ``close()`` stops everything, abandoning trials still running.

    ``threads``: PyTorch intra-op threads per trial; None (the default) means :func:`default_threads`
    of ``workers``. ``Study.search(threads=...)`` sets it before ``start``.
    """

    name = "executor"
    workers = 1
    threads: int | None = None

    def trial_threads(self) -> int:
        """The intra-op threads each trial runs with."""
        return self.threads or default_threads(self.workers)

    def start(self, runner: TrialRunner) -> None:
        raise NotImplementedError

    def free(self) -> int:
        raise NotImplementedError

    def submit(self, key: int, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> None:
        raise NotImplementedError

    def wait(self, timeout: float) -> list[tuple[int, Outcome]]:
        raise NotImplementedError

    def running(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Stop workers; trials still running are abandoned (the driver marks them interrupted)."""

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "threads_per_worker": self.trial_threads()}
