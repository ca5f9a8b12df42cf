"""Trial: one evaluated (or failed) candidate of a study, as stored."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..space import Architecture

if TYPE_CHECKING:
    from .study import Study


@dataclass
class Trial:
    """One evaluated (or failed) candidate as stored."""

    number: int
    arch: Architecture
    status: str
    metrics: dict
    details: dict
    error: str | None
    budget: str
    seed: int
    duration: float | None
    id: int
    final: dict = field(default_factory=dict)  # test_accuracy mean/std over seeds, when retrained
    _study: Study | None = field(default=None, repr=False)
    started_at: float | None = None  # Unix time
    finished_at: float | None = None
    fidelity: dict | None = None  # what it ran at; None: the study's own budget
    parent: int | None = None  # the number of the trial it continued

    def build(self):
        """An untrained ``nn.Module`` for the study's task."""
        if self._study is None:
            from ..errors import ArchscoutError
            raise ArchscoutError("this trial belongs to no study, so there is no task to build it for")
        task = self._study.task
        return self.arch.build(task.input_shape, task.num_classes)

    def export(self, path: str, seed: int = 0, formats=("onnx", "state"), int8: bool = False) -> dict:
        """Write the model of the retraining with ``seed`` to ``path`` in ``formats`` ("onnx": model.onnx,
        "torchscript": model.ts, "state": model.pt, the state dict), with architecture.json and
        metrics.json; ``int8``: also model.int8.onnx (for a study that measured INT8). Each file is checked
        against PyTorch; returns metrics.json's content. A trial that did not complete is refused with
        its reason. See :func:`archscout.export.export_trial`; :func:`archscout.load` reads it back."""
        from ..export import export_trial
        return export_trial(self._study, self, path, seed=seed, formats=formats, int8=int8)
