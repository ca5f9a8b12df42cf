"""The continuous relaxation of the ``cell`` space: every edge a mixture of all five operations.

:class:`SearchNetwork` is the ``cell`` space's skeleton (:class:`~archscout.space.cellnet.CellNetwork`'s stem,
stages, reductions and head) whose cells are :class:`MixedCell`\\ s: on each of the 6 edges, every operation
of :data:`~archscout.space.cell.OPS` applied to the edge's input and combined with weights derived from
the architecture parameters ``alpha`` (6 × 5, shared by every cell, as NAS-Bench-201's search does). How
the weights are derived is the method's:

* ``softmax`` (DARTS): the softmax of ``alpha`` per edge, every operation computed;
* ``gumbel`` (GDAS): a hard one-hot sample from the Gumbel-softmax of ``alpha`` per edge, with the
  softmax's gradient (straight-through); only the sampled operation is computed;
* ``binary`` (ProxylessNAS): binary gates, one active path per edge drawn from the softmax of ``alpha``
  (:meth:`SearchNetwork.sample_gates`); for the architecture update two candidates are computed and
  ``alpha``'s gradient follows from the gates' (:meth:`SearchNetwork.binary_alpha_grad`);
* ``partial`` (PC-DARTS): the softmax mixture applied to the first 1/``k`` of the channels; the others pass
  by untouched and the channels are shuffled in ``k`` groups after the edge (so the next edge samples
  others); every edge's output is scaled by the softmax of the ``beta`` of its node's incoming edges (edge
  normalisation).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...space.cell import ENDS, OPS
from ...space.cellnet import edge_op, skeleton

MODES = ("softmax", "gumbel", "partial", "binary")
PARAMETER_FREE = ("none", "skip", "avgpool3x3")


class MixedEdge(nn.Module):
    """All operations of one edge; ``forward(x, weights, mode)`` combines them."""

    def __init__(self, channels: int, dims: int, partial_k: int = 4):
        super().__init__()
        self.k = partial_k
        self.dims = dims
        self.ops = nn.ModuleList(edge_op(op, channels, dims) for op in OPS)
        self.partial_ops = None
        if partial_k > 1 and channels % partial_k == 0:
            self.partial_ops = nn.ModuleList(edge_op(op, channels // partial_k, dims) for op in OPS)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, mode: str) -> torch.Tensor:
        if mode == "binary":  # gates: 1 the active path, 0 a candidate computed for its gradient, -1 left out
            flags = weights.detach().tolist()
            return sum(weights[i] * op(x) for i, op in enumerate(self.ops) if flags[i] >= 0)
        if mode == "gumbel":
            i = int(weights.argmax())
            return weights[i] * self.ops[i](x)  # weights[i] is 1 with the softmax's gradient
        if mode == "partial" and self.partial_ops is not None:
            c = x.shape[1] // self.k
            mixed = sum(w * op(x[:, :c]) for w, op in zip(weights, self.partial_ops))
            out = torch.cat([mixed, x[:, c:]], 1)
            # channel shuffle in k groups, so that other channels are sampled at the next edge
            b, rest = out.shape[0], out.shape[2:]
            return out.reshape(b, self.k, -1, *rest).transpose(1, 2).reshape(b, -1, *rest)
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class MixedCell(nn.Module):
    """A cell whose edges are :class:`MixedEdge`\\ s."""

    def __init__(self, channels: int, dims: int, partial_k: int = 4):
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels, dims, partial_k) for _ in ENDS)

    def forward(self, x, weights: torch.Tensor, mode: str, edge_scale: torch.Tensor | None = None):
        nodes = [x]
        for j in (1, 2, 3):
            total = None
            for k, (to, frm) in enumerate(ENDS):
                if to == j:
                    y = self.edges[k](nodes[frm], weights[k], mode)
                    if edge_scale is not None:
                        y = edge_scale[k] * y
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class SearchNetwork(nn.Module):
    """The ``cell`` skeleton with mixed cells and the architecture parameters ``alpha`` (and PC-DARTS's ``beta``)."""

    def __init__(self, in_shape: Sequence[int], num_classes: int, channels: int = 16, stages: int = 3, cells: int = 1,
                 mode: str = "softmax", partial_k: int = 4, tau: float = 10.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown relaxation {mode!r}; known: {', '.join(MODES)}")
        self.in_shape = tuple(int(s) for s in in_shape)
        self.mode, self.tau = mode, tau
        k = partial_k if mode == "partial" else 1
        self.stem, body, self.tail, self.classifier = skeleton(
            self.in_shape, num_classes, channels, stages, cells, lambda c, dims: MixedCell(c, dims, k))
        self.body = nn.ModuleList(body)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(ENDS), len(OPS)))
        self.beta = nn.Parameter(1e-3 * torch.randn(len(ENDS))) if mode == "partial" else None
        self.fixed: dict[int, int] = {}  # perturbation-based selection: edges already decided
        self.removed: tuple[int, int] | None = None  # perturbation: (edge, operation) taken out
        self.gates: torch.Tensor | None = None  # ProxylessNAS's binary gates

    def weights(self) -> list[nn.Parameter]:
        """The network's own weights (not the architecture parameters)."""
        return [p for n, p in self.named_parameters() if n not in ("alpha", "beta")]

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha] + ([self.beta] if self.beta is not None else [])

    def sample_gates(self, candidates: int = 1) -> torch.Tensor:
        """ProxylessNAS's binary gates for the next forward: per edge one active operation drawn from the
        softmax of ``alpha`` (1); with ``candidates`` 2, a second one drawn without replacement is computed
        too with gate 0, so that the loss's gradient with respect to both gates is known; the others -1 (not
        computed). The gates are a leaf tensor whose ``grad`` the architecture update reads."""
        with torch.no_grad():
            p = F.softmax(self.alpha, dim=-1)
            gates = torch.full_like(p, -1.0)
            for k in range(p.shape[0]):
                picked = torch.multinomial(p[k], candidates, replacement=False)
                if candidates == 2:
                    q = p[k, picked] / p[k, picked].sum()
                    first = int(torch.multinomial(q, 1))
                    gates[k, picked] = 0.0
                    gates[k, picked[first]] = 1.0
                else:
                    gates[k, picked] = 1.0
        self.gates = gates.requires_grad_(candidates == 2)
        return self.gates

    def binary_alpha_grad(self) -> torch.Tensor:
        """ProxylessNAS's gradient for ``alpha`` from the gates' gradient: on each edge, over its two candidates
        i, j (probabilities renormalised over them), dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i)."""
        grad = torch.zeros_like(self.alpha)
        gates = self.gates
        if gates is None or gates.grad is None:
            return grad
        with torch.no_grad():
            for k in range(gates.shape[0]):
                idx = (gates[k] >= 0).nonzero().flatten()
                if len(idx) < 2:
                    continue
                p = F.softmax(self.alpha[k, idx], dim=0)
                g = gates.grad[k, idx]
                for a, i in enumerate(idx):
                    grad[k, i] = sum(g[b] * p[b] * ((1.0 if a == b else 0.0) - p[a]) for b in range(len(idx)))
        return grad

    def rescale_sampled_alpha(self, before: torch.Tensor) -> None:
        """ProxylessNAS's rescaling after an architecture step (Cai et al., ICLR 2019, §3.2.1; the reference code's
        ``rescale_updated_arch_param``): on each edge, the ``alpha`` of the paths the gates computed (two) are
        shifted by one offset, log(sum exp(new alpha) / sum exp(``before``)) over those paths, so that their
        summed exp, and hence every other path's softmax probability, is what it was before the step."""
        gates = self.gates
        if gates is None:
            return
        with torch.no_grad():
            for k in range(gates.shape[0]):
                idx = (gates[k] >= 0).nonzero().flatten()
                if len(idx) < 2:
                    continue
                offset = torch.logsumexp(self.alpha[k, idx], 0) - torch.logsumexp(before[k, idx], 0)
                self.alpha[k, idx] -= offset

    def edge_weights(self) -> torch.Tensor:
        w = self._relaxed_weights()
        fixed, removed = self.fixed, self.removed
        if not fixed and removed is None:
            return w
        w = w.clone()
        if removed is not None:  # perturbation: one operation masked out of one edge, the rest left as they are
            k, i = removed       # (darts-pt's projection mask: not renormalised)
            w[k, i] = 0.0
        for k, i in fixed.items():  # edges already decided: their operation alone
            w[k] = torch.nn.functional.one_hot(torch.tensor(i), w.shape[1]).to(w.dtype)
        return w

    def _relaxed_weights(self) -> torch.Tensor:
        if self.mode == "binary":
            return self.gates if self.gates is not None else self.sample_gates()
        if self.mode == "gumbel":
            return F.gumbel_softmax(self.alpha, tau=self.tau, hard=True, dim=-1)
        return F.softmax(self.alpha, dim=-1)

    def edge_scale(self) -> torch.Tensor | None:
        """PC-DARTS's edge normalisation: per node, the softmax of its incoming edges' ``beta``."""
        if self.beta is None:
            return None
        scale = torch.empty_like(self.beta)
        for j in (1, 2, 3):
            idx = [k for k, (to, _) in enumerate(ENDS) if to == j]
            scale[idx] = F.softmax(self.beta[idx], dim=0)
        return scale

    def forward(self, x):
        x = x.reshape((x.shape[0],) + self.in_shape)
        weights, scale = self.edge_weights(), self.edge_scale()
        x = self.stem(x)
        for block in self.body:
            x = block(x, weights, self.mode, scale) if isinstance(block, MixedCell) else block(x)
        x = self.tail(x)
        return self.classifier(torch.flatten(x, 2).mean(2))

    # -- the discrete cell ---------------------------------------------------------------------------------
    def probabilities(self) -> torch.Tensor:
        """Per edge, the softmax of ``alpha`` (times the edge's normalised ``beta`` for PC-DARTS, as its
        derivation ranks operations)."""
        with torch.no_grad():
            p = F.softmax(self.alpha, dim=-1)
            scale = self.edge_scale()
            return p * scale[:, None] if scale is not None else p

    def derive(self) -> dict:
        """The discrete cell: on each edge the operation with the largest weight (``none`` included, as
        NAS-Bench-201's searches derive), or the one perturbation-based selection fixed."""
        p = self.probabilities()
        fixed = self.fixed
        return {f"e{k}": OPS[fixed[k] if k in fixed else int(p[k].argmax())] for k in range(len(ENDS))}
