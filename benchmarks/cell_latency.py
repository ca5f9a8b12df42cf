"""Measured latency of derived cells, side by side in one process (for comparing two searches' cells).

The differentiable benchmark measures each derived cell's latency in its own run, so two runs made while the
machine carried different loads are not comparable. This script builds every given result's cell for its task,
then times them in alternating rounds (PyTorch eager, batch 1, one thread) and prints each cell's median over the
rounds, in ms:

    .venv/bin/python benchmarks/cell_latency.py benchmarks/results/differentiable-mnist1d-proxyless-*-s0.json
"""
from __future__ import annotations

import argparse
import json
import statistics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="differentiable-*.json files (their task and derived cell)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    import torch

    from archscout.cost.latency import measure_latency
    from archscout.space import get_space
    from archscout.tasks import get_task

    torch.set_num_threads(1)
    space = get_space("cell")
    models = {}
    for path in args.results:
        with open(path) as f:
            r = json.load(f)
        task = get_task(r["task"])
        models[path] = (space.build(space.architecture(r["cell"]), task.input_shape, task.num_classes).eval(),
                        task.input_shape, r["cell_text"])
    times: dict[str, list[float]] = {p: [] for p in models}
    for _ in range(args.rounds):
        for path, (model, shape, _) in models.items():
            times[path].append(measure_latency(model, shape, threads=1).median_ms)
    for path, (_, _, cell) in models.items():
        print(f"{statistics.median(times[path]):.3f} ms  {cell}  {path}")


if __name__ == "__main__":
    main()
