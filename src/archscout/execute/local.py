"""The in-process executor: one trial at a time in the search process."""
from __future__ import annotations

import sys
from typing import Any

from ._base import Executor


class LocalExecutor(Executor):
    """Trials run in the search process with :meth:`trial_threads` intra-op threads (set at ``start``,
    the process's previous count restored at ``close``)."""

    name = "local"
    workers = 1

    def __init__(self, threads: int | None = None):
        self.runner: Any = None  # the TrialRunner, set by start
        self.pending: list = []
        self.threads = threads
        self._previous_threads: int | None = None

    def start(self, runner) -> None:
        self.runner = runner
        self._use_threads()
        runner.prepare()

    def _use_threads(self) -> None:
        """Set the trials' thread count once torch is imported (an evaluator that never uses torch, such as a
        tabular lookup, does not import it for this)."""
        torch = sys.modules.get("torch")
        if torch is None or self._previous_threads is not None:
            return
        self._previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.trial_threads())

    def free(self) -> int:
        return 1 - len(self.pending)

    def submit(self, key, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> None:
        self.pending.append((key, arch_json, seed, fidelity, stop_rule))

    def running(self) -> int:
        return len(self.pending)

    def wait(self, timeout: float):
        if not self.pending:
            return []
        key, arch_json, seed, fidelity, stop_rule = self.pending.pop(0)
        self._use_threads()  # torch may have been imported since the last trial
        return [(key, self.runner(arch_json, seed, fidelity, stop_rule))]

    def close(self) -> None:
        self.pending.clear()
        if self._previous_threads is not None:
            sys.modules["torch"].set_num_threads(self._previous_threads)
            self._previous_threads = None
