"""MNIST-1D benchmark: a time-budgeted search, the final retraining with 3 seeds, peak memory over time.

    .venv/bin/python benchmarks/mnist1d_search.py --strategy evolution --time-budget 30m
    .venv/bin/python benchmarks/mnist1d_search.py --strategy random --time-budget 30m --top-k 1
    .venv/bin/python benchmarks/mnist1d_search.py --baseline

Writes benchmarks/results/mnist1d-STRATEGY-sSEED.json (or mnist1d-baseline.json); docs/benchmarks/mnist1d-search.md
quotes those files. The study is stored in benchmarks/results/mnist1d.db, so an interrupted
run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import threading
import time

import psutil
import torch

import archscout as asc
from archscout.cost import count_flops

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)}


class RssSampler(threading.Thread):
    """Samples this process's resident memory every ``every`` seconds."""

    def __init__(self, every: float = 5.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.stop_flag = every, [], threading.Event()
        self.proc, self.t0 = psutil.Process(), time.monotonic()

    def run(self):
        while not self.stop_flag.is_set():
            self.samples.append((round(time.monotonic() - self.t0, 1), round(self.proc.memory_info().rss / 2**20, 1)))
            self.stop_flag.wait(self.every)

    def stop(self):
        self.stop_flag.set()
        self.join()
        self.samples.append((round(time.monotonic() - self.t0, 1), round(self.proc.memory_info().rss / 2**20, 1)))


def hand_designed() -> dict:
    """A residual 1-D CNN as a practitioner would write it: 3 conv5 layers of 32 channels, BN, ReLU, GAP."""
    def conv(residual):
        return dict(op="conv", width=32, kernel=5, dilation=1, downsample="none", residual=residual,
                    norm="batch", act="relu")
    return {"stages": [conv(False), conv(True), conv(True)], "head": "gap"}


def run_baseline(args) -> dict:
    task = asc.tasks.get_task("mnist1d")
    space = asc.spaces.get("conv1d")
    arch = space.architecture(hand_designed())
    recipe = asc.TrainConfig(steps=args.final_steps)
    ev = asc.TrainingEvaluator(task, recipe)
    runs = []
    for seed in range(3):
        res, _ = ev.final(arch, seed=seed, train_config=recipe)
        runs.append(res.metrics)
        print(f"seed {seed}: test accuracy {res.metrics['test_accuracy']:.4f}", flush=True)
    accs = [r["test_accuracy"] for r in runs]
    return {"architecture": arch.describe(), "params": runs[0]["params"],
            "flops": count_flops(arch.build(task.input_shape, 10), task.input_shape),
            "latency_ms": statistics.median(r["latency_ms"] for r in runs),
            "test_accuracy_mean": statistics.fmean(accs), "test_accuracy_std": statistics.pstdev(accs),
            "test_accuracies": accs, "recipe": recipe.as_dict()}


def run_search(args) -> dict:
    storage = f"sqlite:///{os.path.join(RESULTS, 'mnist1d.db')}"
    study = asc.Study(f"bench-mnist1d-{args.strategy}-s{args.seed}", space="conv1d", task="mnist1d",
                      strategy=args.strategy, storage=storage, seed=args.seed, train={"steps": args.steps},
                      final_train={"steps": args.final_steps})
    sampler = RssSampler()
    sampler.start()
    t0 = time.monotonic()
    study.search(time_budget=args.time_budget, progress=True)
    t_search = time.monotonic() - t0
    study.finalize(top_k=args.top_k, seeds=3, progress=True)
    t_final = time.monotonic() - t0 - t_search
    sampler.stop()
    trials = study.trials()
    counts = {s: sum(t.status == s for t in trials) for s in {t.status for t in trials}}
    top = [t for t in study.leaderboard(args.top_k)]
    best = top[0]
    rss = [mb for _, mb in sampler.samples]
    return {
        "study": study.name, "strategy": args.strategy, "seed": args.seed,
        "search_seconds": round(study.search_seconds, 1), "search_wall_seconds_this_run": round(t_search, 1),
        "final_wall_seconds": round(t_final, 1), "trials": counts,
        "best": {"trial": best.number, "architecture": best.arch.describe(), "arch_id": best.arch.id,
                 "values": best.arch.values, "val_accuracy": best.metrics["accuracy"],
                 "params": best.metrics["params"], "flops": best.metrics["flops"],
                 "latency_ms": best.metrics["latency_ms"], **best.final},
        "top": [{"trial": t.number, "architecture": t.arch.describe(), "val_accuracy": t.metrics["accuracy"],
                 "params": t.metrics["params"], "latency_ms": t.metrics["latency_ms"], **t.final} for t in top],
        "rss_mb": {"first": rss[0], "peak": max(rss), "last": rss[-1], "samples": sampler.samples},
        "search_recipe": study.train_config.as_dict(), "final_recipe": study.final_train.as_dict(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategy", default="evolution")
    ap.add_argument("--time-budget", default="30m")
    ap.add_argument("--steps", type=int, default=1000, help="training steps per search trial")
    ap.add_argument("--final-steps", type=int, default=3000, help="training steps of the final retraining")
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline", action="store_true", help="train the hand-designed residual CNN instead")
    args = ap.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    result = run_baseline(args) if args.baseline else run_search(args)
    result.update({"command": " ".join([".venv/bin/python", "benchmarks/mnist1d_search.py"] + sys.argv[1:]),
                   "started": started, "machine": machine()})
    name = "baseline" if args.baseline else f"{args.strategy}-s{args.seed}"
    with open(os.path.join(RESULTS, f"mnist1d-{name}.json"), "w") as f:
        json.dump(result, f, indent=2, default=float)
    print(json.dumps({k: v for k, v in result.items() if k not in ("rss_mb", "top")}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
