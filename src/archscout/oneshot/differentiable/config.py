"""The settings of a differentiable search (no torch here: the strategy registry reads them)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ...checks import fraction, non_negative_int, non_negative_number, positive_int, positive_number
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
            positive_int(getattr(self, name), f"{self.method}: {name}")
        for name in ("w_lr", "a_lr", "tau_max", "tau_min"):
            positive_number(getattr(self, name), f"{self.method}: {name}")
        non_negative_number(self.latency_weight, f"{self.method}: latency_weight")
        if self.latency_weight and self.method != "proxyless":
            raise ArchscoutError(f"{self.method}: latency_weight is ProxylessNAS's (--strategy proxyless)")
        if self.selection not in ("argmax", "perturbation"):
            raise ArchscoutError(f"{self.method}: selection is argmax or perturbation, got {self.selection!r}")
        if self.selection == "perturbation" and self.method in ("gdas", "proxyless"):
            raise ArchscoutError(f"{self.method}: perturbation-based selection needs a mixture of every operation "
                                 f"(darts, darts-2nd, pc-darts); {self.method} samples one path")
        non_negative_int(self.tune_steps, f"{self.method}: tune_steps")
        fraction(self.es_ratio, f"{self.method}: es_ratio", inclusive="neither")

    def as_dict(self) -> dict:
        return asdict(self)


