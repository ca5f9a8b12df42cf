"""MNIST-1D: strategies against peers over several search seeds, under the benchmark protocol.

    .venv/bin/python benchmarks/mnist1d_strategies.py --strategies evolution,random,optuna-tpe --seeds 3 \
        --trials 30 --top-k 5

Each strategy × seed is one study (space conv1d, task mnist1d, ``--steps`` training steps per trial) with
a budget of ``--trials`` trials, so the result does not depend on how fast the machine was. The
``--top-k`` best by validation accuracy are retrained (``--final-steps``, one seed) and scored on the test
split. Reported per run: the test accuracy of the architecture chosen by validation (the headline), the
Spearman / Kendall agreement between the search's validation ranking and the final test ranking of the
retrained trials, and the validation split's resolution. Across seeds: means with Student-t intervals
and each strategy against each peer with a Bonferroni-corrected bootstrap interval of the difference.

Writes benchmarks/results/mnist1d-strategies.json; the studies are in benchmarks/results/mnist1d-strategies.db
(an interrupted run resumes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

import torch

import archscout as asc
from archscout.stats import bootstrap_difference, mean_ci, verdict
from archscout.study.diagnostics import diagnostics

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PEERS = ("random", "optuna-tpe")


def one_run(strategy: str, seed: int, args, db: str) -> dict:
    name = f"{strategy}-s{seed}"
    study = asc.Study(name, space="conv1d", task="mnist1d", strategy=strategy, seed=seed, storage=db,
                      train={"steps": args.steps}, final_train={"steps": args.final_steps})
    t0 = time.perf_counter()
    left = args.trials - len(study.trials())
    if left > 0:
        study.run(trials=left, final_top_k=0)
    search_seconds = time.perf_counter() - t0
    study.finalize(top_k=args.top_k, seeds=1)
    chosen = study.best()
    diag = diagnostics(study)
    return {"strategy": strategy, "seed": seed, "trials": len(study.trials("complete")),
            "chosen": {"trial": chosen.number, "architecture": chosen.arch.describe(),
                       "valid_accuracy": chosen.metrics["accuracy"], "params": chosen.metrics.get("params"),
                       "test_accuracy": chosen.final["test_accuracy_mean"]},
            "retrained": [{"trial": t.number, "valid_accuracy": t.metrics["accuracy"],
                           "test_accuracy": t.final["test_accuracy_mean"]}
                          for t in study.trials("complete") if t.final],
            "diagnostics": diag, "wall_seconds_this_call": search_seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategies", default="evolution,random,optuna-tpe")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-start", type=int, default=100)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--final-steps", type=int, default=3000)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: robust to a busy machine)")
    ap.add_argument("--out", default=os.path.join(RESULTS, "mnist1d-strategies.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(RESULTS, exist_ok=True)
    db = f"sqlite:///{os.path.join(RESULTS, 'mnist1d-strategies.db')}"
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    t0 = time.perf_counter()
    runs = []
    for seed in seeds:  # seed-major, so a stopped run still has every strategy at the first seeds
        for s in strategies:
            runs.append(one_run(s, seed, args, db))
            r = runs[-1]
            print(f"{s} seed {seed}: chosen #{r['chosen']['trial']} valid {100 * r['chosen']['valid_accuracy']:.2f} "
                  f"test {100 * r['chosen']['test_accuracy']:.2f} % · search vs final "
                  f"{r['diagnostics']['search_vs_final']}", flush=True)
    summary = {}
    for s in strategies:
        tests = [100 * r["chosen"]["test_accuracy"] for r in runs if r["strategy"] == s]
        m, h = mean_ci(tests)
        summary[s] = {"test_accuracy": m, "ci95": h, "per_seed": tests}
    ours = [s for s in strategies if s not in PEERS]
    theirs = [p for p in PEERS if p in strategies]
    pairs = [(s, p) for s in ours for p in theirs]
    comparisons = []
    for s, p in pairs:
        diff, lo, hi = bootstrap_difference(summary[s]["per_seed"], summary[p]["per_seed"], comparisons=len(pairs))
        comparisons.append({"strategy": s, "peer": p, "difference": diff, "low": lo, "high": hi,
                            "comparisons": len(pairs), "verdict": verdict(lo, hi)})
    doc = {"date": datetime.date.today().isoformat(), "args": vars(args), "seeds": seeds,
           "machine": {"platform": platform.platform(), "python": platform.python_version(),
                       "torch": torch.__version__, "cpus": os.cpu_count(), "torch_threads": args.threads},
           "wall_seconds": time.perf_counter() - t0, "summary": summary, "comparisons": comparisons, "runs": runs}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, default=float)
    for s, v in summary.items():
        print(f"{s}: {v['test_accuracy']:.2f} ± {v['ci95']:.2f} % ({', '.join(f'{x:.2f}' for x in v['per_seed'])})")
    for c in comparisons:
        print(f"{c['strategy']} − {c['peer']}: {c['difference']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}] {c['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
