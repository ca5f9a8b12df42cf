"""The building blocks of a declarative search space: Choice, Integer, Block, Repeat.

A space is a tree: a Block maps field names to Choices or Repeats, a Repeat holds a
variable number of copies of one Block. A Choice may be conditional (``when=``) on the
values of earlier Choices in the same Block; an inactive Choice takes the value None in
the canonical form, so two architectures that differ only in decisions that have no
effect are the same architecture.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import ArchscoutError

Scalar = (str, int, float, bool, type(None))


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
    """

    def __init__(self, values: Sequence[Any], *, ordered: bool | None = None,
                 when: Mapping[str, Sequence[Any]] | None = None):
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

    def __repr__(self) -> str:
        extra = f", when={self.when!r}" if self.when else ""
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

    def sample(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]

    def alternatives(self, value: Any) -> list[Any]:
        """Every other value (categorical) or the adjacent values (ordered)."""
        i = self.index(value)
        if self.ordered:
            return [self.values[j] for j in (i - 1, i + 1) if 0 <= j < len(self.values)]
        return [v for j, v in enumerate(self.values) if j != i]

    def spec(self) -> dict:
        out: dict = {"type": "choice", "values": self.values, "ordered": self.ordered}
        if self.when:
            out["when"] = self.when
        return out


class Integer(Choice):
    """An integer in [low, high] (inclusive) with a step; an ordered Choice."""

    def __init__(self, low: int, high: int, step: int = 1, *, when=None):
        if high < low or step < 1:
            raise ArchscoutError(f"Integer needs low <= high and step >= 1, got {low}, {high}, {step}")
        super().__init__(list(range(low, high + 1, step)), ordered=True, when=when)


class Repeat:
    """Between ``min`` and ``max`` copies of a Block (for example the stages of a network)."""

    def __init__(self, min: int, max: int, block: Block):
        if not (0 <= min <= max) or max < 1:
            raise ArchscoutError(f"Repeat needs 0 <= min <= max and max >= 1, got {min}, {max}")
        if not isinstance(block, Block):
            raise ArchscoutError("Repeat(min, max, block) needs a Block")
        self.min, self.max, self.block = min, max, block

    def __repr__(self) -> str:
        return f"Repeat({self.min}, {self.max}, {self.block!r})"

    def spec(self) -> dict:
        return {"type": "repeat", "min": self.min, "max": self.max, "block": self.block.spec()}


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

    def spec(self) -> dict:
        return {"type": "block", "fields": {k: v.spec() for k, v in self.fields.items()}}

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

    def sample(self, rng: random.Random) -> dict:
        out: dict[str, Any] = {}
        for name, node in self.fields.items():
            if isinstance(node, Choice):
                out[name] = node.sample(rng) if node.is_active(out) else None
            elif isinstance(node, Repeat):
                out[name] = [node.block.sample(rng) for _ in range(rng.randint(node.min, node.max))]
            else:
                out[name] = node.sample(rng)
        return out

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
