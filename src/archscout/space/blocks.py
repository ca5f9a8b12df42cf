"""The nn.Module classes that macro networks are made of: conv and fully connected blocks, heads, the network.

:func:`~archscout.space.macro.build_macro` turns an architecture's stages into these blocks
and stacks them in a :class:`MacroNet`; anything else that makes a network of the macro
spaces (a weight-sharing supernet extracting a sub-network, say) uses the same classes, so
the two give the same module names, parameters and ``state_dict`` keys.

A :class:`ConvBlock` is ``conv -> norm -> act -> dropout -> pool`` plus an optional shortcut
added to its output; its ``conv`` is a plain convolution (op ``conv``) or a
:class:`SeparableConv` (op ``dwconv``). An :class:`FCBlock` is ``linear -> norm -> act ->
dropout`` plus an optional shortcut. The head turns the feature map into a vector: a
:class:`GlobalPool` (``gap``, ``max``) or torch's ``nn.Flatten`` (``flatten``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from ..errors import ArchscoutError
from .operators import CONV_OPS

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "elu": nn.ELU}
NORMS = ("none", "batch", "layer")
DOWNSAMPLES = ("none", "stride2", "maxpool", "avgpool")




def activation(name: str) -> nn.Module:
    """A new activation module: one of ``ACTIVATIONS``."""
    if name not in ACTIVATIONS:
        raise ArchscoutError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check(kind: str, value: str, known: tuple) -> None:
    if value not in known:
        raise ArchscoutError(f"unknown {kind} {value!r}; known: {', '.join(known)}")


def _conv_class(dims: int) -> type[nn.Module]:
    if dims not in (1, 2):
        raise ArchscoutError(f"convolutions here are 1-D or 2-D, not {dims}-D")
    return nn.Conv1d if dims == 1 else nn.Conv2d


def _pool(downsample: str, dims: int) -> nn.Module:
    """The 2x pooling of a ``maxpool`` / ``avgpool`` downsampling."""
    pools = {"maxpool": (nn.MaxPool1d, nn.MaxPool2d), "avgpool": (nn.AvgPool1d, nn.AvgPool2d)}
    return pools[downsample][dims - 1](2)


class SeparableConv(nn.Sequential):
    """A depthwise-separable convolution (op ``dwconv``): a ``kernel_size`` depthwise convolution without bias,
    then a 1x1 pointwise convolution from ``in_channels`` to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dims: int, *, stride: int = 1,
                 padding: int = 0, dilation: int = 1, bias: bool = True):
        conv = _conv_class(dims)
        super().__init__(
            conv(in_channels, in_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                 groups=in_channels, bias=False),
            conv(in_channels, out_channels, 1, bias=bias))


class ConvBlock(nn.Module):
    """One convolutional stage over ``dims``-D feature maps (1: ``(C, L)``, 2: ``(C, H, W)``).

    ``op``: ``conv`` or ``dwconv`` (a :class:`SeparableConv`); the convolution keeps the size
    ("same" padding) unless ``downsample`` is ``stride2``; ``maxpool`` / ``avgpool`` halve it
    after the dropout. ``norm``: ``none`` (the convolution then has a bias), ``batch`` or
    ``layer`` (GroupNorm with one group). ``residual`` adds a shortcut: the identity, or the
    same pooling and/or a 1x1 convolution where the shape changes. ``forward`` reads ``residual`` at
    every call, so setting it to False on a built block drops the shortcut (the Zen-score proxy scores
    networks without their residual links this way, on a copy).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dims: int, *, op: str = "conv",
                 dilation: int = 1, downsample: str = "none", norm: str = "none", act: str = "relu",
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        _check("op", op, CONV_OPS)
        _check("downsample", downsample, DOWNSAMPLES)
        _check("norm", norm, NORMS)
        conv = _conv_class(dims)
        stride = 2 if downsample == "stride2" else 1
        padding = dilation * (kernel_size - 1) // 2
        bias = norm == "none"  # a norm's shift makes a bias redundant
        self.conv: nn.Module
        if op == "dwconv":
            self.conv = SeparableConv(in_channels, out_channels, kernel_size, dims, stride=stride, padding=padding,
                                      dilation=dilation, bias=bias)
        else:
            self.conv = conv(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                             dilation=dilation, bias=bias)
        self.norm: nn.Module
        if norm == "batch":
            self.norm = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(out_channels)
        elif norm == "layer":
            self.norm = nn.GroupNorm(1, out_channels)
        else:
            self.norm = nn.Identity()
        self.act = activation(act)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.pool = _pool(downsample, dims) if downsample in ("maxpool", "avgpool") else nn.Identity()
        self.downsample = downsample
        self.residual = bool(residual)
        if self.residual:
            # a plain Sequential, empty for the identity: its repr keys latency-table entries
            skip: list[nn.Module] = []
            if downsample in ("maxpool", "avgpool"):
                skip.append(_pool(downsample, dims))
            if in_channels != out_channels or downsample == "stride2":
                skip.append(conv(in_channels, out_channels, 1, stride=stride, bias=False))
            self.skip = nn.Sequential(*skip)

    def output_size(self, size: int) -> int:
        """The length of one spatial dimension of the output for an input dimension of ``size``."""
        if self.downsample == "stride2":
            return math.ceil(size / 2)
        return size if self.downsample == "none" else size // 2

    def forward(self, x):
        y = self.pool(self.drop(self.act(self.norm(self.conv(x)))))
        return y + self.skip(x) if self.residual else y


class FCBlock(nn.Module):
    """One fully connected stage: linear, ``norm`` (``none``, ``batch``, ``layer``), activation, dropout;
    ``residual`` adds the input (through a linear projection without bias when the width changes). As in
    :class:`ConvBlock`, setting ``residual`` to False on a built block drops the shortcut."""

    def __init__(self, in_features: int, out_features: int, *, norm: str = "none", act: str = "relu",
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        _check("norm", norm, NORMS)
        self.fc = nn.Linear(in_features, out_features)
        self.norm: nn.Module
        if norm == "batch":
            self.norm = nn.BatchNorm1d(out_features)
        elif norm == "layer":
            self.norm = nn.LayerNorm(out_features)
        else:
            self.norm = nn.Identity()
        self.act = activation(act)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.residual = bool(residual)
        if self.residual:
            self.skip = (nn.Identity() if in_features == out_features
                         else nn.Linear(in_features, out_features, bias=False))

    def forward(self, x):
        y = self.drop(self.act(self.norm(self.fc(x))))
        return y + self.skip(x) if self.residual else y


class GlobalPool(nn.Sequential):
    """The ``gap`` (average) or ``max`` head: pools each channel of a ``dims``-D feature map to one value."""

    def __init__(self, kind: str, dims: int):
        _check("head", kind, ("gap", "max"))
        if dims not in (1, 2):
            raise ArchscoutError(f"the {kind} head pools 1-D or 2-D feature maps, not {dims}-D")
        pool = {"gap": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d),
                "max": (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)}[kind][dims - 1]
        super().__init__(pool(1), nn.Flatten())


class MacroNet(nn.Module):
    """Conv blocks, a head, fc blocks and a linear classifier, applied in that order.

    Inputs are reshaped to ``in_shape`` (plus the batch) first, so a 1-D space takes ``(L,)``
    as ``(1, L)``. The attribute names (``convs.J``, ``fcs.K``, ``classifier``) are the module
    names that quantization policies (:func:`~archscout.space.macro.macro_fp32_scopes`) and
    exported weights refer to.
    """

    def __init__(self, in_shape: Sequence[int], convs: Sequence[ConvBlock], head: nn.Module, fcs: Sequence[FCBlock],
                 classifier: nn.Linear):
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.convs = nn.Sequential(*convs)
        self.head = head
        self.fcs = nn.Sequential(*fcs)
        self.classifier = classifier

    def forward(self, x):
        x = x.reshape((x.shape[0],) + self.in_shape)
        return self.classifier(self.fcs(self.head(self.convs(x))))
