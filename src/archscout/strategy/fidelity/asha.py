"""ASHA (asynchronous successive halving) and its multi-objective form MO-ASHA, on the ladder of :mod:`.rungs`."""
from __future__ import annotations

import numpy as np

from ...space import Architecture
from .._base import Proposal
from .._nsga2 import environmental_selection
from .rungs import Scheduler


class ASHA(Scheduler):
    """Asynchronous successive halving (ASHA): promote a candidate once it is in the top 1/eta of its rung, never wait.

    Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020 (Algorithm 2).

    Each ``ask`` looks at the rungs from the one below the top down and promotes the best architecture that
    is among the top ``floor(n / eta)`` of the ``n`` results of its rung and not yet promoted (told or proposed
    one rung up); when there is none, it proposes a new random architecture at the lowest rung. It never
    returns None, so every free worker gets work.

    Options: ``eta`` (3, a whole number >= 2), ``min_fidelity`` (the lowest rung's budget, in the study's
    fidelity unit; default the top's / eta^3, at least 1 step), ``max_fidelity`` and ``fidelity_key`` (only
    for an evaluator without a fidelity of its own: the top rung's budget and its unit, default ``steps``).

    As in the paper, one bracket (no early-stopping rate s > 0, no Hyperband loop over brackets) and
    random new candidates. Differences: results of every process and every proposer count in the rungs;
    failed, infeasible and early-stopped results count in ``n`` as the worst of their rung; a
    promotion that was discarded (see :meth:`discard`) is not proposed again.
    """

    name = "asha"

    def ask(self) -> Proposal:
        for k in range(self.top - 1, -1, -1):
            quota = len(self._results[k]) // self.eta
            for arch in self.ranking(k)[:quota]:
                if arch not in self._results[k + 1] and (arch, k + 1) not in self._proposed:
                    return self._promote(arch, k + 1, 0)
        return self._new(0, 0)


class MOASHA(ASHA):
    """Multi-objective ASHA: each rung ranked by non-dominated sorting, then crowding distance (NSGA-II's order).

    Schmucker et al., "Multi-objective Asynchronous Successive Halving", arXiv:2106.12639, 2021 (its
    NSGA-II selection).

    A rung's results are ranked as NSGA-II's selection ranks them: by non-domination rank, then, within a
    front, by crowding distance (largest first; ties: the first told first). Promotion then follows ASHA
    (see :class:`ASHA`, same options): the first of the top ``floor(n / eta)`` not yet promoted. Objective
    values known before training (a hardware cost) are simply among the objectives.

    The paper also ranks by an epsilon-net (and by scalarisations, as baselines); only the NSGA-II order is
    here. The score is a tuple with one value per objective, "higher is better" (a plain float is one
    objective).
    """

    name = "mo-asha"
    multi_objective = True

    def _order(self, scored: list[tuple[Architecture, tuple[float, ...]]]) -> list[Architecture]:
        F = -np.array([values for _, values in scored], dtype=float)
        keep, _, _ = environmental_selection(F, len(F))
        return [scored[i][0] for i in keep]
