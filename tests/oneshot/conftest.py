"""Fixtures shared by the one-shot tests."""
from __future__ import annotations

import numpy as np
import pytest

from archscout.tasks import from_arrays


@pytest.fixture(scope="module")
def tiny():
    """A small 3-class task (240 samples of 16 features) that a differentiable search learns in a few steps."""
    gen = np.random.default_rng(0)
    y = gen.integers(0, 3, 240)
    X = (gen.normal(0, 0.5, (240, 16)) + (y - 1.0)[:, None]).astype(np.float32)
    return from_arrays(X, y, name="tiny")
