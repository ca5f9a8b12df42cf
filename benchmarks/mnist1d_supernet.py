"""MNIST-1D, one-shot NAS with a weight-sharing supernet (issue 19): ranking, gaps, end to end, INT8.

Stages (each writes its part of OUT_DIR/mnist1d-supernet-METHOD-sSEED[-LABEL].json; run them one at a time on a
quiet machine, ``--threads`` PyTorch threads, default 2):

* ``--stage train``: only train the supernet (``--train-steps`` steps, or ``--train-time``), for the check and noise
  stages when the end-to-end stage's file is gone; ``--label`` keeps such a run's files apart from the others.

* ``--stage end-to-end``: train the conv1d supernet (``--method``, default bignas) for ``--train-time``
  (default 12m), search ``--candidates`` (1,000) sub-networks with NSGA-II over validation accuracy × parameters
  (``--evaluator supernet:FILE``, inherited weights, batch norms recalibrated), then fine-tune the best front
  members at <= 5,000 and <= 15,000 parameters (``--final-steps`` 4,000 steps, 3 seeds, all 4,000 training
  samples) and test them. Reports the wall time of each part and their sum (target <= 30 minutes), and the front's
  hypervolume in (validation accuracy, parameters) against the reference point (0 % accuracy, 60,906 parameters:
  the Optuna peer's pick), next to the front of the trained multi-objective search
  (benchmarks/results/mnist1d-mo-nsga2-s0.json, 713 trials in 30 minutes; its fronts are three-objective, so its
  trials are reduced to their (accuracy, parameters) front here). Also the INT8 validation accuracy of the front
  members with the shared weights (ONNX Runtime static quantization of the extracted network) against their fp32
  accuracy (target within 0.5 points).
* ``--stage noise`` (after ``check``): the same sub-networks trained alone again with the next seed: Kendall τ
  between the two stand-alone runs (the ceiling one noisy stand-alone run allows), and of the inherited scores
  against the second run and against the mean of both.
* ``--stage check``: ``archscout supernet check`` on the file the first stage wrote: ``--check-samples`` (30)
  sub-networks spanning the size range and ``--check-uniform`` (default the same number) drawn uniformly from the
  elastic space, each trained alone for ``--check-steps`` (1,500) steps; Kendall τ and Spearman ρ between inherited
  and stand-alone validation accuracy on each sample and within ``--check-bins`` (3) parameter bins, with bootstrap
  intervals (target τ >= 0.7), and the gaps of the largest, a middle and the smallest (target within 1 point for the
  largest and the middle).

Commands::

    .venv/bin/python benchmarks/mnist1d_supernet.py --stage end-to-end --seed 0
    .venv/bin/python benchmarks/mnist1d_supernet.py --stage check --seed 0
    .venv/bin/python benchmarks/mnist1d_supernet.py --stage noise --seed 0
    # the supernet alone, a fixed number of steps, files kept apart:
    .venv/bin/python benchmarks/mnist1d_supernet.py --stage train --train-steps 3000 --label 3000steps
    # smoke: --train-time 20s --candidates 20 --final-steps 50 --final-seeds 1 --check-samples 3 --check-steps 20
    #        --out-dir /tmp/sn-smoke
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PEER_PARAMS = 60_906
LIMITS = (5_000, 15_000)
TRAINED_MO = os.path.join(RESULTS, "mnist1d-mo-nsga2-s0.json")


def front_2d(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (accuracy max, params min) non-dominated points."""
    out = []
    for a, p in sorted(points, key=lambda x: (x[1], -x[0])):
        if not out or a > out[-1][0]:
            out.append((a, p))
    return out


def hypervolume_2d(front: list[tuple[float, float]]) -> float:
    """Area dominated in (accuracy %, params) against (0 %, PEER_PARAMS): accuracy up, params down."""
    import numpy as np

    from archscout.pareto import hypervolume
    F = np.array([[-100 * a, p] for a, p in front if p < PEER_PARAMS] or np.zeros((0, 2)))
    return hypervolume(F, [0.0, PEER_PARAMS])


def best_under(front: list[tuple[float, float]], limit: int) -> tuple[float, float] | None:
    inside = [x for x in front if x[1] <= limit]
    return max(inside) if inside else None


def load_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def end_to_end(args, out_json: str, supernet_path: str) -> dict:
    import torch

    import archscout as asc
    from archscout.execute import intra_op_threads
    from archscout.oneshot.supernet.run import train_for_task
    from archscout.oneshot.supernet.train import SupernetTraining
    from archscout.study.preflight import parse_duration
    from archscout.tasks import get_task

    torch.set_num_threads(args.threads)
    task = get_task("mnist1d")
    _ = task.input_shape
    t0 = time.monotonic()
    header = train_for_task(task, "conv1d", supernet_path, SupernetTraining(method=args.method), seed=args.seed,
                            time_budget=parse_duration(args.train_time), progress=print)
    train_wall = time.monotonic() - t0

    db = os.path.join(args.out_dir, "ignored", f"mnist1d-supernet-{args.method}-s{args.seed}-"
                      f"{datetime.datetime.now():%Y%m%d-%H%M%S}.db")
    os.makedirs(os.path.dirname(db), exist_ok=True)
    study = asc.Study(f"mnist1d-supernet-{args.method}-s{args.seed}", space="conv1d", task="mnist1d",
                      evaluator=f"supernet:{supernet_path}", objectives="accuracy:max,params:min",
                      strategy=args.strategy, seed=args.seed, storage=f"sqlite:///{db}",
                      final_train={"steps": args.final_steps})
    t1 = time.monotonic()
    study.run(trials=args.candidates, final_top_k=0, progress=True, threads=args.threads)
    search_wall = time.monotonic() - t1
    done = [t for t in study.trials() if t.status == "complete" and not t.final]
    points = [(t.metrics["accuracy"], t.metrics["params"]) for t in done]
    front = front_2d(points)
    picks = []
    for limit in LIMITS:
        inside = [t for t in done if t.metrics["params"] <= limit]
        if inside:
            best = max(inside, key=lambda t: (t.metrics["accuracy"], -t.metrics["params"]))
            if best.number not in picks:
                picks.append(best.number)
    t2 = time.monotonic()
    with intra_op_threads(args.threads):
        study.finalize(seeds=args.final_seeds, trials=picks, progress=True)
    final_wall = time.monotonic() - t2

    evaluator = study.evaluator()
    int8 = []
    for t in sorted(done, key=lambda t: t.metrics["params"]):
        if (t.metrics["accuracy"], t.metrics["params"]) in front:
            model = evaluator.build(t.arch, 0)
            from archscout.oneshot.supernet.net import recalibrate
            recalibrate(model, evaluator.calibration_batches())
            q = evaluator.quantized_accuracy(model, t.arch)
            int8.append({"trial": t.number, "params": t.metrics["params"], "accuracy": t.metrics["accuracy"],
                         "accuracy_int8": q.get("accuracy@int8"),
                         "difference_points": None if q.get("accuracy@int8") is None
                         else 100 * (q["accuracy@int8"] - t.metrics["accuracy"])})
    retrained = []
    for t in study.trials():
        if t.final:
            f = t.final
            retrained.append({"trial": t.number, "architecture": t.arch.describe(), "params": t.metrics.get("params"),
                              "val_accuracy_inherited": t.metrics.get("accuracy"),
                              **{k: f[k] for k in ("test_accuracy_mean", "test_accuracy_std", "test_accuracies",
                                                   "test_accuracy_inherited_mean") if k in f}})
    peer = load_json(TRAINED_MO)
    peer_front = front_2d([(p["val_accuracy"], p["params"]) for p in peer.get("front", [])])
    result = {
        "supernet": {"file": os.path.relpath(supernet_path, HERE), "method": args.method,
                     "steps": header["training"]["steps"], "train_seconds": header["train_seconds"],
                     "curve": header["curve"]},
        "search": {"strategy": args.strategy, "candidates": len(done), "seconds": round(search_wall, 1),
                   "seconds_per_candidate": round(search_wall / max(1, len(done)), 3)},
        "wall_seconds": {"train": round(train_wall, 1), "search": round(search_wall, 1),
                         "finetune": round(final_wall, 1), "total": round(train_wall + search_wall + final_wall, 1)},
        "front": [{"val_accuracy": a, "params": p} for a, p in front],
        "hypervolume": hypervolume_2d(front),
        "best_under": {str(lim): best_under(front, lim) for lim in LIMITS},
        "trained_search_front": {"source": os.path.relpath(TRAINED_MO, HERE) if peer else None,
                                 "hypervolume": hypervolume_2d(peer_front) if peer_front else None,
                                 "best_under": {str(lim): best_under(peer_front, lim) for lim in LIMITS}},
        "retrained": retrained, "int8": int8,
    }
    return result


def train_only(args, supernet_path: str) -> dict:
    """The supernet alone: ``--train-steps`` steps (or ``--train-time``), written to the run's supernet file."""
    import torch

    from archscout.oneshot.supernet.run import train_for_task
    from archscout.oneshot.supernet.train import SupernetTraining
    from archscout.study.preflight import parse_duration
    from archscout.tasks import get_task

    torch.set_num_threads(args.threads)
    training = SupernetTraining(method=args.method, **({"steps": args.train_steps} if args.train_steps else {}))
    t0 = time.monotonic()
    header = train_for_task(get_task("mnist1d"), "conv1d", supernet_path, training, seed=args.seed,
                            time_budget=None if args.train_steps else parse_duration(args.train_time), progress=print)
    return {"file": os.path.relpath(supernet_path, HERE), "method": args.method, "steps": header["training"]["steps"],
            "batch_size": header["training"]["batch_size"], "train_seconds": header["train_seconds"],
            "wall_seconds": round(time.monotonic() - t0, 1), "curve": header["curve"]}


def check(args, supernet_path: str) -> dict:
    import torch

    from archscout.evaluate.training import TrainConfig
    from archscout.oneshot.supernet.check import check_supernet
    from archscout.oneshot.supernet.store import load_supernet
    from archscout.tasks import get_task

    torch.set_num_threads(args.threads)
    net, header = load_supernet(supernet_path)
    t0 = time.monotonic()
    result = check_supernet(net, get_task("mnist1d"), TrainConfig(steps=args.check_steps), samples=args.check_samples,
                            uniform=args.check_uniform, bins=args.check_bins, seed=args.seed, progress=print)
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    with open(f"{supernet_path}.check.json", "w") as f:
        json.dump(result, f, indent=1)
    return result


def noise(args, result: dict, supernet_path: str) -> dict:
    """The stand-alone side's own noise: the check's sub-networks trained alone again with another seed; Kendall τ
    between the two stand-alone runs (what τ a perfect ranker could reach against one noisy run) and of the
    inherited scores against the second run and against the mean of both."""
    import torch

    from archscout.evaluate.training import TrainConfig, fit, predict, scores
    from archscout.oneshot.supernet.check import kendall_tau
    from archscout.oneshot.supernet.store import load_supernet
    from archscout.tasks import get_task

    torch.set_num_threads(args.threads)
    check = result.get("check")
    if not check:
        raise SystemExit("run --stage check first: the noise stage retrains its sub-networks")
    net, _ = load_supernet(supernet_path)
    task = get_task("mnist1d")
    space = net.spec.space()
    train = TrainConfig(steps=check["train"]["steps"])
    seed = check["seed"] + 1
    again = []
    t0 = time.monotonic()
    for i, row in enumerate(check["rows"]):
        torch.manual_seed(seed)
        model = space.build(space.architecture(row["values"]), net.input_shape, net.num_classes)
        fit(model, task.train, train, seed=seed, kind=task.kind)
        acc = scores(predict(model, task.valid), task.valid.y, task.kind, task.preprocessing)["accuracy"]
        again.append(float(acc))
        print(f"{i + 1}/{len(check['rows'])}  {row['params']:>9,} params  alone seed {check['seed']} "
              f"{row['alone']:.4f}  seed {seed} {acc:.4f}")
    inh = [r["inherited"] for r in check["rows"]]
    first = [r["alone"] for r in check["rows"]]
    mean = [(a + b) / 2 for a, b in zip(first, again)]
    return {"seed": seed, "alone_again": again, "wall_seconds": round(time.monotonic() - t0, 1),
            "kendall_tau_alone_vs_alone": kendall_tau(first, again),
            "kendall_tau_inherited_vs_alone_again": kendall_tau(inh, again),
            "kendall_tau_inherited_vs_alone_mean": kendall_tau(inh, mean),
            "mean_abs_seed_difference_points": 100 * sum(abs(a - b) for a, b in zip(first, again)) / len(again)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stage", choices=["end-to-end", "train", "check", "noise"], required=True)
    p.add_argument("--method", default="bignas", choices=["bignas", "ofa", "spos"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-time", default="12m")
    p.add_argument("--train-steps", type=int, default=None, help="--stage train: this many steps, not --train-time")
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    p.add_argument("--label", default="", help="kept in the result and supernet file names (e.g. 3000steps)")
    p.add_argument("--strategy", default="nsga2")
    p.add_argument("--candidates", type=int, default=1000)
    p.add_argument("--final-steps", type=int, default=4000)
    p.add_argument("--final-seeds", type=int, default=3)
    p.add_argument("--check-samples", type=int, default=30)
    p.add_argument("--check-uniform", type=int, default=None, help="uniform sample size (default --check-samples)")
    p.add_argument("--check-bins", type=int, default=3)
    p.add_argument("--check-steps", type=int, default=1500)
    p.add_argument("--out-dir", default=RESULTS)
    args = p.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    out_json = os.path.join(args.out_dir, f"mnist1d-supernet-{args.method}-s{args.seed}{label}.json")
    supernet_path = os.path.join(args.out_dir, "ignored", f"mnist1d-{args.method}-s{args.seed}{label}.supernet")
    os.makedirs(os.path.dirname(supernet_path), exist_ok=True)
    result = load_json(out_json)
    if args.stage == "end-to-end":
        result["end_to_end"] = end_to_end(args, out_json, supernet_path)
    elif args.stage == "train":
        result["supernet"] = train_only(args, supernet_path)
    elif args.stage == "check":
        result["check"] = check(args, supernet_path)
    else:
        result["noise"] = noise(args, result, supernet_path)
    result["machine"] = f"{platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}"
    result.setdefault("threads", {})[args.stage] = args.threads
    result.setdefault("commands", {})[args.stage] = "python benchmarks/mnist1d_supernet.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result.setdefault("dates", {})[args.stage] = datetime.date.today().isoformat()
    with open(out_json, "w") as f:
        json.dump(result, f, indent=1, default=str)
    print("wrote", out_json)


if __name__ == "__main__":
    main()
