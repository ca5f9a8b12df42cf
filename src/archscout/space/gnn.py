"""The NAS-Bench-Graph GNN space: four computing nodes in a tree over the input, one GNN operator each.

Qin et al. (NeurIPS 2022 Datasets and Benchmarks) define the space: computing node ``i``
(1..4) takes exactly one earlier node as input (0 is the input features), nodes that feed
no other node ("leaves") are summed into the output, and each node applies one operator.
Every node having one parent makes the graph a rooted tree of five nodes; there are nine
such trees, the nine ``LINKS`` below, each written in the benchmark's own numbering.

Many choices compute the same network, so an architecture is always in a canonical form:
equal networks are one architecture (one id) to every strategy and every study. "Equal"
depends on who builds the network, so there are two forms:

* a ``skip`` node is the identity. One that feeds other nodes, or is its parent's only
  child, changes nothing in either form, so it is moved to a chain of skips in front of the
  input, where it is inert;
* a ``skip`` leaf whose every node above it is a skip carries the input features to the
  output. In the ``benchmark`` form it is inert too (NAS-Bench-Graph cannot add input-sized
  features to hidden ones) and moves to the chain. In the ``builder`` form it stays: the
  network archscout builds (:mod:`.gnn_build`) maps the input to hidden features first, so
  this skip adds them to the output, a residual that changes the network;
* nodes are then renumbered into the one of the nine trees with that shape, choosing among
  the numberings that keep the tree (its symmetries) the one whose operators come first in
  ``OPS`` order.

The built-in spaces are in the ``builder`` form, so two architectures share an id only if
archscout builds them into the same network (gnn: 27,934 architectures, gnn-proteins:
2,293). ``benchmark_key`` takes any architecture to the benchmark form and its key there
(26,206 and 2,021 keys); the spaces of the benchmark's tables
(:func:`archscout.evaluate.tables.nas_bench_graph.space_for`) are in that form, so that one table row is one
architecture. Every benchmark-form architecture is also in builder form (the builder builds
the network the benchmark measured), with the same values and id in both.

Tests walk all 59,049 choices: the benchmark form agrees with the benchmark's hashing, and
two choices have one builder form exactly when the builder computes the same function.
"""
from __future__ import annotations

import json
from functools import cache, lru_cache
from itertools import permutations, product
from typing import TYPE_CHECKING, Any

from ..errors import ArchscoutError
from ._architecture import Architecture, canonical_json
from ._choices import Choice
from ._space import Space
from .operators import GNN_NODES as NODES
from .operators import GNN_OPS as OPS

if TYPE_CHECKING:  # pragma: no cover
    from ..tasks import GraphTask, Task

LINKS = ("0-0-0-0", "0-0-0-1", "0-0-1-1", "0-0-1-2", "0-0-1-3", "0-1-1-1", "0-1-1-2", "0-1-2-2", "0-1-2-3")
PROTEINS_OPS = ("gcn", "sage", "arma", "fc", "skip")
FORMS = ("builder", "benchmark")

_LINK_INDEX = {tuple(int(p) for p in link.split("-")): i for i, link in enumerate(LINKS)}
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


def _parse_link(link: str) -> tuple[int, ...]:
    return tuple(int(p) for p in link.split("-"))


def _remove_inert_skips(parents: list[int], ops: list[str], form: str) -> tuple[list[int], list[str]]:
    """Move every skip node that is inert in ``form`` (see the module docstring) to a chain in front of the
    input.

    Nodes are looked at in order, each once, on the tree as earlier moves left it: the
    benchmark defines its classes this way. Returns the new tree in some valid numbering.
    """
    parent = {v: parents[v - 1] for v in range(1, 5)}
    alive = [1, 2, 3, 4]
    stem = 0
    for v in range(1, 5):
        if ops[v - 1] != "skip":
            continue
        children = [c for c in alive if parent[c] == v]
        siblings = [c for c in alive if c != v and parent[c] == parent[v]]
        carries_input, u = form == "benchmark", v
        while carries_input and u != 0:
            carries_input = ops[u - 1] == "skip"
            u = parent[u]
        if children or not siblings or carries_input:
            for c in children:
                parent[c] = parent[v]
            alive.remove(v)
            stem += 1
    # the stem: skip 1 <- input, skip j <- skip j-1; what hung from the input hangs from the stem's end
    new_parents = [j for j in range(stem)]
    index = {v: stem + k + 1 for k, v in enumerate(alive)}
    for v in alive:
        p = parent[v]
        new_parents.append(stem if p == 0 else index[p])
    return new_parents, ["skip"] * stem + [ops[v - 1] for v in alive]


@cache
def canonical_form(link: tuple[int, ...], ops: tuple[str, ...], form: str) -> tuple[str, tuple[str, ...]]:
    """The canonical (link, ops), in ``form`` (``builder`` or ``benchmark``), of a network given as parents
    (0 = input) and operators."""
    parents, names = _remove_inert_skips(list(link), list(ops), form)
    best = None
    for order in permutations(range(4)):  # order[k] = which node gets number k + 1
        number = {old + 1: k + 1 for k, old in enumerate(order)}
        number[0] = 0
        relabelled = tuple(number[parents[old]] for old in order)
        if relabelled not in _LINK_INDEX:
            continue
        key = (_LINK_INDEX[relabelled], tuple(_OP_INDEX[names[old]] for old in order))
        best = key if best is None or key < best else best
    if best is None:  # pragma: no cover - every rooted tree of five nodes is one of LINKS
        raise ArchscoutError(f"no canonical numbering for link {link} ops {ops}")
    return LINKS[best[0]], tuple(OPS[i] for i in best[1])


def benchmark_key(arch: Architecture | dict) -> int:
    """The key of an architecture in NAS-Bench-Graph's tables (its ``Arch.valid_hash()``): that of its
    benchmark form, whichever form it is given in."""
    values = arch.values if isinstance(arch, Architecture) else arch
    link, ops = canonical_form(_parse_link(values["link"]), tuple(values[n] for n in NODES), "benchmark")
    key = LINKS.index(link)
    for op in ops:
        key = key * (len(OPS) + 1) + _OP_INDEX[op]
    return key


def not_all_skip(values: dict) -> bool:
    """A network of four identity nodes computes nothing (the benchmark leaves it out)."""
    return any(values[n] != "skip" for n in NODES)


class GNNSpace(Space):
    """The NAS-Bench-Graph macro space; architectures are canonical in ``form`` (see the module docstring):
    ``builder`` (one architecture per network archscout builds) or ``benchmark`` (one per table row).

    Values: ``{"link": "0-0-1-2", "op1": "gcn", "op2": "gat", "op3": "skip", "op4": "fc"}``,
    where ``link`` lists each computing node's input (0 = the node features).
    """

    def __init__(self, name: str = "gnn", ops: tuple[str, ...] = OPS, hidden: int = 64, dropout: float = 0.5,
                 form: str = "builder"):
        unknown = [op for op in ops if op not in OPS]
        if unknown:
            raise ArchscoutError(f"unknown GNN operator(s) {unknown}; operators are {', '.join(OPS)}")
        if form not in FORMS:
            raise ArchscoutError(f"unknown canonical form {form!r}; forms are {', '.join(FORMS)}")
        self.hidden, self.dropout, self.form = hidden, dropout, form
        choices: dict[str, Any] = {n: Choice(list(ops), ordered=False) for n in NODES}
        canonical = "as archscout builds them" if form == "builder" else "as in the benchmark's tables"
        super().__init__(name, description=f"NAS-Bench-Graph GNNs: 4 nodes in one of 9 trees, each one of "
                                           f"{', '.join(ops)}; canonical {canonical}",
                         constraints=[not_all_skip], link=Choice(list(LINKS), ordered=False), **choices)

    def canonicalize(self, values: dict) -> dict:
        link, ops = canonical_form(_parse_link(values["link"]), tuple(values[n] for n in NODES), self.form)
        return {"link": link, **dict(zip(NODES, ops))}

    def path_vocabulary(self) -> tuple:
        return tuple(self.root.fields["op1"].values), 4

    def enumerate(self) -> list[Architecture]:
        """Every canonical architecture of the space, in benchmark-key order (in the builder form several
        share a key: those in the order of their values' JSON)."""
        ops = tuple(self.root.fields["op1"].values)
        return [Architecture(json.loads(v), self.name, self) for v in _enumerate_values(ops, self.form)]

    def accepts(self, task: Task | GraphTask, seed: int = 0) -> str | None:
        """Why the space cannot take ``task`` (see :meth:`Space.accepts`): it needs a graph task."""
        from ..tasks.graphs import GraphTask

        if not isinstance(task, GraphTask):
            return ("the space builds graph neural networks and needs a graph task (mnist1d-knn, or a folder of "
                    "graph files: see docs/graphs.md)")
        return self._build_error(task, seed)

    def build(self, arch: Architecture, input_shape, num_classes: int):
        from .gnn_build import build_gnn

        return build_gnn(arch.values, tuple(input_shape), int(num_classes), hidden=self.hidden,
                         dropout=self.dropout)

    def to_graph(self, arch: Architecture) -> dict:
        """Input, the four nodes with their operators, and an output node fed by the leaves."""
        values = arch.values
        parents = _parse_link(values["link"])
        nodes = [{"id": 0, "op": "input", "attrs": {}}]
        nodes += [{"id": i + 1, "op": values[n], "attrs": {}} for i, n in enumerate(NODES)]
        nodes.append({"id": 5, "op": "output", "attrs": {}})
        edges = [[p, i + 1] for i, p in enumerate(parents)]
        edges += [[v, 5] for v in range(1, 5) if v not in parents]
        return {"nodes": nodes, "edges": edges}

    def describe(self, arch: Architecture) -> str:
        values = arch.values
        return f"[{values['link']}] " + " ".join(values[n] for n in NODES)


@lru_cache(maxsize=8)
def _enumerate_values(ops: tuple[str, ...], form: str) -> tuple[str, ...]:
    seen: set[tuple[int, str]] = set()
    for link in LINKS:
        for combo in product(ops, repeat=4):
            values = {"link": link, **dict(zip(NODES, combo))}
            if not not_all_skip(values):
                continue
            link_c, ops_c = canonical_form(_parse_link(link), combo, form)
            canon = {"link": link_c, **dict(zip(NODES, ops_c))}
            seen.add((benchmark_key(canon), canonical_json(canon)))
    return tuple(v for _, v in sorted(seen))


def gnn(form: str = "builder") -> GNNSpace:
    """NAS-Bench-Graph's GNN space (nine operators): 27,934 architectures in the builder form, 26,206 in the
    benchmark's."""
    return GNNSpace("gnn", OPS, form=form)


def gnn_proteins(form: str = "builder") -> GNNSpace:
    """NAS-Bench-Graph's space for the proteins dataset (gcn, sage, arma, fc, skip): 2,293 architectures in the
    builder form, 2,021 in the benchmark's."""
    return GNNSpace("gnn-proteins", PROTEINS_OPS, form=form)
