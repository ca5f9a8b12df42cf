"""The in-process executor: one trial at a time in the search process."""
from __future__ import annotations

from ._base import Executor


class LocalExecutor(Executor):
    name = "local"
    workers = 1

    def __init__(self):
        self.runner = None
        self.pending: list = []

    def start(self, runner) -> None:
        self.runner = runner
        runner.prepare()

    def free(self) -> int:
        return 1 - len(self.pending)

    def submit(self, key, arch_json: str, seed: int, fidelity: dict | None = None) -> None:
        self.pending.append((key, arch_json, seed, fidelity))

    def running(self) -> int:
        return len(self.pending)

    def wait(self, timeout: float):
        if not self.pending:
            return []
        key, arch_json, seed, fidelity = self.pending.pop(0)
        return [(key, self.runner(arch_json, seed, fidelity))]

    def close(self) -> None:
        self.pending.clear()
