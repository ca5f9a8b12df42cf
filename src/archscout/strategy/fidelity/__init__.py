"""Multi-fidelity schedulers on one ladder of rungs (:mod:`.rungs`): successive halving and Hyperband
(:mod:`.synchronous`), ASHA and MO-ASHA (:mod:`.asha`), BOHB and asha-kde (:mod:`.bohb`, with the density model
of :mod:`.kde`), and ``auto``, asha-kde starting from the space's priors (:mod:`.auto`)."""
from .asha import ASHA, MOASHA
from .auto import Auto
from .bohb import ASHAKDE, BOHB
from .synchronous import Hyperband, SuccessiveHalving

__all__ = ["Auto", "ASHA", "MOASHA", "ASHAKDE", "BOHB", "Hyperband", "SuccessiveHalving"]
