"""The macro-network builder: a stack of conv / dwconv / fc stages and a head, as an nn.Module.

A stage is a mapping with ``op`` (conv, dwconv, fc; default fc), ``width`` and, for
convolutions, ``kernel``, ``dilation`` and ``downsample`` (none, stride2, maxpool, avgpool);
any stage may carry ``residual``, ``norm`` (none, batch, layer), ``act`` and ``dropout``.
``head`` (gap, max, flatten) turns the feature map into a vector before the fc stages. The
same builder serves 1-D signals (C, L), images (C, H, W) and tabular vectors (F,).
"""
from __future__ import annotations

import math
from typing import Any

from ..errors import ArchscoutError

CONV_OPS = ("conv", "dwconv")
_SHORT_DOWN = {"stride2": "s2", "maxpool": "mp", "avgpool": "ap"}
_SHORT_NORM = {"batch": "bn", "layer": "ln"}


def _ops(values: dict) -> list[dict]:
    return list(values.get("stages", []))


def _lift(input_shape: tuple, dims: int | None) -> tuple:
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


def build_macro(values: dict, input_shape: tuple, num_classes: int, dims: int | None = None):
    """Build the network; ``dims`` (1 or 2) is the convolution dimensionality the space expects."""
    from torch import nn

    shape = _lift(input_shape, dims)
    spatial = len(shape) - 1
    stages = _ops(values)
    if any(s.get("op", "fc") in CONV_OPS for s in stages) and spatial not in (1, 2):
        raise ArchscoutError(f"convolutional stages need (channels, length) or (channels, height, width) "
                             f"inputs; the task's inputs are shaped {tuple(input_shape)}")

    Conv = {1: nn.Conv1d, 2: nn.Conv2d}.get(spatial)
    BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}.get(spatial)
    Pool = {("maxpool", 1): nn.MaxPool1d, ("maxpool", 2): nn.MaxPool2d,
            ("avgpool", 1): nn.AvgPool1d, ("avgpool", 2): nn.AvgPool2d}
    acts = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "elu": nn.ELU}

    def act(name: str | None):
        if name is None:
            return nn.ReLU()
        if name not in acts:
            raise ArchscoutError(f"unknown activation {name!r}; known: {sorted(acts)}")
        return acts[name]()

    class ConvStage(nn.Module):
        def __init__(self, c_in: int, st: dict, size: int):
            super().__init__()
            c_out, k = int(st["width"]), int(st.get("kernel") or 3)
            dil = int(st.get("dilation") or 1)
            down = st.get("downsample") or "none"
            if size < 2:  # nothing left to downsample
                down = "none"
            stride = 2 if down == "stride2" else 1
            pad = dil * (k - 1) // 2
            norm = st.get("norm") or "none"
            bias = norm == "none"
            if st.get("op") == "dwconv":
                self.conv = nn.Sequential(
                    Conv(c_in, c_in, k, stride=stride, padding=pad, dilation=dil, groups=c_in, bias=False),
                    Conv(c_in, c_out, 1, bias=bias))
            else:
                self.conv = Conv(c_in, c_out, k, stride=stride, padding=pad, dilation=dil, bias=bias)
            self.norm = {"batch": lambda: BN(c_out), "layer": lambda: nn.GroupNorm(1, c_out),
                         "none": nn.Identity}[norm]()
            self.act = act(st.get("act"))
            self.drop = nn.Dropout(float(st["dropout"])) if st.get("dropout") else nn.Identity()
            self.pool = Pool[(down, spatial)](2) if down in ("maxpool", "avgpool") else nn.Identity()
            self.residual = bool(st.get("residual"))
            if self.residual:
                skip: list[nn.Module] = []
                if down in ("maxpool", "avgpool"):
                    skip.append(Pool[(down, spatial)](2))
                if c_in != c_out or down == "stride2":
                    skip.append(Conv(c_in, c_out, 1, stride=stride, bias=False))
                self.skip = nn.Sequential(*skip)
            self.out_size = math.ceil(size / 2) if down == "stride2" else (size // 2 if down != "none" else size)

        def forward(self, x):
            y = self.pool(self.drop(self.act(self.norm(self.conv(x)))))
            return y + self.skip(x) if self.residual else y

    class FCStage(nn.Module):
        def __init__(self, n_in: int, st: dict):
            super().__init__()
            width = int(st["width"])
            self.fc = nn.Linear(n_in, width)
            norm = st.get("norm") or "none"
            self.norm = {"batch": lambda: nn.BatchNorm1d(width), "layer": lambda: nn.LayerNorm(width),
                         "none": nn.Identity}[norm]()
            self.act = act(st.get("act"))
            self.drop = nn.Dropout(float(st["dropout"])) if st.get("dropout") else nn.Identity()
            self.residual = bool(st.get("residual"))
            if self.residual:
                self.skip = nn.Identity() if n_in == width else nn.Linear(n_in, width, bias=False)

        def forward(self, x):
            y = self.drop(self.act(self.norm(self.fc(x))))
            return y + self.skip(x) if self.residual else y

    class MacroNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_shape = shape
            convs, fcs = [], []
            channels, sizes = shape[0], list(shape[1:])
            head = values.get("head") or "flatten"
            flat = None
            for st in stages:
                op = st.get("op", "fc")
                if op in CONV_OPS:
                    if flat is not None:
                        raise ArchscoutError("a convolutional stage cannot follow a fully connected one")
                    stage = ConvStage(channels, st, min(sizes))
                    sizes = [stage.out_size if s >= 2 else s for s in sizes]
                    channels = int(st["width"])
                    convs.append(stage)
                elif op == "fc":
                    if flat is None:
                        flat = channels * math.prod(sizes) if head == "flatten" or not sizes else channels
                    fcs.append(FCStage(flat, st))
                    flat = int(st["width"])
                else:
                    raise ArchscoutError(f"unknown op {op!r}; the macro builder knows conv, dwconv, fc")
            if flat is None:
                flat = channels * math.prod(sizes) if head == "flatten" or not sizes else channels
            self.convs = nn.Sequential(*convs)
            self.head_kind = head if sizes else "flatten"
            if self.head_kind == "gap":
                self.head = nn.Sequential({1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}[spatial](1), nn.Flatten())
            elif self.head_kind == "max":
                self.head = nn.Sequential({1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d}[spatial](1), nn.Flatten())
            elif self.head_kind == "flatten":
                self.head = nn.Flatten()
            else:
                raise ArchscoutError(f"unknown head {head!r}; known: gap, max, flatten")
            self.fcs = nn.Sequential(*fcs)
            self.classifier = nn.Linear(flat, num_classes)

        def forward(self, x):
            x = x.reshape((x.shape[0],) + self.in_shape)
            return self.classifier(self.fcs(self.head(self.convs(x))))

    return MacroNet()


def macro_fp32_scopes(values: dict) -> list[str]:
    """The modules that an architecture's quantization policy keeps in fp32: stages whose ``precision``
    is ``fp32`` (``convs.J`` / ``fcs.K``, numbered as the builder numbers them) and the ``classifier``
    when ``classifier_precision`` is ``fp32``. Without precision choices nothing is kept in fp32."""
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
