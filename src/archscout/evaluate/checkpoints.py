"""Training checkpoints next to the study: what lets a promotion continue a lower fidelity's run, and a trial
whose process died resume from its last save instead of from zero.

A *line* is one training run: an architecture, its training settings without the budget (the schedule's
horizon included), a seed and a fold. Runs of one line at different budgets are the same run stopped at
different steps, so a line keeps one file, its latest state (``<root>/<line>/<step>.pt``); a run of ``r``
steps starts from the latest state at or below ``r``. Files are written atomically (a temporary file, then a
rename), so a crash mid-write leaves the previous state. A line is deleted when its run reached the end of
its schedule (nothing can continue it), when its trial failed or was stopped early, and the whole folder
when the search ends (:meth:`CheckpointStore.clean`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

SAVE_EVERY = 30.0  # seconds between saves within one run (the end of a partial run is always saved)


def save_every() -> float:
    """The seconds between saves within a run: ``ARCHSCOUT_CHECKPOINT_EVERY`` when set (0: at every validation
    point), else :data:`SAVE_EVERY`."""
    text = os.environ.get("ARCHSCOUT_CHECKPOINT_EVERY", "").strip()
    try:
        return max(0.0, float(text)) if text else SAVE_EVERY
    except ValueError:
        return SAVE_EVERY


class CheckpointStore:
    """The checkpoint folder of one study. ``every``: the least seconds between two saves within a run."""

    def __init__(self, root: str | os.PathLike, every: float | None = None):
        self.root = Path(root)
        self.every = save_every() if every is None else every

    def line(self, arch_id: str, config, seed: int, fold: int = 0) -> Line:
        """The line of ``arch_id`` trained with ``config`` (a TrainConfig: its settings and schedule length
        count, its budget does not; or a string naming the run) from ``seed`` on ``fold``."""
        run = config if isinstance(config, str) else config.run_key()
        key = f"{arch_id}|{run}|{seed}|{fold}"
        return Line(self.root / hashlib.sha256(key.encode()).hexdigest()[:24], self.every)

    def size_bytes(self) -> int:
        if not self.root.exists():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*.pt") if p.is_file())

    def lines(self) -> int:
        return sum(1 for p in self.root.iterdir() if p.is_dir()) if self.root.exists() else 0

    def clean(self) -> None:
        """Delete every checkpoint of the study (the search ended: nothing will continue them)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def __repr__(self) -> str:
        return f"CheckpointStore({str(self.root)!r})"


class Line:
    """The saved states of one training run (see the module's docstring)."""

    def __init__(self, path: Path, every: float = SAVE_EVERY):
        self.path, self.every = path, every
        self.last_save = time.monotonic()
        self.loaded_from: float | None = None

    def _steps(self) -> list[float]:
        if not self.path.exists():
            return []
        out = []
        for p in self.path.glob("*.pt"):
            try:
                out.append(float(p.stem))
            except ValueError:
                continue
        return sorted(out)

    def _file(self, step: float) -> Path:
        return self.path / f"{step:g}.pt"

    def latest(self, max_step: float) -> dict | None:
        """The latest state at or below ``max_step`` (None: start from zero). A file that cannot be read (a
        disk error) is removed and the next older one tried."""
        import torch
        for step in reversed(self._steps()):
            if step > max_step:
                continue
            file = self._file(step)
            try:
                state = torch.load(file, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - an unreadable checkpoint is as good as none
                file.unlink(missing_ok=True)
                continue
            self.loaded_from = int(step) if step == int(step) else step
            return state
        return None

    def due(self) -> bool:
        """Whether enough time passed since the last save for another within the run."""
        return time.monotonic() - self.last_save >= self.every

    def save(self, state: dict) -> None:
        """Write ``state`` (with its ``step``) atomically and drop the older states of the line."""
        import torch
        self.path.mkdir(parents=True, exist_ok=True)
        step = float(state["step"])
        tmp = self.path / f".{step:g}.{os.getpid()}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self._file(step))
        for old in self._steps():
            if old < step:
                self._file(old).unlink(missing_ok=True)
        self.last_save = time.monotonic()

    def finish(self, state: dict, partial: bool) -> None:
        """The run reached its budget: keep its end state when it stopped before its schedule's end (a
        promotion continues it), else delete the line."""
        if partial:
            self.save(state)
        else:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
