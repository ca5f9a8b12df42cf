"""Tasks: a dataset with train / validation / test splits; built-ins and user data (arrays, .npz, .csv,
graph folders).

The search only ever sees the training and validation parts; the test part is read by the
final retraining and nowhere else. Graph tasks (node classification) are in :mod:`.graphs`.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import ArchscoutError
from ..registry import Registry
from .base import KINDS, Preprocessing, Split, Task, check_folds, fold_indices, validation_note
from .datasets import DatasetSplit
from .files import from_file, split_label
from .graphs import GraphTask, NodeSplit, from_graph, from_graph_files, mnist1d_knn


# -- validation of user data ------------------------------------------------------------------

def _check_arrays(X, y, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError):
        raise ArchscoutError(f"{where}: features must be numbers") from None
    y = np.asarray(y)
    if X.ndim == 0 or len(X) == 0:
        raise ArchscoutError(f"{where}: the dataset is empty")
    if X.ndim == 1:
        X = X[:, None]
    if y.ndim != 1:
        y = y.reshape(len(y), -1)
        if y.shape[1] != 1:
            raise ArchscoutError(f"{where}: labels must be one value per sample, got shape {y.shape}")
        y = y[:, 0]
    if len(X) != len(y):
        raise ArchscoutError(f"{where}: {len(X)} samples but {len(y)} labels")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).reshape(len(X), -1).any(1).sum())
        raise ArchscoutError(f"{where}: {bad} sample(s) contain NaN or infinite values")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ArchscoutError(f"{where}: labels contain NaN or infinite values")
    return X, y


MAX_CLASSES = 100  # integer targets with more distinct values than this (or than a fifth of the samples) are a regression


def infer_kind(y: np.ndarray, kind: str | None, where: str) -> tuple[str, str]:
    """The task kind for targets ``y`` (``kind`` if given, checked) and the note that says which and why.
    Continuous targets are never treated as classes."""
    if kind is not None and kind not in KINDS:
        raise ArchscoutError(f"{where}: unknown task kind {kind!r}; valid: {', '.join(KINDS)}")
    numeric = y.dtype.kind in "biuf"
    integral = numeric and bool(np.all(np.mod(y.astype(np.float64), 1) == 0))
    distinct = len(np.unique(y))
    if kind == "classification":
        if numeric and not integral:
            raise ArchscoutError(f"{where}: the target takes non-integer values ({distinct} distinct), so it is "
                                 f"continuous, not classes; use --task-kind regression")
        return kind, f"task kind: classification (given), {distinct} classes"
    if kind == "regression":
        if not numeric:
            raise ArchscoutError(f"{where}: a regression needs numeric targets; the labels are text")
        return kind, "task kind: regression (given)"
    if not numeric:
        return "classification", f"task kind: classification (text labels), {distinct} classes"
    if not integral:
        return "regression", (f"task kind: regression (the target takes {distinct} distinct non-integer values; "
                              f"--task-kind classification refuses that)")
    if distinct > min(MAX_CLASSES, max(2, len(y) // 5)):
        return "regression", (f"task kind: regression (the integer target takes {distinct} distinct values in "
                              f"{len(y)} samples, too many for classes; --task-kind classification to override)")
    return "classification", (f"task kind: classification ({distinct} integer classes; --task-kind regression "
                              f"to override)")


def _encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], tuple]:
    classes = np.unique(np.concatenate([np.asarray(y).astype(str) if y.dtype.kind in "OUS" else y for y in ys]))
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    out = []
    for y in ys:
        vals = y.astype(str) if y.dtype.kind in "OUS" else y
        out.append(np.array([lookup[v] for v in vals.tolist()], dtype=np.int64))
    return out, tuple(classes.tolist())


def _stratified_split(y: np.ndarray, fraction: float, seed: int, kind: str = "classification"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): ``fraction`` of each class held out, at least one where possible; a regression
    is split at random."""
    rng = np.random.default_rng(seed)
    if kind == "regression":
        idx = rng.permutation(len(y))
        n = min(max(int(round(fraction * len(y))), 1), len(y) - 1) if len(y) > 1 else 0
        return np.sort(idx[n:]), np.sort(idx[:n])
    keep, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = int(round(fraction * len(idx)))
        if len(idx) > 1:
            n = min(max(n, 1), len(idx) - 1)
        else:
            n = 0
        held.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def _check_fractions(val_fraction, test_fraction) -> None:
    for label, v, lo in (("val_fraction", val_fraction, 0.0), ("test_fraction", test_fraction, None)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ArchscoutError(f"{label} must be a number, got {v!r}")
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1:
        raise ArchscoutError("the validation fraction must be in (0, 1) and the test fraction in [0, 1), got "
                             f"{val_fraction:g} and {test_fraction:g}")


def from_arrays(X, y, X_test=None, y_test=None, *, name: str = "arrays", val_fraction: float = 0.1,
                test_fraction: float = 0.2, seed: int = 0, standardize: bool | None = None,
                description: str = "", kind: str | None = None, folds: int | None = None,
                notes: tuple = ()) -> Task:
    """A task from numpy arrays. Without ``X_test`` a ``test_fraction`` is held out (stratified by class).

    ``kind``: "classification" or "regression"; None infers it from the targets (continuous targets, or
    integers with too many distinct values, are a regression) and says which in ``notes``. Tabular inputs
    (2-D ``X``) are standardised with the training part's statistics unless ``standardize=False``; a
    regression's targets are standardised the same way (scores are in the target's own units). Labels may be
    integers or strings. ``folds``: select by k-fold cross-validation over training and validation data.
    """
    _check_fractions(val_fraction, test_fraction)
    X, y = _check_arrays(X, y, name)
    if X_test is not None:
        if y_test is None:
            raise ArchscoutError(f"{name}: X_test given without y_test")
        X_test, y_test = _check_arrays(X_test, y_test, f"{name} (test)")
        if X_test.shape[1:] != X.shape[1:]:
            raise ArchscoutError(f"{name}: test inputs are shaped {X_test.shape[1:]}, training inputs {X.shape[1:]}")
    kind, kind_note = infer_kind(y if y_test is None else np.concatenate([y, y_test]), kind, name)
    notes = tuple(notes) + (kind_note,)
    classes: tuple = ()
    if kind == "classification":
        if X_test is not None:
            (y, y_test), classes = _encode_labels(y, y_test)
        else:
            (y,), classes = _encode_labels(y)
        if len(classes) < 2:
            raise ArchscoutError(f"{name}: a classification task needs at least two classes, found {len(classes)}")
    else:
        y = y.astype(np.float64)
        y_test = None if y_test is None else y_test.astype(np.float64)
    if X_test is None and test_fraction > 0:
        keep, held = _stratified_split(y, test_fraction, seed, kind)
        X, y, X_test, y_test = X[keep], y[keep], X[held], y[held]
    keep, held = _stratified_split(y, val_fraction, seed + 1, kind)
    if len(held) == 0 or len(keep) == 0:
        raise ArchscoutError(f"{name}: {len(y)} training samples are too few for a validation split")
    folds = check_folds(folds, y, kind, name, classes)
    train, valid = Split(X[keep], y[keep]), Split(X[held], y[held])
    test = Split(X_test, y_test) if X_test is not None and len(X_test) else None
    if standardize is None:
        standardize = X.ndim == 2
    mu = sd = None
    if standardize:
        mu, sd = train.X.mean(0), train.X.std(0)
        sd[sd == 0] = 1.0
    t_mu = t_sd = None
    if kind == "regression":
        t_mu, t_sd = float(train.y.mean()), float(train.y.std()) or 1.0

    def norm(s):
        if s is None:
            return None
        Xs = ((s.X - mu) / sd).astype(np.float32) if mu is not None else s.X
        ys = ((s.y - t_mu) / t_sd).astype(np.float32) if t_mu is not None else s.y
        return Split(Xs, ys)

    train, valid, test = norm(train), norm(valid), norm(test)
    prep = Preprocessing(kind, None if mu is None else tuple(mu.reshape(-1).tolist()),
                         None if sd is None else tuple(sd.reshape(-1).tolist()), t_mu, t_sd, classes)
    note = validation_note(len(valid), folds, kind)
    return Task(name, train, valid, test, len(classes) if kind == "classification" else 1, description, classes,
                kind, prep, folds, notes + ((note,) if note else ()))


def from_datasets(train, valid=None, test=None, *, name: str = "dataset", kind: str | None = None,
                  val_fraction: float = 0.1, seed: int = 0, folds: int | None = None, description: str = "") -> Task:
    """A task from PyTorch ``Dataset`` objects yielding ``(input, target)``: inputs of any shape (the same for
    every sample), batched by a ``DataLoader`` in training. Without ``valid`` a ``val_fraction`` of ``train``
    is held out (stratified by class); without ``test`` the final retraining has nothing to report on.
    Inputs are used as the dataset gives them (normalise in the dataset); a regression's targets are
    standardised for training and scored in their own units. ``kind`` as in :func:`from_arrays`."""
    from .datasets import DatasetSplit, read_targets

    _check_fractions(val_fraction, 0.0)
    y_train, shape = read_targets(train, f"{name} (train)")
    parts = {"valid": valid, "test": test}
    ys = {}
    for part, ds in parts.items():
        if ds is not None:
            ys[part], s = read_targets(ds, f"{name} ({part})")
            if s != shape:
                raise ArchscoutError(f"{name}: {part} inputs are shaped {list(s)}, training inputs {list(shape)}")
    kind, kind_note = infer_kind(np.concatenate([y_train, *ys.values()]), kind, name)
    classes: tuple = ()
    if kind == "classification":
        order = ["train", *ys]
        encoded, classes = _encode_labels(y_train, *ys.values())
        enc = dict(zip(order, encoded))
        if len(classes) < 2:
            raise ArchscoutError(f"{name}: a classification task needs at least two classes, found {len(classes)}")
    else:
        enc = {"train": y_train.astype(np.float64), **{k: v.astype(np.float64) for k, v in ys.items()}}
    if valid is None:
        keep, held = _stratified_split(enc["train"], val_fraction, seed + 1, kind)
        if len(held) == 0 or len(keep) == 0:
            raise ArchscoutError(f"{name}: {len(y_train)} training samples are too few for a validation split")
        tr, va = DatasetSplit(enc["train"][keep], train, keep), DatasetSplit(enc["train"][held], train, held)
    else:
        tr, va = DatasetSplit(enc["train"], train), DatasetSplit(enc["valid"], valid)
    te = DatasetSplit(enc["test"], test) if test is not None else None
    t_mu = t_sd = None
    if kind == "regression":
        t_mu, t_sd = float(tr.y.mean()), float(tr.y.std()) or 1.0
        for split in (tr, va, te):
            if split is not None:
                split.y = ((split.y - t_mu) / t_sd).astype(np.float32)
    folds = check_folds(folds, np.concatenate([tr.y, va.y]), kind, name, classes)
    note = validation_note(len(va), folds, kind)
    return Task(name, tr, va, te, len(classes) if kind == "classification" else 1, description, classes, kind,
                Preprocessing(kind, None, None, t_mu, t_sd, classes), folds, (kind_note,) + ((note,) if note else ()))


# -- built-in tasks ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def mnist1d(**options) -> Task:
    """MNIST-1D (Greydanus 2020), generated locally with the default arguments: 4,000 train / 1,000 test."""
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    X = d["x"].astype(np.float32)[:, None, :]
    Xt = d["x_test"].astype(np.float32)[:, None, :]
    return from_arrays(X, d["y"], Xt, d["y_test"], name="mnist1d", standardize=False,
                       description="MNIST-1D, 40-sample 1-D signals, 10 classes (generated locally)", **options)


def _sklearn(loader: str, name: str, description: str, image: bool = False) -> Callable[..., Task]:
    @lru_cache(maxsize=None)
    def make(**options) -> Task:
        import sklearn.datasets as ds

        data = getattr(ds, loader)()
        X = data.data.astype(np.float32)
        if image:
            X = (X / 16.0).reshape(len(X), 1, 8, 8)
        return from_arrays(X, data.target, name=name, description=description, **options)

    make.__doc__ = description
    return make


digits = _sklearn("load_digits", "digits", "scikit-learn digits: 8x8 images (1, 8, 8), 10 classes", image=True)
iris = _sklearn("load_iris", "iris", "scikit-learn iris: 4 tabular features, 3 classes")
wine = _sklearn("load_wine", "wine", "scikit-learn wine: 13 tabular features, 3 classes")
breast_cancer = _sklearn("load_breast_cancer", "breast_cancer",
                         "scikit-learn breast cancer: 30 tabular features, 2 classes")
diabetes = _sklearn("load_diabetes", "diabetes",
                    "scikit-learn diabetes: 10 tabular features, a continuous target (regression)")

TASKS: Registry[Callable[..., Task | GraphTask]] = Registry("task")
for _name, _factory in (("mnist1d", mnist1d), ("digits", digits), ("iris", iris), ("wine", wine),
                        ("breast_cancer", breast_cancer), ("diabetes", diabetes), ("mnist1d-knn", mnist1d_knn)):
    TASKS.register(_name, _factory)

# what a study may say about its task besides its name (stored with the study, so a resume rebuilds the same task)
TASK_OPTIONS = {"label": "--label", "kind": "--task-kind", "val_fraction": "--val-fraction", "folds": "--folds"}


def list_tasks(pattern: str | None = None) -> list[str]:
    return TASKS.names(pattern)


def describe_task(name: str) -> str:
    return TASKS.describe(name)


def _is_file(name: str) -> bool:
    path, _ = split_label(name)
    return path.lower().endswith((".npz", ".csv")) or os.path.sep in path or os.path.exists(path)


def is_reference(name: str) -> bool:
    """Whether a task name is ``module:attr`` or ``path/file.py:attr`` (a function or object of the user's)."""
    head, sep, attr = name.rpartition(":")
    if not sep or not attr.isidentifier() or head.lower().endswith(".csv"):
        return False
    return head.endswith(".py") or all(p.isidentifier() for p in head.split("."))


def check_task_name(name: str) -> None:
    """Fail early on a name that is neither a built-in task, a path nor a reference (data is not loaded)."""
    if name not in TASKS and not _is_file(name) and not is_reference(name):
        TASKS.canonical(name)  # the error with the close matches


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


def _from_reference(name: str, options: dict) -> Task | GraphTask:
    """The task a user's ``module:attr`` names: a Task, a Dataset, (train, valid, test) datasets, or a function
    returning one of them."""
    from ..registry import load_reference
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


__all__ = ["TASKS", "TASK_OPTIONS", "Task", "Split", "DatasetSplit", "Preprocessing", "GraphTask", "NodeSplit",
           "from_arrays", "from_datasets", "from_file", "from_graph", "from_graph_files", "get_task",
           "check_task_name", "check_task_options", "list_tasks", "mnist1d", "mnist1d_knn", "digits", "iris",
           "wine", "breast_cancer", "diabetes", "fold_indices"]
