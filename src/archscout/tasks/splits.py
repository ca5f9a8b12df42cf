"""A task's part as arrays: :class:`Split` (inputs ``X`` and targets ``y``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """One part of a task as arrays: inputs ``X`` (float32, any shape per sample) and targets ``y``
    (int64 class indices, or float32 standardised values for a regression)."""

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx) -> np.ndarray:
        """The inputs of the samples ``idx`` as one array."""
        return self.X[idx]

    def batches(self, batch_size: int):
        """``(inputs, targets)`` tensors of consecutive batches, in order (evaluation)."""
        import torch
        for i in range(0, len(self), batch_size):
            yield torch.as_tensor(self.X[i:i + batch_size]), torch.as_tensor(self.y[i:i + batch_size])

    def subset(self, idx) -> Split:
        return Split(self.X[idx], self.y[idx])

    def fingerprint_into(self, h) -> None:
        h.update(np.ascontiguousarray(self.X).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
