"""Zero-cost proxies and learned predictors on the MNIST-1D conv1d ground truth (issue #6).

    .venv/bin/python benchmarks/proxy_predictors.py

Reads benchmarks/data/mnist1d-conv1d.jsonl (320 trained architectures with every proxy; see
ground_truth.py) and writes benchmarks/results/proxies/:
* correlations.json and scatter.png - each proxy's Spearman rho and Kendall tau against validation
  accuracy over all architectures, its time per architecture, and the published NB201 figures;
* predictors.json - each predictor (and two fixed votes of proxies, for reference) fitted on n
  trained architectures drawn at random and scored (rho, tau) on all the others, 20 draws per n.
Runs in a few minutes on one core; nothing is trained.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np

from _common import HERE, RESULTS, machine
from archscout.evaluate.predictors import PREDICTORS, make_predictor
from archscout.evaluate.proxies import PROXIES
from archscout.report import proxies as rp

DATA = os.path.join(HERE, "data", "mnist1d-conv1d.jsonl")
OUT = os.path.join(RESULTS, "proxies")
SIZES = (20, 50, 100, 200)
DRAWS = 20
VOTES = {"vote synflow+jacov+snip": ("synflow", "jacov", "snip"), "vote nwot+jacov+flops": ("nwot", "jacov", "flops")}


def vote_scores(records, names) -> np.ndarray:
    from archscout.study.guide import vote
    return vote([r["proxies"] for r in records], list(names))


def main() -> int:
    from scipy.stats import kendalltau, spearmanr

    os.makedirs(OUT, exist_ok=True)
    records = rp.records_from_file(DATA)
    rows = rp.correlations(records, PROXIES)
    meta = {"command": ".venv/bin/python benchmarks/proxy_predictors.py", "date": time.strftime("%Y-%m-%d"),
            "machine": machine(), "architectures": len(records), "data": os.path.relpath(DATA, os.path.dirname(HERE))}
    totals = rp.total_seconds(records, PROXIES)
    with open(os.path.join(OUT, "correlations.json"), "w") as f:
        json.dump({**meta, "proxies": rows, "all_proxies_seconds_per_arch": totals,
                   "votes_all_archs": {k: float(spearmanr(vote_scores(records, v), [r["accuracy"] for r in records])[0])
                                       for k, v in VOTES.items()}}, f, indent=1)
    rp.write_scatter(records, PROXIES, os.path.join(OUT, "scatter.png"),
                     f"MNIST-1D conv1d: {len(records)} architectures, 1,000 training steps each")
    for r in rows:
        print(f"{r['proxy']:10} rho {r['spearman']:+.3f} tau {r['kendall']:+.3f} "
              f"{1000 * r['seconds_median']:.1f} ms", flush=True)

    y = np.array([r["accuracy"] for r in records])
    space = records[0]["arch"].space
    results: dict = {}
    for n in SIZES:
        for name in list(PREDICTORS) + list(VOTES):
            rhos, taus, fit_seconds = [], [], []
            for draw in range(DRAWS):
                idx = np.random.default_rng(1000 * n + draw).permutation(len(records))
                train, test = [records[i] for i in idx[:n]], [records[i] for i in idx[n:]]
                t0 = time.perf_counter()
                if name in VOTES:  # fixed: nothing is learned from the n trained architectures
                    pred = vote_scores(test, VOTES[name])
                else:
                    model = make_predictor(name, space, PROXIES, seed=draw).fit(
                        [r["arch"] for r in train], y[idx[:n]], [r["proxies"] for r in train])
                    pred = model.predict([r["arch"] for r in test], [r["proxies"] for r in test])
                fit_seconds.append(time.perf_counter() - t0)
                rhos.append(float(spearmanr(pred, y[idx[n:]])[0]))
                taus.append(float(kendalltau(pred, y[idx[n:]])[0]))
            results.setdefault(str(n), {})[name] = {
                "spearman_mean": statistics.fmean(rhos), "spearman_std": statistics.pstdev(rhos),
                "kendall_mean": statistics.fmean(taus), "kendall_std": statistics.pstdev(taus),
                "seconds_mean": statistics.fmean(fit_seconds)}
            print(f"n={n:3} {name:24} rho {statistics.fmean(rhos):.3f} ± {statistics.pstdev(rhos):.3f}  "
                  f"tau {statistics.fmean(taus):.3f}", flush=True)
    with open(os.path.join(OUT, "predictors.json"), "w") as f:
        json.dump({**meta, "draws": DRAWS, "sizes": list(SIZES), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
