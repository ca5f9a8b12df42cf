"""Regression on scikit-learn's diabetes data: the model archscout chooses against scikit-learn's regressors.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/regression_diabetes.py            # 3 searches x 2 selections
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/regression_diabetes.py --seeds 1 --trials 10   # a quick look

The task is the built-in ``diabetes`` (442 samples; 20 % held out as the test split, seed 0, as every
task without its own test data), so every method sees the same training + validation rows and is scored
once on the same 88 test rows, in the target's own units.

- archscout: ``archscout search --task diabetes --space mlp`` with the product's defaults (evolution,
  1,000 AdamW steps, one-cycle LR 0.01; none of them was tuned on this data), ``--trials`` candidates per
  search, selection on validation R² (a 10 % split: 35 rows), or with ``--folds 5`` on 5-fold
  cross-validated R²; the validation-best candidate is retrained on training + validation data with 3
  seeds. Headline: its test R², mean ± std over the 3 retraining seeds, for each search seed.
- peers, at scikit-learn's default settings, fitted on the same training + validation rows (raw
  features and target): ``RidgeCV()``, ``GradientBoostingRegressor()`` and ``MLPRegressor()`` (the
  last two with ``random_state`` 0, 1, 2: mean ± std).

``--space mlp-recipe --selections folds5`` searches the training recipe with the architecture (issue #18's
part 3) and writes benchmarks/results/regression-diabetes-mlp-recipe.json.

Target (issue #17): archscout's chosen model at least as good as the best of the three. Writes
benchmarks/results/regression-diabetes.json; a database is kept in benchmarks/results/ignored.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
import warnings

from _common import RESULTS, code_version, machine  # noqa: E402 (benchmarks/ is on sys.path)


def peers(seeds: int) -> dict:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor

    from archscout.tasks import get_task

    task = get_task("diabetes")
    prep = task.preprocessing
    full = task.full_train()
    X, y = prep.raw_inputs(full.X), prep.raw_targets(full.y)
    Xt, yt = prep.raw_inputs(task.test.X), prep.raw_targets(task.test.y)
    out = {}
    for name, make, seeded in (("RidgeCV", lambda s: RidgeCV(), False),
                               ("GradientBoostingRegressor", lambda s: GradientBoostingRegressor(random_state=s), True),
                               ("MLPRegressor", lambda s: MLPRegressor(random_state=s), True)):
        scores = []
        for s in range(seeds if seeded else 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # the default 200 iterations, as a user gets
                scores.append(float(r2_score(yt, make(s).fit(X, y).predict(Xt))))
        out[name] = {"test_r2": scores, "mean": statistics.fmean(scores),
                     "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0}
    return out


def search(seed: int, trials: int, folds: int | None, db: str, space: str = "mlp", strategy: str | None = None) -> dict:
    import archscout as asc

    name = f"diabetes-{space}-{strategy or 'default'}-{'folds' + str(folds) if folds else 'split'}-s{seed}"
    study = asc.Study(name, task="diabetes", space=space, seed=seed, storage=db,
                      task_options={"folds": folds} if folds else None,
                      **({"strategy": strategy} if strategy else {}))
    t0 = time.perf_counter()
    study.run(trials=trials, final_top_k=1, final_seeds=3, progress=False)
    best = study.best()
    return {"study": name, "seed": seed, "folds": folds, "trials": trials, "validation_r2": best.metrics["r2"],
            "test_r2": [r.metrics["test_r2"] for r in study.storage.finals(study.id) if r.trial_id == best.id],
            "test_r2_mean": best.final["test_r2_mean"], "test_r2_std": best.final["test_r2_std"],
            "test_mae_mean": best.final["test_mae_mean"], "architecture": best.arch.describe(),
            "params": best.metrics["params"], "seconds": round(time.perf_counter() - t0, 1)}


def summarise(runs: dict, peer: dict, best_peer: str) -> dict:
    """Per selection: test R² over the searches, and archscout minus each peer with a 95 % interval over the search
    seeds (Student's t; the peers' own seed spread is far smaller and is left out). A difference is "better" or
    "worse" only when its interval excludes 0."""
    from archscout.stats import mean_ci

    summary = {}
    for key, rs in runs.items():
        means = [r["test_r2_mean"] for r in rs]
        out = {"test_r2_mean_over_searches": statistics.fmean(means),
               "test_r2_std_over_searches": statistics.pstdev(means) if len(means) > 1 else 0.0,
               "searches_at_least_best_peer": sum(m >= peer[best_peer]["mean"] for m in means),
               "searches": len(means), "difference_vs_peer": {}}
        for name, p in peer.items():
            diff, half = mean_ci([m - p["mean"] for m in means])
            verdict = "no difference" if not half < abs(diff) else ("better" if diff > 0 else "worse")
            out["difference_vs_peer"][name] = {"mean": diff, "ci95": [diff - half, diff + half], "verdict": verdict}
        out["target_met"] = out["test_r2_mean_over_searches"] >= peer[best_peer]["mean"]
        summary[key] = out
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="search seeds (and peers' random states)")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--space", default="mlp", help="mlp, or mlp-recipe (the training recipe searched too)")
    ap.add_argument("--selections", default="split,folds5", help="split (the validation split), folds5, or both")
    ap.add_argument("--strategy", default=None, help="default: the Study's own (evolution); auto: the default search's")
    ap.add_argument("--out", default=None, help="default: results/regression-diabetes[-SPACE].json")
    ap.add_argument("--resummarise", metavar="JSON", help="recompute the summary of a stored result file, no runs")
    args = ap.parse_args()
    if args.resummarise:
        with open(args.resummarise) as f:
            stored = json.load(f)
        stored["summary"] = summarise(stored["archscout"], stored["peers"], stored["best_peer"])
        with open(args.resummarise, "w") as f:
            json.dump(stored, f, indent=2, default=float)
        for key, s in stored["summary"].items():
            for name, d in s["difference_vs_peer"].items():
                print(f"{key}: archscout - {name}: {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] "
                      f"{d['verdict']}")
        return 0
    if args.out is None:
        args.out = os.path.join(RESULTS, "regression-diabetes.json" if args.space == "mlp"
                                else f"regression-diabetes-{args.space}.json")
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    os.makedirs(os.path.join(RESULTS, "ignored"), exist_ok=True)
    db = f"sqlite:///{os.path.join(RESULTS, 'ignored', f'regression-diabetes-{os.getpid()}.db')}"
    peer = peers(args.seeds)
    for name, r in peer.items():
        print(f"{name:<27} test R² {r['mean']:.4f} ± {r['std']:.4f}", flush=True)
    best_peer = max(peer, key=lambda k: peer[k]["mean"])
    selections = [k for k in args.selections.split(",") if k]
    runs: dict[str, list] = {k: [] for k in selections}
    for seed in range(args.seeds):
        for key, folds in (("split", None), ("folds5", 5)):
            if key not in runs:
                continue
            r = search(seed, args.trials, folds, db, args.space, args.strategy)
            runs[key].append(r)
            print(f"archscout {key:<7} seed {seed}: validation R² {r['validation_r2']:.4f}, test R² "
                  f"{r['test_r2_mean']:.4f} ± {r['test_r2_std']:.4f} ({r['architecture']}; {r['seconds']} s)",
                  flush=True)
    summary = summarise(runs, peer, best_peer)
    result = {"benchmark": "regression on scikit-learn diabetes", "target": "archscout's chosen model >= the best "
              "of RidgeCV, GradientBoostingRegressor, MLPRegressor (defaults) in test R²",
              "space": args.space, "strategy": args.strategy or "evolution (the Study default)", "best_peer": best_peer, "peers": peer, "archscout": runs, "summary": summary,
              "command": " ".join([".venv/bin/python", "benchmarks/regression_diabetes.py"] + sys.argv[1:]),
              "started": started, "machine": machine(), "code": code_version()}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=float)
    for key, s in summary.items():
        print(f"archscout ({key}): test R² {s['test_r2_mean_over_searches']:.4f} ± "
              f"{s['test_r2_std_over_searches']:.4f} over {s['searches']} searches; best peer {best_peer} "
              f"{peer[best_peer]['mean']:.4f}: target {'met' if s['target_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
