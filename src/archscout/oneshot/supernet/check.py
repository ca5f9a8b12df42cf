"""How far a supernet's inherited accuracies can be trusted: sub-networks trained alone, ranked against them.

:func:`check_supernet` trains sub-networks alone from scratch with ``train`` on the task's training part, scores
each on its validation part, and scores it with its inherited weights (batch norms recalibrated, as the
``supernet`` evaluator scores them). Two samples of sub-networks, because a sample spread over sizes flatters a
supernet (accuracy tracks size, so any ranker that knows size ranks it well):

* *size-spanning* (``samples``): the smallest, the largest, and the others at evenly spaced quantiles of the
  parameter counts of 1,000 random sub-networks;
* *uniform* (``uniform``, default ``samples``): distinct sub-networks drawn at random from the elastic space with
  every choice uniform (the depth, then each stage's width and kernel: the distribution the supernet trains on and
  random search draws from), as Yu et al. 2020 ("Evaluating the search phase of neural architecture search")
  rank a uniform sample. A repeat is drawn again, so a depth with few sub-networks (conv1d: 32 of depth 1) falls
  below its share in a large sample; a sub-network in both samples is trained once.

It reports Kendall τ and Spearman ρ between inherited and stand-alone accuracy on each sample, τ *within*
parameter bins (every checked sub-network, both samples, split into ``bins`` equal-count bins by parameter count;
τ per bin and their mean weighted by sub-networks per bin: the ranking a search needs among candidates of similar
size), each with a 95 % percentile bootstrap interval over sub-networks (resampled within each bin for the binned
figures), and the gap (stand-alone minus inherited) for the largest, the middle (by parameters) and the smallest of
the size-spanning sample. Test data is not read.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import ArchscoutError
from ...evaluate.training import TrainConfig, fit, predict, scores
from .net import SuperNet, recalibrate

POOL = 1000
BINS = 3
BIN_MIN = 3  # sub-networks a bin needs for its τ; fewer bins are made when there are not enough
BOOTSTRAP = 1000
LEVEL = 0.95


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


def uniform_sample(net: SuperNet, samples: int, seed: int = 0) -> list[dict]:
    """``samples`` distinct sub-networks drawn at random, every elastic choice uniform, in the order drawn."""
    if samples < 3:
        raise ArchscoutError(f"a supernet check needs at least 3 sub-networks to rank, got {samples}")
    space = net.spec.space()
    rng = random.Random(f"uniform:{seed}")  # a stream of its own: not the size-spanning pool's draws
    picked: dict[str, dict] = {}
    for _ in range(100 * samples):
        if len(picked) == samples:
            break
        arch = space.sample(rng)
        picked.setdefault(arch.id, arch.values)
    if len(picked) < samples:
        raise ArchscoutError(f"the elastic space gave only {len(picked)} distinct sub-networks in {100 * samples} "
                             f"draws; ask for fewer than {samples}")
    return list(picked.values())


def kendall_tau(x, y) -> float:
    """Kendall's τ-b (SciPy's)."""
    from scipy.stats import kendalltau
    return float(kendalltau(x, y).statistic)


def spearman_rho(x, y) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(x, y).statistic)


def taus(X, Y) -> np.ndarray:
    """Kendall's τ-b of each row pair of ``X`` and ``Y`` (shape (rounds, n)) at once; NaN where a row is constant."""
    X, Y = np.atleast_2d(X), np.atleast_2d(Y)
    n = X.shape[-1]
    sx = np.sign(X[:, :, None] - X[:, None, :])
    sy = np.sign(Y[:, :, None] - Y[:, None, :])
    pairs = n * (n - 1) / 2
    untied_x = pairs - (np.count_nonzero(sx == 0, axis=(1, 2)) - n) / 2
    untied_y = pairs - (np.count_nonzero(sy == 0, axis=(1, 2)) - n) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (sx * sy).sum(axis=(1, 2)) / 2 / np.sqrt(untied_x * untied_y)


def rhos(X, Y) -> np.ndarray:
    """Spearman's ρ of each row pair of ``X`` and ``Y`` at once (average ranks for ties); NaN where a row is
    constant."""
    from scipy.stats import rankdata
    rx = rankdata(np.atleast_2d(X), axis=1)
    ry = rankdata(np.atleast_2d(Y), axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))


def _interval(values) -> list[float] | None:
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if len(finite) < 0.9 * len(values) or not len(finite):  # mostly undefined (ties everywhere): no interval
        return None
    lo, hi = np.quantile(finite, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return [float(lo), float(hi)]


def _value(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def ranking(inherited, alone, rounds: int = BOOTSTRAP, seed: int = 0) -> dict:
    """τ and ρ between two score lists, each with a percentile bootstrap interval over the pairs."""
    x, y = np.asarray(inherited, dtype=float), np.asarray(alone, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(x), (rounds, len(x)))
    return {"samples": len(x), "kendall_tau": _value(kendall_tau(x, y)),
            "kendall_tau_interval": _interval(taus(x[draws], y[draws])),
            "spearman_rho": _value(spearman_rho(x, y)), "spearman_rho_interval": _interval(rhos(x[draws], y[draws]))}


def binned_ranking(rows: list[dict], bins: int = BINS, rounds: int = BOOTSTRAP, seed: int = 0) -> dict:
    """τ within equal-count bins of ``rows`` by parameter count, and their mean weighted by rows per bin; bootstrap
    intervals resample within each bin. Fewer bins than asked when a bin would hold under ``BIN_MIN`` rows."""
    made = max(1, min(bins, len(rows) // BIN_MIN))
    ordered = sorted(rows, key=lambda r: r["params"])
    groups = [[ordered[i] for i in g] for g in np.array_split(np.arange(len(ordered)), made)]
    rng = np.random.default_rng(seed)
    out, point, boot = [], [], np.zeros((rounds, len(groups)))
    for j, group in enumerate(groups):
        x = np.asarray([r["inherited"] for r in group])
        y = np.asarray([r["alone"] for r in group])
        draws = rng.integers(0, len(x), (rounds, len(x)))
        boot[:, j] = taus(x[draws], y[draws])
        point.append(kendall_tau(x, y))
        out.append({"params": [group[0]["params"], group[-1]["params"]], "samples": len(group),
                    "kendall_tau": _value(point[-1]), "kendall_tau_interval": _interval(boot[:, j]),
                    "spearman_rho": _value(spearman_rho(x, y))})
    weights = np.asarray([len(g) for g in groups], dtype=float)

    def weighted(values) -> float:
        v = np.asarray(values, dtype=float)
        ok = np.isfinite(v)  # a bin whose τ is undefined (all scores tied) carries no weight
        return float(np.sum(v[ok] * weights[ok]) / np.sum(weights[ok])) if ok.any() else float("nan")

    return {"bins": out, "bins_asked": bins, "samples": len(rows), "kendall_tau_weighted": _value(weighted(point)),
            "kendall_tau_weighted_interval": _interval([weighted(b) for b in boot])}


def check_supernet(net: SuperNet, task, train: TrainConfig, samples: int = 30, seed: int = 0,
                   calibration: list | None = None, progress: Callable[[str], None] | None = None,
                   device=None, uniform: int | None = None, bins: int = BINS, rounds: int = BOOTSTRAP) -> dict:
    """Inherited against stand-alone validation accuracy for ``samples`` size-spanning and ``uniform`` (default
    ``samples``; 0 for none) uniformly drawn sub-networks (see the module)."""
    import torch

    uniform = samples if uniform is None else uniform
    space = net.spec.space()
    drawn = {"spanning": spanning_sample(net, samples, seed),
             "uniform": uniform_sample(net, uniform, seed) if uniform else []}
    chosen: dict[str, dict] = {}
    member: dict[str, list[str]] = {}
    for name, picks in drawn.items():
        for values in picks:
            key = space.architecture(values).id
            chosen.setdefault(key, values)
            member.setdefault(key, []).append(name)
    if calibration is None:
        n = len(task.train)
        idx = np.sort(np.random.default_rng(0).permutation(n)[:min(n, 2000)])
        X = torch.as_tensor(task.train.take(idx))
        calibration = [X[i:i + 200] for i in range(0, len(X), 200)]
    rows: list[dict[str, Any]] = []
    for i, (key, values) in enumerate(chosen.items()):
        t0 = time.perf_counter()
        sub = net.extract(values)
        recalibrate(sub, calibration)
        inherited = scores(predict(sub, task.valid), task.valid.y, task.kind, task.preprocessing)["accuracy"]
        torch.manual_seed(seed)
        alone_net = space.build(space.architecture(values), net.input_shape, net.num_classes)
        fit(alone_net, task.train, train, seed=seed, kind=task.kind, device=device)
        alone = scores(predict(alone_net, task.valid, device=device), task.valid.y, task.kind,
                       task.preprocessing)["accuracy"]
        params = sum(p.numel() for p in alone_net.parameters())
        rows.append({"architecture": space.describe(space.architecture(values)), "sample": member[key],
                     "values": values, "params": int(params), "inherited": float(inherited), "alone": float(alone),
                     "seconds": round(time.perf_counter() - t0, 2)})
        if progress is not None:
            progress(f"{i + 1}/{len(chosen)}  {'+'.join(member[key]):16} {params:>9,} params  inherited "
                     f"{inherited:.4f}  alone {alone:.4f}")
    rankings = {}
    for k, name in enumerate(drawn):
        picked = [r for r in rows if name in r["sample"]]
        if picked:
            rankings[name] = ranking([r["inherited"] for r in picked], [r["alone"] for r in picked], rounds, seed + k)
    rankings["binned"] = binned_ranking(rows, bins, rounds, seed + 2)
    spanning = rankings["spanning"]
    by_size = sorted((r for r in rows if "spanning" in r["sample"]), key=lambda r: r["params"])
    named = {"smallest": by_size[0], "middle": by_size[len(by_size) // 2], "largest": by_size[-1]}
    return {"samples": spanning["samples"], "kendall_tau": spanning["kendall_tau"],
            "spearman_rho": spanning["spearman_rho"], "rankings": rankings,
            "interval": {"level": LEVEL, "bootstrap": rounds, "over": "sub-networks"},
            "gaps": {k: {"params": r["params"], "inherited": r["inherited"], "alone": r["alone"],
                         "gap": r["alone"] - r["inherited"]} for k, r in named.items()},
            "train": train.as_dict(), "seed": seed, "rows": rows}
