"""Architecture: an immutable, canonical point of a search space with a stable content hash."""
from __future__ import annotations

import copy
import hashlib
import json
from typing import TYPE_CHECKING, Any

from ..errors import ArchscoutError
from .names import find_space

if TYPE_CHECKING:  # pragma: no cover
    from ._space import Space


def canonical_json(values: Any) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


class Architecture:
    """A canonical value of a Space; holds no weights.

    Equality and ``id`` depend only on the space's name and the canonical values, so
    equivalent forms (key order, numpy scalars, settings of inactive choices) hash alike.
    Build one with ``space.architecture(values)`` or ``space.sample()``.
    """

    __slots__ = ("_json", "space_name", "space", "id", "_hash")
    _json: str
    space_name: str
    space: Space | None
    id: str
    _hash: int

    def __init__(self, values: dict, space_name: str, space: Space | None = None):
        object.__setattr__(self, "_json", canonical_json(values))
        object.__setattr__(self, "space_name", space_name)
        object.__setattr__(self, "space", space)
        digest = hashlib.sha256(f"{space_name}\n{self._json}".encode()).hexdigest()
        object.__setattr__(self, "id", digest[:16])
        object.__setattr__(self, "_hash", hash((space_name, self._json)))  # sets and dicts hash them often

    def __setattr__(self, key, value):
        raise AttributeError("Architecture is immutable")

    def __reduce__(self):
        return (Architecture, (self.values, self.space_name, self.space))

    @property
    def values(self) -> dict:
        """A fresh copy of the canonical values (changing it does not change the architecture)."""
        return json.loads(self._json)

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(json.loads(self._json)[key])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Architecture) and (self.space_name, self._json) == (other.space_name, other._json)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Architecture({self.space_name}:{self.id} {self.describe()})"

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"space": self.space_name, "values": self.values, "id": self.id}

    def to_json(self) -> str:
        return json.dumps({"space": self.space_name, "values": self.values}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict, space: Space | None = None) -> Architecture:
        """Read an architecture written by ``to_json``; canonicalised through its space when known."""
        try:
            data = json.loads(text) if isinstance(text, str) else dict(text)
            name, values = data["space"], data["values"]
        except (ValueError, KeyError, TypeError) as e:
            raise ArchscoutError(f"not an architecture JSON ({e})") from None
        if space is None:
            space = find_space(name)
        if space is None:
            return cls(values, name)
        if space.name != name:
            raise ArchscoutError(f"architecture is from space {name!r}, not {space.name!r}")
        return space.architecture(values)

    # -- views --------------------------------------------------------------------------
    def _need_space(self) -> Space:
        if self.space is None:
            raise ArchscoutError(f"space {self.space_name!r} is not a built-in space; "
                                 "load the architecture with its Space object")
        return self.space

    def build(self, input_shape, num_classes: int):
        """A ``torch.nn.Module`` for inputs of ``input_shape`` (without batch) and ``num_classes``."""
        return self._need_space().build(self, input_shape, num_classes)

    def to_graph(self) -> dict:
        """The architecture as a DAG of ops: ``{"nodes": [...], "edges": [[src, dst], ...]}``."""
        return self._need_space().to_graph(self)

    def describe(self) -> str:
        return self.space.describe(self) if self.space is not None else self._json
