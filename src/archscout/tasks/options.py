"""What a study may say about its task besides its name: the task options, checked."""
from __future__ import annotations

from ..checks import fraction, int_at_least, one_of
from ..errors import ArchscoutError
from .base import KINDS

# what a study may say about its task besides its name (stored with the study, so a resume rebuilds the same task)
TASK_OPTIONS = {"label": "--label", "kind": "--task-kind", "val_fraction": "--val-fraction", "folds": "--folds"}


def check_task_options(options: dict | None) -> dict:
    """The task options a study stores (``label``, ``kind``, ``val_fraction``, ``folds``), None values left out."""
    if not options:
        return {}
    if not isinstance(options, dict):
        raise ArchscoutError(f"task options are a dict, got {options!r}")
    out = {}
    for key, value in options.items():
        if key not in TASK_OPTIONS:
            raise ArchscoutError(f"unknown task option {key!r}; known: {', '.join(TASK_OPTIONS)}")
        if value is None:
            continue
        if key == "kind":
            one_of(value, KINDS, "--task-kind")
        if key == "folds":
            int_at_least(value, "--folds", 2)
        if key == "val_fraction":
            fraction(value, "--val-fraction", inclusive="neither")
        if key == "label" and not (isinstance(value, str) and value.strip()):
            raise ArchscoutError(f"--label names a column, got {value!r}")
        out[key] = value
    return out

