"""Space: a declarative set of choices with constraints that samples, mutates, crosses over and encodes."""
from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import ArchscoutError
from ._architecture import Architecture, canonical_json
from ._choices import Block, Choice, Repeat
from .recipe_field import describe_recipe, recipe_of, without_recipe

if TYPE_CHECKING:  # pragma: no cover
    from ..tasks import GraphTask, Task

Constraint = Callable[[dict], bool]
Builder = Callable[[dict, tuple, int], Any]


def as_rng(rng: random.Random | int | None) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _get(values: Any, path: tuple) -> Any:
    for key in path:
        values = values[key]
    return values


def _set(values: Any, path: tuple, new: Any) -> None:
    _get(values, path[:-1])[path[-1]] = new


class Space:
    """A search space: named fields (Choice, Integer, Repeat of Block, Block) plus constraints.

    Example::

        space = Space("tiny",
            stages=Repeat(1, 3, Block(op=Choice(["conv", "fc"]),
                                      width=Choice([16, 32]),
                                      kernel=Choice([3, 5], when={"op": ["conv"]}))),
            head=Choice(["gap", "flatten"]),
            constraints=[lambda v: len(v["stages"]) < 3 or v["head"] == "gap"],
        )
        arch = space.sample(seed=0)

    ``builder(values, input_shape, num_classes) -> nn.Module`` turns an architecture into a
    network; without one, the generic macro builder (stages of conv / dwconv / fc blocks) is used.
    Strategies use only sample / mutate / neighbors / crossover / encode: no torch here.
    """

    def __init__(self, name: str = "custom", *, constraints: Iterable[Constraint] = (),
                 builder: Builder | None = None, description: str = "", **fields: Any):
        if not isinstance(name, str) or not name:
            raise ArchscoutError("a Space needs a name")
        self.name = name
        self.description = description
        self.root = Block(**fields)
        self.constraints = list(constraints)
        self.builder = builder

    def __repr__(self) -> str:
        return f"Space({self.name!r}, {self.root!r})"

    # -- validation -------------------------------------------------------------------
    def satisfies(self, values: dict) -> bool:
        try:
            return all(bool(c(values)) for c in self.constraints)
        except (KeyError, IndexError, TypeError, ValueError):
            return False

    def canonicalize(self, values: dict) -> dict:
        """The one representative of the values' equivalence class (spaces with symmetries override this)."""
        return values

    def _make(self, values: dict) -> Architecture:
        return Architecture(self.canonicalize(values), self.name, self)

    def architecture(self, values: dict) -> Architecture:
        """Validate and canonicalise ``values``; raise ArchscoutError if outside the space."""
        canon = self.root.canonical(json.loads(json.dumps(values, default=_json_default)))
        if not self.satisfies(canon):
            raise ArchscoutError(f"architecture violates a constraint of space {self.name!r}: {canonical_json(canon)}")
        return self._make(canon)

    def contains(self, arch: Architecture) -> bool:
        if arch.space_name != self.name:
            return False
        try:
            return self.architecture(arch.values) == arch
        except ArchscoutError:
            return False

    # -- sampling and variation -------------------------------------------------------
    def sample(self, rng: random.Random | int | None = None, *, seed: int | None = None,
               prior: bool = False) -> Architecture:
        """An architecture drawn uniformly (each choice, each Repeat's length), or from the space's priors
        (``prior=True``: see :class:`~archscout.space.Choice`; choices without one stay uniform)."""
        rng = as_rng(seed if rng is None else rng)
        for _ in range(10_000):
            values = self.root.sample(rng, prior)
            if self.satisfies(values):
                return self._make(values)
        raise ArchscoutError(f"space {self.name!r}: no sample satisfied the constraints in 10,000 tries")

    def has_priors(self) -> bool:
        """Whether any choice or Repeat of the space carries a prior."""
        return self.root.has_priors()

    def prior_mode(self) -> Architecture:
        """The architecture every prior points at (see :meth:`Block.prior_mode`); an error when it breaks a
        constraint."""
        return self.architecture(self.root.prior_mode())

    def log_prob(self, arch: Architecture, centre: Architecture | None = None) -> float:
        """The log-probability of ``arch`` under the space's priors, or centred on ``centre`` (constraints left
        aside; see :mod:`archscout.space.priors`)."""
        from . import priors
        return priors.log_prob(self.root, arch.values, None if centre is None else centre.values)

    def local_mutation(self, arch: Architecture, rng: random.Random | int | None = None, rate: float = 0.5,
                       std: float = 0.25) -> Architecture:
        """``arch`` with each decision redrawn near its value with probability ``rate`` (PriorBand's sampling
        around the incumbent, :func:`archscout.space.priors.local_mutation`); ``arch`` itself when 100 tries
        break a constraint."""
        from . import priors
        rng = as_rng(rng)
        for _ in range(100):
            values = self.root.canonical(priors.local_mutation(self.root, arch.values, rng, rate, std), rng)
            if self.satisfies(values):
                return self._make(values)
        return arch

    def decisions(self, arch: Architecture) -> list[tuple[tuple, Any]]:
        """Every place a mutation can act: (path, Choice) or (path + ('#len',), Repeat)."""
        return list(self.root.decisions(arch.values))

    def _apply(self, values: dict, path: tuple, node: Any, rng: random.Random, new: Any = None) -> dict:
        values = copy.deepcopy(values)
        if isinstance(node, Repeat):
            blocks = _get(values, path[:-1])
            if new is not None:
                _set(values, path[:-1], new)
            else:
                grow = len(blocks) == node.min or (len(blocks) < node.max and rng.random() < 0.5)
                if grow:
                    blocks.insert(rng.randint(0, len(blocks)), node.block.sample(rng))
                else:
                    blocks.pop(rng.randrange(len(blocks)))
        else:
            if new is None:
                i = node.index(_get(values, path))
                new = rng.choice([v for j, v in enumerate(node.values) if j != i])
            # choices that this one switches on are sampled, those it switches off become None
            _set(values, path, new)
        return self.root.canonical(values, rng)

    def mutation(self, arch: Architecture, rng: random.Random | int | None = None) -> tuple[Architecture, tuple]:
        """A new architecture that differs from ``arch`` in one decision, and that decision's path.

        Choices that the change switches on are sampled; those it switches off become None.
        """
        rng = as_rng(rng)
        options = self.decisions(arch)
        if not options:
            raise ArchscoutError(f"space {self.name!r} has a single point: nothing to mutate")
        for _ in range(200):
            path, node = options[rng.randrange(len(options))]
            if isinstance(node, Choice) and len(node.values) < 2:
                continue
            values = self._apply(arch.values, path, node, rng)
            if self.satisfies(values):
                child = self._make(values)
                if child != arch:
                    return child, path
        return self.sample(rng), ()

    def mutate(self, arch: Architecture, rng: random.Random | int | None = None) -> Architecture:
        return self.mutation(arch, rng)[0]

    def neighbors(self, arch: Architecture) -> list[Architecture]:
        """All architectures one step away: each choice to its alternatives, one block added (a copy of one there, or
        a block drawn from the architecture's id where there is none) or removed."""
        seen, out = {arch}, []
        fill = random.Random(arch.id)  # deterministic values for choices a change switches on
        for path, node in self.decisions(arch):
            candidates: list[dict] = []
            if isinstance(node, Repeat):
                blocks = _get(arch.values, path[:-1])
                if len(blocks) > node.min:
                    candidates += [self._apply(arch.values, path, node, fill, blocks[:i] + blocks[i + 1:])
                                   for i in range(len(blocks))]
                if len(blocks) < node.max:
                    candidates += [self._apply(arch.values, path, node, fill,
                                               blocks[:i + 1] + [blocks[i]] + blocks[i + 1:])
                                   for i in range(len(blocks))]
                    if not blocks:  # nothing to copy: one block, its values fixed by the architecture
                        candidates.append(self._apply(arch.values, path, node, fill, [node.block.sample(fill)]))
            else:
                candidates += [self._apply(arch.values, path, node, fill, v)
                               for v in node.alternatives(_get(arch.values, path))]
            for values in candidates:
                if self.satisfies(values):
                    a = self._make(values)
                    if a not in seen:
                        seen.add(a)
                        out.append(a)
        return out

    def crossover(self, a: Architecture, b: Architecture, rng: random.Random | int | None = None) -> Architecture:
        """Uniform crossover: each decision from one parent; stage lists aligned by position."""
        rng = as_rng(rng)

        def mix(block: Block, x: dict, y: dict) -> dict:
            out: dict = {}
            for name, node in block.fields.items():
                if isinstance(node, Choice):
                    out[name] = x[name] if rng.random() < 0.5 else y[name]
                elif isinstance(node, Repeat):
                    xs, ys = x[name], y[name]
                    n = len(xs) if rng.random() < 0.5 else len(ys)
                    out[name] = [mix(node.block, xs[i], ys[i]) if i < len(xs) and i < len(ys)
                                 else copy.deepcopy(xs[i] if i < len(xs) else ys[i]) for i in range(n)]
                else:
                    out[name] = mix(node, x[name], y[name])
            return out

        for _ in range(100):
            values = self.root.canonical(mix(self.root, a.values, b.values), rng)
            if self.satisfies(values):
                return self._make(values)
        return a

    # -- description ------------------------------------------------------------------
    ENCODINGS = ("onehot", "ordinal", "path", "graph", "counts")

    def encode(self, arch: Architecture, kind: str = "onehot") -> list[float]:
        """A fixed-length vector: ``onehot`` (one-hot per choice), ``ordinal`` (one number per choice),
        ``path`` (counts of input-to-output paths, BANANAS), ``graph`` (adjacency + operators) or
        ``counts`` (operators by kind, depth and whether they feed the output); see
        :mod:`archscout.space.encodings`. ``"onehot+counts"`` concatenates encodings."""
        if "+" in kind:
            return [v for part in kind.split("+") for v in self.encode(arch, part)]
        if kind in ("onehot", "ordinal"):
            return self.root.encode(arch.values, kind)
        if kind == "path":
            from .encodings import path_encoding
            return path_encoding(self.to_graph(arch), *self.path_vocabulary())
        if kind == "graph":
            from .encodings import graph_encoding
            return graph_encoding(self.to_graph(arch))
        if kind == "counts":
            from .encodings import counts_encoding
            vocabulary = self.path_vocabulary()
            return counts_encoding(self.to_graph(arch), vocabulary[0] if vocabulary else None)
        raise ArchscoutError(f"unknown encoding {kind!r}; use one of {', '.join(self.ENCODINGS)}, or several "
                             f"joined by +")

    def path_vocabulary(self) -> tuple:
        """(operator labels, longest path) for an exact path encoding, or () to hash path names."""
        return ()

    def size(self) -> int:
        """Number of architectures, not counting constraints (an upper bound when there are some)."""
        return self.root.size()

    def spec(self, priors: bool = True) -> dict:
        return {"name": self.name, "fields": self.root.spec(priors)["fields"], "constraints": len(self.constraints)}

    def fingerprint(self) -> str:
        """Identifies the architectures the space holds: its priors are left out (they change which come first)."""
        return hashlib.sha256(canonical_json(self.spec(priors=False)).encode()).hexdigest()[:16]

    def accepts(self, task: Task | GraphTask, seed: int = 0) -> str | None:
        """Why this space cannot take ``task`` at all, or None when it can; the reason is worded to follow
        "space NAME does not fit task NAME: ".

        A graph task (node classification) needs a graph space such as gnn. Otherwise the reason is
        the ArchscoutError of building ``sample(seed)`` for the task's inputs and classes (inputs of
        the wrong rank, for example); other errors of that one network are no reason, since another
        architecture may build, and a search records them as that trial's failure.
        """
        from ..tasks.graphs import GraphTask

        if isinstance(task, GraphTask):
            return "the task is a graph (node classification); search it with a graph space such as gnn (--space gnn)"
        return self._build_error(task, seed)

    def _build_error(self, task: Task | GraphTask, seed: int) -> str | None:
        """The ArchscoutError message of building architecture ``sample(seed)`` for ``task``, or None."""
        try:
            self.sample(seed).build(task.input_shape, task.num_classes)
        except ArchscoutError as e:
            return str(e)
        except Exception:  # noqa: BLE001 - specific to this architecture (see accepts)
            pass
        return None

    def build(self, arch: Architecture, input_shape, num_classes: int):
        values = without_recipe(arch.values)  # a searched training recipe is the evaluator's, not the builder's
        if self.builder is not None:
            return self.builder(values, tuple(input_shape), int(num_classes))
        from .macro import build_macro
        return build_macro(values, tuple(input_shape), int(num_classes))

    def recipe(self, arch: Architecture) -> dict:
        """The training settings the architecture chooses (a space with a recipe field), else {}."""
        return recipe_of(arch.values)

    def fp32_scopes(self, arch: Architecture) -> list[str]:
        """Module names of the built network that the architecture's quantization policy keeps in fp32 when
        it is quantized to INT8 (empty: every quantizable layer runs in INT8)."""
        from .macro import macro_fp32_scopes
        return macro_fp32_scopes(arch.values)

    def to_graph(self, arch: Architecture) -> dict:
        from .macro import macro_graph
        return macro_graph(arch.values)

    def describe(self, arch: Architecture) -> str:
        from .macro import describe_macro
        return describe_macro(arch.values) + describe_recipe(arch.values)


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"{v!r} is not JSON serialisable")
