"""Task, its splits and its preprocessing: what every non-graph task is, whatever its source.

A task is classification (integer class labels; the network has one output per class) or
regression (continuous targets; one output, trained on the standardised target and scored in the
target's own units). Its inputs may be standardised with the training part's statistics; that
and the label encoding are recorded in :class:`Preprocessing`, which travels with an exported
model so that raw inputs give the study's predictions.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..checks import int_at_least
from ..errors import ArchscoutError
from .datasets import DatasetSplit, concat
from .splits import Split

KINDS = ("classification", "regression")
SMALL_VALIDATION = 50  # fewer validation samples than this: a warning that candidates may tie


SplitLike = Split | DatasetSplit  # arrays, or a PyTorch Dataset's samples


@dataclass(frozen=True)
class Preprocessing:
    """What a task does to raw data before the network sees it, so that an exported model can do the same:
    inputs ``(x - input_mean) / input_std`` (None: left as they are), a regression's output times
    ``target_std`` plus ``target_mean``, and the class names behind the class indices."""

    kind: str = "classification"
    input_mean: tuple | None = None
    input_std: tuple | None = None
    target_mean: float | None = None
    target_std: float | None = None
    classes: tuple = ()

    def as_dict(self) -> dict:
        return {"kind": self.kind, "input_mean": None if self.input_mean is None else list(self.input_mean),
                "input_std": None if self.input_std is None else list(self.input_std),
                "target_mean": self.target_mean, "target_std": self.target_std,
                "classes": [c if isinstance(c, (int, float, str)) else str(c) for c in self.classes]}

    @classmethod
    def from_dict(cls, doc: dict | None) -> Preprocessing:
        if not doc:
            return cls()
        def tup(v):
            return None if v is None else tuple(float(x) for x in v)
        return cls(doc.get("kind", "classification"), tup(doc.get("input_mean")), tup(doc.get("input_std")),
                   doc.get("target_mean"), doc.get("target_std"), tuple(doc.get("classes") or ()))

    def raw_inputs(self, X: np.ndarray) -> np.ndarray:
        """Standardised inputs back in the raw units the user gives (for checking an exported model)."""
        if self.input_mean is None:
            return X
        shape = np.shape(X)[1:]  # the statistics are flat over one sample's features
        std, mean = (np.asarray(v, np.float32).reshape(shape) for v in (self.input_std, self.input_mean))
        return (X * std + mean).astype(np.float32)

    def raw_targets(self, y: np.ndarray) -> np.ndarray:
        """A regression's standardised targets (or predictions) in the target's own units."""
        if self.target_mean is None or self.target_std is None:
            return y
        return np.asarray(y, np.float64) * self.target_std + self.target_mean


@dataclass(frozen=True, eq=False)
class Task:
    """Data with its splits. Selection uses ``valid`` (or, with ``folds``, k-fold cross-validation over training
    and validation together); ``test`` is read by the final retraining and nowhere else.

    ``num_classes`` is the number of network outputs: the classes, or 1 for a regression. ``notes`` are what
    the task was inferred to be (label column, kind, a validation split too small to tell candidates apart);
    ``archscout search`` prints them.
    """

    name: str
    train: SplitLike
    valid: SplitLike
    test: SplitLike | None
    num_classes: int
    description: str = ""
    classes: tuple = field(default=())
    kind: str = "classification"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    folds: int | None = None
    notes: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ArchscoutError(f"unknown task kind {self.kind!r}; valid: {', '.join(KINDS)}")

    @cached_property
    def input_shape(self) -> tuple:
        """One sample's shape (read once: a dataset's sample may be costly to load)."""
        first = self.train.take([0])
        return tuple(first.shape[1:])

    @property
    def metric(self) -> str:
        """What a study over this task selects on unless told otherwise."""
        return "accuracy" if self.kind == "classification" else "r2"

    def full_train(self) -> SplitLike:
        """Training and validation data together, for the final retraining (and the folds)."""
        return concat(self.train, self.valid)

    def cv_splits(self) -> list[tuple[SplitLike, SplitLike]]:
        """The ``folds`` (training, validation) pairs over training and validation data together: stratified by
        class for classification, shuffled with seed 0 for a regression; the task's own pair without folds."""
        if not self.folds:
            return [(self.train, self.valid)]
        pool = self.full_train()
        return [(pool.subset(tr), pool.subset(va)) for tr, va in fold_indices(pool.y, self.folds, self.kind)]

    def fingerprint(self) -> str:
        """Identifies the data and its splits, so a resumed study is checked against the same task."""
        h = hashlib.sha256(self.name.encode())
        for part in (self.train, self.valid):
            part.fingerprint_into(h)
        if self.kind != "classification" or self.folds:
            h.update(f"{self.kind}|{self.folds}".encode())
        return h.hexdigest()[:16]

    def summary(self) -> str:
        test = len(self.test) if self.test is not None else 0
        what = f"{self.num_classes} classes" if self.kind == "classification" else "regression"
        valid = f"{self.folds}-fold cross-validation over {len(self.train) + len(self.valid)}" if self.folds \
            else f"{len(self.train)} train / {len(self.valid)} validation"
        return f"{self.name}: inputs {self.input_shape}, {what}, {valid} / {test} test"


def fold_indices(y: np.ndarray, folds: int, kind: str, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (training, held-out) index pairs; each sample is held out once. Classification is stratified:
    each class is dealt round-robin over the folds after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    assign = np.empty(len(y), dtype=np.int64)
    if kind == "classification":
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            assign[idx] = (np.arange(len(idx)) + rng.integers(folds)) % folds
    else:
        assign[rng.permutation(len(y))] = np.arange(len(y)) % folds
    return [(np.flatnonzero(assign != k), np.flatnonzero(assign == k)) for k in range(folds)]


def check_folds(folds, y: np.ndarray, kind: str, name: str, classes: tuple = ()) -> int | None:
    """``folds`` if k-fold cross-validation can run on targets ``y``, else one clear error."""
    if folds is None:
        return None
    int_at_least(folds, f"{name}: --folds", 2)
    if folds > len(y):
        raise ArchscoutError(f"{name}: {folds} folds but only {len(y)} samples to split")
    if kind == "classification":
        values, counts = np.unique(y, return_counts=True)
        if counts.min() < folds:
            worst = values[counts.argmin()].item()
            label = classes[worst] if worst < len(classes) else worst
            raise ArchscoutError(f"{name}: {folds} folds but class {label!r} has only "
                                 f"{counts.min()} sample(s); every fold must hold each class (use fewer folds)")
    return folds


def validation_note(n_valid: int, folds: int | None, kind: str = "classification") -> str | None:
    """A warning when the validation part is too small to tell candidates apart."""
    if folds or n_valid >= SMALL_VALIDATION:
        return None
    if kind == "regression":
        return (f"warning: the validation split holds {n_valid} samples, so its scores are noisy; use "
                f"--val-fraction or --folds K (k-fold cross-validation) for a steadier selection")
    return (f"warning: the validation split holds {n_valid} samples, so accuracy moves in steps of "
            f"{100 / max(n_valid, 1):.1f} points and many candidates will tie (ties go to the lower validation loss, then the earlier trial); "
            f"use --val-fraction or --folds K (k-fold cross-validation) to tell them apart")
