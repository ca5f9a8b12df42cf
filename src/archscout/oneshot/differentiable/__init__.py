"""Differentiable search over the ``cell`` space (DARTS, PC-DARTS, GDAS, ProxylessNAS; :mod:`.search`) and over
gnn operators with bit widths (lpgnas-lite; :mod:`.graph_precision`). Importing it registers the strategies."""
from .strategies import DARTS, GDAS, PCDARTS, DARTSSecondOrder, DifferentiableStrategy, LPGNASLite, ProxylessNAS

__all__ = ["DARTS", "DARTSSecondOrder", "DifferentiableStrategy", "GDAS", "LPGNASLite", "PCDARTS", "ProxylessNAS"]
