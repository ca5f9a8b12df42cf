"""CPU and accelerator latency: forward passes timed until the median is stable (:class:`Latency`)."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Latency:
    """A latency measurement: median and spread over repeated timed runs, with its conditions.

    ``repeats`` is the number of timed runs actually done; ``stable`` says whether the median's
    95 % confidence interval was within the requested tolerance when timing stopped.
    """

    median_ms: float
    p25_ms: float
    p75_ms: float
    mean_ms: float
    std_ms: float
    batch_size: int
    threads: int
    warmup: int
    repeats: int
    stable: bool
    runtime: str = "pytorch"

    @property
    def iqr_ms(self) -> float:
        return self.p75_ms - self.p25_ms

    def as_dict(self) -> dict:
        return {**asdict(self), "iqr_ms": self.iqr_ms}


def _check_timing(batch_size: int, warmup: int, repeats: int, rel_tol: float, max_repeats: int | None,
                 max_seconds: float) -> int:
    """Validate latency arguments; returns the run cap (``max_repeats``, by default ten times ``repeats``)."""
    if batch_size < 1:
        raise ValueError(f"latency needs batch_size >= 1, got {batch_size}")
    if warmup < 0:
        raise ValueError(f"latency needs warmup >= 0, got {warmup}")
    if repeats < 1:
        raise ValueError(f"latency needs repeats >= 1, got {repeats}")
    cap = 10 * repeats if max_repeats is None else max_repeats
    if cap < repeats:
        raise ValueError(f"latency needs max_repeats >= repeats ({repeats}), got {max_repeats}")
    if not rel_tol > 0:
        raise ValueError(f"latency needs rel_tol > 0, got {rel_tol}")
    if not max_seconds > 0:
        raise ValueError(f"latency needs max_seconds > 0, got {max_seconds}")
    return cap


def _median_ci_halfwidth(times: list[float]) -> float:
    """Half-width of the distribution-free 95 % confidence interval of the median of ``times``.

    The interval runs between the order statistics of ranks n/2 - 0.98·sqrt(n) and
    1 + n/2 + 0.98·sqrt(n) (1.96 standard deviations of the binomial count below the median);
    for a handful of samples the ranks clip to the minimum and maximum, a wider interval.
    """
    xs = sorted(times)
    n = len(xs)
    spread = 0.98 * math.sqrt(n)
    lo = max(1, math.floor(n / 2 - spread))
    hi = min(n, math.ceil(1 + n / 2 + spread))
    return (xs[hi - 1] - xs[lo - 1]) / 2


def _time_runs(run, warmup: int, repeats: int, rel_tol: float, max_repeats: int, max_seconds: float,
              clock=time.perf_counter_ns) -> tuple[list[float], bool]:
    """Milliseconds per call of ``run()``, timed until the median is stable; returns (times, stable).

    After ``warmup`` untimed calls, at least ``repeats`` calls are timed; then more rounds of
    ``repeats`` calls follow until the median's 95 % confidence half-width is at most ``rel_tol``
    of the median, or ``max_repeats`` calls are timed, or the timed calls have taken
    ``max_seconds``. ``clock`` returns nanoseconds (a fake one makes tests deterministic).
    """
    for _ in range(warmup):
        run()
    times: list[float] = []
    start = clock()
    target = repeats
    while True:
        out_of_time = False
        while len(times) < target and not out_of_time:
            t0 = clock()
            run()
            t1 = clock()
            times.append((t1 - t0) / 1e6)
            # the minimum number of runs is always done; only the extra rounds are cut short
            out_of_time = len(times) >= repeats and (t1 - start) / 1e9 >= max_seconds
        stable = _median_ci_halfwidth(times) <= rel_tol * statistics.median(times)
        if stable or out_of_time or len(times) >= max_repeats:
            return times, stable
        target = min(max_repeats, len(times) + repeats)


def _latency_record(times: list[float], stable: bool, batch_size: int, threads: int, warmup: int,
                   runtime: str) -> Latency:
    """The :class:`Latency` summary of per-run times in milliseconds."""
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return Latency(median_ms=statistics.median(times), p25_ms=q[0], p75_ms=q[2], mean_ms=statistics.fmean(times),
                   std_ms=statistics.pstdev(times), batch_size=batch_size, threads=threads, warmup=warmup,
                   repeats=len(times), stable=stable, runtime=runtime)


def measure_latency(model, input_shape: tuple, batch_size: int = 1, warmup: int = 10, repeats: int = 50,
                    threads: int | None = None, inputs: tuple | None = None, rel_tol: float = 0.03,
                    max_repeats: int | None = None, max_seconds: float = 2.0) -> Latency:
    """Time forward passes in eval mode on the CPU with PyTorch eager until the median is stable.

    After ``warmup`` runs, at least ``repeats`` runs are timed, then more until the median's 95 %
    confidence interval is within ``rel_tol`` of it, or ``max_repeats`` runs (default ten times
    ``repeats``), or ``max_seconds`` of timed runs; see :func:`_time_runs`. ``threads``: intra-op
    threads (None = the current torch setting); the record states the count used.
    ``inputs``: the forward's arguments (e.g. a whole graph) instead of a random batch of ``batch_size``.
    """
    import torch

    cap = _check_timing(batch_size, warmup, repeats, rel_tol, max_repeats, max_seconds)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    args = inputs if inputs is not None else (torch.randn((batch_size,) + tuple(input_shape)),)
    try:
        with torch.inference_mode():
            times, stable = _time_runs(lambda: model(*args), warmup, repeats, rel_tol, cap, max_seconds)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
        model.train(was_training)
    return _latency_record(times, stable, batch_size, used, warmup, "pytorch")


def measure_latency_device(model, input_shape: tuple, batch_size: int = 1, warmup: int = 10, repeats: int = 50,
                           device: str = "cuda", rel_tol: float = 0.03, max_repeats: int | None = None,
                           max_seconds: float = 2.0, sync=None) -> Latency:
    """Time forward passes on an accelerator (a copy of ``model`` moved to ``device``), waiting for the device
    after every run so that each time is the whole pass, not its launch: ``torch.cuda.synchronize`` on CUDA
    (``sync`` replaces it, e.g. in a test on the CPU). Otherwise as :func:`measure_latency`; the record's runtime
    is the device's type (``cuda``)."""
    import copy

    import torch

    cap = _check_timing(batch_size, warmup, repeats, rel_tol, max_repeats, max_seconds)
    dev = torch.device(device)
    if sync is None:
        if dev.type == "cuda":
            def sync():
                torch.cuda.synchronize(dev)
        elif dev.type == "mps":
            sync = torch.mps.synchronize
        else:
            def sync():
                return None
    net = copy.deepcopy(model).to(dev).eval()
    x = torch.randn((batch_size,) + tuple(input_shape), device=dev)

    def run():
        net(x)
        sync()

    with torch.inference_mode():
        sync()
        times, stable = _time_runs(run, warmup, repeats, rel_tol, cap, max_seconds)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return _latency_record(times, stable, batch_size, torch.get_num_threads(), warmup, dev.type)
