"""Tasks from PyTorch ``Dataset`` objects: any tensor shape per sample, batched by a ``DataLoader``.

A dataset yields ``(input, target)`` pairs. Its targets are read once (to infer the task's kind,
stratify splits and pick calibration samples); its inputs are read in batches while training and
scoring, so transforms (augmentation, decoding) run as the dataset defines them.
"""
from __future__ import annotations

import numpy as np

from ..errors import ArchscoutError
from .splits import Split


class DatasetSplit:
    """A split backed by a PyTorch ``Dataset``: the same interface as :class:`Split` (``y``, ``X``, ``take``,
    ``batches``, ``subset``), with ``X`` built only when something needs every input at once."""

    def __init__(self, y: np.ndarray, dataset, indices: np.ndarray | None = None):
        self.y = y
        self.dataset = dataset
        self.indices = indices  # the samples of ``dataset`` this split holds (None: all, in order)
        self._X: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def _item(self, i: int):
        j = int(self.indices[i]) if self.indices is not None else int(i)
        return self.dataset[j]

    def take(self, idx) -> np.ndarray:
        import torch
        xs = [self._item(int(i))[0] for i in np.asarray(idx).reshape(-1)]
        return torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in xs]).numpy()

    @property
    def X(self) -> np.ndarray:  # noqa: N802 - the array form's name
        if self._X is None:
            self._X = self.take(np.arange(len(self)))
        return self._X

    def __getstate__(self):  # the materialised inputs are rebuilt where needed
        return {**self.__dict__, "_X": None}

    def batches(self, batch_size: int):
        import torch
        for start in range(0, len(self), batch_size):
            idx = range(start, min(start + batch_size, len(self)))
            yield torch.as_tensor(self.take(list(idx))), torch.as_tensor(self.y[start:start + batch_size])

    def loader(self, batch_size: int, generator):
        """A shuffling ``DataLoader`` over this split (targets already encoded or standardised)."""
        import torch
        return torch.utils.data.DataLoader(_Encoded(self), batch_size=batch_size, shuffle=True,  # type: ignore[arg-type]
                                           generator=generator, num_workers=0)

    def subset(self, idx) -> DatasetSplit:
        idx = np.asarray(idx)
        base = self.indices[idx] if self.indices is not None else idx
        return DatasetSplit(self.y[idx], self.dataset, base)

    def fingerprint_into(self, h) -> None:
        h.update(f"dataset:{type(self.dataset).__name__}:{len(self)}".encode())
        h.update(np.ascontiguousarray(self.y).tobytes())
        h.update(np.ascontiguousarray(self.take(np.arange(min(len(self), 8)))).tobytes())


class _Encoded:
    """A split's samples with the task's encoded targets (class indices, standardised values)."""


    def __init__(self, split: DatasetSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i):
        import torch
        return torch.as_tensor(self.split._item(i)[0], dtype=torch.float32), torch.as_tensor(self.split.y[i])


def concat(a, b):
    """Two splits of one task as one (training and validation together)."""
    if isinstance(a, DatasetSplit) or isinstance(b, DatasetSplit):
        if not (isinstance(a, DatasetSplit) and isinstance(b, DatasetSplit)) or a.dataset is not b.dataset:
            return _Joined.of(a, b)
        ia = a.indices if a.indices is not None else np.arange(len(a))
        ib = b.indices if b.indices is not None else np.arange(len(b))
        return DatasetSplit(np.concatenate([a.y, b.y]), a.dataset, np.concatenate([ia, ib]))
    return Split(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]))


class _Joined:
    """A dataset made of two splits' samples, one after the other."""

    def __init__(self, a: DatasetSplit, b: DatasetSplit):
        self.parts = (a, b)

    @classmethod
    def of(cls, a, b) -> DatasetSplit:
        joined = cls(a, b)
        return DatasetSplit(np.concatenate([a.y, b.y]), joined)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __getitem__(self, i):
        a, b = self.parts
        if i < len(a):
            return a._item(i) if isinstance(a, DatasetSplit) else (a.X[i], a.y[i])
        j = i - len(a)
        return b._item(j) if isinstance(b, DatasetSplit) else (b.X[j], b.y[j])


def read_targets(dataset, where: str) -> tuple[np.ndarray, tuple]:
    """Every sample's target, and the input shape (all samples must share it); one clear error otherwise."""
    try:
        n = len(dataset)
    except TypeError:
        raise ArchscoutError(f"{where}: a dataset must have a length (a map-style torch Dataset)") from None
    if n == 0:
        raise ArchscoutError(f"{where}: the dataset is empty")
    targets, shape = [], None
    for i in range(n):
        try:
            item = dataset[i]
        except Exception as e:  # noqa: BLE001 - a user's dataset can raise anything
            raise ArchscoutError(f"{where}: reading sample {i} failed ({type(e).__name__}: {e})") from None
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ArchscoutError(f"{where}: sample {i} is not an (input, target) pair")
        x, t = item[0], item[1]
        s = tuple(getattr(x, "shape", np.shape(x)))
        if shape is None:
            shape = s
        elif s != shape:
            raise ArchscoutError(f"{where}: sample {i} has input shape {list(s)}, sample 0 has {list(shape)}; every "
                                 f"input must have one shape")
        t = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)
        if t.size != 1:
            raise ArchscoutError(f"{where}: sample {i} has a target of shape {list(t.shape)}; one value per sample")
        targets.append(t.reshape(()).item())
    return np.asarray(targets), shape or ()
