"""Multi-fidelity schedulers on one ladder of rungs (:mod:`.rungs`): successive halving and Hyperband
(:mod:`.synchronous`), ASHA and MO-ASHA (:mod:`.asha`), BOHB and asha-kde (:mod:`.bohb`, with the density model
of :mod:`.kde`), ``auto``, asha-kde starting from the space's priors (:mod:`.auto`), and PriorBand, Hyperband
sampling from the priors, the incumbent's neighbourhood and uniformly (:mod:`.priorband`)."""
from .asha import ASHA, MOASHA
from .auto import Auto
from .bohb import ASHAKDE, BOHB
from .priorband import PriorBand
from .synchronous import Hyperband, SuccessiveHalving

__all__ = ["Auto", "ASHA", "MOASHA", "ASHAKDE", "BOHB", "Hyperband", "PriorBand", "SuccessiveHalving"]
