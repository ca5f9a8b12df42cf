"""A task named by a reference to a user's code (``module:attr`` or ``path/file.py:attr``): a Task, a
Dataset, (train, valid, test) datasets, or a function returning one of them."""
from __future__ import annotations

from ..errors import ArchscoutError
from ..registry import load_reference
from .arrays import from_datasets
from .base import Task
from .graphs import GraphTask
from .options import TASK_OPTIONS


def is_reference(name: str) -> bool:
    """Whether a task name is ``module:attr`` or ``path/file.py:attr`` (a function or object of the user's)."""
    head, sep, attr = name.rpartition(":")
    if not sep or not attr.isidentifier() or head.lower().endswith(".csv"):
        return False
    return head.endswith(".py") or all(p.isidentifier() for p in head.split("."))



def _from_reference(name: str, options: dict) -> Task | GraphTask:
    """The task a user's ``module:attr`` names: a Task, a Dataset, (train, valid, test) datasets, or a function
    returning one of them."""
    obj = load_reference(name, "task")
    if callable(obj) and not hasattr(obj, "__getitem__") and not isinstance(obj, (Task, GraphTask)):
        try:
            obj = obj()
        except ArchscoutError:
            raise
        except Exception as e:  # noqa: BLE001 - a user's function can raise anything
            raise ArchscoutError(f"task {name}: calling it failed ({type(e).__name__}: {e})") from None
    if isinstance(obj, (Task, GraphTask)):
        if options:
            raise ArchscoutError(f"task {name} is a ready Task; {', '.join(TASK_OPTIONS[k] for k in options)} "
                                 f"cannot change it (build the Task with those settings instead)")
        return obj
    label = options.pop("label", None)
    if label is not None:
        raise ArchscoutError(f"task {name}: --label names a CSV column; a dataset gives (input, target) pairs")
    if isinstance(obj, dict):
        unknown = set(obj) - {"train", "valid", "test"}
        if unknown or "train" not in obj:
            raise ArchscoutError(f"task {name}: a dict of datasets has keys train, valid, test (train required)")
        return from_datasets(obj["train"], obj.get("valid"), obj.get("test"), name=name, **options)
    if isinstance(obj, (tuple, list)):
        if not 1 <= len(obj) <= 3:
            raise ArchscoutError(f"task {name}: give (train, valid, test) datasets, got {len(obj)} items")
        return from_datasets(*obj, name=name, **options)
    if hasattr(obj, "__getitem__") and hasattr(obj, "__len__"):
        return from_datasets(obj, name=name, **options)
    raise ArchscoutError(f"task {name}: expected a Task, a torch Dataset, (train, valid, test) datasets or a "
                         f"function returning one of them; got {type(obj).__name__}")


