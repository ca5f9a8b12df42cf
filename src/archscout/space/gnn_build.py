"""PyTorch Geometric networks for the ``gnn`` space: one module per operator and the four-node tree.

Every operator module has the same ``forward(x, edge_index)``, so the network applies them
without knowing which is which. The network is NAS-Bench-Graph's macro structure: a linear
pre-processing layer to ``hidden`` features, the four computing nodes wired as ``link``
says (ReLU and dropout after each operator that is not ``skip``), the sum of the leaves'
outputs, and a linear classifier. It returns logits for every node of the graph.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ArchscoutError
from .operators import GNN_NODES as NODES
from .operators import GNN_OPS as OPS


class LinearOp(nn.Module):
    """``fc``: a per-node linear layer; the edges are ignored."""

    def __init__(self, hidden: int):
        super().__init__()
        self.lin = nn.Linear(hidden, hidden)

    def forward(self, x, edge_index):
        return self.lin(x)


class SkipOp(nn.Module):
    """``skip``: the identity."""

    def forward(self, x, edge_index):
        return x


class MessagePassingOp(nn.Module):
    """A PyG convolution behind the common ``forward(x, edge_index)``."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x, edge_index):
        return self.conv(x, edge_index)


def make_op(op: str, hidden: int) -> nn.Module:
    """The module of one operator, ``hidden`` features in and out."""
    from torch_geometric import nn as gnn

    if op == "gat":
        if hidden % 2:
            raise ArchscoutError(f"the gat operator splits {hidden} hidden features over 2 heads; use an even width")
        return MessagePassingOp(gnn.GATConv(hidden, hidden // 2, heads=2))
    if op == "gcn":
        return MessagePassingOp(gnn.GCNConv(hidden, hidden))
    if op == "gin":
        mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        return MessagePassingOp(gnn.GINConv(mlp))
    if op == "cheb":
        return MessagePassingOp(gnn.ChebConv(hidden, hidden, K=2))
    if op == "sage":
        return MessagePassingOp(gnn.SAGEConv(hidden, hidden))
    if op == "arma":
        return MessagePassingOp(gnn.ARMAConv(hidden, hidden))
    if op == "graph":
        return MessagePassingOp(gnn.GraphConv(hidden, hidden))
    if op == "fc":
        return LinearOp(hidden)
    if op == "skip":
        return SkipOp()
    raise ArchscoutError(f"unknown GNN operator {op!r}; operators are {', '.join(OPS)}")


class GNN(nn.Module):
    """Pre-processing, four operator nodes in a tree, the sum of the leaves, a classifier.

    ``forward(x, edge_index)``: node features ``[N, num_features]`` and edges ``[2, E]``
    (int64); returns logits ``[N, num_classes]``.
    """

    def __init__(self, values: dict, num_features: int, num_classes: int, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        self.parents = [int(p) for p in values["link"].split("-")]
        self.op_names = [values[n] for n in NODES]
        self.leaves = [v for v in range(1, 5) if v not in self.parents]
        self.dropout = dropout
        self.pre = nn.Linear(num_features, hidden)
        self.ops = nn.ModuleList(make_op(op, hidden) for op in self.op_names)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x, edge_index):
        outputs = [self.pre(x)]
        for op, name, parent in zip(self.ops, self.op_names, self.parents):
            h = op(outputs[parent], edge_index)
            if name != "skip":
                h = F.dropout(F.relu(h), self.dropout, self.training)
            outputs.append(h)
        return self.classifier(torch.stack([outputs[v] for v in self.leaves]).sum(0))


def build_gnn(values: dict, input_shape: tuple, num_classes: int, hidden: int = 64, dropout: float = 0.5) -> GNN:
    """The network of one architecture of the ``gnn`` space for nodes with ``input_shape == (num_features,)``."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 1:
        raise ArchscoutError(f"the gnn space builds graph neural networks over node features and needs a graph "
                             f"task (e.g. mnist1d-knn, or a folder of graph files: see docs/graphs.md); the "
                             f"task's inputs are shaped {shape}")
    return GNN(values, shape[0], num_classes, hidden, dropout)
