"""Proxy-guided search against plain regularized evolution on MNIST-1D conv1d (issue #6).

    .venv/bin/python benchmarks/proxy_guided_search.py --seeds 0,1,2,3 --n 60

For each seed: regularized evolution training N architectures, and the same evolution with
a guide (``--guide predictor`` and ``--guide proxies``) training N/3, all with the standard
search recipe (1,000 steps, seed 0 initialisation). Each run is its own study in
benchmarks/results/proxy-guided/runs.db (an interrupted benchmark resumes), in its own process
with one torch thread, two runs at a time. Writes benchmarks/results/proxy-guided/MODE-sSEED.json
with the best validation accuracy after each trained architecture and the wall time (the
guide's proxy and predictor time included), and summary.json with the comparison.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time

from _common import RESULTS, machine

OUT = os.path.join(RESULTS, "proxy-guided")
MODES = {"evolution": None, "guided-predictor": "predictor", "guided-proxies": "proxies"}


def run(job: tuple) -> dict:
    mode, seed, trials = job
    import torch
    torch.set_num_threads(1)
    import archscout as asc

    study = asc.Study(f"{mode}-s{seed}", space="conv1d", task="mnist1d", strategy="evolution", seed=seed,
                      storage=f"sqlite:///{os.path.join(OUT, 'runs.db')}", guide=MODES[mode])
    t0 = time.time()
    done_before = len(study.trials())
    study.search(trials=trials)
    wall = time.time() - t0
    rows = study.storage.trials(study.id)
    curve, best = [], None
    for r in rows:
        if r.status == "complete":
            best = max(best or 0.0, r.metrics["accuracy"])
        curve.append({"trained": r.number + 1, "best_accuracy": best,
                      "seconds": round(r.finished_at - t0, 2) if done_before == 0 and r.finished_at else None})
    guide_seconds = sum(r.details.get("guide", {}).get("seconds", 0.0) for r in rows)
    result = {"mode": mode, "seed": seed, "trained": len(rows), "best_accuracy": best,
              "wall_seconds": round(wall, 1) if done_before == 0 else None,
              "guide_seconds": round(guide_seconds, 1), "curve": curve}
    with open(os.path.join(OUT, f"{mode}-s{seed}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"{mode} s{seed}: best {best:.4f} after {len(rows)} trained, {wall:.0f} s "
          f"(guide {guide_seconds:.0f} s)", flush=True)
    return result


def summarise(results: list[dict], n: int) -> dict:
    by_mode: dict = {}
    for r in results:
        by_mode.setdefault(r["mode"], []).append(r)
    out = {}
    for mode, runs in by_mode.items():
        accs = [r["best_accuracy"] for r in runs]
        walls = [r["wall_seconds"] for r in runs if r["wall_seconds"] is not None]
        out[mode] = {"runs": len(runs), "trained": runs[0]["trained"], "best_accuracy_mean": statistics.fmean(accs),
                     "best_accuracy_std": statistics.pstdev(accs), "best_accuracies": accs,
                     "wall_seconds_mean": statistics.fmean(walls) if walls else None,
                     "guide_seconds_mean": statistics.fmean(r["guide_seconds"] for r in runs)}
        if mode == "evolution":  # what evolution had reached after N/3 trained, for comparison
            at = [r["curve"][n // 3 - 1]["best_accuracy"] for r in runs]
            out[mode]["best_accuracy_at_n_over_3_mean"] = statistics.fmean(at)
    if "evolution" in out:
        target = out["evolution"]["best_accuracy_mean"]
        for mode in out:
            if mode != "evolution":
                out[mode]["reaches_evolution_at_n"] = out[mode]["best_accuracy_mean"] >= target
                # per run: how many trained architectures it took to match evolution's mean at N
                out[mode]["trained_to_match"] = [
                    next((c["trained"] for c in r["curve"] if (c["best_accuracy"] or 0) >= target), None)
                    for r in by_mode[mode]]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--n", type=int, default=60, help="architectures evolution trains (guided runs train n/3)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--summarise-only", action="store_true",
                    help="only rebuild summary.json from the runs' JSON files (those of --seeds that exist)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    modes = args.modes.split(",")
    jobs = [(m, s, args.n if m == "evolution" else args.n // 3) for s in seeds for m in modes]
    t0 = time.time()
    if args.summarise_only:
        results = []
        for m, s, _ in jobs:
            path = os.path.join(OUT, f"{m}-s{s}.json")
            if os.path.exists(path):
                with open(path) as f:
                    results.append(json.load(f))
        seeds = sorted({r["seed"] for r in results})
    else:
        with mp.get_context("spawn").Pool(args.processes) as pool:
            results = pool.map(run, jobs, chunksize=1)
    previous = {}
    if args.summarise_only and os.path.exists(os.path.join(OUT, "summary.json")):
        with open(os.path.join(OUT, "summary.json")) as f:
            previous = json.load(f)  # keep the run's own command, date, machine and duration
    summary = {"command": " ".join([".venv/bin/python", "benchmarks/proxy_guided_search.py"] + sys.argv[1:]),
               "date": time.strftime("%Y-%m-%d"), "machine": machine(torch_threads=1, processes=args.processes),
               "n": args.n, "seeds": seeds, "total_seconds": round(time.time() - t0),
               "modes": summarise(results, args.n)}
    if previous:
        summary.update({k: previous[k] for k in ("command", "date", "machine", "total_seconds") if k in previous})
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary["modes"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
