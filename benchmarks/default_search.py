"""archscout's default search against Optuna, NePS and Syne Tune at equal wall time (issue 30).

Each invocation runs one arm with one search seed on one task, then retrains the arm's pick and tests it:

* ``archscout``: what ``archscout search --task TASK --time-budget T`` runs with no ``--strategy`` (the ``auto``
  search and the task's default space, docs/default-search.md), with the search and the revalidation inside
  ``--time-budget`` and no final retraining in the command (the benchmark retrains every arm's pick alike).
* the peers (benchmarks/_peers.py): ``optuna-tpe``, ``optuna-hyperband``, ``neps``, ``syne-tune``, each over the
  hand-written space of benchmarks/_optuna_mnist1d.py, every trial trained by archscout's training loop.

Every arm selects on the task's validation part; its pick (peers: the best validation accuracy at the top fidelity,
the first of ties) is retrained on training + validation data for ``--final-steps`` steps with seeds
0..``--final-seeds``-1 and scored on the test part, which nothing else reads. The anytime curve is the best
validation accuracy at the top fidelity so far against wall seconds since the search started.

Commands (one at a time: the arms are compared on wall time; 2 cores, 2 PyTorch threads, GOMP_SPINCOUNT=1000):

    /work/peers-venv/bin/python benchmarks/default_search.py --arm neps --seed 0          # peers: their own venv
    .venv/bin/python benchmarks/default_search.py --arm archscout --seed 0
    .venv/bin/python benchmarks/default_search.py --summarise
    # smoke test: --time-budget 20 --steps 60 --final-steps 60 --final-seeds 1 --out-dir /tmp/ds-smoke

The peers' environment: a venv with torch==2.13.0, then ``pip install -c constraints.txt neural-pipeline-search
syne-tune optuna`` (constraints.txt holding ``torch==2.13.0``) and ``pip install -e .`` (../shared/REFERENCES.md).
Writes OUT_DIR/default-search-TASK-ARM[-TAG]-sSEED.json (OUT_DIR: benchmarks/results/default-search).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "results", "default-search")
TASKS = ("mnist1d", "mnist1d-hard")
SMALL_PARAMS = 5_000


def seconds_of(text: str) -> float:
    from archscout.study import check_budget

    out = check_budget(None, text)
    assert out is not None
    return out


def anytime(log: list[dict], top: int) -> list[dict]:
    """One point per finished trial: the best validation accuracy among complete trials at the top fidelity so
    far (and among those with <= 5,000 parameters)."""
    best = best_small = None
    out = []
    for e in sorted(log, key=lambda e: e["finished"]):
        acc = e.get("val_accuracy")
        if e["state"] == "complete" and e["steps"] == top and acc is not None:
            best = acc if best is None else max(best, acc)
            if e["params"] <= SMALL_PARAMS:
                best_small = acc if best_small is None else max(best_small, acc)
        out.append({"t": round(e["finished"], 2), "best_val_accuracy": best, "best_val_accuracy_small": best_small})
    return out


def run_peer_arm(args, task, seconds: float) -> dict:
    import _optuna_mnist1d as hand
    from _peers import run_peer

    t0 = time.monotonic()
    log, what = run_peer(args.arm, task, args.seed, seconds, args.steps,
                         os.path.join(args.out_dir, "ignored", f"neps-{args.task}-s{args.seed}"))
    search_wall = time.monotonic() - t0
    top = [e for e in log if e["state"] == "complete" and e["steps"] == args.steps and e.get("val_accuracy") is not None]
    if not top:
        raise SystemExit(f"{args.arm}: no trial reached {args.steps} steps in {seconds:g} s")
    best = max(top, key=lambda e: e["val_accuracy"])  # max keeps the first of ties
    ties = sum(e["val_accuracy"] == best["val_accuracy"] for e in top)
    print(f"chosen: #{best['number']} {best['architecture']} · val {100 * best['val_accuracy']:.2f} % ({ties} tied) "
          f"— retraining {args.final_seeds} seed(s) × {args.final_steps} steps", flush=True)
    t1 = time.monotonic()
    finals = hand.final(task, best["config"], args.final_steps, args.final_seeds)
    tests = [f["test_accuracy"] for f in finals]
    below = sum(e["seconds"] for e in log if e["steps"] != args.steps)
    return {"search": what, "search_seconds": round(search_wall, 1), "final_wall_seconds": round(time.monotonic() - t1, 1),
            "trials": {"total": len(log), **{s: sum(e["state"] == s for e in log) for s in ("complete", "pruned", "failed")},
                       "at_top": len(top)},
            "seconds_below_top": round(below, 1), "anytime": anytime(log, args.steps),
            "chosen": {"trial": best["number"], "architecture": best["architecture"], "config": best["config"],
                       "params": best["params"], "val_accuracy": best["val_accuracy"], "val_ties": ties,
                       "test_accuracies": tests, "test_accuracy_mean": statistics.fmean(tests),
                       "final_runs": finals},
            "trial_log": [{k: v for k, v in e.items() if k != "config"} for e in log]}


def run_archscout_arm(args, task, seconds: float) -> dict:
    raise SystemExit("the archscout arm needs the default search (strategy auto), not in this checkout yet")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arm", choices=("archscout", "optuna-tpe", "optuna-hyperband", "neps", "syne-tune"))
    ap.add_argument("--task", default="mnist1d", choices=TASKS)
    ap.add_argument("--summarise", "--summarize", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="search seed (the retraining seeds are 0..final-seeds-1)")
    ap.add_argument("--time-budget", default="30m", help="search wall time: 30m, 90s or seconds")
    ap.add_argument("--steps", type=int, default=1500, help="training steps of a search trial at the top fidelity")
    ap.add_argument("--final-steps", type=int, default=4000)
    ap.add_argument("--final-seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", help="appended to the arm in the file name (a variant)")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="archscout arm: a setting of the default search (an ablation), e.g. prior=false")
    ap.add_argument("--out-dir", default=OUT)
    args = ap.parse_args()
    if args.summarise:
        from _default_summary import summarise
        return summarise(args.out_dir)
    if args.arm is None:
        ap.error("give --arm or --summarise")
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    import torch

    from _common import machine
    from archscout.tasks import get_task

    torch.set_num_threads(args.threads)
    seconds = seconds_of(args.time_budget)
    task = get_task(args.task)
    _ = task.input_shape  # the data is generated before the clock starts
    os.makedirs(os.path.join(args.out_dir, "ignored"), exist_ok=True)
    label = args.arm + (f"-{args.tag}" if args.tag else "")
    started = datetime.datetime.now(datetime.UTC)
    body = (run_archscout_arm if args.arm == "archscout" else run_peer_arm)(args, task, seconds)
    doc = {"arm": args.arm, "label": label, "task": args.task, "seed": args.seed, "time_budget_seconds": seconds,
           "steps": args.steps, "final_steps": args.final_steps, "final_seeds": args.final_seeds,
           "threads": args.threads, "started": started.isoformat(timespec="seconds"),
           "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": " ".join([os.path.basename(sys.executable)] + sys.argv), "machine": machine(), **body}
    path = os.path.join(args.out_dir, f"default-search-{args.task}-{label}-s{args.seed}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    c = doc["chosen"]
    print(f"{label} seed {args.seed}: test {100 * statistics.fmean(c['test_accuracies']):.2f} % "
          f"(± {100 * statistics.pstdev(c['test_accuracies']):.2f}) · wrote {path}")
    return 0 if not math.isnan(c["test_accuracy_mean"]) else 1


if __name__ == "__main__":
    sys.exit(main())
