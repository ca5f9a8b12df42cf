"""A synthetic table: metrics are a fixed function of the architecture, nothing is trained.

It stands in for a tabular benchmark (a lookup of precomputed results) where the framework
itself is under test: the overhead per trial, crash safety, parallel workers, fault
injection. Its numbers mean nothing about real networks. Faults are injected per
architecture (so a faulty candidate is faulty every time it is evaluated):

    synthetic                       instant lookups
    synthetic:delay=0.2,fail=0.1    0.2 s per trial, 10 % of candidates raise
    options: delay (s); fail, nan, crash, hang, block (fractions in [0, 1])

``fail`` raises, ``nan`` returns a NaN accuracy, ``crash`` ends the evaluating process at
once (``os._exit``) as a segfault or the kernel's OOM killer would, ``hang`` runs for an hour
but checks the per-trial limits as training does, ``block`` sleeps for an hour without
checking anything (only a process executor's hard limit stops it).

It shares the skeleton of the table evaluators (:class:`.base.LookupEvaluator`): the size metrics are
looked up first, the study's constraints checked on them, and only a candidate that meets them runs
its faults, its delay and its accuracy. It answers any space, so it is no ``archscout bench`` table.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from typing import ClassVar

from ...checks import fraction, non_negative_number
from ...errors import ArchscoutError
from ...space import Architecture
from ..base import EVALUATORS, Evaluation
from .base import LookupEvaluator

_OPTIONS = ("delay", "fail", "nan", "crash", "hang", "block")


def _unit(*parts) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@EVALUATORS.register("synthetic")
class SyntheticEvaluator(LookupEvaluator):
    """Metrics as a fixed function of the architecture, with injectable faults (tests the framework itself).

    A fidelity ``steps`` scales the accuracy as a learning curve would: ``1 - exp(-steps / 100)`` of
    the way from 0.5 to the full value, deterministically per architecture.
    """

    name = "synthetic"
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "loss", "params", "flops", "size_bytes@fp32", "latency_ms",
                                           "train_seconds")
    fidelities = ("steps",)

    def __init__(self, delay: float = 0.0, fail: float = 0.0, nan: float = 0.0, crash: float = 0.0,
                 hang: float = 0.0, block: float = 0.0):
        non_negative_number(delay, "synthetic evaluator: delay (seconds)")
        for name, v in (("fail", fail), ("nan", nan), ("crash", crash), ("hang", hang), ("block", block)):
            fraction(v, f"synthetic evaluator: {name}")
        self.delay, self.fail, self.nan, self.crash, self.hang, self.block = delay, fail, nan, crash, hang, block
        self._last: tuple[tuple[str, str] | None, list[float]] = (None, [])

    @classmethod
    def parse(cls, spec: str) -> SyntheticEvaluator:
        """From ``synthetic`` or ``synthetic:delay=0.1,fail=0.05``."""
        return cls(**cls._options(spec.partition(":")[2]))

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        return cls(**cls._options(options)).spec.partition(":")[2]

    @classmethod
    def create(cls, options: str = "", *, task=None, train=None, latency=None,
               metrics: tuple | list = ()) -> SyntheticEvaluator:
        return cls(**cls._options(options))

    @classmethod
    def _options(cls, opts: str) -> dict:
        kwargs = {}
        for part in filter(None, (p.strip() for p in opts.split(","))):
            key, eq, value = part.partition("=")
            if not eq or key.strip() not in _OPTIONS:
                raise ArchscoutError(f"synthetic evaluator: cannot read option {part!r}; write KEY=VALUE with KEY "
                                     f"one of {', '.join(_OPTIONS)}")
            try:
                kwargs[key.strip()] = float(value)
            except ValueError:
                raise ArchscoutError(f"synthetic evaluator: {key.strip()}={value!r} is not a number") from None
        return kwargs

    @property
    def spec(self) -> str:
        opts = ",".join(f"{k}={getattr(self, k):g}" for k in _OPTIONS if getattr(self, k))
        return "synthetic" + (f":{opts}" if opts else "")

    def lookup(self, arch: Architecture, seed: int = 0) -> dict:
        """The size metrics, what a constraint is checked on before anything else runs."""
        size = len(self._encoding(arch)) + 1
        metrics = {"params": int(1000 * size * (1 + 3 * _unit(arch.id, "params"))),
                   "flops": int(20000 * size * (1 + 3 * _unit(arch.id, "flops")))}
        metrics["size_bytes@fp32"] = 4 * metrics["params"]
        return metrics

    def answer(self, arch: Architecture, seed: int, metrics: dict, guard=None,
               fidelity: dict | None = None) -> Evaluation:
        """The injected faults and the delay, then the accuracy, its loss and the latency."""
        if self.crash and _unit(arch.id, "crash") < self.crash:
            os._exit(13)
        if self.hang and _unit(arch.id, "hang") < self.hang:
            self._sleep(3600, guard)
        if self.block and _unit(arch.id, "block") < self.block:
            time.sleep(3600)
        if self.delay:
            self._sleep(self.delay, guard)
        if self.fail and _unit(arch.id, "fail") < self.fail:
            raise RuntimeError("injected failure (synthetic evaluator)")
        enc = self._encoding(arch)
        size = len(enc) + 1
        quality = sum(enc) / max(1, len(enc)) if enc else 0.5
        acc = 0.55 + 0.3 * quality + 0.1 * _unit(arch.id, seed, "acc")
        if fidelity:
            acc = 0.5 + (acc - 0.5) * (1 - math.exp(-fidelity["steps"] / 100))
        if self.nan and _unit(arch.id, "nan") < self.nan:
            acc = float("nan")
        metrics.update(accuracy=acc, loss=1.0 - acc if acc == acc else acc,
                       latency_ms=0.05 * size * (1 + _unit(arch.id, "lat")), train_seconds=self.delay)
        return Evaluation(metrics, {"synthetic": True})

    def _encoding(self, arch: Architecture) -> list[float]:
        """The architecture's ordinal encoding without unused choices (kept from :meth:`lookup` for :meth:`answer`)."""
        name = (arch.space_name, arch.id)
        if self._last[0] == name:
            return self._last[1]
        enc = [v for v in (arch.space.encode(arch, "ordinal") if arch.space is not None else []) if v >= 0]
        self._last = (name, enc)
        return enc

    @staticmethod
    def _sleep(seconds: float, guard) -> None:
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if guard is not None:
                guard.check()
            time.sleep(min(left, 0.05))
