"""Tasks from a user's data in memory: numpy arrays (:func:`from_arrays`) and PyTorch datasets
(:func:`from_datasets`), with the checks, the task kind's inference, the label encoding and the stratified
splits they share with files and graphs."""
from __future__ import annotations

import numpy as np

from .. import checks
from ..errors import ArchscoutError
from .base import KINDS, Preprocessing, Split, Task, check_folds, validation_note
from .datasets import DatasetSplit, read_targets

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


def encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], tuple]:
    classes = np.unique(np.concatenate([np.asarray(y).astype(str) if y.dtype.kind in "OUS" else y for y in ys]))
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    out = []
    for y in ys:
        vals = y.astype(str) if y.dtype.kind in "OUS" else y
        out.append(np.array([lookup[v] for v in vals.tolist()], dtype=np.int64))
    return out, tuple(classes.tolist())


def stratified_split(y: np.ndarray, fraction: float, seed: int, kind: str = "classification"
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
    checks.fraction(val_fraction, "val_fraction", inclusive="neither")
    checks.fraction(test_fraction, "test_fraction", inclusive="left")


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
            (y, y_test), classes = encode_labels(y, y_test)
        else:
            (y,), classes = encode_labels(y)
        if len(classes) < 2:
            raise ArchscoutError(f"{name}: a classification task needs at least two classes, found {len(classes)}")
    else:
        y = y.astype(np.float64)
        y_test = None if y_test is None else y_test.astype(np.float64)
    if X_test is None and test_fraction > 0:
        keep, held = stratified_split(y, test_fraction, seed, kind)
        X, y, X_test, y_test = X[keep], y[keep], X[held], y[held]
    keep, held = stratified_split(y, val_fraction, seed + 1, kind)
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
        encoded, classes = encode_labels(y_train, *ys.values())
        enc = dict(zip(order, encoded))
        if len(classes) < 2:
            raise ArchscoutError(f"{name}: a classification task needs at least two classes, found {len(classes)}")
    else:
        enc = {"train": y_train.astype(np.float64), **{k: v.astype(np.float64) for k, v in ys.items()}}
    if valid is None:
        keep, held = stratified_split(enc["train"], val_fraction, seed + 1, kind)
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

