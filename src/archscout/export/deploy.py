"""The trained network as it is deployed: with the task's preprocessing inside it.

A tabular task standardises its inputs with the training part's statistics, and a regression trains
on the standardised target; the network alone therefore expects standardised inputs and predicts
standardised values. :func:`deployable` wraps it so that it takes the raw inputs a user has and, for
a regression, answers in the target's own units. The wrapper is what ``archscout export`` writes in
every format (ONNX, TorchScript, state dict) and what ``archscout.load`` returns.
"""
from __future__ import annotations

import torch
from torch import nn

from ..tasks.base import Preprocessing

STANDARDISE_SCOPE = "standardise"  # module name of the input standardisation (kept in fp32 when quantized)


class Standardise(nn.Module):
    """``(x - mean) / std`` with per-feature ``mean`` and ``std`` shaped like one sample."""

    def __init__(self, mean, std, shape):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(shape))

    def forward(self, x):
        return (x - self.mean) / self.std


class Destandardise(nn.Module):
    """``z * std + mean``: a regression's standardised prediction back in the target's own units."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(float(std), dtype=torch.float32))

    def forward(self, z):
        return z * self.std + self.mean


class Deployed(nn.Module):
    """A trained network with its task's preprocessing: ``forward(raw inputs)`` standardises them
    (``standardise``; an identity when the task leaves inputs as they are), runs ``net`` and, for a
    regression, maps its output back to the target's units (``destandardise``). Its state dict is the
    network's under ``net.`` plus the statistics as buffers."""

    def __init__(self, net: nn.Module, preprocessing: Preprocessing, input_shape):
        super().__init__()
        p = preprocessing
        self.net = net
        self.standardise: nn.Module = (Standardise(p.input_mean, p.input_std, tuple(input_shape))
                                       if p.input_mean is not None else nn.Identity())
        self.destandardise: nn.Module = nn.Identity()
        if p.kind == "regression" and p.target_mean is not None and p.target_std is not None:
            self.destandardise = Destandardise(p.target_mean, p.target_std)

    def forward(self, x):
        return self.destandardise(self.net(self.standardise(x)))


def needs_wrapping(preprocessing: Preprocessing | None) -> bool:
    """Whether a network of a task with this preprocessing differs from its deployed model: its inputs are
    standardised, or it is a regression (trained on the standardised target)."""
    if preprocessing is None:
        return False
    return preprocessing.input_mean is not None or (
        preprocessing.kind == "regression" and preprocessing.target_mean is not None)


def deployable(net: nn.Module, preprocessing: Preprocessing | None, input_shape=None) -> nn.Module:
    """``net`` with the task's preprocessing inside it (a :class:`Deployed`, in the mode ``net`` is in),
    or ``net`` itself when there is nothing to do (inputs used as given and a classification: graph
    tasks, image tasks, tasks from PyTorch Datasets). ``input_shape``: one sample's shape (without the
    batch axis), needed to shape the input statistics; the flat statistics' own length by default."""
    if not needs_wrapping(preprocessing):
        return net
    assert preprocessing is not None
    if input_shape is None:
        input_shape = (len(preprocessing.input_mean),) if preprocessing.input_mean is not None else ()
    model = Deployed(net, preprocessing, input_shape)
    return model.train(net.training)


def buffer_bytes(model: nn.Module) -> int:
    """Bytes of the preprocessing statistics a :class:`Deployed` model adds to the network (0 otherwise)."""
    if not isinstance(model, Deployed):
        return 0
    return sum(b.numel() * b.element_size() for name, b in model.named_buffers() if not name.startswith("net."))
