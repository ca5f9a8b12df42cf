"""Differentiable search over the ``cell`` space: DARTS, PC-DARTS, GDAS (see :mod:`.search`)."""
