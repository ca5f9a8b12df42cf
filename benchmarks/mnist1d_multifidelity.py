"""MNIST-1D, multi-fidelity search against Optuna (issue 18): 30 minutes of search per arm, then the pick retrained.

What it measures. Each invocation runs one arm with one search seed on archscout's ``mnist1d`` task (the search
trains on its training part, 3,601 samples, and selects on its stratified validation part, 399 samples; the
1,000 test samples are read only by the final retraining):

* ``optuna-tpe`` (peer): Optuna TPE (``TPESampler(seed)``) over a hand-written 1-D CNN / MLP space
  (benchmarks/_optuna_mnist1d.py; REFERENCES.md "Peer, measured here"), each trial trained ``--steps``
  (1,500) steps, Adam + one-cycle, batch 100, with archscout's training loop; the best by validation accuracy
  retrained on all 4,000 training samples for ``--final-steps`` (4,000) steps with seeds 0..``--final-seeds``-1.
* ``optuna-hyperband`` (peer): the same with ``HyperbandPruner(min_resource=steps/10, max_resource=steps,
  reduction_factor=3)`` (150 / 1,500 / 3 at the defaults); validation accuracy is reported with
  ``trial.report`` every steps/10 steps and ``trial.should_prune()`` checked there.
* ``archscout``: ``Study(space="conv1d-recipe", task="mnist1d", strategy=--strategy (default asha),
  train={"steps": 1500}, final_train={"steps": 4000})`` then ``study.run(time_budget, final_top_k=1,
  final_seeds=3)``; ``--strategy-option k=v`` go to the strategy, ``--run-option k=v`` to ``run()`` (e.g. a
  re-validation of the top candidates before choosing, where archscout has it).
* ``archscout-mo``: the same with objectives accuracy (max) and params (min), strategy default ``mo-asha``
  (``nsga2`` with a message when this archscout has no such strategy); the front members with <= 5,000
  parameters (up to 3, best validation accuracy first) are retrained, target >= 98.5 % test accuracy.

Every arm records: the anytime curve (best validation accuracy at the top fidelity so far against wall
seconds since the search started, one point per finished trial, plus the best at <= 5,000 parameters), the
candidates evaluated at each fidelity (Optuna + Hyperband: how many trials reached each reporting step and
how many were pruned there; archscout: trials run at each fidelity, promoted or stopped there), the share of
trial time spent below the top fidelity (Optuna: in pruned trials; archscout: in trials run at a lower
fidelity, promoted later or not), trials, search seconds, the chosen architecture, its parameters, its
validation accuracy and its test accuracies over the retraining seeds (mean ± std).

Commands (one at a time, on a quiet machine: the arms are compared on wall time, so anything else running
changes what each arm finds; 2 cores, 2 PyTorch threads, GOMP_SPINCOUNT=1000 as archscout's CLI sets it):

    .venv/bin/python benchmarks/mnist1d_multifidelity.py --arm optuna-tpe --seed 0
    .venv/bin/python benchmarks/mnist1d_multifidelity.py --arm optuna-hyperband --seed 0
    .venv/bin/python benchmarks/mnist1d_multifidelity.py --arm archscout --seed 0            # --strategy asha
    .venv/bin/python benchmarks/mnist1d_multifidelity.py --arm archscout-mo --seed 0         # --strategy mo-asha
    .venv/bin/python benchmarks/mnist1d_multifidelity.py --summarise

    # variants: --strategy hyperband|bohb|successive-halving --strategy-option eta=3 --run-option KEY=VALUE
    # smoke test: --time-budget 20 --steps 60 --final-steps 60 --final-seeds 1 --out-dir /tmp/mf-smoke

Writes OUT_DIR/mnist1d-multifidelity-LABEL-sSEED.json (OUT_DIR: benchmarks/results; LABEL: the arm, with
``-STRATEGY`` when an archscout arm runs another strategy than its default, and ``-TAG`` with ``--tag``); the
archscout studies go to a fresh SQLite file under OUT_DIR/ignored/. ``--summarise`` reads every such file,
prints a markdown table and the differences archscout − each peer per search seed (95 % intervals: percentile
bootstrap and Welch t over the retraining seeds), and writes OUT_DIR/mnist1d-multifidelity-anytime.png.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PREFIX = "mnist1d-multifidelity-"
ARMS = ("optuna-tpe", "optuna-hyperband", "archscout", "archscout-mo")
DEFAULT_STRATEGY = {"archscout": "asha", "archscout-mo": "mo-asha"}
MO_FALLBACK = "nsga2"
MO_OBJECTIVES = "accuracy:max,params:min"
SMALL_PARAMS, SMALL_TARGET = 5_000, 0.985
SMALL_RETRAIN = 3
REDUCTION_FACTOR = 3


# -- arguments -----------------------------------------------------------------------------

def key_values(pairs: list[str], flag: str) -> dict:
    """``["eta=3", "name=x"]`` -> ``{"eta": 3, "name": "x"}``: each value read as JSON (numbers, true/false,
    null, lists), else kept as text."""
    out = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{flag} takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip()] = text
    return out


def thread_count(given: int | None) -> int:
    """PyTorch intra-op threads for both the peer and archscout: ``--threads``, else 2 capped by an
    OMP_NUM_THREADS set in the environment."""
    if given is not None:
        return given
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", "").strip())
    except ValueError:
        cap = 0
    return min(2, cap) if cap >= 1 else 2


def label_of(args) -> str:
    label = args.arm
    if args.arm in DEFAULT_STRATEGY and args.strategy and args.strategy != DEFAULT_STRATEGY[args.arm]:
        label += f"-{args.strategy}"
    if args.tag:
        label += f"-{args.tag}"
    return label


# -- the anytime curve and the fidelity accounting, common to every arm -----------------------------

def anytime(finished: list[dict], top: int) -> list[dict]:
    """``finished``: one dict per finished trial (``t`` seconds since the search started, ``steps`` it ran,
    ``state``, ``val_accuracy`` when complete, ``params``). One point per finished trial, in the order they
    finished: the best validation accuracy among complete trials at the top fidelity so far, and among those
    with <= 5,000 parameters."""
    best = best_small = None
    out = []
    for f in sorted(finished, key=lambda f: f["t"]):
        acc = f.get("val_accuracy")
        if f["state"] == "complete" and f["steps"] == top and acc is not None:
            best = acc if best is None else max(best, acc)
            if f.get("params") is not None and f["params"] <= SMALL_PARAMS:
                best_small = acc if best_small is None else max(best_small, acc)
        out.append({"t": round(f["t"], 2), "best_val_accuracy": best, "best_val_accuracy_small": best_small,
                    "trial": f["number"], "steps": f["steps"], "state": f["state"]})
    return out


def below_top(seconds_below: float, seconds_never: float, seconds_all: float, search_seconds: float) -> dict:
    """``seconds_below``: trial time spent in evaluations below the top fidelity (Optuna: pruned trials;
    archscout: trials run at a lower fidelity, whether or not their architecture was promoted later);
    ``seconds_never``: the part spent on candidates that never reached the top fidelity."""
    return {"seconds": round(seconds_below, 1), "seconds_never_reached_top": round(seconds_never, 1),
            "trial_seconds": round(seconds_all, 1),
            "share_of_trial_seconds": seconds_below / seconds_all if seconds_all else 0.0,
            "share_of_search_seconds": seconds_below / search_seconds if search_seconds else 0.0,
            "never_reached_top_share_of_trial_seconds": seconds_never / seconds_all if seconds_all else 0.0}


# -- the Optuna peers -----------------------------------------------------------------------------

def run_optuna(args, seconds: float, threads: int) -> dict:
    import optuna
    import torch

    import _optuna_mnist1d as peer
    from archscout.errors import TrialFailed
    from archscout.tasks import get_task

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = get_task("mnist1d")
    _ = task.input_shape  # the data is generated before the clock starts, as in the archscout arm
    hyperband = args.arm == "optuna-hyperband"
    report_every = max(1, args.steps // 10)  # archscout's fit() calls its report hook every steps // 10 steps
    pruner_cfg = None
    if hyperband:
        pruner_cfg = {"min_resource": max(1, args.steps // 10), "max_resource": args.steps,
                      "reduction_factor": REDUCTION_FACTOR}
        pruner = optuna.pruners.HyperbandPruner(**pruner_cfg)
    else:
        pruner = optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed),
                                pruner=pruner, study_name=f"{PREFIX}{args.arm}-s{args.seed}")
    log: list[dict] = []
    t0 = time.monotonic()
    objective = peer.objective_factory(task, args.steps, args.seed, t0, log, hyperband, report_every)

    def shown(_study, frozen):
        e = log[-1] if log and log[-1]["number"] == frozen.number else None
        if e is None:
            return
        what = {"complete": f"val {100 * e.get('val_accuracy', math.nan):.2f} %",
                "pruned": f"pruned at step {e.get('pruned_at')}", "failed": f"failed: {e.get('error')}"}[e["state"]]
        done = [t for t in _study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max((t.value for t in done), default=math.nan)
        print(f"#{frozen.number} {e['architecture']} · {e['params']:,} params · {what} · {e['seconds']:.1f} s "
              f"[{e['finished']:.0f} s, best {100 * best:.2f} %]", flush=True)

    study.optimize(objective, timeout=seconds, catch=(TrialFailed,), callbacks=[shown], gc_after_trial=False)
    search_wall = time.monotonic() - t0
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise SystemExit(f"{args.arm}: no trial completed in {seconds:g} s")
    best = study.best_trial
    ties = sum(t.value == best.value for t in complete)
    cfg = peer.config_of(best.params)
    by_number = {e["number"]: e for e in log}
    print(f"chosen: #{best.number} {peer.describe(cfg)} · val {100 * best.value:.2f} % ({ties} tied, "
          f"Optuna's best_trial keeps the first) — retraining {args.final_seeds} seed(s) × {args.final_steps} steps",
          flush=True)
    t1 = time.monotonic()
    finals = peer.final(task, cfg, args.final_steps, args.final_seeds)
    final_wall = time.monotonic() - t1

    # candidates at each fidelity: trials that reached each reporting step, and where they stopped
    states = {s: sum(e["state"] == s for e in log) for s in ("complete", "pruned", "failed")}
    fidelities = []
    if hyperband:
        steps = sorted({s for e in log for s, _ in e["reports"]} | {args.steps})
        for s in steps:
            fidelities.append({"steps": s, "reached": sum(any(r[0] == s for r in e["reports"]) for e in log),
                               "pruned_here": sum(e["state"] == "pruned" and e.get("pruned_at") == s for e in log),
                               "complete_here": sum(e["state"] == "complete" for e in log) if s == args.steps else 0})
    else:
        fidelities.append({"steps": args.steps, "reached": states["complete"], "pruned_here": 0,
                           "complete_here": states["complete"]})
    seconds_all = sum(e["seconds"] for e in log)
    seconds_pruned = sum(e["seconds"] for e in log if e["state"] == "pruned")
    finished = [{"t": e["finished"], "number": e["number"], "state": e["state"], "steps": e.get("steps"),
                 "val_accuracy": e.get("val_accuracy"), "params": e["params"]} for e in log]
    tests = [f["test_accuracy"] for f in finals]
    return {
        "search": {"library": f"optuna {optuna.__version__}", "sampler": f"TPESampler(seed={args.seed})",
                   "pruner": (f"HyperbandPruner({', '.join(f'{k}={v}' for k, v in pruner_cfg.items())})"
                              if hyperband else "none"),
                   "report_every_steps": report_every if hyperband else None,
                   "space": "benchmarks/_optuna_mnist1d.py",
                   "recipe": {**peer.recipe({"lr": 1e-3}, args.steps).as_dict(),
                              "lr": f"per trial, log-uniform in {list(peer.LR_RANGE)}"}},
        "search_seconds": round(search_wall, 1), "final_wall_seconds": round(final_wall, 1),
        "trials": {"total": len(log), **states},
        "fidelities": fidelities, "top_fidelity_steps": args.steps,
        "below_top_fidelity": below_top(seconds_pruned, seconds_pruned, seconds_all, search_wall),
        "anytime": anytime(finished, args.steps),
        "chosen": {"trial": best.number, "architecture": peer.describe(cfg), "config": cfg,
                   "params": by_number[best.number]["params"], "val_accuracy": best.value, "val_ties": ties,
                   "test_accuracies": tests, "test_accuracy_mean": statistics.fmean(tests),
                   "test_accuracy_std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
                   "final_runs": finals},
        "trial_log": [{k: v for k, v in e.items() if k != "config"} for e in log],
    }


# -- archscout ------------------------------------------------------------------------------------

def pick_strategy(args) -> tuple[str, dict, str | None]:
    """The strategy (and options) to run, and a note when the requested one is not in this archscout."""
    from archscout.errors import ArchscoutError
    from archscout.strategy import STRATEGIES, canonical_name, list_strategies, multi_objective_strategies

    wanted = args.strategy or DEFAULT_STRATEGY[args.arm]
    options = key_values(args.strategy_option, "--strategy-option")
    try:
        name = canonical_name(wanted)
    except ArchscoutError:
        name = None
    mo = args.arm == "archscout-mo"
    if name is not None and (not mo or STRATEGIES.get(name).multi_objective):
        return name, options, None
    if not mo:
        raise SystemExit(f"strategy {wanted!r} is not in this archscout (it has: {', '.join(list_strategies())}); "
                         f"the multi-fidelity schedulers may not have landed yet: try --strategy random")
    why = "is not in this archscout" if name is None else "optimises one objective only"
    note = (f"strategy {wanted!r} {why} (multi-objective ones here: {', '.join(multi_objective_strategies())}); "
            f"falling back to {MO_FALLBACK!r} at full fidelity"
            + (f", dropping --strategy-option {', '.join(options)}" if options else ""))
    print(f"NOTE: {note}", file=sys.stderr, flush=True)
    return MO_FALLBACK, {}, note


def fidelity_accounting(study, trials: list, top: int) -> tuple[list[dict], float, float]:
    """Per fidelity: trials run there, by status, promoted (a later trial continued it, or its architecture
    ran at a higher fidelity) and ended_here (complete there, not promoted); plus the trial seconds below the top
    fidelity and in all."""
    def level(t):
        fid = t.fidelity or study.top_fidelity or {"steps": top}
        return int(max(fid.values()))

    levels = {t.number: level(t) for t in trials}
    parents = {t.parent for t in trials if t.parent is not None}
    highest: dict[str, int] = {}
    for t in trials:
        highest[t.arch.id] = max(highest.get(t.arch.id, 0), levels[t.number])
    rows = []
    for lv in sorted(set(levels.values())):
        here = [t for t in trials if levels[t.number] == lv]
        promoted = {t.number for t in here if t.number in parents or highest[t.arch.id] > lv}
        statuses = {s: sum(t.status == s for t in here) for s in sorted({t.status for t in here})}
        rows.append({"steps": lv, "trials": len(here), **statuses, "promoted": len(promoted),
                     "ended_here": sum(t.status == "complete" and t.number not in promoted for t in here)
                     if lv < top else 0,
                     "seconds": round(sum(t.duration or 0.0 for t in here), 1)})
    below = sum(t.duration or 0.0 for t in trials if levels[t.number] < top)
    never = sum(t.duration or 0.0 for t in trials if levels[t.number] < top and highest[t.arch.id] < top)
    return rows, below, never, sum(t.duration or 0.0 for t in trials)


def describe_trial(t) -> dict:
    f = t.final or {}
    return {"trial": t.number, "architecture": t.arch.describe(), "arch_id": t.arch.id, "values": t.arch.values,
            "params": t.metrics.get("params"), "val_accuracy": t.metrics.get("accuracy"),
            "fidelity": t.fidelity, "parent": t.parent,
            **{k: f[k] for k in ("test_accuracies", "test_accuracy_mean", "test_accuracy_std", "seeds") if k in f}}


def revalidation_of(study) -> dict | None:
    """The top candidates' repeated-seed validation, where run() did one ({trial: mean, std, values})."""
    try:
        from archscout.study.diagnostics import revalidation
        return {str(k): v for k, v in revalidation(study).items()} or None
    except (ImportError, AttributeError):
        return None


def run_archscout(args, seconds: float, threads: int, label: str) -> dict:
    import torch

    import archscout as asc
    from archscout.execute import intra_op_threads

    torch.set_num_threads(threads)
    mo = args.arm == "archscout-mo"
    strategy, strategy_options, note = pick_strategy(args)
    run_options = key_values(args.run_option, "--run-option")
    folder = os.path.join(args.out_dir, "ignored")
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    db = os.path.join(folder, f"{PREFIX}{label}-s{args.seed}-{stamp}.db")
    kwargs = dict(space="conv1d-recipe", task="mnist1d", strategy=strategy, strategy_options=strategy_options,
                  seed=args.seed, train={"steps": args.steps}, final_train={"steps": args.final_steps},
                  storage=f"sqlite:///{db}")
    if mo:
        kwargs["objectives"] = MO_OBJECTIVES
    study = asc.Study(f"mnist1d-mf-{label}-s{args.seed}", **kwargs)
    _ = study.task.input_shape  # the data is generated before the clock starts
    top = int(max((study.top_fidelity or {"steps": args.steps}).values()))

    # ---- the run() call. Extra keywords (issue 18: e.g. re-validating the top candidates with more seeds before
    # ---- choosing) come from --run-option KEY=VALUE and override these.
    # the command line's defaults: the top 3 validated again with 2 more seeds before the choice
    run_kwargs = dict(time_budget=seconds, final_top_k=0 if mo else 1, final_seeds=args.final_seeds,
                      progress=True, threads=threads, revalidate=0 if mo else 3, revalidate_seeds=2)
    run_kwargs.update(run_options)
    t0_unix, t0 = time.time(), time.monotonic()
    study.run(**run_kwargs)
    run_wall = time.monotonic() - t0

    retrain_small = []
    t1 = time.monotonic()
    if mo:  # the front members with <= 5,000 parameters, best validation accuracy first, retrained
        small = [t for t in study.front() if t.metrics.get("params", math.inf) <= SMALL_PARAMS]
        retrain_small = [t.number for t in sorted(small, key=lambda t: -t.metrics["accuracy"])[:SMALL_RETRAIN]]
        if retrain_small:
            with intra_op_threads(threads):
                study.finalize(seeds=args.final_seeds, trials=retrain_small, progress=True)
    mo_final_wall = time.monotonic() - t1

    trials = study.trials()
    finished = [t for t in trials if t.finished_at is not None]
    rows, below, never, all_seconds = fidelity_accounting(study, finished, top)
    search_seconds = study.search_seconds
    points = [{"t": t.finished_at - t0_unix, "number": t.number, "state": t.status,
               "steps": int(max((t.fidelity or {"steps": top}).values())),
               "val_accuracy": t.metrics.get("accuracy"), "params": t.metrics.get("params")} for t in finished]
    retrained = [t for t in trials if t.final]
    board = study.leaderboard()
    order = {t.number: i for i, t in enumerate(board)}
    result = {
        "search": {"library": "archscout",
                   "space": "conv1d-recipe", "strategy": strategy, "strategy_requested": args.strategy
                   or DEFAULT_STRATEGY[args.arm], "strategy_options": strategy_options, "fallback": note,
                   "objectives": [list(o) for o in study.objectives], "run_options": run_options,
                   "run_keywords": {k: v for k, v in run_kwargs.items() if k != "progress"},
                   "storage": os.path.relpath(db, HERE) if db.startswith(HERE) else db, "study": study.name,
                   "recipe": study.train_config.as_dict(), "final_recipe": study.final_train.as_dict()},
        "search_seconds": round(search_seconds, 1),
        "final_wall_seconds": round(max(0.0, run_wall - search_seconds) + mo_final_wall, 1),
        "run_wall_seconds": round(run_wall, 1),
        "trials": {"total": len(trials), **{s: sum(t.status == s for t in trials)
                                            for s in sorted({t.status for t in trials})}},
        "fidelities": rows, "top_fidelity_steps": top,
        "below_top_fidelity": below_top(below, never, all_seconds, search_seconds),
        "anytime": anytime(points, top),
        "retrained": [describe_trial(t) for t in retrained],
        "revalidation": revalidation_of(study),
        "leaderboard_top5": [describe_trial(t) for t in board[:5]],
    }
    if not mo:
        if not retrained:
            raise SystemExit("archscout: no trial was retrained (did the search complete a trial at the top fidelity?)")
        chosen = min(retrained, key=lambda t: order.get(t.number, math.inf))  # the retrained one ranked first
        reval = (result["revalidation"] or {}).get(str(chosen.number))
        result["chosen"] = {**describe_trial(chosen), "val_accuracy_revalidated": reval and reval["mean"],
                            "chosen_by": "validation accuracy at the top fidelity (study.leaderboard), as run() "
                                         "retrained it" + (f"; run options {run_options}" if run_options else "")}
        return result
    front = study.front()
    small = [t for t in retrained if t.number in retrain_small]
    best_small = max(small, key=lambda t: t.final.get("test_accuracy_mean", 0.0), default=None)
    result["front"] = [describe_trial(t) for t in front]
    result["small"] = {
        "max_params": SMALL_PARAMS, "target_test_accuracy": SMALL_TARGET, "retrained": retrain_small,
        "best": describe_trial(best_small) if best_small else None,
        "met": bool(best_small and best_small.final.get("test_accuracy_mean", 0.0) >= SMALL_TARGET),
        "note": "best by mean test accuracy among the retrained front members with <= 5,000 parameters, as the "
                "issue's target reads (they were picked by validation accuracy, best first in small.retrained)"}
    if best_small is not None:
        result["chosen"] = {**describe_trial(best_small), "chosen_by": result["small"]["note"]}
    return result


# -- the summary ------------------------------------------------------------------------------------

def welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its 95 % Welch t-interval (NaN with fewer than 2 values on a side)."""
    from scipy.stats import t as student

    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se2 = va + vb
    if se2 == 0:
        return diff, diff, diff
    df = se2 ** 2 / ((va ** 2 / (len(a) - 1) if va else 0.0) + (vb ** 2 / (len(b) - 1) if vb else 0.0))
    h = float(student.ppf(0.975, df)) * math.sqrt(se2)
    return diff, diff - h, diff + h


def cell(text) -> str:
    """Text for a markdown table cell (archscout's descriptions separate stages with |)."""
    return str(text).replace("|", "\\|")


def interval(lo: float, hi: float) -> str:
    return "n/a" if math.isnan(lo) or math.isnan(hi) else f"[{lo:+.2f}, {hi:+.2f}]"


def strategy_of(d: dict) -> str:
    s = d["search"]
    if d["arm"] == "optuna-tpe":
        return "TPE"
    if d["arm"] == "optuna-hyperband":
        cfg = s.get("pruner", "")
        nums = [part.split("=")[1] for part in cfg[cfg.find("(") + 1:cfg.rfind(")")].split(", ") if "=" in part]
        return f"TPE + Hyperband ({'/'.join(nums)})"
    return s.get("strategy", "?") + (f" (asked {s['strategy_requested']})" if s.get("fallback") else "")


def pct(x, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def summarise(out_dir: str) -> int:
    from archscout.stats import bootstrap_difference, verdict

    files = sorted(glob.glob(os.path.join(out_dir, f"{PREFIX}*-s*.json")))
    docs = []
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        if isinstance(doc, dict) and doc.get("arm") in ARMS:
            docs.append(doc)
    if not docs:
        print(f"no {PREFIX}*-sSEED.json in {out_dir}")
        return 1
    docs.sort(key=lambda d: (ARMS.index(d["arm"]), d["label"], d["seed"]))
    print(f"MNIST-1D multi-fidelity search ({len(docs)} runs from {out_dir})\n")
    print("| arm | seed | strategy | trials (stopped below top) | search s | chosen | params | val acc % "
          "| test acc % (mean ± std, seeds) | trial time below top fidelity (on candidates that never reached it) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in docs:
        c, tr, b = d.get("chosen") or {}, d["trials"], d["below_top_fidelity"]
        stopped = tr.get("pruned", 0) if d["arm"].startswith("optuna") else \
            sum(r.get("ended_here", r.get("stopped", 0)) for r in d["fidelities"])
        tests = c.get("test_accuracies") or []
        test = (f"{pct(c.get('test_accuracy_mean'))} ± {pct(c.get('test_accuracy_std'))} ({len(tests)})"
                if tests else "–")
        print(f"| {d['label']} | {d['seed']} | {strategy_of(d)} | {tr['total']} ({stopped}) "
              f"| {d['search_seconds']:.0f} | {cell(c.get('architecture', '–'))} | {c.get('params') or 0:,} | {pct(c.get('val_accuracy'))} | {test} "
              f"| {100 * b['share_of_trial_seconds']:.0f} % ({pct(b.get('never_reached_top_share_of_trial_seconds'), 0)} %) |")
    mos = [d for d in docs if d["arm"] == "archscout-mo"]
    if mos:
        print(f"\narchscout-mo: front members with <= {SMALL_PARAMS:,} parameters retrained "
              f"(target >= {100 * SMALL_TARGET:.1f} % test accuracy)\n")
        print("| label | seed | front size | retrained | best test acc % | params | met |")
        print("|---|---|---|---|---|---|---|")
        for d in mos:
            b = d["small"]["best"] or {}
            print(f"| {d['label']} | {d['seed']} | {len(d['front'])} | {len(d['small']['retrained'])} "
                  f"| {pct(b.get('test_accuracy_mean'))} ± {pct(b.get('test_accuracy_std'))} "
                  f"| {b.get('params') or 0:,} | {'yes' if d['small']['met'] else 'no'} |")
    ours = [d for d in docs if d["arm"] == "archscout" and (d.get("chosen") or {}).get("test_accuracies")]
    peers = [d for d in docs if d["arm"].startswith("optuna") and (d.get("chosen") or {}).get("test_accuracies")]
    if ours and peers:
        print("\nDifferences archscout − peer in test accuracy (points), per search seed, over the retraining "
              "seeds (independent samples; with 3 values a side these intervals are rough)\n")
        print("| archscout | peer | seed | difference | 95 % bootstrap | 95 % Welch t | verdict (bootstrap) |")
        print("|---|---|---|---|---|---|---|")
        for a in ours:
            for p in peers:
                if p["seed"] != a["seed"]:
                    continue
                xa = [100 * v for v in a["chosen"]["test_accuracies"]]
                xp = [100 * v for v in p["chosen"]["test_accuracies"]]
                diff, lo, hi = bootstrap_difference(xa, xp)
                _, tlo, thi = welch(xa, xp)
                print(f"| {a['label']} | {p['label']} | {a['seed']} | {diff:+.2f} | {interval(lo, hi)} "
                      f"| {interval(tlo, thi)} | {verdict(lo, hi) if not math.isnan(lo) else 'n/a (1 seed)'} |")
        labels_a = sorted({d["label"] for d in ours})
        labels_p = sorted({d["label"] for d in peers})
        pairs = [(la, lp) for la in labels_a for lp in labels_p]
        lines = []
        for la, lp in pairs:
            ma = {d["seed"]: 100 * d["chosen"]["test_accuracy_mean"] for d in ours if d["label"] == la}
            mp = {d["seed"]: 100 * d["chosen"]["test_accuracy_mean"] for d in peers if d["label"] == lp}
            if len(ma) >= 2 and len(mp) >= 2:
                diff, lo, hi = bootstrap_difference(list(ma.values()), list(mp.values()), comparisons=len(pairs))
                lines.append(f"| {la} | {lp} | {len(ma)} / {len(mp)} | {diff:+.2f} | {interval(lo, hi)} "
                             f"| {verdict(lo, hi)} |")
        if lines:
            print("\nOver search seeds (each run's mean over its retraining seeds; bootstrap, Bonferroni over "
                  f"{len(pairs)} comparisons)\n")
            print("| archscout | peer | seeds | difference | 95 % interval | verdict |")
            print("|---|---|---|---|---|---|")
            print("\n".join(lines))
    for d in docs:
        fid = ", ".join(f"{r['steps']}: " + (f"{r['reached']} reached, {r['pruned_here']} pruned" if "reached" in r
                                             else f"{r['trials']} run, {r.get('promoted', 0)} promoted, "
                                                  f"{r.get('stopped', 0)} stopped") for r in d["fidelities"])
        print(f"\n{d['label']} s{d['seed']} per fidelity (steps): {fid}")
    plot = plot_anytime(docs, os.path.join(out_dir, f"{PREFIX}anytime.png"))
    print(f"\nanytime curves: {plot}")
    return 0


def plot_anytime(docs: list[dict], path: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = {}
    for d in docs:
        pts = [(p["t"] / 60, 100 * p["best_val_accuracy"]) for p in d["anytime"] if p["best_val_accuracy"] is not None]
        if not pts:
            continue
        colour = colours.setdefault(d["label"], f"C{len(colours) % 10}")
        xs, ys = zip(*pts)
        ax.step(list(xs) + [d["search_seconds"] / 60], list(ys) + [ys[-1]], where="post", color=colour,
                alpha=0.85, label=f"{d['label']} s{d['seed']}", linestyle=["-", "--", ":", "-."][d["seed"] % 4])
    ax.set_xlabel("search wall time (minutes)")
    ax.set_ylabel("best validation accuracy so far, top fidelity (%)")
    ax.set_title("MNIST-1D: multi-fidelity search against Optuna (one arm at a time)")
    ax.grid(alpha=0.3)
    if colours:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- main -------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arm", choices=ARMS)
    ap.add_argument("--summarise", "--summarize", action="store_true", help="summarise the JSON files in --out-dir")
    ap.add_argument("--seed", type=int, default=0, help="search seed (the retraining seeds are 0..final-seeds-1)")
    ap.add_argument("--time-budget", default="30m", help="search time: 30m, 90s or seconds")
    ap.add_argument("--steps", type=int, default=1500, help="training steps of a search trial (the top fidelity)")
    ap.add_argument("--final-steps", type=int, default=4000, help="training steps of the final retraining")
    ap.add_argument("--final-seeds", type=int, default=3)
    ap.add_argument("--strategy", help="archscout arms: the strategy (default asha; archscout-mo: mo-asha)")
    ap.add_argument("--strategy-option", action="append", default=[], metavar="KEY=VALUE",
                    help="archscout arms: a strategy option (repeatable; values read as JSON, else text)")
    ap.add_argument("--run-option", action="append", default=[], metavar="KEY=VALUE",
                    help="archscout arms: an extra keyword of Study.run() (repeatable), e.g. a re-validation setting")
    ap.add_argument("--threads", type=int, help="PyTorch intra-op threads (default 2, capped by OMP_NUM_THREADS)")
    ap.add_argument("--tag", help="appended to the label in the file name (a variant of an arm)")
    ap.add_argument("--out-dir", default=RESULTS, help="where the JSON files (and archscout's SQLite) go")
    args = ap.parse_args()
    from archscout.execute import openmp_wait_env
    os.environ.update(openmp_wait_env())  # before torch is imported: OpenMP reads it once, as archscout's CLI does
    os.makedirs(args.out_dir, exist_ok=True)
    if args.summarise:
        return summarise(args.out_dir)
    if args.arm is None:
        ap.error("give --arm (or --summarise)")
    if args.strategy and args.arm.startswith("optuna"):
        ap.error("--strategy is for the archscout arms")
    if min(args.steps, args.final_steps, args.final_seeds) < 1:
        ap.error("--steps, --final-steps and --final-seeds must be positive")
    from archscout.study.preflight import parse_duration
    seconds = parse_duration(args.time_budget)
    threads = thread_count(args.threads)
    label = label_of(args)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(f"{label} seed {args.seed}: {seconds:g} s of search, {args.steps} steps a trial, final "
          f"{args.final_seeds} × {args.final_steps} steps, {threads} thread(s)", flush=True)
    if args.arm.startswith("optuna"):
        result = run_optuna(args, seconds, threads)
    else:
        result = run_archscout(args, seconds, threads, label)
    sys.path.insert(0, HERE)
    from _common import machine, version
    from archscout.tasks import get_task
    task = get_task("mnist1d")
    doc = {"arm": args.arm, "label": label, "seed": args.seed, "time_budget_seconds": seconds,
           "steps": args.steps, "final_steps": args.final_steps, "final_seeds": args.final_seeds,
           "split": {"train": len(task.train), "valid": len(task.valid), "test": len(task.test)}, **result,
           "command": " ".join([".venv/bin/python", "benchmarks/mnist1d_multifidelity.py"] + sys.argv[1:]),
           "started": started,
           "machine": machine(torch_threads=threads, gomp_spincount=os.environ.get("GOMP_SPINCOUNT"),
                              omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                              optuna=version("optuna"))}
    path = os.path.join(args.out_dir, f"{PREFIX}{label}-s{args.seed}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=float)
    c = doc.get("chosen") or {}
    print(f"\n{label} seed {args.seed}: {doc['trials']['total']} trials in {doc['search_seconds']:.0f} s; chosen "
          f"{c.get('architecture', '–')} ({c.get('params') or 0:,} params), val {pct(c.get('val_accuracy'))} %, "
          f"test {pct(c.get('test_accuracy_mean'))} ± {pct(c.get('test_accuracy_std'))} %; "
          f"{100 * doc['below_top_fidelity']['share_of_trial_seconds']:.0f} % of trial time below the top "
          f"fidelity\nwrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
