"""What a study may say about its task besides its name: the task options, checked."""
from __future__ import annotations

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
        if key == "kind" and value not in KINDS:
            raise ArchscoutError(f"--task-kind must be one of {', '.join(KINDS)}, got {value!r}")
        if key == "folds" and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
            raise ArchscoutError(f"--folds must be a whole number >= 2 (k-fold cross-validation), got {value!r}")
        if key == "val_fraction" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value < 1):
            raise ArchscoutError(f"--val-fraction must be a number between 0 and 1, got {value!r}")
        if key == "label" and not (isinstance(value, str) and value.strip()):
            raise ArchscoutError(f"--label names a column, got {value!r}")
        out[key] = value
    return out

