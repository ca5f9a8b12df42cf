"""Tasks: a dataset with train / validation / test splits; built-ins and user data (arrays, .npz, .csv,
graph folders).

The search only ever sees the training and validation parts; the test part is read by the
final retraining and nowhere else. The parts, one module each: :mod:`.catalog` (the registry of built-in
tasks, :func:`get_task`), :mod:`.builtin` (the built-in tasks), :mod:`.arrays` (arrays and datasets, their
checks), :mod:`.files` (.npz and .csv files), :mod:`.references` (a user's ``module:attr``), :mod:`.options`
(a study's task options), :mod:`.graphs` (graph tasks, node classification), :mod:`.base` (the Task itself).
``archscout.tasks.list()`` and ``archscout.tasks.get(name)`` are the same two verbs as :mod:`archscout.spaces`.
"""
from .arrays import MAX_CLASSES as MAX_CLASSES
from .arrays import encode_labels as encode_labels
from .arrays import from_arrays, from_datasets
from .arrays import infer_kind as infer_kind
from .arrays import stratified_split as _stratified_split  # noqa: F401 - its name before it was public
from .arrays import stratified_split as stratified_split
from .base import KINDS as KINDS
from .base import Preprocessing, Split, Task, fold_indices
from .base import check_folds as check_folds
from .base import validation_note as validation_note
from .builtin import breast_cancer, diabetes, digits, iris, mnist1d, wine
from .catalog import TASKS, check_task_name, get_task, list_tasks
from .catalog import _is_file as _is_file
from .catalog import describe_task as describe_task
from .catalog import get_task as get
from .catalog import list_tasks as list
from .datasets import DatasetSplit
from .files import canonical_label as canonical_label
from .files import from_file
from .files import split_label as split_label
from .graphs import GraphTask, NodeSplit, from_graph, from_graph_files, mnist1d_knn
from .options import TASK_OPTIONS, check_task_options
from .references import _from_reference as _from_reference
from .references import is_reference as is_reference

__all__ = ["TASKS", "TASK_OPTIONS", "Task", "Split", "DatasetSplit", "Preprocessing", "GraphTask", "NodeSplit",
           "from_arrays", "from_datasets", "from_file", "from_graph", "from_graph_files", "get_task",
           "check_task_name", "check_task_options", "list_tasks", "mnist1d", "mnist1d_knn", "digits", "iris",
           "wine", "breast_cancer", "diabetes", "fold_indices", "list", "get"]
