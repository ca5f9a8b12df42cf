"""The interface every executor implements."""
from __future__ import annotations

from ..evaluate.runner import Outcome, TrialRunner


class Executor:
    """Runs trials of one :class:`TrialRunner` and returns outcomes as they finish.

    ``submit(key, arch_json, seed, fidelity)`` starts a trial (only while ``free() > 0``) at
    ``fidelity`` (None: the study's own; the evaluator reads it);
    ``wait(timeout)`` returns ``[(key, Outcome), ...]`` of trials that finished (possibly
    none); ``close()`` stops everything, abandoning trials still running.
    """

    name = "executor"
    workers = 1

    def start(self, runner: TrialRunner) -> None:
        raise NotImplementedError

    def free(self) -> int:
        raise NotImplementedError

    def submit(self, key: int, arch_json: str, seed: int, fidelity: dict | None = None) -> None:
        raise NotImplementedError

    def wait(self, timeout: float) -> list[tuple[int, Outcome]]:
        raise NotImplementedError

    def running(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Stop workers; trials still running are abandoned (the driver marks them interrupted)."""

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers}
