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


# the ablations --option switches: the part, and what it changes (a strategy option, the fidelity mode, workers)
ABLATIONS = {"prior": "false: auto without priors (prior_first and prior_fraction 0): asha-kde",
             "fidelity_mode": "continue or restart", "workers": "1 or 2 (threads: the default, the cores shared among the workers)",
             "revalidate": "0: the pick on the search's single seed"}


def run_archscout_arm(args, task, seconds: float) -> dict:
    """The default search as ``archscout search --task TASK --time-budget T`` sets it up (cli/search.py with the
    settings of archscout.study.default_search), its search and revalidation within the budget; the final
    retraining, the same for every arm, after."""
    import archscout as asc
    from archscout.execute import usable_cores
    from archscout.study import default_search as default
    from mnist1d_multifidelity import key_values
    options = key_values(args.option, "--option")
    unknown = set(options) - set(ABLATIONS)
    if unknown:
        raise SystemExit(f"unknown --option {sorted(unknown)}; options: {ABLATIONS}")
    space = default.space_for(task)
    workers, threads = default.parallelism(task, seconds, usable_cores())
    if "workers" in options:
        workers = int(options["workers"])
        threads = None  # the default: the cores shared among the workers
    strategy_options = {} if options.get("prior", True) else {"prior_first": False, "prior_fraction": 0.0}
    mode = options.get("fidelity_mode", default.FIDELITY_MODE)
    revalidate = int(options.get("revalidate", 3))
    db = os.path.join(args.out_dir, "ignored",
                      f"default-search-{args.task}-{args.arm}{'-' + args.tag if args.tag else ''}-s{args.seed}-"
                      f"{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.db")
    # the command line's training defaults (--steps 1000, --batch-size 100, --lr 0.01, adamw, onecycle): the recipe
    # each candidate carries overrides what it chooses
    train = {"steps": 1000, "batch_size": 100, "lr": 1e-2, "optimizer": "adamw", "schedule": "onecycle",
             "fidelity_mode": mode}
    study = asc.Study(f"default-{args.task}-s{args.seed}", space=space, task=args.task, strategy=default.STRATEGY,
                      strategy_options=strategy_options, seed=args.seed, train=train,
                      final_train={**train, "steps": args.final_steps, "fidelity_mode": "continue"},
                      storage=f"sqlite:///{db}")
    t0_unix, t0 = time.time(), time.monotonic()
    study.run(time_budget=seconds, final_top_k=0, revalidate=revalidate, revalidate_seeds=2, whole_budget=True,
              workers=workers, threads=threads, progress=True)
    search_wall = time.monotonic() - t0
    board = study.leaderboard()
    if not board:
        raise SystemExit("archscout: no trial completed")
    chosen = board[0]
    print(f"chosen: #{chosen.number} {chosen.arch.describe()} — retraining {args.final_seeds} seed(s) × "
          f"{args.final_steps} steps", flush=True)
    t1 = time.monotonic()
    study.finalize(seeds=args.final_seeds, trials=[chosen.number], progress=True)
    final_wall = time.monotonic() - t1
    chosen = next(t for t in study.trials() if t.number == chosen.number)
    top = int((study.top_fidelity or {"steps": 1000})["steps"])
    log = []
    for t in study.trials():
        if t.finished_at is None:
            continue
        steps = int(max((t.fidelity or {"steps": top}).values()))
        log.append({"number": t.number, "architecture": t.arch.describe(), "params": t.metrics.get("params") or 0,
                    "started": None, "finished": t.finished_at - t0_unix, "seconds": t.duration, "steps": steps,
                    "val_accuracy": t.metrics.get("accuracy") if t.status == "complete" else None,
                    "state": t.status, "source": (t.details or {}).get("source")})
    from archscout.study.diagnostics import revalidation
    tests = chosen.final["test_accuracies"]
    return {"search": {"library": f"archscout {asc.__version__}" if hasattr(asc, "__version__") else "archscout",
                       "optimizer": f"{default.STRATEGY} {strategy_options or ''}".strip(), "space": space,
                       "workers": workers, "threads": threads, "fidelity_mode": mode, "revalidate": revalidate,
                       "options": options, "train": study.train_config.as_dict()},
            "search_seconds": round(search_wall, 1), "final_wall_seconds": round(final_wall, 1),
            "trials": {"total": len(log), **{s: sum(e["state"] == s for e in log) for s in ("complete", "failed")},
                       "at_top": sum(e["steps"] == top and e["state"] == "complete" for e in log),
                       "per_fidelity": {str(k): sum(e["steps"] == k for e in log) for k in sorted({e["steps"] for e in log})},
                       "by_source": {str(k): sum(e["source"] == k for e in log) for k in sorted({str(e["source"]) for e in log})}},
            "top_steps": top, "anytime": anytime(log, top),
            "revalidation": {str(k): v for k, v in revalidation(study).items()},
            "chosen": {"trial": chosen.number, "architecture": chosen.arch.describe(), "values": chosen.arch.values,
                       "params": chosen.metrics.get("params"), "val_accuracy": chosen.metrics.get("accuracy"),
                       "test_accuracies": tests, "test_accuracy_mean": statistics.fmean(tests)},
            "trial_log": log}


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
    from _common import calibration
    speed = calibration()  # before the clock starts: which VM speed this run had
    at_start = machine(calibration_ms_per_step=speed)  # the load and the code as the run starts
    label = args.arm + (f"-{args.tag}" if args.tag else "")
    started = datetime.datetime.now(datetime.UTC)
    body = (run_archscout_arm if args.arm == "archscout" else run_peer_arm)(args, task, seconds)
    doc = {"arm": args.arm, "label": label, "task": args.task, "seed": args.seed, "time_budget_seconds": seconds,
           "steps": args.steps, "final_steps": args.final_steps, "final_seeds": args.final_seeds,
           "threads": args.threads, "started": started.isoformat(timespec="seconds"),
           "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": " ".join([os.path.basename(sys.executable)] + sys.argv), "machine": at_start, **body}
    path = os.path.join(args.out_dir, f"default-search-{args.task}-{label}-s{args.seed}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    c = doc["chosen"]
    print(f"{label} seed {args.seed}: test {100 * statistics.fmean(c['test_accuracies']):.2f} % "
          f"(± {100 * statistics.pstdev(c['test_accuracies']):.2f}) · wrote {path}")
    return 0 if not math.isnan(c["test_accuracy_mean"]) else 1


if __name__ == "__main__":
    sys.exit(main())
