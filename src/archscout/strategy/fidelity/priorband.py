"""``priorband``: Hyperband whose new candidates come from the space's priors, the incumbent's neighbourhood or
uniformly, mixed by how the priors and the incumbent explain the best results (Mallik et al., NeurIPS 2023)."""
from __future__ import annotations

import math

from ...checks import boolean
from ...errors import ArchscoutError
from ...space import Architecture, Space
from .._nsga2 import check_probability, fresh_sample
from .rungs import RESAMPLE_TRIES
from .synchronous import Hyperband


class PriorBand(Hyperband):
    """PriorBand: Hyperband's brackets with PriorBand's sampling of new candidates.

    Mallik, Bergman, Hvarfner, Stoll, Janowski, Lindauer, Nardi, Hutter, "PriorBand: Practical Hyperparameter
    Optimization in the Age of Deep Learning", NeurIPS 2023, as NePS (0.17, ``neps.optimizers.priorband``)
    implements it. A new candidate for a bracket starting at rung r is drawn

    * uniformly with probability ``w_u = 1 / (1 + eta^r)`` (much exploration at the lowest rung, little at the top);
    * otherwise from the space's priors, until incumbent sampling is on: once a result at the top rung exists,
      one successive-halving bracket's worth of fidelity has been spent (a promotion counted as the difference
      to the rung below, since it continues) and some rung has ``eta`` results. From then on the prior's
      share ``1 - w_u`` is split between the priors and the incumbent's neighbourhood in proportion to how
      likely the best ``1/eta`` of the highest rung with ``eta`` results are under each (the space's priors, and
      the same distribution centred on the incumbent, each candidate weighted by its place, K for the best down to
      1), and an incumbent draw is a local mutation of the best result so far (each decision redrawn with
      probability ``mutation_rate`` 0.5: an ordered one from a normal of ``mutation_std`` 0.25 around it, an
      unordered one among its other values). See :mod:`archscout.space.priors` for the distributions over
      architectures.

    Options: those of ``hyperband`` (``eta`` 3, ``min_fidelity``, ...), ``mutation_rate``, ``mutation_std`` and
    ``prior_first`` (false, as NePS's ``sample_prior_first``: the first new candidate the priors' mode). A
    proposal's details say where it came from (``source``: ``prior``, ``incumbent``, ``uniform``,
    ``prior-mode``) and the weights it was drawn with.

    Differences from NePS 0.17's code: the spent fidelity counts each result once (NePS multiplies it by the
    rung's index, so the lowest rung counts nothing), and a rung "with eta results" has at least ``eta`` (NePS
    asks for exactly ``eta``, where its comment says at least); the space is a tree of choices rather than a
    flat configuration (:mod:`archscout.space.priors`); Hyperband's loop over brackets repeats without end, as
    ``hyperband`` does here.
    """

    name = "priorband"

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, parallel_brackets: int = 1, mutation_rate: float = 0.5,
                 mutation_std: float = 0.25, prior_first: bool = False):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key, parallel_brackets)
        self.mutation_rate = check_probability(self.name, "mutation_rate", mutation_rate)
        self.mutation_std = check_probability(self.name, "mutation_std", mutation_std)
        if not 0 < self.mutation_std < 1:
            raise ArchscoutError(f"{self.name}: mutation_std must be between 0 and 1 (exclusive), got {mutation_std!r}")
        self.prior_first = boolean(prior_first, f"{self.name}: prior_first")
        self._mode: Architecture | None = None
        if self.prior_first and space.has_priors():
            try:
                self._mode = space.prior_mode()
            except ArchscoutError:  # the priors' mode breaks a constraint of the space
                self._mode = None

    # -- when the incumbent is sampled, and how much --------------------------------------------------------------
    def _scored(self, k: int) -> list[Architecture]:
        return self.ranking(k)

    def spent(self) -> float:
        """Fidelity spent on scored results, a promotion counted as what it adds to the rung below."""
        return sum(len(self._scored(k)) * self._step(k) for k in range(len(self.rungs)))

    def _step(self, k: int) -> float:
        return float(self.rungs[k] - (self.rungs[k - 1] if k > 0 else 0))

    def bracket_cost(self) -> float:
        """The fidelity of one successive-halving bracket from the lowest rung (eta^(K-k) at rung k)."""
        return sum(self.eta ** (self.top - k) * self._step(k) for k in range(len(self.rungs)))

    def incumbent_on(self) -> bool:
        """Whether incumbent sampling has started (see the class)."""
        return (bool(self._scored(self.top)) and self.spent() >= self.bracket_cost()
                and any(len(self._scored(k)) >= self.eta for k in range(len(self.rungs))))

    def incumbent(self) -> Architecture | None:
        """The best scored result at any rung (as NePS's incumbent: the global best, whatever its rung)."""
        best: tuple[float, Architecture] | None = None
        for k in range(len(self.rungs)):
            for arch, entry in self._results[k].items():
                if entry.values is not None and (best is None or entry.values[0] > best[0]):
                    best = (entry.values[0], arch)
        return None if best is None else best[1]

    def weights(self, rung: int) -> dict[str, float]:
        """The probabilities of a new candidate at ``rung`` coming from the priors, the incumbent, uniformly."""
        uniform = 1.0 / (1 + self.eta ** rung)
        prior = 1.0 - uniform
        incumbent = self.incumbent() if self.incumbent_on() else None
        if incumbent is None:
            return {"prior": prior, "incumbent": 0.0, "uniform": uniform}
        k = max(k for k in range(len(self.rungs)) if len(self._scored(k)) >= self.eta)
        top = self._scored(k)[:len(self._scored(k)) // self.eta]
        ranks = [math.log(len(top) - i) for i in range(len(top))]  # the best weighs K, the last 1
        under_inc = _logsumexp([w + self.space.log_prob(a, incumbent) for w, a in zip(ranks, top)])
        under_prior = _logsumexp([w + self.space.log_prob(a) for w, a in zip(ranks, top)])
        inc_share = 1.0 / (1.0 + math.exp(under_prior - under_inc))
        return {"prior": prior * (1 - inc_share), "incumbent": prior * inc_share, "uniform": uniform}

    # -- sampling -------------------------------------------------------------------------------------------------
    def _new(self, k: int, bracket: int):
        arch, details = self._sample_at(k)
        return self._propose(arch, k, None, bracket, **details)

    def _sample_at(self, rung: int) -> tuple[Architecture, dict]:
        if self._mode is not None and self._mode not in self._archs:
            return self._mode, {"source": "prior-mode"}
        w = self.weights(rung)
        source = self.rng.choices(list(w), weights=list(w.values()))[0]
        shown = {key: round(v, 4) for key, v in w.items()}
        if source == "incumbent":
            incumbent = self.incumbent()
            assert incumbent is not None  # its weight is 0 without one
            arch = incumbent
            for _ in range(RESAMPLE_TRIES):
                arch = self.space.local_mutation(incumbent, self.rng, self.mutation_rate, self.mutation_std)
                if arch not in self._archs:
                    break
            return arch, {"source": "incumbent", "weights": shown}
        draw = (lambda space, rng: space.sample(rng, prior=True)) if source == "prior" else None
        arch = fresh_sample(self.space, self.rng, self._archs.__contains__, RESAMPLE_TRIES, draw)
        return arch, {"source": source, "weights": shown}


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))
