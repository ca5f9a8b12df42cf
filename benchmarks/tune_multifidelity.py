"""Choosing the multi-fidelity defaults on other data than the reported benchmark (issue 18's protocol).

The MNIST-1D multi-fidelity benchmark (benchmarks/mnist1d_multifidelity.py) reports archscout at its
defaults; those defaults (which scheduler the docs recommend, its lowest rung) are chosen here, on another
task and other seeds: by default scikit-learn's ``digits`` (8x8 images) with ``conv2d-recipe``, seeds 1 and
up, a shorter budget. One invocation runs one configuration with one seed:

    Study(space=--space, task=--task, strategy=--strategy, strategy_options=--strategy-option...,
          seed=--seed, train={"steps": --steps}, final_train={"steps": --final-steps})
    .run(time_budget=--time-budget, final_top_k=1, final_seeds=--final-seeds, revalidate=3, revalidate_seeds=2)

and writes OUT_DIR/tune-multifidelity-TASK-LABEL-sSEED.json (LABEL: the strategy, then ``--tag``): trials
at each fidelity, the best validation accuracy at the top fidelity, the chosen architecture and its test
accuracy over the retraining seeds. ``--summarise`` prints one markdown row per file.

    .venv/bin/python benchmarks/tune_multifidelity.py --strategy asha --seed 1
    .venv/bin/python benchmarks/tune_multifidelity.py --strategy asha-kde --seed 1
    .venv/bin/python benchmarks/tune_multifidelity.py --strategy asha-kde --strategy-option min_fidelity=111 \\
        --tag min9 --seed 1
    .venv/bin/python benchmarks/tune_multifidelity.py --summarise
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mnist1d_multifidelity import describe_trial, key_values  # noqa: E402

PREFIX = "tune-multifidelity-"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="digits")
    p.add_argument("--space", default="conv2d-recipe")
    p.add_argument("--strategy", default="asha")
    p.add_argument("--strategy-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-budget", type=float, default=360.0, help="seconds of search (default 360)")
    p.add_argument("--steps", type=int, default=1000, help="the top fidelity, training steps (default 1000)")
    p.add_argument("--final-steps", type=int, default=2000)
    p.add_argument("--final-seeds", type=int, default=2)
    p.add_argument("--fidelity-mode", choices=("continue", "restart"), default="continue",
                   help="how a low fidelity trains: the top's schedule stopped early, or a schedule of its own")
    p.add_argument("--workers", type=int, default=1, help="workers (each with 2 // workers PyTorch threads)")
    p.add_argument("--revalidate", type=int, default=3, help="the K best trained again with 2 more seeds (0: none)")
    p.add_argument("--revalidate-on", choices=("seeds", "splits"), default="seeds",
                   help="what the revalidation's repeated runs change: the seed, or the seed and the split")
    p.add_argument("--guide", default=None, help="a guide: proxies, predictor, screen (--guide screen: gated "
                                                 "training-free screening, docs/training-free.md)")
    p.add_argument("--tag", default="")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--summarise", action="store_true")
    args = p.parse_args(argv)
    if args.summarise:
        summarise(args.out_dir)
        return

    import torch

    import archscout as asc
    from _common import calibration
    speed = calibration()  # before the clock starts: which VM speed this run had (ms per step of a fixed CNN)
    torch.set_num_threads(2)
    options = key_values(args.strategy_option, "--strategy-option")
    label = args.strategy + (f"-{args.tag}" if args.tag else "")
    folder = os.path.join(args.out_dir, "ignored")
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    db = os.path.join(folder, f"{PREFIX}{args.task}-{label}-s{args.seed}-{stamp}.db")
    study = asc.Study(f"tune-{label}-s{args.seed}", space=args.space, task=args.task, strategy=args.strategy,
                      strategy_options=options, seed=args.seed, train={"steps": args.steps, "fidelity_mode": args.fidelity_mode},
                      final_train={"steps": args.final_steps}, storage=f"sqlite:///{db}",
                      guide=args.guide)
    _ = study.task.input_shape
    t0 = time.monotonic()
    study.run(time_budget=args.time_budget, final_top_k=1, final_seeds=args.final_seeds, progress=True,
              threads=max(1, 2 // args.workers), workers=args.workers,
              revalidate=args.revalidate, revalidate_seeds=2, revalidate_on=args.revalidate_on)
    wall = time.monotonic() - t0
    trials = study.trials()
    top = args.steps
    per_fidelity: dict[str, int] = {}
    for t in trials:
        if t.final or t.finished_at is None:
            continue
        steps = int(max((t.fidelity or {"steps": top}).values()))
        per_fidelity[str(steps)] = per_fidelity.get(str(steps), 0) + 1
    at_top = [t.metrics.get("accuracy") for t in trials if not t.final and t.status == "complete"
              and int(max((t.fidelity or {"steps": top}).values())) == top and t.metrics.get("accuracy") is not None]
    board = study.leaderboard()
    order = {t.number: i for i, t in enumerate(board)}
    retrained = [t for t in trials if t.final]
    chosen = min(retrained, key=lambda t: order.get(t.number, 1e9)) if retrained else None
    result = {"task": args.task, "space": args.space, "strategy": args.strategy, "strategy_options": options,
              "tag": args.tag, "seed": args.seed, "fidelity_mode": args.fidelity_mode, "revalidate": args.revalidate,
              "revalidate_on": args.revalidate_on,
              "workers": args.workers, "time_budget": args.time_budget, "steps": args.steps,
              "final_steps": args.final_steps, "final_seeds": args.final_seeds,
              "search_seconds": round(study.search_seconds, 1), "run_wall_seconds": round(wall, 1),
              "trials": len(trials), "trials_per_fidelity": per_fidelity,
              "best_val_at_top": max(at_top) if at_top else None, "guide": args.guide,
              "screen": screen_summary(trials), "chosen": chosen and describe_trial(chosen),
              "machine": f"{platform.node()} ({os.cpu_count()} cores), {platform.python_version()}",
              "calibration_ms_per_step": speed,
              "date": datetime.date.today().isoformat(),
              "command": "python benchmarks/tune_multifidelity.py " + " ".join(argv if argv is not None
                                                                               else sys.argv[1:])}
    path = os.path.join(args.out_dir, f"{PREFIX}{args.task}-{label}-s{args.seed}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1, default=str)
    print(json.dumps({k: result[k] for k in ("trials", "trials_per_fidelity", "best_val_at_top")}),
          "test", chosen and chosen.final and chosen.final.get("test_accuracy_mean"))
    print("wrote", path)


def screen_summary(trials) -> dict | None:
    """What a screening guide decided: new candidates screened and not, and the last tau it measured."""
    decided = [t.details["screen"] for t in trials if not t.final and "screen" in (t.details or {})]
    if not decided:
        return None
    taus = [d["tau"] for d in decided if d["tau"] is not None]
    return {"new": len(decided), "screened": sum(bool(d["on"]) for d in decided),
            "last_tau": taus[-1] if taus else None, "last_n": decided[-1]["n"]}


def summarise(out_dir: str) -> None:
    print("| task | strategy (options) | seed | trials (per fidelity) | best val at top | chosen: test % |")
    print("|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(out_dir, PREFIX + "*.json"))):
        r = json.load(open(path))
        c = r.get("chosen") or {}
        tests = c.get("test_accuracies") or []
        test = (f"{100 * statistics.mean(tests):.2f} ± {100 * statistics.stdev(tests):.2f}" if len(tests) > 1
                else (f"{100 * tests[0]:.2f}" if tests else "—"))
        rungs = "/".join(f"{n}@{s}" for s, n in sorted(r["trials_per_fidelity"].items(), key=lambda kv: int(kv[0])))
        best = r["best_val_at_top"]
        print(f"| {r['task']} | {r['strategy']} {r['strategy_options'] or ''}{' ' + r['tag'] if r['tag'] else ''} "
              f"| {r['seed']} | {r['trials']} ({rungs}) | {'—' if best is None else f'{100 * best:.2f}'} | {test} |")


if __name__ == "__main__":
    main()
