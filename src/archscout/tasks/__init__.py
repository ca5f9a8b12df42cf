"""Tasks: a dataset with train / validation / test splits; built-ins and user data (arrays, .npz, .csv,
graph folders).

The search only ever sees the training and validation parts; the test part is read by the
final retraining and nowhere else. Graph tasks (node classification) are in :mod:`.graphs`.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import ArchscoutError
from ..registry import Registry
from .graphs import GraphTask, NodeSplit, from_graph, from_graph_files, mnist1d_knn


@dataclass(frozen=True)
class Split:
    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Task:
    """Classification data with its splits. Selection uses ``valid``; ``test`` is for the final report."""

    name: str
    train: Split
    valid: Split
    test: Split | None
    num_classes: int
    description: str = ""
    classes: tuple = field(default=())

    @property
    def input_shape(self) -> tuple:
        return tuple(self.train.X.shape[1:])

    @property
    def metric(self) -> str:
        return "accuracy"

    def full_train(self) -> Split:
        """Training and validation data together, for the final retraining."""
        return Split(np.concatenate([self.train.X, self.valid.X]), np.concatenate([self.train.y, self.valid.y]))

    def fingerprint(self) -> str:
        """Identifies the data and its splits, so a resumed study is checked against the same task."""
        h = hashlib.sha256(self.name.encode())
        for part in (self.train, self.valid):
            h.update(np.ascontiguousarray(part.X).tobytes())
            h.update(np.ascontiguousarray(part.y).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> str:
        test = len(self.test) if self.test is not None else 0
        return (f"{self.name}: inputs {self.input_shape}, {self.num_classes} classes, "
                f"{len(self.train)} train / {len(self.valid)} validation / {test} test")


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


def _encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], tuple]:
    classes = np.unique(np.concatenate([np.asarray(y).astype(str) if y.dtype.kind in "OUS" else y for y in ys]))
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    out = []
    for y in ys:
        vals = y.astype(str) if y.dtype.kind in "OUS" else y
        out.append(np.array([lookup[v] for v in vals.tolist()], dtype=np.int64))
    return out, tuple(classes.tolist())


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): ``fraction`` of each class held out, at least one where possible."""
    rng = np.random.default_rng(seed)
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


def from_arrays(X, y, X_test=None, y_test=None, *, name: str = "arrays", val_fraction: float = 0.1,
                test_fraction: float = 0.2, seed: int = 0, standardize: bool | None = None,
                description: str = "") -> Task:
    """A task from numpy arrays. Without ``X_test`` a stratified ``test_fraction`` is held out.

    Tabular inputs (2-D ``X``) are standardised with the training part's statistics unless
    ``standardize=False``. Labels may be integers or strings.
    """
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1:
        raise ArchscoutError("val_fraction must be in (0, 1) and test_fraction in [0, 1)")
    X, y = _check_arrays(X, y, name)
    if X_test is not None:
        if y_test is None:
            raise ArchscoutError(f"{name}: X_test given without y_test")
        X_test, y_test = _check_arrays(X_test, y_test, f"{name} (test)")
        if X_test.shape[1:] != X.shape[1:]:
            raise ArchscoutError(f"{name}: test inputs are shaped {X_test.shape[1:]}, training inputs {X.shape[1:]}")
        (y, y_test), classes = _encode_labels(y, y_test)
    else:
        (y,), classes = _encode_labels(y)
        if test_fraction > 0:
            keep, held = _stratified_split(y, test_fraction, seed)
            X, y, X_test, y_test = X[keep], y[keep], X[held], y[held]
    if len(classes) < 2:
        raise ArchscoutError(f"{name}: a classification task needs at least two classes, found {len(classes)}")
    keep, held = _stratified_split(y, val_fraction, seed + 1)
    if len(held) == 0 or len(keep) == 0:
        raise ArchscoutError(f"{name}: {len(y)} training samples are too few for a validation split")
    train, valid = Split(X[keep], y[keep]), Split(X[held], y[held])
    test = Split(X_test, y_test) if X_test is not None and len(X_test) else None
    if standardize is None:
        standardize = X.ndim == 2
    if standardize:
        mu, sd = train.X.mean(0), train.X.std(0)
        sd[sd == 0] = 1.0

        def norm(s):
            return None if s is None else Split(((s.X - mu) / sd).astype(np.float32), s.y)

        train, valid, test = norm(train), norm(valid), norm(test)
    return Task(name, train, valid, test, len(classes), description, classes)


def from_file(path: str, **kwargs) -> Task:
    """A task from a ``.npz`` (arrays ``X``, ``y`` and optionally ``X_test``, ``y_test``) or a ``.csv``
    (numeric feature columns; the label is the column named label / target / y / class, else the last)."""
    if not os.path.exists(path):
        raise ArchscoutError(f"data file {path!r} does not exist")
    name = kwargs.pop("name", os.path.splitext(os.path.basename(path))[0])
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as e:  # numpy raises many kinds for a damaged file
            raise ArchscoutError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
        keys = {k.lower(): k for k in arrays}
        if "x" not in keys or "y" not in keys:
            raise ArchscoutError(f"{path}: a .npz task needs arrays 'X' and 'y' (found {sorted(arrays)})")
        test = {}
        if "x_test" in keys:
            if "y_test" not in keys:
                raise ArchscoutError(f"{path}: has 'X_test' but no 'y_test'")
            test = {"X_test": arrays[keys["x_test"]], "y_test": arrays[keys["y_test"]]}
        return from_arrays(arrays[keys["x"]], arrays[keys["y"]], name=name, **test, **kwargs)
    if ext == ".csv":
        return from_arrays(*_read_csv(path), name=name, **kwargs)
    raise ArchscoutError(f"{path}: unsupported data file; use .npz (arrays X, y) or .csv")


def _read_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ArchscoutError(f"{path}: cannot read CSV ({e})") from None
    if not rows:
        raise ArchscoutError(f"{path}: the dataset is empty")

    def numeric(cell: str) -> bool:
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None if all(numeric(c) for c in rows[0][:-1]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header else rows
    if not body:
        raise ArchscoutError(f"{path}: the dataset is empty (a header and no rows)")
    width = len(rows[0])
    if width < 2:
        raise ArchscoutError(f"{path}: needs at least one feature column and a label column")
    for i, r in enumerate(body, start=2 if header else 1):
        if len(r) != width:
            raise ArchscoutError(f"{path}: line {i} has {len(r)} columns, expected {width}")
    label = width - 1
    if header:
        for cand in ("label", "target", "y", "class"):
            if cand in [h.lower() for h in header]:
                label = [h.lower() for h in header].index(cand)
                break
    feats = [j for j in range(width) if j != label]
    X = np.empty((len(body), len(feats)), dtype=np.float32)
    for i, r in enumerate(body):
        for k, j in enumerate(feats):
            cell = r[j].strip()
            try:
                X[i, k] = float(cell) if cell else np.nan
            except ValueError:
                where = header[j] if header else f"column {j + 1}"
                raise ArchscoutError(f"{path}: row {i + 1}, {where}: {cell!r} is not a number") from None
    labels = np.array([r[label].strip() for r in body])
    empty = np.flatnonzero(labels == "")
    if len(empty):
        raise ArchscoutError(f"{path}: row {empty[0] + 1}: the label is empty")
    try:
        y = labels.astype(np.float64)
        y = y.astype(np.int64) if np.all(np.mod(y, 1) == 0) else labels
    except ValueError:
        y = labels
    return X, y


# -- built-in tasks ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def mnist1d() -> Task:
    """MNIST-1D (Greydanus 2020), generated locally with the default arguments: 4,000 train / 1,000 test."""
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    X = d["x"].astype(np.float32)[:, None, :]
    Xt = d["x_test"].astype(np.float32)[:, None, :]
    return from_arrays(X, d["y"], Xt, d["y_test"], name="mnist1d", standardize=False,
                       description="MNIST-1D, 40-sample 1-D signals, 10 classes (generated locally)")


def _sklearn(loader: str, name: str, description: str, image: bool = False) -> Callable[[], Task]:
    @lru_cache(maxsize=None)
    def make() -> Task:
        import sklearn.datasets as ds

        data = getattr(ds, loader)()
        X = data.data.astype(np.float32)
        if image:
            X = (X / 16.0).reshape(len(X), 1, 8, 8)
        return from_arrays(X, data.target, name=name, description=description)

    make.__doc__ = description
    return make


digits = _sklearn("load_digits", "digits", "scikit-learn digits: 8x8 images (1, 8, 8), 10 classes", image=True)
iris = _sklearn("load_iris", "iris", "scikit-learn iris: 4 tabular features, 3 classes")
wine = _sklearn("load_wine", "wine", "scikit-learn wine: 13 tabular features, 3 classes")
breast_cancer = _sklearn("load_breast_cancer", "breast_cancer",
                         "scikit-learn breast cancer: 30 tabular features, 2 classes")

TASKS: Registry[Callable[[], Task | GraphTask]] = Registry("task")
for _name, _factory in (("mnist1d", mnist1d), ("digits", digits), ("iris", iris), ("wine", wine),
                        ("breast_cancer", breast_cancer), ("mnist1d-knn", mnist1d_knn)):
    TASKS.register(_name, _factory)


def list_tasks(pattern: str | None = None) -> list[str]:
    return TASKS.names(pattern)


def describe_task(name: str) -> str:
    return TASKS.describe(name)


def _is_file(name: str) -> bool:
    return name.lower().endswith((".npz", ".csv")) or os.path.sep in name or os.path.exists(name)


def check_task_name(name: str) -> None:
    """Fail early on a name that is neither a built-in task nor a path (data is not loaded)."""
    if name not in TASKS and not _is_file(name):
        TASKS.canonical(name)  # the error with the close matches


def get_task(name: str | Task | GraphTask) -> Task | GraphTask:
    """A built-in task by name, a user's ``.npz`` / ``.csv`` file by path, or a folder of graph files."""
    if isinstance(name, (Task, GraphTask)):
        return name
    if name in TASKS:
        return TASKS.get(name)()
    if os.path.isdir(name) and not name.lower().endswith((".npz", ".csv")):
        return from_graph_files(name)
    if _is_file(name):
        return from_file(name)
    return TASKS.get(name)()  # the error with the close matches


__all__ = ["TASKS", "Task", "Split", "GraphTask", "NodeSplit", "from_arrays", "from_file", "from_graph", "from_graph_files",
           "get_task", "check_task_name", "list_tasks", "mnist1d", "mnist1d_knn", "digits", "iris", "wine",
           "breast_cancer"]
