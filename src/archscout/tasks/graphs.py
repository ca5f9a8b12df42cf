"""Graph tasks: node classification on one graph (node features, edges, labels, train / valid / test nodes).

A graph task is transductive: the whole graph (every node's features and every edge) is
seen in training, labels only of the training nodes. Selection reads the validation nodes'
labels; the test nodes' labels are read by the final retraining and nowhere else. Sources:
a PyTorch Geometric ``Data`` (:func:`from_graph`), a folder of files (:func:`from_graph_files`,
layout in docs/graphs.md) and the built-in ``mnist1d-knn``.
"""
from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import numpy as np

from ..errors import ArchscoutError
from .arrays import encode_labels, stratified_split
from .builtin import mnist1d
from .files import numpy_file_error

SPLIT_WORDS = {"train": "train", "valid": "valid", "val": "valid", "validation": "valid", "test": "test",
               "none": None}
LABEL_HEADERS = ("label", "labels", "y", "class", "target")
EDGE_FILES = ("edges.csv", "edges.tsv", "edges.txt", "edges.npy")
FEATURE_FILES = ("features.csv", "features.npy")
LABEL_FILES = ("labels.csv", "labels.npy")
SPLIT_FILES = ("split.csv", "split.txt")
MASK_FILES = {"train": ("train_mask.npy",), "valid": ("valid_mask.npy", "val_mask.npy"), "test": ("test_mask.npy",)}
_EDGE_FORM = "an edge list has two integer columns (source and target node ids)"


@dataclass(frozen=True)
class NodeSplit:
    """One part of a graph task's nodes: a boolean mask over all nodes; ``len`` is its node count."""

    mask: np.ndarray

    def __len__(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True, eq=False)
class GraphTask:
    """Node classification on one graph; plays the role of :class:`~archscout.tasks.Task` for the gnn spaces.

    ``x`` float32 ``[N, F]``, ``edge_index`` int64 ``[2, E]`` (undirected: both directions
    stored, no self-loops, no duplicates), ``y`` int64 ``[N]``, and boolean masks over the
    N nodes. Build one with :func:`from_graph` or :func:`from_graph_files`.
    """

    name: str
    x: np.ndarray
    edge_index: np.ndarray
    y: np.ndarray
    train_mask: np.ndarray
    valid_mask: np.ndarray
    test_mask: np.ndarray
    num_classes: int
    description: str = ""
    classes: tuple = field(default=())

    @property
    def input_shape(self) -> tuple:
        return (int(self.x.shape[1]),)

    @property
    def metric(self) -> str:
        return "accuracy"

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        """Undirected edges (``edge_index`` holds each one in both directions)."""
        return int(self.edge_index.shape[1]) // 2

    @property
    def train(self) -> NodeSplit:
        return NodeSplit(self.train_mask)

    @property
    def valid(self) -> NodeSplit:
        return NodeSplit(self.valid_mask)

    @property
    def test(self) -> NodeSplit | None:
        return NodeSplit(self.test_mask) if self.test_mask.any() else None

    def fingerprint(self) -> str:
        """Identifies the graph, its labels and its split, so a resumed study is checked against the same task."""
        h = hashlib.sha256(f"graph\n{self.name}".encode())
        for part in (self.x, self.edge_index, self.y, self.train_mask, self.valid_mask, self.test_mask):
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> str:
        test = len(self.test) if self.test is not None else 0
        return (f"{self.name}: graph of {self.num_nodes:,} nodes and {self.num_edges:,} edges, "
                f"{self.input_shape[0]} features per node, {self.num_classes} classes, {len(self.train)} train / "
                f"{len(self.valid)} validation / {test} test nodes")

    def to_data(self):
        """The task as a PyTorch Geometric ``Data`` (masks named train_mask, val_mask, test_mask)."""
        import torch
        from torch_geometric.data import Data

        return Data(x=torch.from_numpy(self.x), edge_index=torch.from_numpy(self.edge_index),
                    y=torch.from_numpy(self.y), train_mask=torch.from_numpy(self.train_mask),
                    val_mask=torch.from_numpy(self.valid_mask), test_mask=torch.from_numpy(self.test_mask))


# -- checking and assembling ------------------------------------------------------------------

def _edge_at(lines: np.ndarray | None) -> Callable[[int], str]:
    """How a message names edge k: by its line in a text file, else by its position."""
    if lines is None:
        return lambda k: f"edge {k} (numbered from 0)"
    return lambda k: f"line {int(lines[k])}"


def _check_features(x, src: str) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise ArchscoutError(f"{src}: features must be numbers") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ArchscoutError(f"{src}: features must be one row of numbers per node, got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ArchscoutError(f"{src}: the graph has no nodes or no features (shape {x.shape})")
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(1))
        raise ArchscoutError(f"{src}: {len(bad)} node(s) have NaN or infinite features (first: node {bad[0]})")
    return x


def _check_labels(y, n: int, src: str, x_src: str) -> tuple[np.ndarray, tuple]:

    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ArchscoutError(f"{src}: labels must be one value per node, got shape {y.shape}")
    if len(y) != n:
        missing = "labels are missing: " if len(y) < n else ""
        raise ArchscoutError(f"{src}: {missing}{len(y):,} labels for {n:,} nodes ({x_src} has {n:,} rows); "
                             f"every node needs exactly one label")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ArchscoutError(f"{src}: labels are missing: {int((~np.isfinite(y)).sum())} are NaN or infinite "
                                 f"(first: node {int(np.flatnonzero(~np.isfinite(y))[0])})")
        if np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
    elif y.dtype.kind not in "iubUS":
        raise ArchscoutError(f"{src}: labels must be integers or strings, got {y.dtype}")
    (codes,), classes = encode_labels(y)
    if len(classes) < 2:
        raise ArchscoutError(f"{src}: a classification task needs at least two classes, found {len(classes)}")
    return codes, classes


def _check_edges(edges, n: int, src: str, x_src: str, lines: np.ndarray | None = None) -> np.ndarray:
    """Edges as int64 ``[2, E]``, every id in 0..n-1, else one message naming the first bad id."""
    e = np.asarray(edges)
    if e.ndim != 2 or 2 not in e.shape:
        raise ArchscoutError(f"{src}: {_EDGE_FORM}; got an array shaped {e.shape}")
    if e.shape[0] != 2:
        e = e.T
    if e.dtype.kind == "f" and np.isfinite(e).all() and np.all(np.mod(e, 1) == 0):
        e = e.astype(np.int64)
    if e.dtype.kind not in "iu":
        raise ArchscoutError(f"{src}: node ids must be integers, got {e.dtype} values; {_EDGE_FORM}")
    e = e.astype(np.int64)
    bad = np.flatnonzero(((e < 0) | (e >= n)).any(0))
    if len(bad):
        k = int(bad[0])
        node = int(e[0, k]) if not 0 <= e[0, k] < n else int(e[1, k])
        more = f" ({len(bad):,} edges have ids out of range)" if len(bad) > 1 else ""
        raise ArchscoutError(f"{src}: {_edge_at(lines)(k)}: node id {node} is out of range; node ids are "
                             f"0..{n - 1}, one per row of {x_src}{more}")
    return e


def _check_mask(mask, n: int, src: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 1 or len(m) != n:
        raise ArchscoutError(f"{src}: a split mask is one true/false value per node ({n:,} nodes); got shape "
                             f"{m.shape}")
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
            raise ArchscoutError(f"{src}: a split mask holds true/false (or 1/0) values, got {m.dtype} values")
        m = m.astype(bool)
    return m


def _undirected(edges: np.ndarray, n: int) -> np.ndarray:
    """Both directions of every edge, each once, without self-loops (the operators add their own)."""
    src, dst = edges[0], edges[1]
    keep = src != dst
    src, dst = src[keep], dst[keep]
    key = np.unique(np.concatenate([src * n + dst, dst * n + src]))
    return np.stack([key // n, key % n]).astype(np.int64)


def _stratified_masks(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60 / 20 / 20 % of each class's nodes as train / valid / test."""

    n = len(y)
    rest, test = stratified_split(y, 0.2, seed)
    train_pos, valid_pos = stratified_split(y[rest], 0.25, seed + 1)
    masks = []
    for idx in (rest[train_pos], rest[valid_pos], test):
        m = np.zeros(n, dtype=bool)
        m[idx] = True
        masks.append(m)
    return masks[0], masks[1], masks[2]


def _assemble(name: str, x, edges, y, masks: dict | None, *, sources: dict, seed: int = 0, description: str = "",
              edge_lines: np.ndarray | None = None) -> GraphTask:
    """Check every part (one clear message for the first problem) and build the task.

    ``masks``: ``{"train": ..., "valid": ..., "test": ...}`` (a missing part counts as no
    nodes), or None for a stratified split with ``seed``. ``sources`` names where each part
    came from, for the messages.
    """
    x = _check_features(x, sources["x"])
    n = len(x)
    x_name = os.path.basename(sources["x"])  # messages about other files refer to the features by name
    y, classes = _check_labels(y, n, sources["y"], x_name)
    edges = _check_edges(edges, n, sources["edges"], x_name, edge_lines)
    if masks is None:
        train, valid, test = _stratified_masks(y, seed)
        note = f"no split given: a stratified 60/20/20 % train/validation/test split of the nodes (seed {seed})"
        description = f"{description}; {note}" if description else note
    else:
        train, valid, test = (np.zeros(n, dtype=bool) if masks.get(k) is None
                              else _check_mask(masks[k], n, sources.get(k, k)) for k in ("train", "valid", "test"))
    parts = {"train": train, "valid": valid, "test": test}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        both = int((parts[a] & parts[b]).sum())
        if both:
            raise ArchscoutError(f"{name}: {both:,} node(s) are in both the {a} and the {b} split; a node belongs "
                                 f"to one part at most")
    if not train.any():
        raise ArchscoutError(f"{sources.get('train', name)}: no training nodes; the split must mark some nodes train")
    if not valid.any():
        raise ArchscoutError(f"{sources.get('valid', name)}: no validation nodes; the split must mark some nodes "
                             f"valid (the search selects on them)")
    return GraphTask(name, x, _undirected(edges, n), y, train, valid, test, len(classes), description, classes)


# -- a PyTorch Geometric Data ---------------------------------------------------------------------

def _numpy(value):
    if value is None:
        return None
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def from_graph(data, name: str = "graph", *, seed: int = 0, description: str = "") -> GraphTask:
    """A graph task from a PyTorch Geometric ``Data`` with ``x``, ``edge_index``, ``y`` and the masks
    ``train_mask``, ``val_mask`` (or ``valid_mask``), ``test_mask``.

    Without any mask the nodes are split 60/20/20 % per class with ``seed`` (the description
    says so); with some masks, a missing one counts as no nodes. Edges are made undirected.
    """
    parts = {k: _numpy(getattr(data, k, None)) for k in ("x", "edge_index", "y", "train_mask", "val_mask",
                                                          "valid_mask", "test_mask")}
    for k in ("x", "edge_index", "y"):
        if parts[k] is None:
            raise ArchscoutError(f"{name}: the graph has no {k} (a graph task needs node features x, edges "
                                 f"edge_index and labels y)")
    valid = parts["val_mask"] if parts["val_mask"] is not None else parts["valid_mask"]
    masks: dict[str, Any] | None
    masks = {"train": parts["train_mask"], "valid": valid, "test": parts["test_mask"]}
    if all(m is None for m in masks.values()):
        masks = None
    sources = {"x": f"{name}: x", "y": f"{name}: y", "edges": f"{name}: edge_index",
               "train": f"{name}: train_mask", "valid": f"{name}: val_mask", "test": f"{name}: test_mask"}
    return _assemble(name, parts["x"], parts["edge_index"], parts["y"], masks, sources=sources, seed=seed,
                     description=description)


# -- a folder of files ------------------------------------------------------------------------

def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ArchscoutError(f"{path}: cannot read ({e})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _rows(path: str) -> list[list[str]]:
    """Cells of every line (CSV: commas, TSV: tabs, anything else: whitespace); a blank line is ``[]``."""
    lines = _lines(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tsv"):
        try:
            return [[c.strip() for c in r] for r in csv.reader(lines, delimiter="," if ext == ".csv" else "\t")]
        except csv.Error as e:
            raise ArchscoutError(f"{path}: cannot read ({e})") from None
    return [line.split() for line in lines]


def _npy(path: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as e:  # numpy raises many kinds for a damaged or unreadable file
        raise numpy_file_error(path, e) from None
    if not isinstance(array, np.ndarray):  # a .npz archive named .npy
        array.close()
        raise numpy_file_error(path, ValueError("not a .npy array"))
    return array


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _is_int(cell: str) -> bool:
    try:
        int(cell)
        return True
    except ValueError:
        return False


def _read_edges(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Edges ``[2, E]`` and the line of each (None for .npy). Blank lines and ``#`` comments are skipped;
    a first line without numbers is a header."""
    if path.lower().endswith(".npy"):
        e = _npy(path)
        return (e.T if e.ndim == 2 and e.shape[1] == 2 else e), None  # rows of (source, target); (2, E) as is
    edges: list = []
    lines: list = []
    for i, cells in enumerate(_rows(path), start=1):
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if not edges and i == 1 and not any(_is_number(c) for c in cells):
            continue  # a header
        if len(cells) != 2:
            raise ArchscoutError(f"{path}: line {i} has {len(cells)} column(s); {_EDGE_FORM}")
        try:
            edges.append((int(cells[0]), int(cells[1])))
        except ValueError:
            cell = next(c for c in cells if not _is_int(c))
            raise ArchscoutError(f"{path}: line {i}: {cell!r} is not an integer node id; {_EDGE_FORM}") from None
        lines.append(i)
    if not edges:
        return np.zeros((2, 0), dtype=np.int64), None
    return np.array(edges, dtype=np.int64).T, np.array(lines)


def _read_features(path: str) -> np.ndarray:
    """One row of numbers per node; a first line without numbers is a header."""
    if path.lower().endswith(".npy"):
        return _npy(path)
    rows = _rows(path)
    start = 1 if rows and not any(_is_number(c) for c in rows[0]) else 0
    body = rows[start:]
    if not body:
        raise ArchscoutError(f"{path}: no node features (the file is empty)")
    width = len(body[0])
    x = np.empty((len(body), width), dtype=np.float32)
    for i, cells in enumerate(body, start=start + 1):
        if len(cells) != width:
            raise ArchscoutError(f"{path}: line {i} has {len(cells)} column(s), expected {width} (one row of "
                                 f"features per node)")
        for j, cell in enumerate(cells):
            try:
                x[i - start - 1, j] = float(cell)
            except ValueError:
                raise ArchscoutError(f"{path}: line {i}, column {j + 1}: {cell!r} is not a number") from None
    return x


def _read_labels(path: str) -> np.ndarray:
    """One label per line (integers or names); a first line ``label`` (or labels, y, class, target) is a header."""
    if path.lower().endswith(".npy"):
        return _npy(path)
    rows = _rows(path)
    start = 1 if rows and len(rows[0]) == 1 and rows[0][0].lower() in LABEL_HEADERS else 0
    labels = []
    for i, cells in enumerate(rows[start:], start=start + 1):
        if not cells or not cells[0]:
            raise ArchscoutError(f"{path}: line {i}: the label is empty (labels are missing); every node needs one")
        if len(cells) != 1:
            raise ArchscoutError(f"{path}: line {i} has {len(cells)} columns; the file holds one label per line")
        labels.append(cells[0])
    values = np.array(labels)
    if len(values) and all(_is_int(v) for v in labels):
        values = values.astype(np.int64)
    return values


def _read_split(path: str) -> dict:
    """One word per node and line: train, valid (or val, validation), test, or none; an optional header
    line ``split``."""
    parts: dict[str, list] = {"train": [], "valid": [], "test": []}
    rows = _rows(path)
    start = 1 if rows and len(rows[0]) == 1 and rows[0][0].lower() == "split" else 0
    for i, cells in enumerate(rows[start:], start=start + 1):
        word = cells[0].lower() if len(cells) == 1 else None
        if word not in SPLIT_WORDS:
            shown = ",".join(cells) if cells else ""
            raise ArchscoutError(f"{path}: line {i}: {shown!r} is not one of train, valid, test, none (one word "
                                 f"per node)")
        for k in parts:
            parts[k].append(SPLIT_WORDS[word] == k)
    return {k: np.array(v, dtype=bool) for k, v in parts.items()}


def _find(folder: str, names: tuple, what: str, required: bool = True) -> str | None:
    found = [n for n in names if os.path.isfile(os.path.join(folder, n))]
    if len(found) > 1:
        raise ArchscoutError(f"graph folder {folder!r} holds {' and '.join(found)} ({what}); keep only one")
    if not found:
        if required:
            raise ArchscoutError(f"graph folder {folder!r} has no {what}: add {', '.join(names[:-1])} or "
                                 f"{names[-1]} (see docs/graphs.md)")
        return None
    return os.path.join(folder, found[0])


def from_graph_files(path: str | None = None, *, edges: str | None = None, features: str | None = None,
                     labels: str | None = None, split: str | None = None, name: str | None = None,
                     seed: int = 0) -> GraphTask:
    """A graph task from a folder of files (or from the files given one by one).

    The folder holds (node ids are 0..N-1, node i being line / row i of the features)::

        edges.csv | edges.tsv | edges.txt | edges.npy   two integer columns: source, target (one edge per
                                                          line; .txt: whitespace; .npy: shape (E, 2) or (2, E));
                                                          an optional header line, '#' comments
        features.csv | features.npy                      one row of numbers per node (CSV: optional header)
        labels.csv | labels.npy                          one label per node and line, integers or names
                                                          (CSV: optional header line 'label')
        split.csv | split.txt                            optional: one of train / valid / test / none per
                                                          node and line
        train_mask.npy, valid_mask.npy (or val_mask.npy), test_mask.npy
                                                         optional instead of split.csv: boolean masks

    Without a split the nodes are split 60/20/20 % per class with ``seed``. Edges count in
    both directions; self-loops and repeated edges are dropped. ``edges``, ``features``,
    ``labels``, ``split`` name files elsewhere (or instead of the folder).
    """
    if path is not None:
        if not os.path.exists(path):
            raise ArchscoutError(f"graph folder {path!r} does not exist")
        if not os.path.isdir(path):
            raise ArchscoutError(f"{path!r} is not a folder; a graph task is a folder of files (see docs/graphs.md)")
    given = {"edges": edges, "features": features, "labels": labels, "split": split}
    for what, file in given.items():
        if file is not None and not os.path.isfile(file):
            raise ArchscoutError(f"{what} file {file!r} does not exist")
    if path is None and None in (edges, features, labels):
        raise ArchscoutError("a graph task needs a folder, or the edges, features and labels files")
    folder = cast(str, path)  # read only for a file not given, and then path is not None (checked above)
    edges = edges or _find(folder, EDGE_FILES, "edge list")
    features = features or _find(folder, FEATURE_FILES, "node features")
    labels = labels or _find(folder, LABEL_FILES, "node labels")
    assert edges and features and labels  # given, or found: _find raises for a missing required file
    if split is None and path is not None:
        split = _find(path, SPLIT_FILES, "split", required=False)
    mask_files = {}
    if split is None and path is not None:
        mask_files = {k: _find(path, names, f"{k} mask", required=False) for k, names in MASK_FILES.items()}
    if name is None:
        name = os.path.basename(os.path.normpath(path)) if path is not None else \
            os.path.basename(os.path.dirname(os.path.abspath(edges))) or "graph"

    x = _read_features(features)
    y = _read_labels(labels)
    e, lines = _read_edges(edges)
    sources = {"x": features, "y": labels, "edges": edges}
    if split is not None:
        masks = _read_split(split)
        n_split = len(masks["train"])
        if n_split != len(x):
            raise ArchscoutError(f"{split}: {n_split:,} lines for {len(x):,} nodes ({os.path.basename(features)} has "
                                 f"{len(x):,} rows); every node needs one of train, valid, test, none")
        sources.update(train=split, valid=split, test=split)
    elif any(mask_files.values()):
        masks = {k: _npy(f) if f else None for k, f in mask_files.items()}
        sources.update({k: f for k, f in mask_files.items() if f})
    else:
        masks = None
    return _assemble(name, x, e, y, masks, sources=sources, seed=seed, edge_lines=lines)


# -- the built-in graph ------------------------------------------------------------------------

KNN_K = 8
KNN_PARTS = {"train": 1200, "valid": 300, "test": 500}


@cache
def mnist1d_knn() -> GraphTask:
    """MNIST-1D as a graph: 2,000 samples as nodes (40 features), 8-nearest-neighbour edges, 10 classes."""
    from sklearn.neighbors import NearestNeighbors


    base = mnist1d()
    assert base.test is not None  # mnist1d has a test part
    # nodes come from mnist1d's own train / validation / test parts, so no test sample is selected on
    parts = [(base.train, KNN_PARTS["train"]), (base.valid, KNN_PARTS["valid"]), (base.test, KNN_PARTS["test"])]
    x = np.concatenate([p.X[:k].reshape(k, -1) for p, k in parts]).astype(np.float32)
    y = np.concatenate([p.y[:k] for p, k in parts])
    _, nearest = NearestNeighbors(n_neighbors=KNN_K + 1).fit(x).kneighbors(x)
    # column 0 is each node itself; _assemble drops a self-match left elsewhere by tied distances
    edges = np.stack([np.repeat(np.arange(len(x)), KNN_K), nearest[:, 1:].ravel()])
    part = np.repeat(np.arange(3), [k for _, k in parts])
    masks = {"train": part == 0, "valid": part == 1, "test": part == 2}
    return _assemble("mnist1d-knn", x, edges, y, masks, sources={"x": "x", "y": "y", "edges": "edges"},
                     description=f"MNIST-1D samples as nodes of a {KNN_K}-nearest-neighbour graph (Euclidean, on "
                                 f"the 40 raw values); generated locally")
