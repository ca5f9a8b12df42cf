"""How far a supernet's inherited accuracies can be trusted: sub-networks trained alone, ranked against them.

:func:`check_supernet` picks ``samples`` sub-networks spanning the elastic space's size range (the
smallest, the largest, and the others at evenly spaced quantiles of the parameter counts of 1,000 random
sub-networks), scores each with its inherited weights (batch norms recalibrated, as the ``supernet``
evaluator scores them) and trains each alone from scratch with ``train`` on the task's training part, scored
on its validation part. It reports Kendall τ and Spearman ρ between the two, and the gap (stand-alone minus
inherited) for the largest, the middle (by parameters) and the smallest. Test data is not read.
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable

import numpy as np

from ...errors import ArchscoutError
from ...evaluate.training import TrainConfig, fit, predict, scores
from .net import SuperNet, recalibrate

POOL = 1000


def _params(spec, values: dict, in_channels: int, num_classes: int) -> int:
    """Parameters of a sub-network of the elastic space (conv weights, batch norms, the classifier)."""
    total, c = 0, in_channels
    dims = spec.dims
    for st in values["stages"]:
        w, k = int(st["width"]), int(st["kernel"])
        total += w * c * k ** dims + 2 * w
        c = w
    return total + c * num_classes + num_classes


def spanning_sample(net: SuperNet, samples: int, seed: int = 0) -> list[dict]:
    """``samples`` distinct sub-networks from the smallest to the largest, evenly spaced in parameter rank."""
    if samples < 3:
        raise ArchscoutError(f"a supernet check needs at least 3 sub-networks to rank, got {samples}")
    spec = net.spec
    space = spec.space()
    rng = random.Random(seed)
    pool: dict[str, dict] = {}
    for values in [spec.smallest(), spec.largest()] + [space.sample(rng).values for _ in range(POOL)]:
        pool.setdefault(space.architecture(values).id, values)
    ranked = sorted(pool.values(), key=lambda v: _params(spec, v, net.in_shape[0], net.num_classes))
    if len(ranked) < samples:
        raise ArchscoutError(f"the elastic space has only {len(ranked)} distinct sub-networks in {POOL} draws; "
                             f"ask for fewer than {samples}")
    picks = sorted({round(i * (len(ranked) - 1) / (samples - 1)) for i in range(samples)})
    return [ranked[i] for i in picks]


def kendall_tau(x, y) -> float:
    """Kendall's τ-b (SciPy's)."""
    from scipy.stats import kendalltau
    return float(kendalltau(x, y).statistic)


def spearman_rho(x, y) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(x, y).statistic)


def check_supernet(net: SuperNet, task, train: TrainConfig, samples: int = 30, seed: int = 0,
                   calibration: list | None = None, progress: Callable[[str], None] | None = None,
                   device=None) -> dict:
    """Inherited against stand-alone validation accuracy for ``samples`` sub-networks (see the module)."""
    import torch

    chosen = spanning_sample(net, samples, seed)
    if calibration is None:
        n = len(task.train)
        idx = np.sort(np.random.default_rng(0).permutation(n)[:min(n, 2000)])
        X = torch.as_tensor(task.train.take(idx))
        calibration = [X[i:i + 200] for i in range(0, len(X), 200)]
    rows: list[dict[str, Any]] = []
    for i, values in enumerate(chosen):
        t0 = time.perf_counter()
        sub = net.extract(values)
        recalibrate(sub, calibration)
        inherited = scores(predict(sub, task.valid), task.valid.y, task.kind, task.preprocessing)["accuracy"]
        torch.manual_seed(seed)
        alone_net = net.spec.space().build(net.spec.space().architecture(values), net.input_shape, net.num_classes)
        fit(alone_net, task.train, train, seed=seed, kind=task.kind, device=device)
        alone = scores(predict(alone_net, task.valid, device=device), task.valid.y, task.kind,
                       task.preprocessing)["accuracy"]
        params = sum(p.numel() for p in alone_net.parameters())
        rows.append({"architecture": net.spec.space().describe(net.spec.space().architecture(values)),
                     "values": values, "params": int(params), "inherited": float(inherited), "alone": float(alone),
                     "seconds": round(time.perf_counter() - t0, 2)})
        if progress is not None:
            progress(f"{i + 1}/{len(chosen)}  {params:>9,} params  inherited {inherited:.4f}  alone {alone:.4f}")
    inh = [r["inherited"] for r in rows]
    alo = [r["alone"] for r in rows]
    by_size = sorted(rows, key=lambda r: r["params"])
    named = {"smallest": by_size[0], "middle": by_size[len(by_size) // 2], "largest": by_size[-1]}
    return {"samples": len(rows), "kendall_tau": kendall_tau(inh, alo), "spearman_rho": spearman_rho(inh, alo),
            "gaps": {k: {"params": r["params"], "inherited": r["inherited"], "alone": r["alone"],
                         "gap": r["alone"] - r["inherited"]} for k, r in named.items()},
            "train": train.as_dict(), "seed": seed, "rows": rows}
