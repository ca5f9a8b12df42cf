"""The registry of built-in tasks and :func:`get_task`, which turns any task name (a built-in, a file, a
folder of graph files, a reference to a user's code) into a task."""
from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import ArchscoutError
from ..registry import Registry
from .base import Task
from .builtin import breast_cancer, diabetes, digits, iris, mnist1d, mnist1d_hard, wine
from .files import from_file, split_label
from .graphs import GraphTask, from_graph_files, mnist1d_knn
from .options import TASK_OPTIONS, check_task_options
from .references import _from_reference, is_reference

TASKS: Registry[Callable[..., Task | GraphTask]] = Registry("task")
for _name, _factory in (("mnist1d", mnist1d), ("mnist1d-hard", mnist1d_hard), ("digits", digits), ("iris", iris), ("wine", wine),
                        ("breast_cancer", breast_cancer), ("diabetes", diabetes), ("mnist1d-knn", mnist1d_knn)):
    TASKS.register(_name, _factory)


def list_tasks(pattern: str | None = None) -> list[str]:
    return TASKS.names(pattern)


def describe_task(name: str) -> str:
    return TASKS.describe(name)


def _is_file(name: str) -> bool:
    path, _ = split_label(name)
    return path.lower().endswith((".npz", ".csv")) or os.path.sep in path or os.path.exists(path)


def check_task_name(name: str) -> None:
    """Fail early on a name that is neither a built-in task, a path nor a reference (data is not loaded)."""
    if name not in TASKS and not _is_file(name) and not is_reference(name):
        TASKS.canonical(name)  # the error with the close matches


def task_name_of(task: str | Task | GraphTask) -> str | None:
    """The name a task gets once loaded, known without loading its data: a Task's own, a built-in's, a ``.npz``
    or ``.csv`` file's base name without its extension; None for anything else (a graph folder, a reference)."""
    if isinstance(task, (Task, GraphTask)):
        return task.name
    if not isinstance(task, str):
        return None
    if task in TASKS:
        return task
    path, _ = split_label(task)
    if path.lower().endswith((".npz", ".csv")):
        return os.path.splitext(os.path.basename(path))[0]
    return None


def get_task(name: str | Task | GraphTask, options: dict | None = None) -> Task | GraphTask:
    """A built-in task by name, a user's ``.npz`` / ``.csv`` file by path (``data.csv:COLUMN`` names the
    label), a folder of graph files, or ``module:attr`` / ``file.py:attr`` (a Task, datasets or a function
    returning them). ``options``: see :data:`TASK_OPTIONS`."""
    options = check_task_options(options)
    if isinstance(name, (Task, GraphTask)):
        return name
    if name in TASKS:
        if "label" in options:
            raise ArchscoutError(f"--label names a column of a CSV file; the built-in task {name!r} has its labels")
        factory = TASKS.get(name)
        if factory is mnist1d_knn:
            if options:
                raise ArchscoutError(f"the graph task {name!r} has fixed splits; it takes no "
                                     f"{', '.join(TASK_OPTIONS[k] for k in options)}")
            return factory()
        return factory(**options)
    if is_reference(name):
        return _from_reference(name, dict(options))
    if os.path.isdir(name) and not name.lower().endswith((".npz", ".csv")):
        if options:
            raise ArchscoutError(f"a graph folder has its own splits; it takes no "
                                 f"{', '.join(TASK_OPTIONS[k] for k in options)}")
        return from_graph_files(name)
    if _is_file(name):
        return from_file(name, **options)
    return TASKS.get(name)()  # the error with the close matches

