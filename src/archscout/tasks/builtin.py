"""The built-in tasks: MNIST-1D, generated locally, and scikit-learn's small datasets."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache

import numpy as np

from .arrays import from_arrays
from .base import Task


@cache
def mnist1d(**options) -> Task:
    """MNIST-1D (Greydanus 2020), generated locally with the default arguments: 4,000 train / 1,000 test."""
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    X = d["x"].astype(np.float32)[:, None, :]
    Xt = d["x_test"].astype(np.float32)[:, None, :]
    return from_arrays(X, d["y"], Xt, d["y_test"], name="mnist1d", standardize=False,
                       description="MNIST-1D, 40-sample 1-D signals, 10 classes (generated locally)", **options)


# MNIST-1D made harder for a second reported benchmark (issue 30): 2.5 times the white noise, 1.4 times the
# correlated noise, more shear, and its own seed, so the data differs from mnist1d's throughout (the reference CNN of
# ../shared/REFERENCES.md, 1,500 steps, one seed: 85.0 % test here against 99.4 % on the default arguments)
HARD = {"iid_noise_scale": 0.05, "corr_noise_scale": 0.35, "shear_scale": 0.9, "seed": 7}


@cache
def mnist1d_hard(**options) -> Task:
    """MNIST-1D generated locally with more noise and shear (:data:`HARD`): 4,000 train / 1,000 test."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    for key, value in HARD.items():
        setattr(args, key, value)
    d = make_dataset(args)
    X = d["x"].astype(np.float32)[:, None, :]
    Xt = d["x_test"].astype(np.float32)[:, None, :]
    return from_arrays(X, d["y"], Xt, d["y_test"], name="mnist1d-hard", standardize=False,
                       description="MNIST-1D with 2.5x the white noise, 1.4x the correlated noise and more shear, "
                                   "40-sample 1-D signals, 10 classes (generated locally)", **options)


def _sklearn(loader: str, name: str, description: str, image: bool = False) -> Callable[..., Task]:
    @cache
    def make(**options) -> Task:
        import sklearn.datasets as ds

        data = getattr(ds, loader)()
        X = data.data.astype(np.float32)
        if not image:
            return from_arrays(X, data.target, name=name, description=description, **options)
        # pixels 0..16 scaled to 0..1; the scaling is recorded as the task's preprocessing (mean 0, std 16), so an
        # exported model takes the raw pixels (load_digits().images[:, None]) and computes the same x / 16 inside
        task = from_arrays((X / 16.0).reshape(len(X), 1, 8, 8), data.target, name=name, description=description,
                           standardize=False, **options)
        n = X.shape[1]
        return replace(task, preprocessing=replace(task.preprocessing, input_mean=(0.0,) * n, input_std=(16.0,) * n))

    make.__doc__ = description
    return make


digits = _sklearn("load_digits", "digits", "scikit-learn digits: 8x8 images (1, 8, 8), 10 classes", image=True)
iris = _sklearn("load_iris", "iris", "scikit-learn iris: 4 tabular features, 3 classes")
wine = _sklearn("load_wine", "wine", "scikit-learn wine: 13 tabular features, 3 classes")
breast_cancer = _sklearn("load_breast_cancer", "breast_cancer",
                         "scikit-learn breast cancer: 30 tabular features, 2 classes")
diabetes = _sklearn("load_diabetes", "diabetes",
                    "scikit-learn diabetes: 10 tabular features, a continuous target (regression)")

