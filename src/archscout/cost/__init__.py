"""Cost metrics measured on a built model: parameters, FLOPs, size, and CPU latency."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass


def count_params(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def size_bytes(model, bits: int = 32) -> int:
    """Bytes to store the parameters and buffers at ``bits`` per value (32 = fp32, 16 = fp16, 8 = int8)."""
    n = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return int(n * bits // 8)


def count_flops(model, input_shape: tuple, batch_size: int = 1, inputs: tuple | None = None) -> int:
    """FLOPs of one forward pass (``torch.utils.flop_counter``; a multiply-add counts as 2).

    ``inputs``: the forward's arguments (e.g. a graph's features and edges) instead of a zero batch.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    args = inputs if inputs is not None else (torch.zeros((batch_size,) + tuple(input_shape)),)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*args)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class Latency:
    """A latency measurement: median and spread over repeated timed runs, with its conditions."""

    median_ms: float
    p25_ms: float
    p75_ms: float
    mean_ms: float
    std_ms: float
    batch_size: int
    threads: int
    warmup: int
    repeats: int
    runtime: str = "pytorch"

    def as_dict(self) -> dict:
        return asdict(self)


def measure_latency(model, input_shape: tuple, batch_size: int = 1, warmup: int = 10, repeats: int = 50,
                    threads: int | None = None, inputs: tuple | None = None) -> Latency:
    """Time ``repeats`` forward passes (after ``warmup``) in eval mode on the CPU with PyTorch eager.

    ``inputs``: the forward's arguments (e.g. a whole graph) instead of a random batch of ``batch_size``.
    """
    import torch

    if warmup < 0 or repeats < 1 or batch_size < 1:
        raise ValueError("latency needs warmup >= 0, repeats >= 1, batch_size >= 1")
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    args = inputs if inputs is not None else (torch.randn((batch_size,) + tuple(input_shape)),)
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(*args)
            for _ in range(repeats):
                t0 = time.perf_counter_ns()
                model(*args)
                times.append((time.perf_counter_ns() - t0) / 1e6)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
        model.train(was_training)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return Latency(median_ms=statistics.median(times), p25_ms=q[0], p75_ms=q[2], mean_ms=statistics.fmean(times),
                   std_ms=statistics.pstdev(times), batch_size=batch_size, threads=used, warmup=warmup,
                   repeats=repeats)
