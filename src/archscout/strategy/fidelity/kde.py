"""BOHB's model: architectures as decision vectors and the product-kernel densities over them (l(x), g(x)).

Kept apart from the schedulers (:mod:`.bohb`), which only ask it for a density to sample from and
score with.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import ArchscoutError
from ...space import Architecture, Block, Choice, Repeat, Space


class DecisionVector:
    """An architecture as one number per decision of its space: the index of each choice (ordered ones and
    Repeat lengths scaled to [0, 1]), NaN where the decision is inactive or its block absent."""

    def __init__(self, space: Space):
        self.space = space
        self.dims: list[tuple[tuple, Choice | Repeat]] = list(_decisions(space.root))
        self.levels = np.array([_levels(node) for _, node in self.dims], dtype=float)
        self.ordered = np.array([isinstance(node, Repeat) or node.ordered for _, node in self.dims], dtype=bool)

    def __len__(self) -> int:
        return len(self.dims)

    def encode(self, arch: Architecture) -> np.ndarray | None:
        """The vector of ``arch`` (None if it is not of this space's shape)."""
        values = arch.values
        out = np.full(len(self.dims), np.nan)
        try:
            for j, (path, node) in enumerate(self.dims):
                if isinstance(node, Repeat):
                    blocks = _at(values, path[:-1])
                    index = None if blocks is None else len(blocks) - node.min
                else:
                    value = _at(values, path)
                    index = None if value is None else node.index(value)
                if index is not None:
                    out[j] = index / (self.levels[j] - 1) if self.ordered[j] else index
        except (ArchscoutError, KeyError, TypeError, IndexError):
            return None
        return out

    def decode(self, point: np.ndarray) -> Architecture | None:
        """The architecture of a full vector (inactive decisions dropped), or None if it breaks a constraint."""
        index = {}
        for j, (path, _) in enumerate(self.dims):
            x = point[j] * (self.levels[j] - 1) if self.ordered[j] else point[j]
            index[path] = int(min(max(round(float(x)), 0), self.levels[j] - 1))
        try:
            return self.space.architecture(_assemble(self.space.root, (), index))
        except ArchscoutError:
            return None

    def impute(self, codes: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        """Each NaN filled in from a random row where that decision is active, taking that row's values for all
        the row's other NaNs it has (HpBandSter's imputation); a random value if no row has it."""
        out = codes.copy()
        for row in out:
            missing = np.isnan(row)
            while missing.any():
                j = int(np.flatnonzero(missing)[0])
                donors = np.flatnonzero(~np.isnan(codes[:, j]))
                if len(donors):
                    donor = codes[donors[gen.integers(len(donors))]]
                    fill = missing & ~np.isnan(donor)
                    row[fill] = donor[fill]
                else:
                    level = gen.integers(int(self.levels[j]))
                    row[j] = level / (self.levels[j] - 1) if self.ordered[j] else level
                missing = np.isnan(row)
        return out


class KernelDensity:
    """A product-kernel density over decision vectors: Aitchison-Aitken kernels for unordered decisions,
    Gaussian ones for ordered decisions; normal-reference bandwidths, at least ``min_bandwidth``."""

    def __init__(self, data: np.ndarray, decisions: DecisionVector, min_bandwidth: float):
        n, d = data.shape
        self.data, self.levels, self.ordered = data, decisions.levels, decisions.ordered
        bandwidth = np.maximum(1.06 * data.std(axis=0) * n ** (-1.0 / (4 + d)), min_bandwidth)
        self.bandwidth = np.where(self.ordered, bandwidth, np.minimum(bandwidth, self._uniform()))

    def _uniform(self) -> np.ndarray:
        """The Aitchison-Aitken bandwidth of a flat kernel: every level as likely."""
        return (self.levels - 1) / self.levels

    def logpdf(self, points: np.ndarray) -> np.ndarray:
        total = np.zeros((len(points), len(self.data)))
        for j in range(self.data.shape[1]):
            x, X, h = points[:, j, None], self.data[None, :, j], self.bandwidth[j]
            if self.ordered[j]:
                total += -0.5 * ((x - X) / h) ** 2 - math.log(h * math.sqrt(2 * math.pi))
            else:
                total += np.where(x == X, math.log1p(-h), math.log(h / (self.levels[j] - 1)))
        top = total.max(axis=1)
        return top + np.log(np.exp(total - top[:, None]).sum(axis=1)) - math.log(len(self.data))

    def sample(self, count: int, factor: float, gen: np.random.Generator) -> np.ndarray:
        """``count`` points from the density with every bandwidth times ``factor``, on valid indices."""
        rows = self.data[gen.integers(len(self.data), size=count)]
        out = rows.copy()
        widened = self.bandwidth * factor
        for j in range(rows.shape[1]):
            last = self.levels[j] - 1
            if self.ordered[j]:
                x = rows[:, j] + widened[j] * gen.standard_normal(count)
                for _ in range(20):  # truncated to [0, 1] by drawing again
                    outside = (x < 0) | (x > 1)
                    if not outside.any():
                        break
                    x[outside] = rows[outside, j] + widened[j] * gen.standard_normal(int(outside.sum()))
                out[:, j] = np.round(np.clip(x, 0, 1) * last) / last
            else:
                change = gen.random(count) < min(widened[j], self._uniform()[j])
                other = (rows[:, j] + gen.integers(1, int(last) + 1, size=count)) % (last + 1)
                out[:, j] = np.where(change, other, rows[:, j])
        return out


def _decisions(block: Block, path: tuple = ()):
    """(path, node) of every decision of a block's full tree: choices with two or more values, and the length of
    each Repeat that varies (path + ("#len",)); a Repeat's blocks are unrolled to its maximum."""
    for name, node in block.fields.items():
        here = path + (name,)
        if isinstance(node, Choice):
            if len(node.values) > 1:
                yield here, node
        elif isinstance(node, Repeat):
            if node.max > node.min:
                yield here + ("#len",), node
            for i in range(node.max):
                yield from _decisions(node.block, here + (i,))
        else:
            yield from _decisions(node, here)


def _levels(node: Choice | Repeat) -> int:
    return node.max - node.min + 1 if isinstance(node, Repeat) else len(node.values)


def _at(values: Any, path: tuple) -> Any:
    """The value at ``path`` (None where a block is absent or the value inactive)."""
    for key in path:
        if values is None or (isinstance(key, int) and key >= len(values)):
            return None
        values = values[key]
    return values


def _assemble(block: Block, path: tuple, index: dict[tuple, int]) -> dict:
    """Values of a block from decision indices (a choice with one value takes it; inactive ones are dropped by
    the space's canonical form)."""
    out: dict[str, Any] = {}
    for name, node in block.fields.items():
        here = path + (name,)
        if isinstance(node, Choice):
            out[name] = node.values[index.get(here, 0)]
        elif isinstance(node, Repeat):
            out[name] = [_assemble(node.block, here + (i,), index)
                         for i in range(node.min + index.get(here + ("#len",), 0))]
        else:
            out[name] = _assemble(node, here, index)
    return out
