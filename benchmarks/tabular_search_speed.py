"""Wall time of a 500-query search on NAS-Bench-Graph, stored in SQLite, as a user runs it.

    .venv/bin/python benchmarks/tabular_search_speed.py                 # cora, every strategy, 3 repeats
    .venv/bin/python benchmarks/tabular_search_speed.py --datasets cora,arxiv --repeats 5

Each measurement is one ``archscout search --evaluator nas-bench-graph:DATASET --trials 500``
command in a fresh process on a fresh SQLite file, timed from process start to exit (so it
includes Python start-up, imports, loading the table, the study loop and every SQLite write).
The time inside the search (the study's own ``search_seconds``) is recorded too.

Writes benchmarks/results/tabular_search_speed.json. Target: the best strategy under 5 s
(the Optuna TPE peer takes ~100 s to reach 500 distinct architectures, per the references).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import RESULTS, ROOT, machine  # noqa: E402 (benchmarks/ is on sys.path)

ARCHSCOUT = os.path.join(os.path.dirname(sys.executable), "archscout")
TARGET_S = 5.0


def one(dataset: str, strategy: str, trials: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{os.path.join(tmp, 'speed.db')}"
        cmd = [ARCHSCOUT, "search", "--evaluator", f"nas-bench-graph:{dataset}", "--strategy", strategy,
               "--trials", str(trials), "--seed", str(seed), "--storage", db, "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
        sys.path.insert(0, os.path.join(ROOT, "src"))
        import archscout as asc
        study = asc.Study.load(f"nas-bench-graph-{'gnn-proteins' if dataset == 'proteins' else 'gnn'}", db)
        trials_done = study.trials()
        return {"dataset": dataset, "strategy": strategy, "seed": seed, "wall_seconds": wall,
                "search_seconds": study.search_seconds, "trials": len(trials_done),
                "distinct": len({t.arch.id for t in trials_done}),
                "best_valid": max(t.metrics.get("accuracy", 0) for t in trials_done)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="cora")
    ap.add_argument("--strategies", default="random,evolution,local_search,bo,rl,optuna-tpe")
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for dataset in args.datasets.split(","):
        for strategy in args.strategies.split(","):
            runs = [one(dataset, strategy, args.trials, seed) for seed in range(args.repeats)]
            walls = [r["wall_seconds"] for r in runs]
            row = {"dataset": dataset, "strategy": strategy, "repeats": runs,
                   "wall_seconds_median": statistics.median(walls), "wall_seconds_max": max(walls),
                   "search_seconds_median": statistics.median(r["search_seconds"] for r in runs)}
            rows.append(row)
            print(f"{dataset:10} {strategy:14} wall median {row['wall_seconds_median']:.2f} s (max "
                  f"{row['wall_seconds_max']:.2f}), search {row['search_seconds_median']:.2f} s, "
                  f"trials {[r['trials'] for r in runs]}", flush=True)
    out = {"benchmark": "tabular_search_speed", "date": datetime.date.today().isoformat(),
           "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]), "target_seconds": TARGET_S,
           "machine": machine(), "results": rows}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "tabular_search_speed.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
