"""Costs on real runtimes: ONNX export, ONNX Runtime CPU latency, and measured peak inference memory."""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

import numpy as np

from .latency import Latency, _check_timing, _latency_record, _time_runs


def onnx_bytes(model, input_shape: tuple) -> bytes:
    """The model as an ONNX file in memory: one input "input" of shape (batch,) + ``input_shape``, output "logits".

    The batch axis is dynamic. The TorchScript exporter (opset 17) is used because it names nodes
    after the module scopes ("/convs/convs.1/conv/Conv"), which :mod:`~archscout.cost.quantize`
    maps back to module names. The model is exported in eval mode; its mode is restored afterwards.
    """
    import torch

    was_training = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros((1,) + tuple(input_shape)),),
                              buf,  # type: ignore[arg-type]  # torch writes to a file object too; its stub says path
                              dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    finally:
        model.train(was_training)
    return buf.getvalue()


def inference_session(model_bytes: bytes, threads: int = 1):
    """An ONNX Runtime CPU session set up for measurement: ``threads`` intra-op threads, one inter-op
    thread, sequential execution and every graph optimisation (which fuses quantize/dequantize pairs
    into integer kernels)."""
    import onnxruntime as ort

    if threads < 1:
        raise ValueError(f"an ONNX Runtime session needs threads >= 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def measure_latency_onnx(model_bytes: bytes, input_shape: tuple, batch_size: int = 1, warmup: int = 10,
                         repeats: int = 50, threads: int = 1, rel_tol: float = 0.03, max_repeats: int | None = None,
                         max_seconds: float = 2.0, runtime: str = "onnxruntime") -> Latency:
    """Time an ONNX model (one input) on a random batch with ONNX Runtime on the CPU until the median is stable.

    The stopping rule is that of :func:`~archscout.cost.measure_latency`; ``runtime`` labels the
    record (e.g. "onnxruntime-int8" for a quantized model).
    """
    cap = _check_timing(batch_size, warmup, repeats, rel_tol, max_repeats, max_seconds)
    session = inference_session(model_bytes, threads)
    feed = {session.get_inputs()[0].name:
            np.random.default_rng(0).standard_normal((batch_size,) + tuple(input_shape), dtype=np.float32)}
    times, stable = _time_runs(lambda: session.run(None, feed), warmup, repeats, rel_tol, cap, max_seconds)
    return _latency_record(times, stable, batch_size, threads, warmup, runtime)


@contextlib.contextmanager
def _stderr_silenced():
    """The profiler's C++ side prints start / stop lines straight to file descriptor 2 (no setting turns them
    off); point it at /dev/null for the few milliseconds of one profiled forward pass."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory_mb(model, input_shape: tuple, batch_size: int = 1) -> float:
    """Peak CPU memory of one inference in PyTorch eager, in MiB (2**20 bytes), measured.

    Counts the bytes of the parameters and buffers, plus the peak over the forward pass of the
    memory the CPU allocator holds for tensors created during it: the input batch, activations,
    outputs and operator workspaces (e.g. reordered convolution weights). The allocation and
    free events come from ``torch.profiler`` (profile_memory) and are summed in time order; frees
    of memory allocated before the pass are ignored. Not counted: the Python interpreter,
    libraries and allocator caching. Runs in eval mode under ``torch.inference_mode`` with the
    current thread setting; the model's mode is restored.
    """
    import torch
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    if batch_size < 1:
        raise ValueError(f"peak memory needs batch_size >= 1, got {batch_size}")
    static = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    was_training = model.training
    model.eval()
    try:
        with _stderr_silenced(), torch.inference_mode(), \
                profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(torch.randn((batch_size,) + tuple(input_shape)))
    finally:
        model.train(was_training)

    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        if event.tag == _EventType.Allocation and str(event.extra_fields.device) == "cpu":
            events.append((event.start_time_ns, event.extra_fields.alloc_size, event.extra_fields.ptr))
        stack.extend(event.children)
    live, held, peak = set(), 0, 0
    for _, size, ptr in sorted(events):
        if size > 0:
            live.add(ptr)
        elif ptr in live:
            live.discard(ptr)
        else:
            continue
        held += size
        peak = max(peak, held)
    return (static + peak) / 2**20
