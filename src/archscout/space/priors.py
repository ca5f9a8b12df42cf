"""Distributions over a space's architectures centred on a point, as PriorBand uses them.

PriorBand (Mallik et al., NeurIPS 2023; ``archscout.strategy.fidelity.priorband``) scores how likely the best
candidates are under the space's priors and under a distribution of the same shape centred on the incumbent, and
samples around the incumbent by a local mutation. NePS does both over a flat configuration; here they walk the
space's tree (:class:`~archscout.space.Block`):

* :func:`log_prob`: the log-probability of an architecture as :meth:`Block.sample` with ``prior=True`` draws it
  (each active choice and each Repeat's length from :func:`~archscout.space.prior_weights`, uniform where there
  is no prior), or, with a ``centre``, with every choice and length centred on the centre's value instead, at its
  prior's confidence (``low`` without a prior, NePS's default). A copy of a Repeat beyond the centre's length,
  and a choice the centre leaves inactive, fall back to the priors.
* :func:`local_mutation`: each choice and each Repeat's length is redrawn with probability ``rate``: an ordered
  one from a normal around its current index (standard deviation ``std`` of the index range, NePS's numerical
  mutation), an unordered one uniformly among its other values (NePS's categorical mutation, confidence 0 on the
  current value). Copies a longer Repeat adds are mutated copies of its last one.
"""
from __future__ import annotations

import math
import random
from typing import Any

from ._choices import CONFIDENCE, Block, Choice, Repeat, prior_weights

NO_PRIOR_CONFIDENCE = "low"  # a centred choice without a prior of its own: NePS's default confidence


def _probs(n: int, index: int | None, confidence: str | None, ordered: bool) -> list[float]:
    if index is None:
        return [1.0 / n] * n
    return prior_weights(n, index, CONFIDENCE[confidence or NO_PRIOR_CONFIDENCE], ordered)


def choice_probs(node: Choice, centre: Any = None) -> list[float]:
    """The probability of each of ``node``'s values: centred on ``centre`` (a value), else on its prior."""
    index = node.index(centre) if centre is not None else node.prior
    confidence = node.confidence if (centre is None or node.prior is not None) else None
    return _probs(len(node.values), index, confidence, node.ordered)


def length_probs(node: Repeat, centre: int | None = None) -> list[float]:
    """The probability of each length ``node.min..node.max``: centred on ``centre``, else on its prior."""
    index = centre - node.min if centre is not None else node.prior
    confidence = node.confidence if (centre is None or node.prior is not None) else None
    return _probs(node.max - node.min + 1, index, confidence, True)


def log_prob(block: Block, value: dict, centre: dict | None = None) -> float:
    """The log-probability of ``value`` (a canonical value of ``block``) under the priors, or centred on
    ``centre`` (see the module)."""
    total = 0.0
    for name, node in block.fields.items():
        v = value[name]
        c = centre.get(name) if centre is not None else None
        if isinstance(node, Choice):
            if v is not None:
                total += math.log(choice_probs(node, c)[node.index(v)])
        elif isinstance(node, Repeat):
            total += math.log(length_probs(node, None if c is None else len(c))[len(v) - node.min])
            for i, b in enumerate(v):
                total += log_prob(node.block, b, c[i] if c is not None and i < len(c) else None)
        else:
            total += log_prob(node, v, c)
    return total


def _moved(n: int, index: int, ordered: bool, std: float, rng: random.Random) -> int:
    if not ordered:
        return rng.choice([i for i in range(n) if i != index])
    return rng.choices(range(n), weights=prior_weights(n, index, 1 - std, True))[0]


def local_mutation(block: Block, value: dict, rng: random.Random, rate: float = 0.5, std: float = 0.25) -> dict:
    """``value`` with each decision redrawn near its current value with probability ``rate`` (see the module);
    a choice the changes switch on is drawn uniformly, one they switch off becomes None."""
    out: dict[str, Any] = {}
    for name, node in block.fields.items():
        v = value.get(name)
        if isinstance(node, Choice):
            if not node.is_active(out):
                out[name] = None
            elif v is None:
                out[name] = node.sample(rng)
            elif len(node.values) > 1 and rng.random() < rate:
                out[name] = node.values[_moved(len(node.values), node.index(v), node.ordered, std, rng)]
            else:
                out[name] = v
        elif isinstance(node, Repeat):
            v = list(v or [])
            n = len(v)
            if node.min != node.max and rng.random() < rate:
                n = node.min + _moved(node.max - node.min + 1, n - node.min, True, std, rng)
            copies = []
            for i in range(n):
                source = v[i] if i < len(v) else (v[-1] if v else None)
                copies.append(node.block.sample(rng) if source is None
                              else local_mutation(node.block, source, rng, rate, std))
            out[name] = copies
        else:
            out[name] = local_mutation(node, v or {}, rng, rate, std)
    return out
