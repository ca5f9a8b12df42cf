"""Ground truth for training-free evaluation (issue #6): conv1d architectures trained on MNIST-1D.

    .venv/bin/python benchmarks/ground_truth.py --archs 320 --workers 2

Samples distinct architectures of the ``conv1d`` space (seeded), trains each with the
standard search recipe (1,000 steps of AdamW, lr 1e-2, one-cycle, batch 100, on the 3,601
training samples of the search split), and records its validation and test accuracy and loss,
parameters, FLOPs and training time, one JSON line per architecture, in
benchmarks/data/mnist1d-conv1d.jsonl. The file is appended to as architectures finish, so an
interrupted run resumes where it stopped; the same seed always samples the same architectures.

Then every zero-cost proxy is computed for each architecture that has none yet: on the network
as initialised for training (seed 0), with one batch of 64 training samples (seed 0), in one
process with one thread, so the recorded seconds are the cost of one proxy of one architecture
on one core. ``--proxies-only`` skips the training step. ``--rescore nwot[,...]`` computes the named
proxies again for every stored row (after a proxy's code changed) and replaces their values and
errors; the stored seconds are kept (they were measured with nothing else running).
"""
from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "mnist1d-conv1d.jsonl")


def sample(n: int, seed: int) -> list:
    """``n`` distinct conv1d architectures, the same for the same seed."""
    import random

    from archscout.space import get_space

    space, rng, out, seen = get_space("conv1d"), random.Random(seed), [], set()
    while len(out) < n:
        arch = space.sample(rng)
        if arch.id not in seen:
            seen.add(arch.id)
            out.append(arch)
    return out


def _one_thread() -> None:
    import torch
    torch.set_num_threads(1)


def measure(job: tuple) -> dict:
    """Train one architecture (seed 0) and score it on the validation and test splits."""
    arch_json, steps = job
    import torch

    from archscout.cost import count_flops, count_params
    from archscout.errors import ArchscoutError, TrialFailed
    from archscout.evaluate.training import TrainConfig, evaluate, train
    from archscout.space import Architecture, get_space
    from archscout.tasks import get_task

    task = get_task("mnist1d")
    arch = Architecture.from_json(arch_json, get_space("conv1d"))
    row = {"id": arch.id, "task": "mnist1d", "architecture": arch.to_dict(), "describe": arch.describe()}
    try:
        torch.manual_seed(0)
        model = arch.build(task.input_shape, task.num_classes)
        row.update(params=count_params(model), flops=count_flops(model, task.input_shape))
        t0 = time.perf_counter()
        train(model, task.train.X, task.train.y, TrainConfig(steps=steps), seed=0)
        row["train_seconds"] = round(time.perf_counter() - t0, 3)
        val, test = evaluate(model, task.valid.X, task.valid.y), evaluate(model, task.test.X, task.test.y)
        row.update(val_accuracy=val["accuracy"], val_loss=val["loss"], test_accuracy=test["accuracy"],
                   test_loss=test["loss"], status="complete")
    except (TrialFailed, ArchscoutError, RuntimeError, ValueError) as e:
        row.update(status="failed", error=f"{type(e).__name__}: {e}"[:300])
    return row


def add_proxies(path: str, rescore: list[str] | None = None) -> int:
    """Score every proxy for the rows that have no ``proxies`` yet, or ``rescore`` (proxy names) for every
    row; rewrites the file (atomically)."""
    import torch

    from archscout.evaluate.proxies import proxy_batch, score_all
    from archscout.space import Architecture, get_space
    from archscout.tasks import get_task

    torch.set_num_threads(1)
    task, space = get_task("mnist1d"), get_space("conv1d")
    inputs, targets, mask = proxy_batch(task, 64, seed=0)
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        r.setdefault("task", "mnist1d")
    todo = [r for r in rows if r.get("status") == "complete" and (rescore or "proxies" not in r)]
    for i, row in enumerate(todo, 1):
        arch = Architecture.from_json(row["architecture"], space)
        torch.manual_seed(0)
        model = arch.build(task.input_shape, task.num_classes)
        res = score_all(model, inputs, targets, rescore, mask=mask, seed=0)
        if rescore:
            errors = {k: v for k, v in row.get("proxy_errors", {}).items() if k not in rescore}
            row["proxies"].update({k: v["value"] for k, v in res.items()})
        else:
            errors = {}
            row["proxies"] = {k: v["value"] for k, v in res.items()}
            row["proxy_seconds"] = {k: round(v["seconds"], 5) for k, v in res.items()}
        errors.update({k: v["error"] for k, v in res.items() if v["error"]})
        row.pop("proxy_errors", None)
        if errors:
            row["proxy_errors"] = errors
        if i % 40 == 0 or i == len(todo):
            print(f"proxies: {i}/{len(todo)}", flush=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)
    return len(todo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", type=int, default=320)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--proxies-only", action="store_true", help="only add proxy scores to the stored rows")
    ap.add_argument("--rescore", default=None, help="proxies to compute again for every stored row (comma-separated)")
    args = ap.parse_args()
    if args.rescore:
        add_proxies(args.out, [p.strip() for p in args.rescore.split(",") if p.strip()])
        return 0
    if args.proxies_only:
        add_proxies(args.out)
        return 0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = {json.loads(line)["id"] for line in f if line.strip()}
    todo = [(a.to_json(), args.steps) for a in sample(args.archs, args.seed) if a.id not in done]
    print(f"{len(done)} architectures stored, {len(todo)} to train", flush=True)
    meta = {"command": " ".join([".venv/bin/python", "benchmarks/ground_truth.py"] + sys.argv[1:]),
            "date": datetime.date.today().isoformat(), "platform": platform.platform(), "seed": args.seed,
            "steps": args.steps}
    with mp.get_context("spawn").Pool(args.workers, initializer=_one_thread) as pool, open(args.out, "a") as f:
        for i, row in enumerate(pool.imap_unordered(measure, todo), 1):
            f.write(json.dumps({**row, "run": meta}) + "\n")
            f.flush()
            if i % 10 == 0 or i == len(todo):
                print(f"{len(done) + i}/{args.archs}", flush=True)
    add_proxies(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
