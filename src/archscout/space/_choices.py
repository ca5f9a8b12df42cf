"""The building blocks of a declarative search space: Choice, Integer, Block, Repeat.

A space is a tree: a Block maps field names to Choices or Repeats, a Repeat holds a
variable number of copies of one Block. A Choice may be conditional (``when=``) on the
values of earlier Choices in the same Block; an inactive Choice takes the value None in
the canonical form, so two architectures that differ only in decisions that have no
effect are the same architecture.

A Choice (or a Repeat's length) may carry a *prior*: the value a practitioner would try first, with a confidence
(``low``, ``medium``, ``high``), as NePS writes priors. :meth:`Block.sample` with ``prior=True`` draws from it (see
:func:`prior_weights`); every other sampler ignores it, and so does the space's fingerprint (a prior changes which
architectures come first, not which exist).
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import ArchscoutError

Scalar = (str, int, float, bool, type(None))
# NePS's confidences (neps.sampling.priors): the probability mass on the prior value of an unordered choice, and
# 1 - the standard deviation (on the value's index scaled to [0, 1]) of the normal around it for an ordered one
CONFIDENCE = {"low": 0.25, "medium": 0.5, "high": 0.75}


def prior_weights(n: int, prior: int, confidence: float, ordered: bool) -> list[float]:
    """The probability of each of ``n`` values under a prior on value ``prior`` (an index) with ``confidence``.

    An ordered choice (numbers, a Repeat's length) as NePS builds its priors: a normal centred on the prior's index
    scaled to [0, 1], standard deviation ``1 - confidence``, truncated to the values and discretised (NePS samples a
    continuous truncated normal and rounds; here each value gets the density at its own point, normalised). An
    unordered choice puts ``1/n + confidence · (1 - 1/n)`` on the prior value and spreads the rest evenly over the
    others; NePS puts ``confidence`` itself there, which for 2 or 3 values at low confidence (0.25) is less than
    uniform, so a prior would push away from its own value."""
    if n == 1:
        return [1.0]
    if not ordered:
        mass = 1 / n + confidence * (1 - 1 / n)
        return [mass if i == prior else (1 - mass) / (n - 1) for i in range(n)]
    sd = 1 - confidence
    dens = [math.exp(-0.5 * ((i - prior) / (n - 1) / sd) ** 2) for i in range(n)]
    total = sum(dens)
    return [d / total for d in dens]


def _check_prior(what: str, values: list, prior: Any, confidence: Any) -> tuple[int | None, str | None]:
    """The prior's index and its confidence's name (None, None without a prior)."""
    if prior is None:
        if confidence is not None:
            raise ArchscoutError(f"{what}: a confidence ({confidence!r}) needs a prior value")
        return None, None
    confidence = "medium" if confidence is None else confidence
    if confidence not in CONFIDENCE:
        raise ArchscoutError(f"{what}: confidence is one of {', '.join(CONFIDENCE)}, got {confidence!r}")
    prior = _normalise_scalar(prior)
    for i, v in enumerate(values):
        if v == prior and isinstance(v, bool) == isinstance(prior, bool):
            return i, confidence
    raise ArchscoutError(f"{what}: the prior {prior!r} is not one of {values!r}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _normalise_scalar(v: Any) -> Any:
    """Numpy scalars and integral floats compare equal to plain Python values."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class Choice:
    """One decision among a finite list of values.

    ``ordered`` (default: True when every value is a number) makes mutation and local
    search move to adjacent values. ``when={"op": ["conv", "dwconv"]}`` makes the choice
    active only when each named earlier field of the same block has one of the listed values.
    ``prior=VALUE, confidence="low" | "medium" (default) | "high"``: the value to try first (see the module).
    """

    def __init__(self, values: Sequence[Any], *, ordered: bool | None = None,
                 when: Mapping[str, Sequence[Any]] | None = None, prior: Any = None, confidence: str | None = None):
        values = [_normalise_scalar(v) for v in values]
        if not values:
            raise ArchscoutError("a Choice needs at least one value")
        for v in values:
            if not isinstance(v, Scalar) or v is None:
                raise ArchscoutError(f"Choice values must be str, int, float or bool, got {v!r}")
        if len(set(map(repr, values))) != len(values):
            raise ArchscoutError(f"Choice values must be distinct, got {values!r}")
        self.values = list(values)
        self.ordered = all(_is_number(v) for v in values) if ordered is None else bool(ordered)
        self.when = {k: [_normalise_scalar(x) for x in vs] for k, vs in (when or {}).items()}
        self.prior, self.confidence = _check_prior(f"Choice({self.values!r})", self.values, prior, confidence)

    def __repr__(self) -> str:
        extra = f", when={self.when!r}" if self.when else ""
        if self.prior is not None:
            extra += f", prior={self.values[self.prior]!r}, confidence={self.confidence!r}"
        return f"Choice({self.values!r}{extra})"

    def index(self, value: Any) -> int:
        value = _normalise_scalar(value)
        for i, v in enumerate(self.values):
            if v == value and isinstance(v, bool) == isinstance(value, bool):
                return i
        raise ArchscoutError(f"value {value!r} is not one of {self.values!r}")

    def is_active(self, values: Mapping[str, Any]) -> bool:
        """Whether this choice is a decision, given the values of the earlier fields of its block (``when``)."""
        return all(values.get(dep) in allowed for dep, allowed in self.when.items())

    def sample(self, rng: random.Random, prior: bool = False) -> Any:
        """A value drawn uniformly, or from the prior (``prior=True``, where the choice has one)."""
        if prior and self.prior is not None:
            weights = prior_weights(len(self.values), self.prior, CONFIDENCE[self.confidence or "medium"], self.ordered)
            return rng.choices(self.values, weights)[0]
        return self.values[rng.randrange(len(self.values))]

    def prior_value(self) -> Any:
        """The prior's value (None without a prior)."""
        return None if self.prior is None else self.values[self.prior]

    def alternatives(self, value: Any) -> list[Any]:
        """Every other value (categorical) or the adjacent values (ordered)."""
        i = self.index(value)
        if self.ordered:
            return [self.values[j] for j in (i - 1, i + 1) if 0 <= j < len(self.values)]
        return [v for j, v in enumerate(self.values) if j != i]

    def spec(self, priors: bool = True) -> dict:
        out: dict = {"type": "choice", "values": self.values, "ordered": self.ordered}
        if self.when:
            out["when"] = self.when
        if priors and self.prior is not None:
            out.update(prior=self.values[self.prior], confidence=self.confidence)
        return out


class Integer(Choice):
    """An integer in [low, high] (inclusive) with a step; an ordered Choice."""

    def __init__(self, low: int, high: int, step: int = 1, *, when=None, prior: int | None = None,
                 confidence: str | None = None):
        if high < low or step < 1:
            raise ArchscoutError(f"Integer needs low <= high and step >= 1, got {low}, {high}, {step}")
        super().__init__(list(range(low, high + 1, step)), ordered=True, when=when, prior=prior, confidence=confidence)


class Repeat:
    """Between ``min`` and ``max`` copies of a Block (for example the stages of a network); ``prior=N`` with a
    ``confidence``: the number of copies to try first (an ordered prior, see the module)."""

    def __init__(self, min: int, max: int, block: Block, *, prior: int | None = None, confidence: str | None = None):
        if not (0 <= min <= max) or max < 1:
            raise ArchscoutError(f"Repeat needs 0 <= min <= max and max >= 1, got {min}, {max}")
        if not isinstance(block, Block):
            raise ArchscoutError("Repeat(min, max, block) needs a Block")
        self.min, self.max, self.block = min, max, block
        self.prior, self.confidence = _check_prior(f"Repeat({min}, {max})", list(range(min, max + 1)), prior,
                                                   confidence)

    def __repr__(self) -> str:
        extra = "" if self.prior is None else f", prior={self.min + self.prior}, confidence={self.confidence!r}"
        return f"Repeat({self.min}, {self.max}, {self.block!r}{extra})"

    def length(self, rng: random.Random, prior: bool = False) -> int:
        """How many copies: uniform, or from the prior (``prior=True``, where it has one)."""
        if prior and self.prior is not None:
            n = self.max - self.min + 1
            weights = prior_weights(n, self.prior, CONFIDENCE[self.confidence or "medium"], True)
            return self.min + rng.choices(range(n), weights)[0]
        return rng.randint(self.min, self.max)

    def spec(self, priors: bool = True) -> dict:
        out = {"type": "repeat", "min": self.min, "max": self.max, "block": self.block.spec(priors)}
        if priors and self.prior is not None:
            out.update(prior=self.min + self.prior, confidence=self.confidence)
        return out


class Block:
    """A named group of fields (Choices, Repeats, nested Blocks) sampled together."""

    def __init__(self, **fields: Any):
        if not fields:
            raise ArchscoutError("a Block needs at least one field")
        seen: list[str] = []
        for name, node in fields.items():
            if not isinstance(node, (Choice, Repeat, Block)):
                raise ArchscoutError(f"field {name!r} must be a Choice, Integer, Repeat or Block, got {node!r}")
            if isinstance(node, Choice):
                for dep in node.when:
                    if dep not in seen or not isinstance(fields[dep], Choice):
                        raise ArchscoutError(
                            f"field {name!r} depends on {dep!r}, which must be an earlier Choice of the same block")
            seen.append(name)
        self.fields: dict[str, Any] = dict(fields)
        self._size: int | None = None

    def __repr__(self) -> str:
        return "Block(" + ", ".join(f"{k}={v!r}" for k, v in self.fields.items()) + ")"

    def spec(self, priors: bool = True) -> dict:
        return {"type": "block", "fields": {k: v.spec(priors) for k, v in self.fields.items()}}

    # -- canonical form ----------------------------------------------------------------
    def canonical(self, value: Mapping[str, Any], rng: random.Random | None = None, path: str = "") -> dict:
        """Validate ``value`` and return its canonical form.

        Inactive choices become None. An active choice that is missing is sampled from
        ``rng`` when one is given (mutation uses this when a change activates a field),
        otherwise it is an error.
        """
        if not isinstance(value, Mapping):
            raise ArchscoutError(f"{path or 'architecture'}: expected a mapping, got {value!r}")
        unknown = set(value) - set(self.fields)
        if unknown:
            raise ArchscoutError(f"{path or 'architecture'}: unknown field(s) {sorted(unknown)}; "
                                 f"fields are {list(self.fields)}")
        out: dict[str, Any] = {}
        for name, node in self.fields.items():
            where = f"{path}.{name}" if path else name
            v = value.get(name)
            if isinstance(node, Choice):
                if not node.is_active(out):
                    out[name] = None
                elif v is None:
                    if rng is None:
                        raise ArchscoutError(f"{where}: missing value (one of {node.values!r})")
                    out[name] = node.sample(rng)
                else:
                    try:
                        out[name] = node.values[node.index(v)]
                    except ArchscoutError as e:
                        raise ArchscoutError(f"{where}: {e}") from None
            elif isinstance(node, Repeat):
                if v is None and rng is not None:
                    v = [node.block.sample(rng) for _ in range(rng.randint(node.min, node.max))]
                if not isinstance(v, (list, tuple)):
                    raise ArchscoutError(f"{where}: expected a list of {node.min}..{node.max} blocks, got {v!r}")
                if not node.min <= len(v) <= node.max:
                    raise ArchscoutError(f"{where}: {len(v)} blocks, allowed {node.min}..{node.max}")
                out[name] = [node.block.canonical(b, rng, f"{where}[{i}]") for i, b in enumerate(v)]
            else:
                if v is None and rng is not None:
                    v = node.sample(rng)
                out[name] = node.canonical(v if v is not None else {}, rng, where)
        return out

    def sample(self, rng: random.Random, prior: bool = False) -> dict:
        """Values drawn uniformly, or from the priors where there are some (``prior=True``)."""
        out: dict[str, Any] = {}
        for name, node in self.fields.items():
            if isinstance(node, Choice):
                out[name] = node.sample(rng, prior) if node.is_active(out) else None
            elif isinstance(node, Repeat):
                out[name] = [node.block.sample(rng, prior) for _ in range(node.length(rng, prior))]
            else:
                out[name] = node.sample(rng, prior)
        return out

    def prior_mode(self) -> dict:
        """The values every prior points at: each choice at its prior (the first value without one), each Repeat
        at its prior length (its minimum without one, at least one copy where allowed)."""
        out: dict[str, Any] = {}
        for name, node in self.fields.items():
            if isinstance(node, Choice):
                out[name] = (node.values[node.prior or 0]) if node.is_active(out) else None
            elif isinstance(node, Repeat):
                n = node.min + node.prior if node.prior is not None else max(node.min, min(1, node.max))
                out[name] = [node.block.prior_mode() for _ in range(n)]
            else:
                out[name] = node.prior_mode()
        return out

    def has_priors(self) -> bool:
        return any((n.prior is not None) if isinstance(n, Choice) else
                   (n.prior is not None or n.block.has_priors()) if isinstance(n, Repeat) else n.has_priors()
                   for n in self.fields.values())

    # -- decisions: the places a mutation can act on ------------------------------------
    def decisions(self, value: Mapping[str, Any], path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
        """Yield (path, node) for every active Choice and every Repeat's length."""
        for name, node in self.fields.items():
            p = path + (name,)
            if isinstance(node, Choice):
                if value[name] is not None:
                    yield p, node
            elif isinstance(node, Repeat):
                if node.min != node.max:
                    yield p + ("#len",), node
                for i, b in enumerate(value[name]):
                    yield from node.block.decisions(b, p + (i,))
            else:
                yield from node.decisions(value[name], p)

    # -- size -------------------------------------------------------------------------
    def size(self) -> int:
        """Number of distinct canonical values (constraints of a Space not applied)."""
        if self._size is None:
            names = list(self.fields)

            def count(i: int, assigned: dict) -> int:
                if i == len(names):
                    return 1
                node = self.fields[names[i]]
                if isinstance(node, Choice):
                    if not node.is_active(assigned):
                        return count(i + 1, {**assigned, names[i]: None})
                    return sum(count(i + 1, {**assigned, names[i]: v}) for v in node.values)
                if isinstance(node, Repeat):
                    b = node.block.size()
                    return sum(b ** d for d in range(node.min, node.max + 1)) * count(i + 1, assigned)
                return node.size() * count(i + 1, assigned)

            self._size = count(0, {})
        return self._size

    # -- encoding ---------------------------------------------------------------------
    def encode(self, value: Mapping[str, Any] | None, kind: str) -> list[float]:
        """Fixed-length numeric vector; absent or inactive parts encode as zeros / -1."""
        out: list[float] = []
        for name, node in self.fields.items():
            v = None if value is None else value[name]
            if isinstance(node, Choice):
                n = len(node.values)
                if kind == "onehot":
                    vec = [0.0] * n
                    if v is not None:
                        vec[node.index(v)] = 1.0
                    out += vec
                else:
                    out.append(-1.0 if v is None else (node.index(v) / (n - 1) if n > 1 else 0.0))
            elif isinstance(node, Repeat):
                blocks = v or []
                span = node.max - node.min
                if kind == "onehot":
                    vec = [0.0] * (span + 1)
                    if value is not None:
                        vec[len(blocks) - node.min] = 1.0
                    out += vec
                else:
                    out.append(-1.0 if value is None else ((len(blocks) - node.min) / span if span else 0.0))
                for i in range(node.max):
                    out += node.block.encode(blocks[i] if i < len(blocks) else None, kind)
            else:
                out += node.encode(v, kind)
        return out
