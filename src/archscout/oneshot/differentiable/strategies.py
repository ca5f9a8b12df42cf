"""Differentiable methods named as strategies: ``--strategy darts|darts-2nd|pc-darts|gdas`` over the ``cell`` space.

They do not ask and tell: they train a relaxed network themselves (:mod:`archscout.oneshot.differentiable`) and
the study records the cell they derive as a trial (:meth:`Study.record`), trained and scored by the study's
evaluator like any other, with the search's history (architecture weights per edge over time, the Hessian's
dominant eigenvalue, collapse flags, time and memory) in its details. This class only holds and checks the
options; it imports no torch.
"""
from __future__ import annotations

from ...errors import ArchscoutError
from ...space import Space
from ...strategy import STRATEGIES, Proposal, Strategy


class DifferentiableStrategy(Strategy):
    oneshot = True
    method = ""

    def __init__(self, space: Space, seed: int = 0, steps: int = 600, batch_size: int = 64, w_lr: float = 0.025,
                 a_lr: float = 3e-4, channels: int = 16, stages: int = 3, cells: int = 1, partial_k: int = 4,
                 tau_max: float = 10.0, tau_min: float = 0.1, check_every: int = 50, guard: bool = False,
                 es_ratio: float = 0.75, window: int = 2, latency_weight: float = 0.0,
                 selection: str = "argmax", tune_steps: int = 20):
        super().__init__(space, seed)
        if space.name != "cell":
            raise ArchscoutError(f"{self.name} searches the cell space (NAS-Bench-201's cells), not {space.name!r}; "
                                 f"use --space cell")
        from .config import DifferentiableConfig
        self.config = DifferentiableConfig(method=self.method, steps=steps, batch_size=batch_size, w_lr=w_lr,
                                           a_lr=a_lr, channels=channels, stages=stages, cells=cells,
                                           partial_k=partial_k, tau_max=tau_max, tau_min=tau_min,
                                           check_every=check_every, guard=bool(guard), es_ratio=es_ratio,
                                           window=window, latency_weight=latency_weight, selection=selection,
                                           tune_steps=tune_steps)

    def run_oneshot(self, study, progress=None) -> list:
        """Search, derive, train and record (see :func:`archscout.oneshot.differentiable.run.run_differentiable`)."""
        from .run import run_differentiable
        return run_differentiable(study, self, progress)

    def ask(self) -> Proposal:
        raise ArchscoutError(f"{self.name} trains its own weights and records the cell it derives; a study runs it "
                             f"with run() or search(), not ask()")

    def tell(self, arch, score) -> None:
        pass


class DARTS(DifferentiableStrategy):
    """DARTS, first order: softmax-relaxed edges, bilevel optimisation (Liu et al., ICLR 2019)."""

    name = method = "darts"


class DARTSSecondOrder(DifferentiableStrategy):
    """DARTS, second order: the unrolled architecture gradient with a finite-difference Hessian term."""

    name = method = "darts-2nd"


class PCDARTS(DifferentiableStrategy):
    """PC-DARTS: partial channel connections and edge normalisation (Xu et al., ICLR 2020)."""

    name = method = "pc-darts"


class ProxylessNAS(DifferentiableStrategy):
    """ProxylessNAS: binary paths, and a measured expected-latency term weighted by ``latency_weight``
    (Cai et al., ICLR 2019)."""

    name = method = "proxyless"


class GDAS(DifferentiableStrategy):
    """GDAS: one Gumbel-softmax-sampled operation per edge per step (Dong & Yang, CVPR 2019)."""

    name = method = "gdas"


class LPGNASLite(Strategy):
    """Graph operators and per-layer bit widths searched together by gradient descent, after LPGNAS (Zhao et al.,
    EuroMLSys 2021), over the gnn space's operators on a given tree (see
    :mod:`archscout.oneshot.differentiable.graph_precision` for how it differs from the paper)."""

    name = "lpgnas-lite"
    oneshot = True

    def __init__(self, space: Space, seed: int = 0, steps: int = 200, link: str = "0-1-2-3",
                 bits: tuple | list | str = (2, 4, 8, 16, 32), size_weight: float = 0.1, w_lr: float = 0.005, a_lr: float = 0.003, record_every: int = 10,
                 bit_relaxation: str = "mixed", tau_max: float = 5.0, tau_min: float = 0.5):
        super().__init__(space, seed)
        if space.name not in ("gnn", "gnn-proteins"):
            raise ArchscoutError(f"lpgnas-lite searches the gnn space's operators, not {space.name!r}; use --space gnn")
        if isinstance(bits, str):
            try:
                bits = tuple(int(b) for b in bits.replace("/", ",").split(","))
            except ValueError:
                raise ArchscoutError(f"lpgnas-lite: bits is a list of whole numbers like 2,4,8,32, got {bits!r}") \
                    from None
        from .graph_precision import GraphPrecisionConfig
        # the space's operators, width and dropout: the derived network is the one the space builds
        self.config = GraphPrecisionConfig(steps=steps, link=link, bits=tuple(bits), size_weight=size_weight,
                                           hidden=getattr(space, "hidden", 64), dropout=getattr(space, "dropout", 0.5), w_lr=w_lr, a_lr=a_lr,
                                           record_every=record_every, ops=tuple(space.root.fields["op1"].values),
                                           bit_relaxation=bit_relaxation, tau_max=tau_max, tau_min=tau_min)

    def run_oneshot(self, study, progress=None) -> list:
        """Search, derive, train in fp32 and quantised, record (see
        :func:`archscout.oneshot.differentiable.run.run_graph_precision`)."""
        from .run import run_graph_precision
        return run_graph_precision(study, self, progress)

    def ask(self) -> Proposal:
        raise ArchscoutError("lpgnas-lite trains its own weights and records the GNN it derives; a study runs it "
                             "with run() or search(), not ask()")

    def tell(self, arch, score) -> None:
        pass


STRATEGIES.register("darts", DARTS)
STRATEGIES.register("darts-2nd", DARTSSecondOrder)
STRATEGIES.register("pc-darts", PCDARTS)
STRATEGIES.register("gdas", GDAS)
STRATEGIES.register("proxyless", ProxylessNAS)
STRATEGIES.register("lpgnas-lite", LPGNASLite)
