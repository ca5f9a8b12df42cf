"""The macro-network builder: a stack of conv / dwconv / fc stages and a head, as an nn.Module.

A stage is a mapping with ``op`` (conv, dwconv, fc; default fc), ``width`` and, for
convolutions, ``kernel``, ``dilation`` and ``downsample`` (none, stride2, maxpool, avgpool);
any stage may carry ``residual``, ``norm`` (none, batch, layer), ``act`` and ``dropout``.
``head`` (gap, max, flatten) turns the feature map into a vector before the fc stages. The
same builder serves 1-D signals (C, L), images (C, H, W) and tabular vectors (F,). The
nn.Module classes it composes are in :mod:`archscout.space.blocks`.
"""
from __future__ import annotations

import math
from typing import Any

from ..errors import ArchscoutError
from .operators import CONV_OPS

_SHORT_DOWN = {"stride2": "s2", "maxpool": "mp", "avgpool": "ap"}
_SHORT_NORM = {"batch": "bn", "layer": "ln"}


def _ops(values: dict) -> list[dict]:
    return list(values.get("stages", []))


def lift_shape(input_shape: tuple, dims: int | None) -> tuple:
    """Input shape the network works on: a 1-D space lifts (L,) to (1, L); 2-D lifts (H, W) to (1, H, W)."""
    shape = tuple(int(s) for s in input_shape)
    if dims is None:
        return shape
    if len(shape) == dims:
        shape = (1,) + shape
    if len(shape) != dims + 1:
        kind = {1: "(channels, length)", 2: "(channels, height, width)"}[dims]
        raise ArchscoutError(f"this space builds {dims}-D convolutional networks and needs inputs shaped "
                             f"{kind}; the task's inputs are shaped {tuple(input_shape)}")
    return shape


def _head_features(head: str, channels: int, sizes: list[int]) -> int:
    """Length of the vector the head makes of a (channels, *sizes) feature map."""
    return channels * math.prod(sizes) if head == "flatten" else channels


def build_macro(values: dict, input_shape: tuple, num_classes: int, dims: int | None = None):
    """Build the network, a :class:`~archscout.space.blocks.MacroNet`; ``dims`` (1 or 2) is the convolution
    dimensionality the space expects."""
    from torch import nn

    from .blocks import ConvBlock, FCBlock, GlobalPool, MacroNet

    shape = lift_shape(input_shape, dims)
    spatial = len(shape) - 1
    stages = _ops(values)
    if any(s.get("op", "fc") in CONV_OPS for s in stages) and spatial not in (1, 2):
        raise ArchscoutError(f"convolutional stages need (channels, length) or (channels, height, width) "
                             f"inputs; the task's inputs are shaped {tuple(input_shape)}")
    channels, sizes = shape[0], list(shape[1:])
    head = (values.get("head") or "flatten") if sizes else "flatten"  # a vector has nothing to pool
    convs, fcs = [], []
    flat = None
    for st in stages:
        op = st.get("op", "fc")
        if op in CONV_OPS:
            if flat is not None:
                raise ArchscoutError("a convolutional stage cannot follow a fully connected one")
            down = st.get("downsample") or "none"
            block = ConvBlock(channels, int(st["width"]), int(st.get("kernel") or 3), spatial, op=op,
                              dilation=int(st.get("dilation") or 1),
                              downsample=down if min(sizes) >= 2 else "none",  # nothing left to downsample
                              norm=st.get("norm") or "none", act=st.get("act") or "relu",
                              dropout=float(st.get("dropout") or 0.0), residual=bool(st.get("residual")))
            sizes = [block.output_size(s) for s in sizes]
            channels = int(st["width"])
            convs.append(block)
        elif op == "fc":
            if flat is None:
                flat = _head_features(head, channels, sizes)
            fcs.append(FCBlock(flat, int(st["width"]), norm=st.get("norm") or "none", act=st.get("act") or "relu",
                               dropout=float(st.get("dropout") or 0.0), residual=bool(st.get("residual"))))
            flat = int(st["width"])
        else:
            raise ArchscoutError(f"unknown op {op!r}; the macro builder knows conv, dwconv, fc")
    if flat is None:
        flat = _head_features(head, channels, sizes)
    head_module: nn.Module
    if head in ("gap", "max"):
        head_module = GlobalPool(head, spatial)
    elif head == "flatten":
        head_module = nn.Flatten()
    else:
        raise ArchscoutError(f"unknown head {head!r}; known: gap, max, flatten")
    return MacroNet(shape, convs, head_module, fcs, nn.Linear(flat, num_classes))


def macro_fp32_scopes(values: dict) -> list[str]:
    """The modules that an architecture's quantization policy keeps in fp32: stages whose ``precision``
    is ``fp32`` (``convs.J`` / ``fcs.K``, as :class:`~archscout.space.blocks.MacroNet` names them) and
    the ``classifier`` when ``classifier_precision`` is ``fp32``. Without precision choices nothing is
    kept in fp32."""
    scopes, convs, fcs = [], 0, 0
    for st in _ops(values):
        if st.get("op", "fc") in CONV_OPS:
            name, convs = f"convs.{convs}", convs + 1
        else:
            name, fcs = f"fcs.{fcs}", fcs + 1
        if st.get("precision") == "fp32":
            scopes.append(name)
    if values.get("classifier_precision") == "fp32":
        scopes.append("classifier")
    return scopes


def describe_macro(values: dict) -> str:
    """A one-line summary: ``conv5-32 bn relu s2 res | fc-64 | head gap``."""
    parts = []
    for st in _ops(values):
        op = st.get("op", "fc")
        if op in CONV_OPS:
            s = f"{op}{st.get('kernel')}" + (f"d{st['dilation']}" if (st.get("dilation") or 1) > 1 else "")
        else:
            s = "fc"
        s += f"-{st.get('width')}"
        tags = [_SHORT_NORM.get(st.get("norm") or ""), st.get("act"),
                _SHORT_DOWN.get(st.get("downsample") or ""),
                f"drop{st['dropout']}" if st.get("dropout") else None, "res" if st.get("residual") else None,
                "int8" if st.get("precision") == "int8" else None]
        parts.append(" ".join([s] + [t for t in tags if t]))
    if values.get("head"):
        parts.append(f"head {values['head']}")
    if values.get("classifier_precision") == "int8":
        parts.append("classifier int8")
    return " | ".join(parts)


def macro_graph(values: dict) -> dict:
    """The network as a DAG of ops: input, one node a stage (plus an add node for residuals), head, classifier."""
    nodes: list[dict[str, Any]] = [{"id": 0, "op": "input", "attrs": {}}]
    edges: list[list[int]] = []
    prev = 0
    stages = _ops(values)
    head_done = False

    def add(op: str, attrs: dict, inputs: list[int]) -> int:
        nid = len(nodes)
        nodes.append({"id": nid, "op": op, "attrs": attrs})
        edges.extend([[i, nid] for i in inputs])
        return nid

    for st in stages:
        op = st.get("op", "fc")
        if op == "fc" and not head_done:
            prev = add(values.get("head") or "flatten", {}, [prev])
            head_done = True
        attrs = {k: v for k, v in st.items() if k not in ("op", "residual") and v is not None}
        node = add(op, attrs, [prev])
        if st.get("residual"):
            node = add("add", {}, [prev, node])
        prev = node
    if not head_done:
        prev = add(values.get("head") or "flatten", {}, [prev])
    prev = add("linear", {"role": "classifier"}, [prev])
    add("output", {}, [prev])
    return {"nodes": nodes, "edges": edges}
