"""Differentiable search over the cell space (issue 20): each method's derived cell, search time and peak memory.

One invocation runs one method with one seed on one task in a fresh process (so its peak resident memory is its
own), then retrains the derived cell with the standard recipe and tests it:

    Study(space="cell", task=--task, strategy=--method, strategy_options={steps, batch_size, ...},
          train={"steps": --train-steps}, final_train={"steps": --final-steps}).run(final_top_k=1, final_seeds=3)

Writes OUT_DIR/differentiable-TASK-METHOD[-TAG]-sSEED.json: the derived cell, whether it was flagged collapsed or
stopped early, search seconds and seconds per step, peak RSS (MB, the whole process), the dominant Hessian
eigenvalue per check, validation accuracy of the derived cell after the study's training, and its test accuracy
(mean ± std over 3 retraining seeds). ``--summarise`` prints a markdown table.

    .venv/bin/python benchmarks/differentiable_search.py --method darts --task mnist1d --seed 0
    .venv/bin/python benchmarks/differentiable_search.py --method pc-darts --task mnist1d --seed 0
    .venv/bin/python benchmarks/differentiable_search.py --method gdas --task mnist1d --seed 0
    .venv/bin/python benchmarks/differentiable_search.py --method proxyless --task mnist1d --seed 0
    .venv/bin/python benchmarks/differentiable_search.py --method proxyless --option latency_weight=20 --tag lat20 ...
    .venv/bin/python benchmarks/differentiable_search.py --method darts --option guard=true --tag guard ...
    .venv/bin/python benchmarks/differentiable_search.py --summarise

Targets (issue 20): >= 98.5 % test on MNIST-1D with <= 20 minutes of search on 2 cores; PC-DARTS peak memory
<= 0.5x DARTS's at the same cell and batch; ProxylessNAS with a latency weight: measured latency of the derived
model >= 1.5x lower than with weight 0 at <= 1 point of accuracy; a DARTS run that collapses without the guard
and not with it.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PREFIX = "differentiable-"
sys.path.insert(0, HERE)
from mnist1d_multifidelity import key_values  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--method", default="darts")
    p.add_argument("--task", default="mnist1d")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--final-steps", type=int, default=4000)
    p.add_argument("--final-seeds", type=int, default=3)
    p.add_argument("--tag", default="")
    p.add_argument("--out-dir", default=RESULTS)
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads (default 2, the machine's cores)")
    p.add_argument("--summarise", action="store_true")
    args = p.parse_args(argv)
    if args.summarise:
        summarise(args.out_dir)
        return
    import torch

    import archscout as asc

    torch.set_num_threads(args.threads)
    options = {"steps": args.steps, "batch_size": args.batch_size, **key_values(args.option, "--option")}
    label = f"{args.task}-{args.method}" + (f"-{args.tag}" if args.tag else "")
    os.makedirs(os.path.join(args.out_dir, "ignored"), exist_ok=True)
    db = os.path.join(args.out_dir, "ignored", f"{PREFIX}{label}-s{args.seed}-{datetime.datetime.now():%Y%m%d-%H%M%S}.db")
    study = asc.Study(f"diff-{label}-s{args.seed}", space="cell", task=args.task, strategy=args.method,
                      strategy_options=options, seed=args.seed, storage=f"sqlite:///{db}",
                      train={"steps": args.train_steps}, final_train={"steps": args.final_steps})
    _ = study.task.input_shape
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.monotonic()
    study.run(final_top_k=1, final_seeds=args.final_seeds, progress=True, threads=args.threads)
    wall = time.monotonic() - t0
    (trial,) = [t for t in study.trials() if t.details.get("recorded_by") == args.method]
    d = trial.details["differentiable"]
    f = trial.final or {}
    result = {"task": args.task, "method": args.method, "tag": args.tag, "seed": args.seed, "options": options,
              "cell": trial.arch.values, "cell_text": trial.arch.describe(), "collapsed": d["collapsed"],
              "parameter_free_edges": d["parameter_free_edges"], "stopped_early_at": d["stopped_early_at"],
              "steps_run": d["steps_run"], "search_seconds": round(d["seconds"], 1),
              "seconds_per_step": d["seconds_per_step"], "peak_rss_mb": round(d["peak_rss_mb"], 1),
              "rss_before_search_mb": round(rss_before, 1),
              "search_memory_mb": round(d["peak_rss_mb"] - rss_before, 1), "threads": args.threads,
              "eigenvalues": [h["eigenvalue"] for h in d["history"]],
              "expected_latency_ms": [h.get("expected_latency_ms") for h in d["history"]],
              "val_accuracy": trial.metrics.get("accuracy"), "params": trial.metrics.get("params"),
              "latency_ms": trial.metrics.get("latency_ms"),
              **{k: f[k] for k in ("test_accuracy_mean", "test_accuracy_std", "test_accuracies") if k in f},
              "wall_seconds": round(wall, 1), "date": datetime.date.today().isoformat(),
              "machine": f"{platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}",
              "command": "python benchmarks/differentiable_search.py " + " ".join(argv if argv is not None
                                                                                 else sys.argv[1:])}
    path = os.path.join(args.out_dir, f"{PREFIX}{label}-s{args.seed}.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
    print("wrote", path)


def summarise(out_dir: str) -> None:
    print("| task | method | seed | cell | collapsed / early stop | search s (s/step) | peak RSS MB (above start) | "
          "params | latency ms | val % | test % (3 seeds) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(out_dir, PREFIX + "*.json"))):
        r = json.load(open(path))
        tests = r.get("test_accuracies") or []
        test = (f"{100 * statistics.mean(tests):.2f} ± {100 * statistics.stdev(tests):.2f}" if len(tests) > 1
                else "—")
        flags = ("collapsed" if r["collapsed"] else "no") + (f" / stopped at {r['stopped_early_at']}"
                                                            if r["stopped_early_at"] else "")
        print(f"| {r['task']} | {r['method']}{' ' + r['tag'] if r['tag'] else ''} | {r['seed']} | `{r['cell_text']}` | "
              f"{flags} | {r['search_seconds']} ({r['seconds_per_step']:.3f}) | {r['peak_rss_mb']} "
              f"({r.get('search_memory_mb', '—')}) | "
              f"{r['params']:,} | {r['latency_ms']:.3f} | {100 * r['val_accuracy']:.2f} | {test} |")


if __name__ == "__main__":
    main()
