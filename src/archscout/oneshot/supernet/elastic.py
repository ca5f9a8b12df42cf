"""The elastic space of a conv supernet, and the supernet whose weights all its sub-networks share.

An :class:`ElasticSpec` says which choices of a convolutional macro space are *elastic* (vary between
sub-networks that share weights) and which are *fixed* (one value for the whole supernet):

* elastic: the depth (how many stages, the first ``d`` of the supernet's ``max_depth``), each stage's
  width (its first ``k`` output channels of the largest width) and kernel size (the centre ``k`` taps of
  the largest kernel), and, in a ``-quant`` space, each stage's and the classifier's precision (INT8 or
  fp32: a policy, not a weight, so every policy shares every weight);
* fixed: the op (``conv``), dilation 1, the downsampling (one kind for every stage), the normalisation
  (batch norm), the activation, no residual, no dropout, the head (``gap`` or ``max``: the classifier
  then reads the last stage's channels, whatever the depth).

The kernel transform is the simple one: a smaller kernel is the centre of the largest (Once-for-All's
learned 25x25 / 9x9 transformation matrices are not used). Widths are the first ``k`` channels in the
supernet's order (no channel re-sorting by importance).

:meth:`ElasticSpec.space` is the elastic space as a :class:`~archscout.space.Space`, searchable by every
strategy; its architectures build (with the base space's builder) into the same
:class:`~archscout.space.blocks.MacroNet` a stand-alone model is, and :meth:`SuperNet.extract` returns such a
module carrying the shared weights. :meth:`ElasticSpec.check` names the first reason an architecture (of
the base space or any other) is outside the elastic space.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from ...errors import ArchscoutError
from ...space import Block, Choice, Repeat, Space
from ...space.macro import build_macro

DOWNSAMPLES = ("maxpool", "avgpool", "stride2", "none")
HEADS = ("gap", "max")
ACTS = ("relu", "gelu", "silu")
PRECISIONS = ("int8", "fp32")


@dataclass(frozen=True)
class ElasticSpec:
    """The elastic choices of a conv supernet and the values it fixes (see the module's docstring)."""

    base: str  # the space it is elastic within: conv1d, conv2d, conv1d-quant, conv2d-quant
    dims: int
    widths: tuple[int, ...]
    kernels: tuple[int, ...]
    min_depth: int = 1
    max_depth: int = 5
    downsample: str = "maxpool"
    act: str = "relu"
    head: str = "gap"
    quantization: bool = False
    fixed: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if self.dims not in (1, 2):
            raise ArchscoutError(f"an elastic conv supernet is 1-D or 2-D, not {self.dims}-D")
        for name, values in (("widths", self.widths), ("kernels", self.kernels)):
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
                raise ArchscoutError(f"elastic {name} must be positive whole numbers, got {list(values)!r}")
            if list(values) != sorted(set(values)):
                raise ArchscoutError(f"elastic {name} must be increasing, without repeats, got {list(values)!r}")
        if any(k % 2 == 0 for k in self.kernels):
            raise ArchscoutError(f"elastic kernels must be odd (a smaller kernel is the centre of the largest), "
                                 f"got {list(self.kernels)!r}")
        if not 1 <= self.min_depth <= self.max_depth:
            raise ArchscoutError(f"elastic depth needs 1 <= min_depth <= max_depth, got {self.min_depth}.."
                                 f"{self.max_depth}")
        for name, value, known in (("downsample", self.downsample, DOWNSAMPLES), ("head", self.head, HEADS),
                                   ("act", self.act, ACTS)):
            if value not in known:
                raise ArchscoutError(f"an elastic supernet's {name} is one of {', '.join(known)}, got {value!r}")
        object.__setattr__(self, "fixed", {"op": "conv", "dilation": 1, "downsample": self.downsample,
                                           "residual": False, "norm": "batch", "act": self.act})

    # -- the space -----------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.base}-elastic"

    def space(self) -> Space:
        """The elastic space: what the supernet's sub-networks can be, as a searchable space."""
        stage: dict[str, Any] = {k: Choice([v]) for k, v in self.fixed.items() if k not in ("width", "kernel")}
        stage["width"] = Choice(list(self.widths))
        stage["kernel"] = Choice(list(self.kernels))
        top: dict[str, Any] = {"head": Choice([self.head])}
        if self.quantization:
            stage["precision"] = Choice(list(PRECISIONS))
            top["classifier_precision"] = Choice(list(PRECISIONS))
        return Space(self.name, description=self.describe(), builder=partial(build_macro, dims=self.dims),
                     stages=Repeat(self.min_depth, self.max_depth, Block(**stage)), **top)

    def describe(self) -> str:
        fixed = ", ".join(f"{k} {v}" for k, v in self.fixed.items())
        return (f"elastic supernet of {self.base}: depth {self.min_depth}-{self.max_depth}, widths "
                f"{'/'.join(map(str, self.widths))}, kernels {'/'.join(map(str, self.kernels))}"
                f"{', INT8/fp32 per layer' if self.quantization else ''}; fixed: {fixed}, head {self.head}")

    def check(self, values: dict) -> str | None:
        """Why an architecture's values are outside the elastic space, or None if they are inside."""
        if not isinstance(values, dict) or not isinstance(values.get("stages"), list):
            return "it has no list of stages"
        stages = values["stages"]
        if not self.min_depth <= len(stages) <= self.max_depth:
            return f"it has {len(stages)} stages; the supernet has {self.min_depth} to {self.max_depth}"
        for i, st in enumerate(stages):
            if not isinstance(st, dict):
                return f"stage {i} is not a mapping"
            for key, want in self.fixed.items():
                got = st.get(key, _DEFAULTS.get(key))
                if got != want:
                    return f"stage {i} has {key} {got!r}; the supernet's is fixed at {want!r}"
            if st.get("dropout"):
                return f"stage {i} has dropout {st['dropout']!r}; the supernet's stages have none"
            if st.get("width") not in self.widths:
                return (f"stage {i} has width {st.get('width')!r}; the supernet's widths are "
                        f"{', '.join(map(str, self.widths))}")
            if st.get("kernel") not in self.kernels:
                return (f"stage {i} has kernel {st.get('kernel')!r}; the supernet's kernels are "
                        f"{', '.join(map(str, self.kernels))}")
            if self.quantization and st.get("precision") not in PRECISIONS:
                return f"stage {i} has precision {st.get('precision')!r}; the supernet's are int8, fp32"
            if not self.quantization and st.get("precision") not in (None, "fp32"):
                return f"stage {i} has precision {st.get('precision')!r}; this supernet is not quantization-aware"
        if values.get("head", self.head) != self.head:
            return f"its head is {values.get('head')!r}; the supernet's is {self.head!r}"
        extra = set(values) - {"stages", "head", "classifier_precision", "recipe"}
        if extra:
            return f"it chooses {', '.join(sorted(extra))}, which the supernet does not have"
        return None

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("fixed")
        out["widths"], out["kernels"] = list(self.widths), list(self.kernels)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ElasticSpec:
        data = dict(data)
        data["widths"], data["kernels"] = tuple(data["widths"]), tuple(data["kernels"])
        return cls(**data)

    # -- the named sub-networks ----------------------------------------------------------------------------
    def largest(self) -> dict:
        return self._uniform(self.max_depth, self.widths[-1], self.kernels[-1])

    def smallest(self) -> dict:
        return self._uniform(self.min_depth, self.widths[0], self.kernels[0])

    def _uniform(self, depth: int, width: int, kernel: int, precision: str = "fp32") -> dict:
        stage = {**self.fixed, "width": width, "kernel": kernel}
        if self.quantization:
            stage["precision"] = precision
        values: dict[str, Any] = {"stages": [dict(stage) for _ in range(depth)], "head": self.head}
        if self.quantization:
            values["classifier_precision"] = precision
        return values


_DEFAULTS = {"op": "fc", "dilation": 1, "downsample": "none", "residual": False, "norm": "none", "act": "relu"}

# the elastic version of each built-in conv space: its widths, kernels and depth; the rest fixed
BUILTIN = {
    "conv1d": dict(dims=1, widths=(8, 16, 24, 32, 48, 64, 96, 128), kernels=(3, 5, 7, 9), max_depth=5),
    "conv2d": dict(dims=2, widths=(8, 16, 32, 48, 64, 96), kernels=(1, 3, 5), max_depth=4),
}


def elastic_spec(space: str, **overrides: Any) -> ElasticSpec:
    """The elastic spec of a built-in conv space (``conv1d``, ``conv2d``, their ``-quant`` variants)."""
    quant = space.endswith("-quant")
    base = space[:-len("-quant")] if quant else space
    if base not in BUILTIN:
        raise ArchscoutError(f"a supernet is built for the conv spaces ({', '.join(_names())}), not {space!r}")
    return ElasticSpec(base=space, quantization=quant, **{**BUILTIN[base], **overrides})


def _names() -> list[str]:
    return [n for b in BUILTIN for n in (b, f"{b}-quant")]


def sizes_after(spec: ElasticSpec, sizes: list[int], depth: int) -> list[list[int]]:
    """The spatial sizes each of ``depth`` stages outputs (downsampling stops where nothing is left, as the
    builder does)."""
    out = []
    for _ in range(depth):
        if spec.downsample != "none" and min(sizes) >= 2:
            sizes = [math.ceil(s / 2) if spec.downsample == "stride2" else s // 2 for s in sizes]
        out.append(list(sizes))
    return out
