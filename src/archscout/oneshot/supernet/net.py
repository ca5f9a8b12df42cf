"""The weight-sharing conv supernet: one set of largest weights, any sub-network of its elastic space runs on them.

:class:`SuperNet` holds, per stage, the convolution of the largest width and kernel (input channels: the
previous stage's largest width), its batch norm, and one classifier over the largest width. A
sub-network (an architecture of :meth:`ElasticSpec.space`) runs on slices of them: stage ``i`` with width
``w`` and kernel ``k`` uses ``weight[:w, :w_prev, centre k taps]`` and the first ``w`` entries of the
batch norm; the classifier reads the first ``w_last`` columns. :meth:`SuperNet.set_active` chooses the
sub-network ``forward`` runs; :meth:`SuperNet.extract` copies its slices into the stand-alone
:class:`~archscout.space.blocks.MacroNet` the base space's builder makes of the same architecture, so the
two compute the same function (tested; in a ``-quant`` space, for fp32 policies: an INT8 stage's weights are
fake-quantized in the supernet (weights and input activations, see :func:`fake_quant` and
:func:`fake_quant_activation`), and quantized for real when the extracted network is) and the extracted one trains, quantizes and exports like any model.

Batch norm: in training mode every sub-network normalises with its own batch statistics, and the shared
running statistics are updated as a by-product (a slice of them); they are not trusted for scoring.
:func:`recalibrate` re-estimates an extracted sub-network's statistics on training batches before it
is scored (as OFA and BigNAS do).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ArchscoutError
from ...space.blocks import MacroNet
from ...space.macro import build_macro, lift_shape
from ...space.recipe import without_recipe
from .elastic import ElasticSpec


def _centre(weight: torch.Tensor, kernel: int, dims: int) -> torch.Tensor:
    """The centre ``kernel`` taps (per spatial dimension) of a convolution weight."""
    full = weight.shape[-1]
    start = (full - kernel) // 2
    if dims == 1:
        return weight[..., start:start + kernel]
    return weight[..., start:start + kernel, start:start + kernel]


def fake_quant(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` rounded to 8-bit symmetric per-output-channel levels, with a straight-through gradient."""
    scale = weight.detach().abs().flatten(1).amax(1).clamp_min(1e-8) / 127
    scale = scale.reshape((-1,) + (1,) * (weight.dim() - 1))
    q = (weight / scale).round().clamp(-127, 127) * scale
    return weight + (q - weight).detach()


def fake_quant_activation(x: torch.Tensor) -> torch.Tensor:
    """``x`` rounded to 8-bit asymmetric per-tensor levels over its own range, with a straight-through gradient
    (static quantization fixes the range from calibration data; in training the batch's range stands in)."""
    lo, hi = x.detach().amin().clamp(max=0.0), x.detach().amax().clamp(min=0.0)
    scale = ((hi - lo) / 255).clamp_min(1e-8)
    zero = torch.round(-lo / scale)
    q = (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale
    return x + (q - x).detach()


class SuperNet(nn.Module):
    """The supernet of an :class:`ElasticSpec` for inputs of ``input_shape`` and ``num_classes`` classes."""

    def __init__(self, spec: ElasticSpec, input_shape: tuple, num_classes: int):
        super().__init__()
        self.spec = spec
        self.input_shape = tuple(int(s) for s in input_shape)
        self.in_shape = lift_shape(self.input_shape, spec.dims)
        self.num_classes = int(num_classes)
        conv = nn.Conv1d if spec.dims == 1 else nn.Conv2d
        bn = nn.BatchNorm1d if spec.dims == 1 else nn.BatchNorm2d
        wide, k = spec.widths[-1], spec.kernels[-1]
        self.convs = nn.ModuleList(conv(self.in_shape[0] if i == 0 else wide, wide, k, padding=k // 2, bias=False)
                                   for i in range(spec.max_depth))
        self.norms = nn.ModuleList(bn(wide) for _ in range(spec.max_depth))
        self.classifier = nn.Linear(wide, self.num_classes)
        self._active: dict = spec.largest()

    def _conv(self, i: int) -> nn.Conv1d | nn.Conv2d:
        return cast("nn.Conv1d | nn.Conv2d", self.convs[i])

    def _norm(self, i: int) -> nn.modules.batchnorm._BatchNorm:
        return cast(nn.modules.batchnorm._BatchNorm, self.norms[i])

    # -- the active sub-network ----------------------------------------------------------------------------
    def check(self, values: dict) -> None:
        reason = self.spec.check(values)
        if reason is not None:
            raise ArchscoutError(f"this architecture is not a sub-network of the supernet ({self.spec.name}): "
                                 f"{reason}")

    def set_active(self, values: dict) -> None:
        """Run ``values`` (an architecture's values in the elastic space) from now on."""
        self.check(values)
        self._active = values

    @property
    def active(self) -> dict:
        return self._active

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec, dims = self.spec, self.spec.dims
        x = x.reshape((x.shape[0],) + self.in_shape)
        conv_fn = F.conv1d if dims == 1 else F.conv2d
        pools: dict[str, Callable] = {"maxpool": F.max_pool1d if dims == 1 else F.max_pool2d,
                                      "avgpool": F.avg_pool1d if dims == 1 else F.avg_pool2d}
        pool = pools.get(spec.downsample)
        acts: dict[str, Callable] = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}
        act = acts[spec.act]
        c_in = self.in_shape[0]
        for i, st in enumerate(self._active["stages"]):
            w, k = int(st["width"]), int(st["kernel"])
            room = min(x.shape[2:]) >= 2  # the builder stops downsampling where nothing is left
            stride = 2 if spec.downsample == "stride2" and room else 1
            weight = _centre(self._conv(i).weight[:w, :c_in], k, dims)
            if self.spec.quantization and st.get("precision") == "int8":
                weight, x = fake_quant(weight), fake_quant_activation(x)
            x = conv_fn(x, weight, None, stride=stride, padding=k // 2)
            norm = self._norm(i)
            mean, var = cast(torch.Tensor, norm.running_mean), cast(torch.Tensor, norm.running_var)
            x = F.batch_norm(x, mean[:w], var[:w], norm.weight[:w], norm.bias[:w],
                             training=self.training, momentum=norm.momentum or 0.1, eps=norm.eps)
            x = act(x)
            if pool is not None and room:
                x = pool(x, 2)
            c_in = w
        x = x.flatten(2).mean(2) if spec.head == "gap" else x.flatten(2).amax(2)
        weight = self.classifier.weight[:, :c_in]
        if self.spec.quantization and self._active.get("classifier_precision") == "int8":
            weight, x = fake_quant(weight), fake_quant_activation(x)
        return F.linear(x, weight, self.classifier.bias)

    # -- extraction ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def extract(self, values: dict | None = None) -> MacroNet:
        """The stand-alone network of ``values`` (default: the active sub-network) with the shared weights."""
        values = self._active if values is None else values
        self.check(values)
        net = build_macro(without_recipe(values), self.input_shape, self.num_classes, dims=self.spec.dims)
        c_in = self.in_shape[0]
        for i, (st, block) in enumerate(zip(values["stages"], net.convs)):
            w, k = int(st["width"]), int(st["kernel"])
            block.conv.weight.copy_(_centre(self._conv(i).weight[:w, :c_in], k, self.spec.dims))
            src = self._norm(i)
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(block.norm, name).copy_(getattr(src, name)[:w])
            block.norm.num_batches_tracked.copy_(src.num_batches_tracked)
            c_in = w
        net.classifier.weight.copy_(self.classifier.weight[:, :c_in])
        net.classifier.bias.copy_(self.classifier.bias)
        return net.train(self.training)


@torch.no_grad()
def recalibrate(net: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate every batch norm's running statistics of ``net`` on ``batches`` of inputs (a cumulative
    average over them, as OFA's ``set_running_statistics``); returns the samples seen. ``net`` is left in
    eval mode."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative moving average: every batch counts the same
    net.train()
    seen = 0
    for x in batches:
        net(x)
        seen += int(x.shape[0])
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    net.eval()
    if norms and not seen:
        raise ArchscoutError("batch-norm recalibration got no batches")
    return seen
