"""Real GNN training on the built-in graph task: validation accuracy and training time of a few gnn architectures.

    .venv/bin/python benchmarks/gnn_training.py            # 5 architectures x 2 seeds x 30 / 100 steps

Each architecture of the ``gnn`` space is trained full-batch on ``mnist1d-knn`` (2,000 MNIST-1D samples as
nodes, 8-nearest-neighbour edges; 1,200 / 300 / 500 train / validation / test nodes) with archscout's
graph evaluator and its default recipe (AdamW, one-cycle, lr 1e-2), one torch thread, and scored on the
validation nodes. Chance is 10 %. Writes benchmarks/results/gnn_training.json.
"""
from __future__ import annotations

import datetime
import json
import os
import sys

import torch

import archscout as asc
from _common import RESULTS, ROOT, machine  # noqa: E402 (benchmarks/ is on sys.path)
from archscout.evaluate import TrainConfig, make_evaluator
from archscout.tasks import get_task

ARCHS = {
    "one GCN layer": {"link": "0-1-2-3", "op1": "skip", "op2": "skip", "op3": "skip", "op4": "gcn"},
    "one GAT layer": {"link": "0-1-2-3", "op1": "skip", "op2": "skip", "op3": "skip", "op4": "gat"},
    "one GIN layer": {"link": "0-1-2-3", "op1": "skip", "op2": "skip", "op3": "skip", "op4": "gin"},
    "fc only (no edges)": {"link": "0-1-2-3", "op1": "skip", "op2": "skip", "op3": "skip", "op4": "fc"},
    "[0-0-1-2] gat gcn fc sage": {"link": "0-0-1-2", "op1": "gat", "op2": "gcn", "op3": "fc", "op4": "sage"},
}


def main() -> None:
    torch.set_num_threads(1)
    space = asc.spaces.get("gnn")
    task = get_task("mnist1d-knn")
    rows = []
    for name, values in ARCHS.items():
        arch = space.architecture(values)
        for steps in (30, 100):
            ev = make_evaluator("train", task, TrainConfig(steps=steps))
            for seed in (0, 1):
                m = ev.evaluate(arch, seed=seed).metrics
                rows.append({"architecture": name, "canonical": arch.describe(), "steps": steps, "seed": seed,
                             "valid_accuracy": m["accuracy"], "train_seconds": m["train_seconds"],
                             "params": m["params"], "latency_ms": m["latency_ms"]})
                print(f"{name:28} {steps:4} steps seed {seed}: valid acc {100 * m['accuracy']:.1f} %, "
                      f"train {m['train_seconds']:.2f} s, {m['params']:,} params", flush=True)
    out = {"benchmark": "gnn_training", "date": datetime.date.today().isoformat(),
           "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]), "torch_threads": 1,
           "task": task.summary(), "machine": machine(), "results": rows}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "gnn_training.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
