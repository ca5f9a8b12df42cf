"""The settings of a differentiable search (no torch here: the strategy registry reads them)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ...errors import ArchscoutError

METHODS = {"darts": ("softmax", 1), "darts-2nd": ("softmax", 2), "pc-darts": ("partial", 1), "gdas": ("gumbel", 1),
           "proxyless": ("binary", 1)}
COLLAPSED_EDGES = 4  # of 6: a cell with this many parameter-free strongest operations is flagged


@dataclass(frozen=True)
class DifferentiableConfig:
    method: str = "darts"
    steps: int = 600
    batch_size: int = 64
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_wd: float = 3e-4
    a_lr: float = 3e-4
    a_wd: float = 1e-3
    channels: int = 16
    stages: int = 3
    cells: int = 1
    partial_k: int = 4
    tau_max: float = 10.0
    tau_min: float = 0.1
    check_every: int = 50
    guard: bool = False
    es_ratio: float = 0.75
    window: int = 2
    latency_weight: float = 0.0  # ProxylessNAS: the weight of the expected latency (ms) in the architecture loss
    selection: str = "argmax"  # or "perturbation" (Wang et al., ICLR 2021)
    tune_steps: int = 20  # perturbation: weight steps after each edge is decided

    def __post_init__(self):
        if self.method not in METHODS:
            raise ArchscoutError(f"unknown differentiable method {self.method!r}; known: {', '.join(METHODS)}")
        for name in ("steps", "batch_size", "channels", "stages", "cells", "partial_k", "check_every", "window"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ArchscoutError(f"{self.method}: {name} must be a whole number >= 1, got {v!r}")
        for name in ("w_lr", "a_lr", "tau_max", "tau_min"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ArchscoutError(f"{self.method}: {name} must be a positive number, got {v!r}")
        if isinstance(self.latency_weight, bool) or not isinstance(self.latency_weight, (int, float)) \
                or not self.latency_weight >= 0:
            raise ArchscoutError(f"{self.method}: latency_weight must be a number >= 0, got {self.latency_weight!r}")
        if self.latency_weight and self.method != "proxyless":
            raise ArchscoutError(f"{self.method}: latency_weight is ProxylessNAS's (--strategy proxyless)")
        if self.selection not in ("argmax", "perturbation"):
            raise ArchscoutError(f"{self.method}: selection is argmax or perturbation, got {self.selection!r}")
        if self.selection == "perturbation" and self.method in ("gdas", "proxyless"):
            raise ArchscoutError(f"{self.method}: perturbation-based selection needs a mixture of every operation "
                                 f"(darts, darts-2nd, pc-darts); {self.method} samples one path")
        if isinstance(self.tune_steps, bool) or not isinstance(self.tune_steps, int) or self.tune_steps < 0:
            raise ArchscoutError(f"{self.method}: tune_steps must be a whole number >= 0, got {self.tune_steps!r}")
        if not 0 < self.es_ratio < 1:
            raise ArchscoutError(f"{self.method}: es_ratio must be between 0 and 1, got {self.es_ratio!r}")

    def as_dict(self) -> dict:
        return asdict(self)


