"""The nn.Module classes of the ``cell`` space: edge operations, the cell, reduction blocks, the network.

Module-level, so a differentiable method mixing operations on an edge builds from the same classes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .operators import CELL_ENDS as ENDS
from .operators import CELL_OPS as OPS


def _conv(dims: int):
    return nn.Conv1d if dims == 1 else nn.Conv2d


def _bn(dims: int):
    return nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d


class ReLUConvBN(nn.Sequential):
    """ReLU, a ``kernel``-tap convolution ("same" padding, no bias), batch norm: NAS-Bench-201's ``nor_conv``."""

    def __init__(self, channels: int, kernel: int, dims: int):
        super().__init__(nn.ReLU(), _conv(dims)(channels, channels, kernel, padding=kernel // 2, bias=False),
                         _bn(dims)(channels))


class Zero(nn.Module):
    """The ``none`` operation: zeros of the input's shape."""

    def forward(self, x):
        return x.mul(0.0)


def edge_op(op: str, channels: int, dims: int) -> nn.Module:
    """A new module for one edge's operation (``OPS``)."""
    if op == "none":
        return Zero()
    if op == "skip":
        return nn.Identity()
    if op == "conv1x1":
        return ReLUConvBN(channels, 1, dims)
    if op == "conv3x3":
        return ReLUConvBN(channels, 3, dims)
    if op == "avgpool3x3":
        pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
        return pool(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown cell operation {op!r}; known: {', '.join(OPS)}")


class Cell(nn.Module):
    """One cell: node j sums its edges' operations applied to nodes i < j; returns node 3."""

    def __init__(self, ops: Sequence[str], channels: int, dims: int):
        super().__init__()
        self.edges = nn.ModuleList(edge_op(op, channels, dims) for op in ops)

    def forward(self, x):
        nodes = [x]
        for j in (1, 2, 3):
            total = None
            for k, (to, frm) in enumerate(ENDS):
                if to == j:
                    y = self.edges[k](nodes[frm])
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class Reduction(nn.Module):
    """A ResNet basic block with stride 2 doubling the channels (NAS-Bench-201's reduction cell)."""

    def __init__(self, c_in: int, c_out: int, dims: int):
        super().__init__()
        conv, bn = _conv(dims), _bn(dims)
        self.a = nn.Sequential(nn.ReLU(), conv(c_in, c_out, 3, stride=2, padding=1, bias=False), bn(c_out))
        self.b = nn.Sequential(nn.ReLU(), conv(c_out, c_out, 3, padding=1, bias=False), bn(c_out))
        pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
        self.skip = nn.Sequential(pool(2, stride=2, ceil_mode=True), conv(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.skip(x)


def skeleton(in_shape: tuple, num_classes: int, channels: int, stages: int, cells: int, make_cell):
    """The macro skeleton around the cells: stem (conv 3, BN), ``stages`` stages of ``cells`` cells made by
    ``make_cell(channels, dims)`` with a reduction (channels doubled) between stages, the tail (BN, ReLU) and the
    classifier. Returns (stem, body modules, tail, classifier); the discrete network and the search network share it."""
    dims = len(in_shape) - 1
    conv, bn = _conv(dims), _bn(dims)
    stem = nn.Sequential(conv(in_shape[0], channels, 3, padding=1, bias=False), bn(channels))
    body: list[nn.Module] = []
    c = channels
    for s in range(stages):
        if s > 0:
            body.append(Reduction(c, 2 * c, dims))
            c *= 2
        body += [make_cell(c, dims) for _ in range(cells)]
    return stem, body, nn.Sequential(bn(c), nn.ReLU()), nn.Linear(c, num_classes)


class CellNetwork(nn.Module):
    """Stem, ``stages`` stages of ``cells`` cells with a reduction between stages, then BN, ReLU, GAP, linear."""

    def __init__(self, in_shape: tuple, ops: Sequence[str], num_classes: int, channels: int = 16, stages: int = 3,
                 cells: int = 1):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.stem, body, self.tail, self.classifier = skeleton(
            self.in_shape, num_classes, channels, stages, cells, lambda c, dims: Cell(ops, c, dims))
        self.body = nn.Sequential(*body)

    def forward(self, x):
        x = x.reshape((x.shape[0],) + self.in_shape)
        x = self.tail(self.body(self.stem(x)))
        return self.classifier(torch.flatten(x, 2).mean(2))
