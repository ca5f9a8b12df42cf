"""INT8 static post-training quantization with ONNX Runtime: calibration samples, per-layer fp32 exclusion,
and ONNX accuracy."""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .runtime import inference_session

# ONNX operators that carry a layer's weight (as their second input) and that the quantizer converts
WEIGHT_OPS = ("Conv", "Gemm", "MatMul")


@dataclass(frozen=True)
class QuantizedModel:
    """An INT8 ONNX model and what it stores.

    ``size_bytes``: bytes of the initializers as stored (int8 weights 1 byte per value; scales,
    fp32 weights 4; int32 biases 4). ``quantized_nodes`` / ``fp32_nodes``: names of the
    weight-bearing nodes whose weight is stored in int8 / fp32.
    """

    model_bytes: bytes
    size_bytes: int
    quantized_nodes: tuple[str, ...]
    fp32_nodes: tuple[str, ...]


def quantizable_scopes(model) -> list[str]:
    """Names (as in ``named_modules()``) of the leaf Conv1d, Conv2d and Linear modules: the layers a
    quantization policy runs in INT8 or keeps in fp32."""
    from torch import nn

    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def node_module(node_name: str) -> str:
    """The module name of a node exported by the TorchScript exporter ("/convs/convs.1/conv/Conv" -> "convs.1.conv").

    The exporter names a node by the modules called on the way to it, each one written from its
    last non-numeric name part ("convs.1.0" stays whole, "convs.1.0.conv" is written "conv"), so
    consecutive parts overlap and are merged. Only called modules appear: an entry of a
    ModuleDict loses the dict's name ("/a/Gemm" for module "d.a"); a node outside any module gives "".
    """
    if not node_name.startswith("/"):
        return ""
    path: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        atoms = part.split(".")
        # each part names a module strictly inside the previous one: at least one new atom
        overlap = next((k for k in range(min(len(path), len(atoms) - 1), 0, -1) if path[-k:] == atoms[:k]), 0)
        path.extend(atoms[overlap:])
    return ".".join(path)


def in_scope(node_name: str, scope: str) -> bool:
    """Whether an exported node belongs to module ``scope`` or a module inside it: the node's module
    path contains the scope's name parts as a consecutive run."""
    path, atoms = node_module(node_name).split("."), scope.split(".")
    return any(path[i:i + len(atoms)] == atoms for i in range(len(path) - len(atoms) + 1))


class _QuantizerNotices(logging.Filter):
    """Drops the notices ONNX Runtime's quantizer logs on the root logger (a weight quantized per
    tensor where per channel was asked, a bias left in float): expected here, and one pair a trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        return os.path.join("onnxruntime", "quantization") not in record.pathname


@contextmanager
def _quiet_quantizer():
    root = logging.getLogger()
    notices = _QuantizerNotices()
    # a handler on the root logger keeps logging.warning() from installing its own stderr handler
    placeholder = logging.NullHandler()
    root.addFilter(notices)
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)
        root.removeFilter(notices)


class _Batches:
    """The calibration samples in batches, as ONNX Runtime's CalibrationDataReader interface asks."""

    def __init__(self, input_name: str, samples: np.ndarray, batch_size: int):
        self._feeds = iter([{input_name: samples[i:i + batch_size]} for i in range(0, len(samples), batch_size)])

    def get_next(self):
        return next(self._feeds, None)


def _initializer_bytes(graph) -> int:
    from onnx import helper

    return int(sum(np.prod(t.dims, dtype=np.int64) * np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
                   for t in graph.initializer))


def _weight_precisions(graph) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(int8, fp32) names of the weight-bearing nodes, by how their weight input is stored."""
    from onnx import TensorProto

    stored = {t.name: t.data_type for t in graph.initializer}
    dequantized = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    int8, fp32 = [], []
    for node in graph.node:
        if node.op_type not in WEIGHT_OPS or len(node.input) < 2:
            continue
        weight = node.input[1]
        if stored.get(dequantized.get(weight)) == TensorProto.INT8:
            int8.append(node.name)
        elif stored.get(weight) == TensorProto.FLOAT:
            fp32.append(node.name)
    return tuple(int8), tuple(fp32)


def onnx_weight_bytes(model_bytes: bytes) -> int:
    """Bytes of an ONNX model's initializers as stored (element count × element size)."""
    import onnx

    return _initializer_bytes(onnx.load_from_string(model_bytes).graph)


def calibration_indices(y, size: int = 256, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` samples (all of them when there are no more) to calibrate activation
    ranges on, drawn at random, the same for the same ``seed``.

    Class labels are drawn per class, each class's number in proportion to its share of the
    samples (rounded by largest remainder, ties at random) and at least one when ``size`` is at
    least the number of classes: the first samples of data sorted by class would calibrate on
    the activations of a few classes. Labels are classes unless they are floats that are not all
    whole numbers (regression targets), which get a plain random subset.
    """
    y = np.asarray(y)
    if size < 1:
        raise ValueError(f"calibration needs size >= 1, got {size}")
    n = len(y)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        return np.sort(rng.choice(n, size, replace=False))
    _, label, counts = np.unique(y, return_inverse=True, return_counts=True)
    take = _per_class(counts, size, rng.random(len(counts)))
    picked = [rng.choice(np.flatnonzero(label == k), t, replace=False) for k, t in enumerate(take) if t]
    return np.sort(np.concatenate(picked))


def _per_class(counts: np.ndarray, size: int, tiebreak: np.ndarray) -> np.ndarray:
    """How many of ``size`` samples each class gives: its proportional quota, rounded by largest remainder
    (ties by ``tiebreak``), at least one each when ``size`` allows."""
    quota = size * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    if size >= len(counts):
        take = np.maximum(take, 1)
    while take.sum() < size:  # one more from the class furthest below its quota that has samples left
        gap = np.where(take < counts, quota - take, -np.inf)
        take[np.lexsort((tiebreak, gap))[-1]] += 1
    while take.sum() > size:  # one fewer from the class furthest above its quota that keeps one
        excess = np.where(take > 1, take - quota, -np.inf)
        take[np.lexsort((tiebreak, excess))[-1]] -= 1
    return take


def quantize_int8(model_bytes: bytes, calibration: np.ndarray, fp32_scopes: Iterable[str] | str = (),
                  per_channel: bool = True, batch_size: int = 64) -> QuantizedModel:
    """Static INT8 quantization (QDQ format, int8 weights and activations) of a model from :func:`onnx_bytes`.

    Activation ranges are calibrated (min/max) on ``calibration``, training samples shaped like
    the model's input (:func:`calibration_indices` picks them), fed in batches of ``batch_size``. Nodes inside the modules named in
    ``fp32_scopes`` (a module name or names, each covering the modules inside it, e.g. "convs.0"
    or "classifier"; see :func:`in_scope`) stay in fp32. ``per_channel``: one weight scale per
    output channel instead of one per tensor.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibration = np.ascontiguousarray(calibration, dtype=np.float32)
    if len(calibration) == 0:
        raise ValueError("quantization needs at least one calibration sample")
    if batch_size < 1:
        raise ValueError(f"quantization needs batch_size >= 1, got {batch_size}")
    scopes = [fp32_scopes] if isinstance(fp32_scopes, str) else list(fp32_scopes)
    # the TorchScript exporter already stores every tensor's shape, so ONNX Runtime's pre-processing
    # (shape inference) changed nothing on 75 sampled built-in architectures; it is skipped
    model = onnx.load_from_string(model_bytes)
    exclude = [n.name for n in model.graph.node if any(in_scope(n.name, s) for s in scopes)]
    reader = _Batches(model.graph.input[0].name, calibration, batch_size)
    with tempfile.TemporaryDirectory(prefix="archscout-int8-") as tmp, _quiet_quantizer():
        target = os.path.join(tmp, "int8.onnx")
        # min/max calibration: percentile and entropy gave the same accuracy on the toy nets, slower
        quantize_static(model, target, reader, quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                        calibrate_method=CalibrationMethod.MinMax)
        quantized = onnx.load(target)
    int8, fp32 = _weight_precisions(quantized.graph)
    return QuantizedModel(model_bytes=quantized.SerializeToString(), size_bytes=_initializer_bytes(quantized.graph),
                          quantized_nodes=int8, fp32_nodes=fp32)


def onnx_accuracy(model_bytes: bytes, X: np.ndarray, y: np.ndarray, batch_size: int = 256, threads: int = 1) -> dict:
    """Accuracy (fraction correct) and loss (mean cross-entropy of the logits) of an ONNX classifier,
    run with ONNX Runtime on the CPU."""
    if len(X) == 0 or len(X) != len(y):
        raise ValueError(f"accuracy needs as many labels as samples (at least one); got {len(X)} and {len(y)}")
    if batch_size < 1:
        raise ValueError(f"accuracy needs batch_size >= 1, got {batch_size}")
    session = inference_session(model_bytes, threads)
    name = session.get_inputs()[0].name
    X = np.ascontiguousarray(X, dtype=np.float32)
    logits = np.concatenate([session.run(None, {name: X[i:i + batch_size]})[0] for i in range(0, len(X), batch_size)])
    y = np.asarray(y, dtype=np.int64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return {"accuracy": float(np.mean(logits.argmax(axis=1) == y)),
            "loss": float(-log_probs[np.arange(len(y)), y].mean())}
