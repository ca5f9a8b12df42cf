"""``auto``: archscout's default search strategy, asha-kde whose first candidates come from the space's priors."""
from __future__ import annotations

from ...checks import boolean
from ...errors import ArchscoutError
from ...space import Architecture, Space
from .._nsga2 import check_probability, fresh_sample
from .bohb import ASHAKDE
from .rungs import RESAMPLE_TRIES

ONE_SHOT_SPACE = "cell"  # the space a differentiable pass searches (NAS-Bench-201's cells)


class Auto(ASHAKDE):
    """The strategy of archscout's default search: :class:`ASHAKDE` whose candidates start from the space's priors.

    Promotions are ASHA's and model-based candidates BOHB's density model's, as in ``asha-kde`` (three rungs by
    default: the top's / 9, / 3 and the top). What differs is where the other candidates come from:

    * the first new candidate is the architecture every prior of the space points at (its *prior mode*: each
      choice at its prior value, as NePS's ``sample_prior_first``), when the space has priors;
    * a candidate the density model does not propose (all of them until the model is fitted, then
      ``random_fraction`` of them) is drawn from the space's priors with probability ``prior_fraction`` (0.5) and
      uniformly otherwise. A choice without a prior is uniform either way, so on a space without priors this is
      ``asha-kde`` with the uniform draws it always makes.

    This borrows PriorBand's idea (Mallik et al., NeurIPS 2023: sample from the user's prior, the incumbent's
    neighbourhood and uniformly, mixed by how each has fared) but is not PriorBand: the mix is fixed rather than
    adapted to the prior's results, there is no incumbent-based sampling, and the later candidates come from BOHB's
    model. Priors are written as NePS writes them (``Choice(..., prior=VALUE, confidence="medium")``, see
    :mod:`archscout.space`). The command line uses this strategy when no ``--strategy`` is given, with the settings
    docs/default-search.md lists (the task's default space, its fidelities, the revalidation of the best).

    Options: those of ``asha-kde``, and ``prior_fraction`` (0.5) and ``prior_first`` (true). A proposal's details
    say where it came from (``source``: ``prior-mode``, ``prior``, ``uniform`` or ``model``).

    ``one_shot`` (false; on a space that allows one, the ``cell`` space): before its first proposal, a study's
    run searches the space by DARTS with perturbation-based selection (600 steps; ``one_shot_options`` overrides
    any of ``--strategy darts``'s options), and the derived cell, trained at the top fidelity by the study's
    evaluator, is recorded as the first trial (recorded by ``darts``; see
    :func:`archscout.study.run.one_shot_stage`); this strategy is told it like any result at the top rung. Not
    in the default: not measured yet.
    """

    name = "auto"

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64, random_fraction: float = 1 / 3,
                 bandwidth_factor: float = 3, min_bandwidth: float = 1e-3, prior_fraction: float = 0.5,
                 prior_first: bool = True, one_shot: bool = False, one_shot_options: dict | None = None):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key, min_points_in_model,
                         top_n_percent, num_samples, random_fraction, bandwidth_factor, min_bandwidth)
        self.prior_fraction = check_probability(self.name, "prior_fraction", prior_fraction)
        self.prior_first = boolean(prior_first, f"{self.name}: prior_first")
        self.one_shot = boolean(one_shot, f"{self.name}: one_shot")
        if one_shot_options is not None and not isinstance(one_shot_options, dict):
            raise ArchscoutError(f"{self.name}: one_shot_options is a mapping of DARTS's options, such as "
                                 f'{{"steps": 300}}, got {one_shot_options!r}')
        self.one_shot_options = dict(one_shot_options or {})
        if self.one_shot:
            if space.name != ONE_SHOT_SPACE:
                raise ArchscoutError(f"{self.name}: one_shot needs a space that a one-shot pass can search (the "
                                     f"{ONE_SHOT_SPACE!r} space), not {space.name!r}")
        self.has_priors = space.has_priors()
        self._mode: Architecture | None = None
        if self.has_priors and self.prior_first:
            try:
                self._mode = space.prior_mode()
            except ArchscoutError:  # the priors' mode breaks a constraint of the space: no such first candidate
                self._mode = None

    def _sample(self) -> tuple[Architecture, dict]:
        if self._mode is not None and self._mode not in self._archs:
            return self._mode, {"model_based": False, "source": "prior-mode"}
        if self.rng.random() >= self.random_fraction:
            found = self._from_model()
            if found is not None:
                arch, details = found
                return arch, {**details, "source": "model"}
        prior = self.has_priors and self.rng.random() < self.prior_fraction
        draw = (lambda space, rng: space.sample(rng, prior=True)) if prior else None
        arch = fresh_sample(self.space, self.rng, self._archs.__contains__, RESAMPLE_TRIES, draw)
        return arch, {"model_based": False, "source": "prior" if prior else "uniform"}
