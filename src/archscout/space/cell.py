"""The ``cell`` space: NAS-Bench-201's cell, an operation on each of the 6 edges of a 4-node DAG, in a macro skeleton.

A cell has nodes 0 (its input), 1, 2 and 3 (its output); node j sums the results of the operations on its
edges from every node i < j. The six edges, in NAS-Bench-201's order (its architecture strings
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``), are ``e0`` = 1←0, ``e1`` = 2←0, ``e2`` = 2←1, ``e3`` = 3←0,
``e4`` = 3←1, ``e5`` = 3←2, each one of ``none`` (zero), ``skip`` (identity), ``conv1x1``, ``conv3x3``
(ReLU → convolution → batch norm, as NAS-Bench-201's ``nor_conv``) and ``avgpool3x3`` (stride 1). Values:
``{"e0": "conv3x3", "e1": "skip", ..., "e5": "none"}``.

Canonical form (isomorphic cells share one): an intermediate node with no input, or whose result reaches
node 3 by no edge, computes nothing that matters, so its edges are set to ``none``; and when edge 2←1 is
``none`` the two intermediate nodes are interchangeable (a node without input is taken to compute
nothing, as NAS-Bench-201 takes it, though a convolution edge out of it still adds its batch norm's shift), so they are put in a fixed order (node 1 gets
the lexicographically smaller pair of (edge from 0, edge to 3)). NAS-Bench-201's own tables hold every
one of the 15,625 labelled cells; a lookup answers a canonical cell from its own row.

The network (:func:`build_cell_network`), for 1-D ``(C, L)`` or 2-D ``(C, H, W)`` inputs: a 3-tap stem
convolution to ``channels`` (16) with batch norm, then ``stages`` (3) stages of ``cells`` (1) cells each,
a residual reduction block (ResNet basic block, stride 2, doubling the channels) between stages, and
batch norm, ReLU, global average pooling and a linear classifier: NAS-Bench-201's skeleton (which has 5
cells a stage and 16 channels) shrunk for CPUs.
"""
from __future__ import annotations

from typing import Any

from ..checks import positive_int
from ..errors import ArchscoutError
from ._choices import Choice
from ._space import Space
from .operators import CELL_EDGES as EDGES
from .operators import CELL_ENDS as ENDS
from .operators import CELL_OPS as OPS

NB201_NAMES = {"none": "none", "skip": "skip_connect", "conv1x1": "nor_conv_1x1", "conv3x3": "nor_conv_3x3",
               "avgpool3x3": "avg_pool_3x3"}


def canonical_ops(ops: tuple[str, ...]) -> tuple[str, ...]:
    """The canonical labelling of a cell's six edge operations (see the module docstring)."""
    e = list(ops)
    for _ in range(2):  # a dead node 1 can make node 2 dead (its only input), so twice
        if e[0] == "none" or (e[2] == "none" and e[4] == "none"):  # node 1: no input, or no way out
            e[0] = e[2] = e[4] = "none"
        if (e[1] == "none" and e[2] == "none") or e[5] == "none":  # node 2
            e[1] = e[2] = e[5] = "none"
    if e[2] == "none" and (e[0], e[4]) > (e[1], e[5]):  # nodes 1 and 2 interchangeable: a fixed order
        e[0], e[1], e[4], e[5] = e[1], e[0], e[5], e[4]
    return tuple(e)


class CellSpace(Space):
    """NAS-Bench-201's cell space (see the module docstring); ``channels``, ``stages`` and ``cells`` shape the
    skeleton the cell is stacked in."""

    def __init__(self, name: str = "cell", channels: int = 16, stages: int = 3, cells: int = 1):
        for key, value in (("channels", channels), ("stages", stages), ("cells", cells)):
            positive_int(value, f"cell space: {key}")
        self.channels, self.stages, self.cells = channels, stages, cells
        edges: dict[str, Any] = {e: Choice(list(OPS), ordered=False) for e in EDGES}
        super().__init__(name, description=f"NAS-Bench-201 cells: 6 edges of a 4-node DAG, each one of "
                                           f"{', '.join(OPS)}; {stages} stages of {cells} cell(s), {channels} "
                                           f"channels doubling at each reduction", **edges)

    def canonicalize(self, values: dict) -> dict:
        return dict(zip(EDGES, canonical_ops(tuple(values[e] for e in EDGES))))

    def build(self, arch, input_shape, num_classes: int):
        return build_cell_network(arch.values, tuple(input_shape), int(num_classes), self.channels, self.stages,
                                  self.cells)

    def to_graph(self, arch) -> dict:
        """The cell: its four nodes and one node per edge operation (``none`` edges left out)."""
        nodes: list[dict[str, Any]] = [{"id": i, "op": ("input" if i == 0 else "output" if i == 3 else "sum"),
                                        "attrs": {}} for i in range(4)]
        edges: list[list[int]] = []
        for e, (to, frm) in zip(EDGES, ENDS):
            op = arch.values[e]
            if op == "none":
                continue
            nid = len(nodes)
            nodes.append({"id": nid, "op": op, "attrs": {}})
            edges += [[frm, nid], [nid, to]]
        return {"nodes": nodes, "edges": edges}

    def describe(self, arch) -> str:
        v = arch.values
        return f"|{v['e0']}~0|+|{v['e1']}~0|{v['e2']}~1|+|{v['e3']}~0|{v['e4']}~1|{v['e5']}~2|"


def nb201_string(values: dict) -> str:
    """The cell in NAS-Bench-201's notation, ``|nor_conv_3x3~0|+|...|``."""
    n = {e: NB201_NAMES[values[e]] for e in EDGES}
    return f"|{n['e0']}~0|+|{n['e1']}~0|{n['e2']}~1|+|{n['e3']}~0|{n['e4']}~1|{n['e5']}~2|"


def cell() -> CellSpace:
    """NAS-Bench-201 cells (6 edges, 5 operations) stacked in a small skeleton, for 1-D and 2-D inputs."""
    return CellSpace()


# -- the network ------------------------------------------------------------------------------------------

def build_cell_network(values: dict, input_shape: tuple, num_classes: int, channels: int = 16, stages: int = 3,
                       cells: int = 1):
    from torch import nn

    from .cellnet import CellNetwork

    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (1,) + shape
    if len(shape) not in (2, 3):
        raise ArchscoutError(f"the cell space builds 1-D or 2-D convolutional networks and needs inputs shaped "
                             f"(channels, length) or (channels, height, width); the task's inputs are shaped "
                             f"{tuple(input_shape)}")
    ops = tuple(values[e] for e in EDGES)
    net: nn.Module = CellNetwork(shape, ops, num_classes, channels, stages, cells)
    return net
