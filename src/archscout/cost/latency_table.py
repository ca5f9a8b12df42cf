"""Latency estimates without timing the network: a per-operator lookup table and a learned predictor.

Measuring a candidate (:func:`archscout.cost.measure_latency`) runs it tens of times. These two
estimate it instead, in the manner of FBNet and ProxylessNAS, and :func:`agreement` says how
well an estimate follows measurement:

- :class:`LatencyTable` times each distinct operator of sampled networks once, on this
  machine, and adds up a network's operators plus a fitted per-network overhead;
- :class:`LatencyPredictor` learns latency from the architecture's encoding alone, without
  building the network (no torch at prediction time).

Both are estimates: their results say so (``estimate`` / ``predict``, and a ``source``
attribute), and benchmarks/latency_estimates.py measures how close they come.

The operators are the leaf modules (Conv1d, Linear, BatchNorm, activations, pooling, ...).
Whole macro-network stages predicted about as well on conv1d / MNIST-1D (Spearman 0.97 on
held-out networks for both), but stages seldom recur: with a table built from 300 sampled
architectures, 52 % of a new network's stage calls were missing from it, against 14 % of its
leaf calls, and each miss is measured while estimating.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import random
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ArchscoutError
from ..space import Architecture, Space, get_space

RUNTIMES = ("pytorch", "onnxruntime")
FORMAT = "archscout-latency-table/1"


def _machine() -> dict:
    """The CPU, system and library versions the entries hold for."""
    import importlib.metadata as md

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in ("torch", "onnxruntime"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {"cpu_model": cpu, "cpus": os.cpu_count(), "platform": platform.platform(), **versions}


def _key(module, shape: tuple) -> str:
    """What decides an operator's cost: its configuration (repr and plain attributes) and its input shape."""
    attrs = {k: v for k, v in sorted(vars(module).items())
             if not k.startswith("_") and k != "training" and isinstance(v, (bool, int, float, str, tuple))}
    return f"{module!r}{attrs if attrs else ''}@{list(shape)}"


def _trace(model, input_shape: tuple, batch_size: int, threads: int) -> list[tuple[str, Any, tuple]]:
    """(key, module, input shape with batch) of every leaf-module call in one forward pass of a zero batch."""
    import torch

    calls: list[tuple[str, Any, tuple]] = []

    def record(module, args):
        if len(args) != 1 or not isinstance(args[0], torch.Tensor):
            raise ArchscoutError(f"{type(module).__name__} is called with {len(args)} arguments; the latency table "
                                 f"times operators that take one tensor")
        shape = tuple(args[0].shape)
        calls.append((_key(module, shape), module, shape))

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_pre_hook(record) for m in leaves]
    was_training, previous = model.training, torch.get_num_threads()
    # more threads than free cores make a small forward pass tens of times slower
    torch.set_num_threads(threads)
    model.eval()
    try:
        with torch.inference_mode():
            model(torch.zeros((batch_size,) + tuple(input_shape)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        torch.set_num_threads(previous)
    return calls


def _measure_ms(model, input_shape: tuple, batch_size: int, runtime: str, threads: int) -> float:
    """Measured median latency (ms) of ``model`` on ``runtime``."""
    if runtime == "pytorch":
        from .latency import measure_latency
        return measure_latency(model, input_shape, batch_size=batch_size, threads=threads).median_ms
    from .runtime import measure_latency_onnx, onnx_bytes
    return measure_latency_onnx(onnx_bytes(model, input_shape), input_shape, batch_size=batch_size,
                                threads=threads).median_ms


class LatencyTable:
    """Per-operator latencies measured on this machine, summed into an *estimate* of a network's latency.

    Example::

        space = archscout.space.conv1d()
        table = LatencyTable.build(space, (40,), 10, samples=300)   # seconds: times each operator once
        table.estimate(space.sample(seed=1))                         # ms, no timing of the network
        table.save("conv1d-latency.json")
        table = LatencyTable.load("conv1d-latency.json", runtime="pytorch", batch_size=1, threads=1)

    An estimate builds the network, finds its operators and their input shapes with forward
    hooks during one forward pass of a zero batch, and adds their entries:
    ``overhead_[0] + overhead_[1] * sum(entries) + overhead_[2] * calls``. The three
    coefficients are fitted on whole networks measured at build time (least squares on relative
    error): the first is what no operator holds (reshaping the input, container modules), the
    third corrects for a per-call cost that timing an operator alone counts once per operator
    (an ONNX Runtime session run) or misses. **Operators missing from the table are measured
    on demand and added**, so an estimate may take a few milliseconds more and the table grows;
    ``added_on_demand`` counts them.

    Entries hold for one runtime ("pytorch" eager or "onnxruntime" on the CPU), batch size and
    thread count, and for this machine: :meth:`load` refuses a table built for another runtime,
    batch size or thread count, and warns when the machine or library versions differ.
    """

    source = "estimate: sum of per-operator latencies from a lookup table, plus a fitted overhead"

    def __init__(self, space: Space, input_shape: tuple, num_classes: int, runtime: str = "pytorch",
                 batch_size: int = 1, threads: int = 1):
        if runtime not in RUNTIMES:
            raise ArchscoutError(f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
        if batch_size < 1 or threads < 1:
            raise ArchscoutError(f"a latency table needs batch_size >= 1 and threads >= 1, got {batch_size}, "
                                 f"{threads}")
        self.space = space
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)
        self.runtime = runtime
        self.batch_size = int(batch_size)
        self.threads = int(threads)
        self.machine = _machine()
        self.entries: dict[str, float] = {}
        self.overhead_: tuple[float, ...] = (0.0, 1.0, 0.0)
        self.calibration_: list[dict] = []
        self.added_on_demand = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return (f"LatencyTable({self.space.name}, {self.runtime}, batch {self.batch_size}, threads {self.threads}: "
                f"{len(self)} operators)")

    @property
    def conditions(self) -> dict:
        return {"runtime": self.runtime, "batch_size": self.batch_size, "threads": self.threads}

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, space: Space | str, input_shape: tuple, num_classes: int, samples: int = 300,
              runtime: str = "pytorch", batch_size: int = 1, threads: int = 1, seed: int = 0,
              calibration: int = 30) -> LatencyTable:
        """Sample ``samples`` architectures, time each distinct operator once, and fit the overhead on
        ``calibration`` of them (evenly spaced among the samples), timed whole."""
        space = get_space(space)
        if min(samples, calibration) < 3:
            raise ArchscoutError(f"fitting the overhead needs at least 3 networks: samples and calibration >= 3, "
                                 f"got {samples} and {calibration}")
        table = cls(space, input_shape, num_classes, runtime, batch_size, threads)
        rng = random.Random(seed)
        # calibration networks spread over the build, so that they and the operators are timed under the
        # same conditions (on a shared machine the load drifts)
        every = max(1, samples // calibration)
        rows: list[dict] = []
        for i in range(samples):
            model = space.build(space.sample(rng), table.input_shape, table.num_classes)
            total, calls = table._sum(model)
            if i % every == 0 and len(rows) < calibration:
                measured = _measure_ms(model, table.input_shape, batch_size, runtime, threads)
                rows.append({"sum_ms": total, "calls": calls, "measured_ms": measured})
        table.added_on_demand = 0
        table.fit_overhead(rows)
        return table

    def fit_overhead(self, rows: Sequence[dict]) -> None:
        """Fit ``overhead_`` on networks' ``sum_ms`` (their entries), ``calls`` and ``measured_ms``.

        Least squares on relative error, so that small networks count as much as large ones. The cost per
        call may come out negative: ONNX Runtime fuses operators, so a whole network runs faster than the
        sum of its operators timed alone.
        """
        if len(rows) < 3:
            raise ArchscoutError(f"fitting the overhead needs at least 3 measured networks, got {len(rows)}")
        measured = np.array([r["measured_ms"] for r in rows], dtype=float)
        features = np.array([[1.0, r["sum_ms"], r["calls"]] for r in rows])
        coef, *_ = np.linalg.lstsq(features / measured[:, None], np.ones(len(rows)), rcond=None)
        self.overhead_ = tuple(float(c) for c in coef)
        self.calibration_ = [dict(r) for r in rows]

    def _entry(self, key: str, module, shape: tuple) -> float:
        if key not in self.entries:
            self.entries[key] = _measure_ms(module, shape[1:], shape[0], self.runtime, self.threads)
            self.added_on_demand += 1
        return self.entries[key]

    def _sum(self, model) -> tuple[float, int]:
        """Sum of the model's operator entries (measuring the missing ones) and the number of operator calls."""
        calls = _trace(model, self.input_shape, self.batch_size, self.threads)
        return sum(self._entry(key, module, shape) for key, module, shape in calls), len(calls)

    # -- estimating ---------------------------------------------------------------------
    def estimate(self, arch: Architecture) -> float:
        """Estimated latency (ms) of ``arch``: its operators' entries plus the fitted overhead.

        Operators not in the table yet are measured now and added to it.
        """
        if arch.space_name != self.space.name:
            raise ArchscoutError(f"this table estimates architectures of space {self.space.name!r}, "
                                 f"not {arch.space_name!r}")
        total, calls = self._sum(self.space.build(arch, self.input_shape, self.num_classes))
        a, b, c = self.overhead_
        # the fit, extrapolated to a network unlike the calibration ones (a negative cost per call times many
        # calls), can fall below any speed-up over the operators' sum that a calibration network showed, even
        # below 0; it is held at that largest speed-up
        floor = total * min((r["measured_ms"] / r["sum_ms"] for r in self.calibration_ if r["sum_ms"] > 0),
                            default=0.0)
        return max(a + b * total + c * calls, floor)

    # -- storage ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "source": self.source, **self.conditions, "machine": self.machine,
                "space": self.space.name, "space_fingerprint": self.space.fingerprint(),
                "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "overhead": list(self.overhead_), "calibration": self.calibration_,
                "entries_ms": dict(sorted(self.entries.items()))}

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike, runtime: str = "pytorch", batch_size: int = 1, threads: int = 1,
             space: Space | None = None) -> LatencyTable:
        """Read a saved table, refusing one measured for another runtime, batch size or thread count.

        ``space``: the space to build architectures with (default: the built-in space of the saved name).
        """
        with open(path) as f:
            data = json.load(f)
        if data.get("format") != FORMAT:
            raise ArchscoutError(f"{path} is not a latency table ({FORMAT})")
        wanted = {"runtime": runtime, "batch_size": batch_size, "threads": threads}
        saved = {k: data[k] for k in wanted}
        if saved != wanted:
            raise ArchscoutError(f"{path} holds latencies for {saved}, not {wanted}: build a table for these "
                                 f"conditions")
        table = cls(space if space is not None else get_space(data["space"]), tuple(data["input_shape"]),
                    data["num_classes"], runtime, batch_size, threads)
        if data["machine"] != table.machine:
            warnings.warn(f"{path} was measured on {data['machine']}, not on this machine and these libraries "
                          f"({table.machine}): its estimates may not hold here", stacklevel=2)
        table.machine = data["machine"]
        table.entries = {k: float(v) for k, v in data["entries_ms"].items()}
        table.overhead_ = tuple(float(c) for c in data["overhead"])
        table.calibration_ = data["calibration"]
        return table


class LatencyPredictor:
    """A learned *estimate* of latency from the space's encoding of an architecture; no network is built.

    Example::

        predictor = LatencyPredictor(space).fit(archs, measured_ms)
        predictor.predict(other_archs)       # np.ndarray of ms

    ``model``: a scikit-learn regressor, fitted on log latency (latency scales multiplicatively
    with width and depth). The default, ridge regression on the one-hot encoding, predicted
    held-out conv1d / MNIST-1D latencies as well as gradient boosting and better than random
    forests, k-nearest neighbours, MLPs and Gaussian processes with 100-300 training networks
    (benchmarks/latency_estimates.py has the numbers for the default).
    """

    source = "estimate: regression on the architecture encoding, fitted to measured latencies"

    def __init__(self, space: Space | str, encoding: str = "onehot", model=None):
        self.space = get_space(space)
        self.encoding = encoding
        self.model = model

    def _features(self, archs: Sequence[Architecture]) -> np.ndarray:
        return np.array([self.space.encode(a, self.encoding) for a in archs], dtype=float)

    def fit(self, archs: Sequence[Architecture], latencies_ms: Sequence[float]) -> LatencyPredictor:
        from sklearn.base import clone
        from sklearn.linear_model import RidgeCV

        y = np.asarray(latencies_ms, dtype=float)
        if len(archs) != len(y) or len(y) < 2:
            raise ArchscoutError(f"fitting needs as many latencies as architectures, at least 2; got {len(archs)} "
                                 f"architectures and {len(y)} latencies")
        if not np.all(y > 0):
            raise ArchscoutError("latencies must be positive")
        self.model_ = clone(self.model) if self.model is not None else RidgeCV(alphas=np.logspace(-3, 3, 13))
        self.model_.fit(self._features(archs), np.log(y))
        return self

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Estimated latency (ms) of each architecture."""
        if not hasattr(self, "model_"):
            raise ArchscoutError("this LatencyPredictor is not fitted yet: call fit(archs, latencies_ms)")
        if len(archs) == 0:
            return np.zeros(0)
        return np.exp(self.model_.predict(self._features(archs)))


def agreement(estimated: Sequence[float], measured: Sequence[float]) -> dict:
    """How well estimates follow measurements: Spearman rank correlation, mean relative error
    (mean of |estimated - measured| / measured) and the number of pairs."""
    from scipy.stats import spearmanr

    est, meas = np.asarray(estimated, dtype=float), np.asarray(measured, dtype=float)
    if est.shape != meas.shape or est.ndim != 1 or len(est) < 2:
        raise ArchscoutError(f"agreement needs two equally long sequences of at least 2 values; got "
                             f"{est.shape} and {meas.shape}")
    if not np.all(meas > 0):
        raise ArchscoutError("measured latencies must be positive")
    return {"spearman": float(spearmanr(est, meas)[0]),
            "mean_relative_error": float(np.mean(np.abs(est - meas) / meas)), "n": int(len(est))}
