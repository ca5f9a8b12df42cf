"""Cost metrics measured on a built model: parameters, FLOPs, size (:mod:`.static`), and CPU latency
(:mod:`.latency`; ONNX Runtime in :mod:`.runtime`, latency tables in :mod:`.latency_table`)."""
from .latency import Latency, measure_latency, measure_latency_device
from .latency import _check_timing as _check_timing
from .latency import _latency_record as _latency_record
from .latency import _median_ci_halfwidth as _median_ci_halfwidth
from .latency import _time_runs as _time_runs
from .static import count_flops, count_params, size_bytes

__all__ = ["count_params", "size_bytes", "count_flops", "Latency", "measure_latency", "measure_latency_device"]
