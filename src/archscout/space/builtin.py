"""The built-in search spaces (conv1d, conv2d, mlp, gnn, gnn-proteins) and the registry that names them."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import cast

from ._choices import Block, Choice, Repeat
from ._space import Space
from .cell import cell
from .gnn import gnn, gnn_proteins
from .macro import build_macro
from .names import SPACES, find_space
from .recipe import with_recipe

CONV = ["conv", "dwconv"]


def fc_stages_last(values: dict) -> bool:
    """Fully connected stages come after every convolution; an all-fc network flattens its input."""
    ops = [s.get("op", "fc") for s in values["stages"]]
    first_fc = ops.index("fc") if "fc" in ops else len(ops)
    if any(op != "fc" for op in ops[first_fc:]):
        return False
    return first_fc > 0 or values.get("head") in (None, "flatten")


PRECISION = ["int8", "fp32"]
QUANT_NOTE = "; a quantization policy: each stage and the classifier run in INT8 or fp32"


def _policy(quantization: bool) -> dict:
    """The stage field of a quantization policy (which layers run in INT8 after post-training quantization)."""
    return {"precision": Choice(PRECISION)} if quantization else {}


def _classifier_policy(quantization: bool) -> dict:
    return {"classifier_precision": Choice(PRECISION)} if quantization else {}


def _conv_stage(widths: list[int], width_prior: int, kernels: list[int], kernel_prior: int, kernel_confidence: str,
                dilations: list[int], quantization: bool) -> Block:
    """One stage of the conv spaces, with the priors of docs/default-search.md (only what differs is an argument)."""
    return Block(
        op=Choice(["conv", "dwconv", "fc"], prior="conv", confidence="medium"),
        width=Choice(widths, prior=width_prior, confidence="low"),
        kernel=Choice(kernels, when={"op": CONV}, prior=kernel_prior, confidence=kernel_confidence),
        dilation=Choice(dilations, when={"op": CONV}, prior=1, confidence="medium"),
        downsample=Choice(["none", "stride2", "maxpool", "avgpool"], when={"op": CONV}, prior="none",
                          confidence="low"),
        residual=Choice([False, True], prior=True, confidence="low"),
        norm=Choice(["none", "batch", "layer"], prior="batch", confidence="medium"),
        act=Choice(["relu", "gelu", "silu"], prior="relu", confidence="low"),
        dropout=Choice([0.0, 0.1, 0.25], when={"op": ["fc"]}, prior=0.0, confidence="low"),
        **_policy(quantization),
    )


def conv1d(quantization: bool = False) -> Space:
    """Macro space for 1-D signals: 1-5 stages of conv, depthwise-separable conv or fc (``conv1d-quant``:
    with a per-layer INT8 / fp32 quantization policy)."""
    return Space(
        "conv1d-quant" if quantization else "conv1d",
        description="1-D signals: 1-5 stages (conv / dwconv / fc; width, kernel, dilation, "
                    "downsampling, residual, norm, activation), GAP / max / flatten head; "
                    "all-fc stages give MLPs" + (QUANT_NOTE if quantization else ""),
        stages=Repeat(1, 5, _conv_stage([8, 16, 24, 32, 48, 64, 96, 128], 64, [3, 5, 7, 9], 5, "low", [1, 2, 4],
                                        quantization), prior=3, confidence="low"),
        head=Choice(["gap", "max", "flatten"], prior="gap", confidence="medium"),
        **_classifier_policy(quantization),
        constraints=[fc_stages_last],
        builder=partial(build_macro, dims=1),
    )


def conv2d(quantization: bool = False) -> Space:
    """Macro space for small images: 1-4 stages of conv, depthwise-separable conv or fc (``conv2d-quant``:
    with a per-layer INT8 / fp32 quantization policy)."""
    return Space(
        "conv2d-quant" if quantization else "conv2d",
        description="small images: 1-4 stages (conv / dwconv / fc; width, kernel, dilation, "
                    "downsampling, residual, norm, activation), GAP / max / flatten head"
                    + (QUANT_NOTE if quantization else ""),
        stages=Repeat(1, 4, _conv_stage([8, 16, 32, 48, 64, 96], 32, [1, 3, 5], 3, "medium", [1, 2], quantization),
                      prior=3, confidence="low"),
        head=Choice(["gap", "max", "flatten"], prior="gap", confidence="medium"),
        **_classifier_policy(quantization),
        constraints=[fc_stages_last],
        builder=partial(build_macro, dims=2),
    )


def mlp(quantization: bool = False) -> Space:
    """Multilayer perceptrons for tabular data, down to a linear model (``mlp-quant``: with a per-layer INT8 / fp32
    policy)."""
    return Space(
        "mlp-quant" if quantization else "mlp",
        description="tabular data: 0-4 fully connected layers (width, activation, dropout, "
                    "normalization, skip connection); 0 layers is a linear model" + (QUANT_NOTE if quantization else ""),
        stages=Repeat(0, 4, Block(
            width=Choice([16, 32, 64, 128, 256], prior=128, confidence="low"),
            act=Choice(["relu", "gelu", "silu", "tanh"], prior="relu", confidence="low"),
            dropout=Choice([0.0, 0.1, 0.2, 0.3], prior=0.1, confidence="low"),
            norm=Choice(["none", "batch", "layer"], prior="none", confidence="low"),
            residual=Choice([False, True], prior=False, confidence="low"),
            **_policy(quantization),
        ), prior=2, confidence="low"),
        **_classifier_policy(quantization),
        builder=build_macro,
    )


for _name, _factory in (("conv1d", conv1d), ("conv2d", conv2d), ("mlp", mlp), ("gnn", gnn), ("cell", cell),
                        ("gnn-proteins", gnn_proteins), ("conv1d-quant", update_wrapper(partial(conv1d, True), conv1d)),
                        ("conv2d-quant", update_wrapper(partial(conv2d, True), conv2d)),
                        ("mlp-quant", update_wrapper(partial(mlp, True), mlp))):
    SPACES.register(_name, _factory)


def _with_recipe(factory: Callable[[], Space]) -> Callable[[], Space]:
    def make() -> Space:

        return with_recipe(factory())
    make.__doc__ = (factory.__doc__ or "").split("(")[0].strip() + ", with the training recipe searched too " \
        "(learning rate, weight decay, batch size, optimizer, schedule)"
    return make


for _name, _factory in (("conv1d-recipe", conv1d), ("conv2d-recipe", conv2d), ("mlp-recipe", mlp)):
    SPACES.register(_name, _with_recipe(_factory))


def get_space(name: str | Space) -> Space:
    """The built-in space of that name (a Space passes through); unknown names list the valid ones."""
    if isinstance(name, Space):
        return name
    space = find_space(name) if isinstance(name, str) else None
    if space is None:
        SPACES.canonical(str(name))  # the error with the close matches
    return cast(Space, space)  # not None: canonical raised for a name find_space does not know
