"""Tasks from data files: ``.npz`` (arrays ``X``, ``y``, optionally ``X_test``, ``y_test``) and ``.csv``.

A CSV's delimiter is detected (comma, semicolon, tab or bar). Its label column is the one named by
``label`` (``--label COLUMN`` or ``FILE.csv:COLUMN``); without one, a header column called label,
target, y, class or outcome; without a header, the last column. Which column was used is always in
the task's notes, which ``archscout search`` prints.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

from ..errors import ArchscoutError
from .arrays import from_arrays

LABEL_NAMES = ("label", "target", "y", "class", "outcome")
DELIMITERS = ",;\t|"
NPY_MAGIC = b"\x93NUMPY"  # how every .npy file starts (numpy.save)
ZIP_MAGIC = b"PK"  # how a zip archive (a .npz) starts


def _head(path: str) -> bytes | None:
    """The first bytes of the file at ``path``; None when it is no readable file (a folder, say)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC))
    except OSError:
        return None


def numpy_file_error(path: str, e: Exception, key: str | None = None) -> ArchscoutError:
    """One message for a ``.npz`` or ``.npy`` file that numpy cannot load (``e``; ``key``: the array of a .npz
    being read): what the file is instead and what it needs, never numpy's advice to load pickled data."""
    ext = ".npz" if path.lower().endswith(".npz") else ".npy"
    head = _head(path)
    if head is not None:
        if ext == ".npz" and not head.startswith(ZIP_MAGIC):  # (a damaged zip gets numpy's reason below)
            what = ("it is empty" if not head else "it holds a single .npy array" if head.startswith(NPY_MAGIC)
                    else "it is not a zip archive")
            return ArchscoutError(f"{path}: not a valid .npz file ({what}); a .npz is a zip archive of .npy arrays, "
                                  f"as numpy.savez({os.path.basename(path)!r}, X=X, y=y) writes it")
        if ext == ".npy" and not head.startswith(NPY_MAGIC):
            what = ("it is empty" if not head else "it is a zip archive such as a .npz"
                    if head.startswith(ZIP_MAGIC) else "it does not start with the .npy header")
            return ArchscoutError(f"{path}: not a valid .npy file ({what}); a .npy holds one array, as "
                                  f"numpy.save({os.path.basename(path)!r}, array) writes it")
        if "allow_pickle" in str(e):  # an object array: loading it would unpickle, which can run any code
            which = f"array {key!r}" if key else "its array"
            return ArchscoutError(f"{path}: {which} holds Python objects (dtype object), which archscout does not "
                                  f"load; save numbers instead (e.g. {key or 'array'}.astype(np.float32))")
    return ArchscoutError(f"{path}: not a readable {ext} file ({type(e).__name__}: {e})")


def load_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file at ``path``, by name; ArchscoutError for a file that is none."""
    key = None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {}
            for key in data.files:
                arrays[key] = data[key]
            return arrays
    except Exception as e:  # noqa: BLE001 - numpy raises many kinds for a damaged file
        raise numpy_file_error(path, e, key) from None


def split_label(name: str) -> tuple[str, str | None]:
    """``data.csv:COLUMN`` as (path, column); any other name as (name, None)."""
    lower = name.lower()
    i = lower.rfind(".csv:")
    if i >= 0 and not os.path.exists(name):
        return name[:i + 4], name[i + 5:] or None
    return name, None


def canonical_label(name: str, options: dict) -> tuple[str, dict]:
    """``data.csv:COLUMN`` with ``options`` as the one stored form, ``data.csv`` with ``label=COLUMN`` in the
    options, so that ``--task data.csv:COLUMN`` and ``--task data.csv --label COLUMN`` are the same study; any other
    name as it is."""
    path, named = split_label(name)
    if named is None:
        return name, options
    label = options.get("label")
    if label is not None and label != named:
        raise ArchscoutError(f"the label column is named twice: {named!r} (in {name}) and {label!r} (--label)")
    return path, {**options, "label": named}


def from_file(path: str, label: str | None = None, **kwargs):
    """A task from a ``.npz`` or ``.csv`` file (see the module's docstring); ``kwargs`` go to
    :func:`archscout.tasks.from_arrays` (kind, val_fraction, folds, ...)."""
    path, named = split_label(path)
    if named is not None and label is not None and named != label:
        raise ArchscoutError(f"the label column is named twice: {named!r} (in {path}:{named}) and {label!r} (--label)")
    label = label or named
    if not os.path.exists(path):
        raise ArchscoutError(f"data file {path!r} does not exist")
    name = kwargs.pop("name", os.path.splitext(os.path.basename(path))[0])
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        if label is not None:
            raise ArchscoutError(f"{path}: --label names a CSV column; a .npz holds its labels in array 'y'")
        arrays = load_npz(path)
        keys = {k.lower(): k for k in arrays}
        if "x" not in keys or "y" not in keys:
            raise ArchscoutError(f"{path}: a .npz task needs arrays 'X' and 'y' (found {sorted(arrays)})")
        test: dict = {}
        if "x_test" in keys:
            if "y_test" not in keys:
                raise ArchscoutError(f"{path}: has 'X_test' but no 'y_test'")
            test = {"X_test": arrays[keys["x_test"]], "y_test": arrays[keys["y_test"]]}
        return from_arrays(arrays[keys["x"]], arrays[keys["y"]], name=name, **test, **kwargs)
    if ext == ".csv":
        X, y, note = read_csv(path, label)
        return from_arrays(X, y, name=name, notes=(note,), **kwargs)
    raise ArchscoutError(f"{path}: unsupported data file; use .npz (arrays X, y) or .csv")


def _delimiter(path: str, sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.splitlines()[0].count(d) for d in DELIMITERS} if sample else {}
        best = max(counts, key=lambda d: counts[d]) if counts else ","
        return best if counts.get(best) else ","


def _numeric(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_csv(path: str, label: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Features, raw labels and the note saying which column is the label."""
    try:
        with open(path, newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ArchscoutError(f"{path}: cannot read CSV ({e})") from None
    delimiter = _delimiter(path, text[:8192])
    try:
        rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r and any(c.strip() for c in r)]
    except csv.Error as e:
        raise ArchscoutError(f"{path}: cannot read CSV ({e})") from None
    if not rows:
        raise ArchscoutError(f"{path}: the dataset is empty")
    width = len(rows[0])
    if width < 2:
        raise ArchscoutError(f"{path}: needs at least one feature column and a label column (delimiter "
                             f"{delimiter!r} found one column)")
    header = None if all(_numeric(c) for c in rows[0][:-1]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header else rows
    if not body:
        raise ArchscoutError(f"{path}: the dataset is empty (a header and no rows)")
    for i, r in enumerate(body, start=2 if header else 1):
        if len(r) != width:
            raise ArchscoutError(f"{path}: line {i} has {len(r)} columns, expected {width}")
    shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[delimiter]
    col, why = _label_column(path, label, header, width)
    feats, X = _features(path, body, header, width, col)
    labels = np.array([r[col].strip() for r in body])
    empty = np.flatnonzero(labels == "")
    if len(empty):
        raise ArchscoutError(f"{path}: row {empty[0] + 1}: the label is empty")
    try:
        y = labels.astype(np.float64)
        y = y.astype(np.int64) if np.all(np.mod(y, 1) == 0) else y
    except ValueError:
        y = labels
    return X, y, f"label: {why}; {len(feats)} feature columns; delimiter: {shown}"


def _label_column(path: str, label: str | None, header: list[str] | None, width: int) -> tuple[int, str]:
    """The label column's index and the note saying why it is the label."""
    if label is not None:
        if header is None:
            if label.isdigit() and 1 <= int(label) <= width:
                return int(label) - 1, f"column {label} (named by --label)"
            else:
                raise ArchscoutError(f"{path}: has no header row, so --label {label!r} names no column; give the "
                                     f"column's number (1 to {width})")
        elif label in header:
            return header.index(label), f"column {label!r} (named by --label)"
        else:
            raise ArchscoutError(f"{path}: no column named {label!r}; the columns are {', '.join(header)}")
    elif header is not None:
        lower = [h.lower() for h in header]
        found = next((n for n in LABEL_NAMES if n in lower), None)
        if found is None:
            raise ArchscoutError(f"{path}: name the label column with --label COLUMN (or {path}:COLUMN); the "
                                 f"columns are {', '.join(header)}")
        return lower.index(found), f"column {header[lower.index(found)]!r} (by its name; --label to choose another)"
    else:
        return width - 1, "the last column (no header; --label N to choose another)"


def _features(path: str, body: list[list[str]], header: list[str] | None, width: int, col: int
              ) -> tuple[list[int], np.ndarray]:
    """The feature columns (all but the label's) and their values; an empty, NaN or infinite cell is refused
    naming its data row and column."""
    feats = [j for j in range(width) if j != col]
    X = np.empty((len(body), len(feats)), dtype=np.float32)
    for i, r in enumerate(body):
        for k, j in enumerate(feats):
            cell = r[j].strip()
            try:
                value = float(cell)
            except ValueError:
                where = repr(header[j]) if header else f"column {j + 1}"
                if cell:
                    raise ArchscoutError(f"{path}: row {i + 1}, {where}: {cell!r} is not a number (features must "
                                         f"be numbers; is the label column {where}? name it with --label)") from None
                value = math.nan
            if not math.isfinite(value):
                place = (f"data row {i + 1}" + (" (not counting the header)" if header else "") + ", column "
                         + (repr(header[j]) if header else str(j + 1)))
                what = "the cell is empty" if not cell else f"{cell!r} is not a finite number"
                raise ArchscoutError(f"{path}: {place}: {what}; every feature cell needs a number (fill it in, or "
                                     f"remove the row)")
            X[i, k] = value
    return feats, X
