"""The operator vocabularies of the built-in builders, torch-free: what a space may choose, what a builder builds.

Kept apart from the builders (which import torch) so that naming a space, sampling it and the command line never
load torch; ``space.cell``, ``space.gnn`` and ``space.macro`` re-export the names they use."""
from __future__ import annotations

# macro networks (conv1d, conv2d): the convolution stages' operators
CONV_OPS = ("conv", "dwconv")

# NAS-Bench-201 cells: the operator on each edge, the six edges, and (to, from) of each edge in NAS-Bench-201's order
CELL_OPS = ("none", "skip", "conv1x1", "conv3x3", "avgpool3x3")
CELL_EDGES = ("e0", "e1", "e2", "e3", "e4", "e5")
CELL_ENDS = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

# GNNs (NAS-Bench-Graph): the operators a node may run (the benchmark's nine) and the four nodes of a network
GNN_OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
GNN_NODES = ("op1", "op2", "op3", "op4")
