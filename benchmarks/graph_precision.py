"""Graph architecture and precision searched together (``lpgnas-lite``, issue 20) on the built-in graph task.

For each ``--size-weights`` value: one search on ``mnist1d-knn`` (``--steps`` relaxed steps, search seed ``--seed``), then the derived
GNN trained on the training and validation nodes for ``--train-steps`` full-graph steps (the graph evaluator's
recipe: AdamW, one-cycle, lr 0.01) and scored on the test nodes, ``--seeds`` seeds each, three ways: in fp32, with
quantisation-aware training at the bit widths the search chose, and at a uniform 8 bits (weights and activations)
as a reference. Reports accuracy (mean ± std) and model size (weights at their bits, the rest at 32).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/graph_precision.py
    # smoke: --steps 4 --train-steps 5 --seeds 1 --size-weights 0.1 --out /tmp/gp.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def mean_std(xs):
    return {"mean": statistics.fmean(xs), "std": statistics.pstdev(xs) if len(xs) > 1 else 0.0, "runs": xs}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--train-steps", type=int, default=300)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--size-weights", default="0,0.1")
    p.add_argument("--seed", type=int, default=0, help="the search's seed")
    p.add_argument("--bit-relaxation", default="mixed", choices=["mixed", "gumbel"])
    p.add_argument("--out", default=None, help="default results/graph-precision[-gumbel].json")
    args = p.parse_args(argv)
    if args.out is None:
        suffix = ("" if args.bit_relaxation == "mixed" else f"-{args.bit_relaxation}") + \
            (f"-s{args.seed}" if args.seed else "")
        args.out = os.path.join(HERE, "results", f"graph-precision{suffix}.json")

    import torch

    from archscout.evaluate import TrainConfig, make_evaluator
    from archscout.oneshot.differentiable.graph_precision import (
        ACTIVATIONS,
        LAYERS,
        GraphPrecisionConfig,
        score_quantized,
        search_graph_precision,
    )
    from archscout.space import get_space
    from archscout.tasks import get_task

    torch.set_num_threads(1)
    task = get_task("mnist1d-knn")
    space = get_space("gnn")
    recipe = TrainConfig(steps=args.train_steps)
    evaluator = make_evaluator("train", task, recipe)
    arms = []
    for weight in (float(w) for w in args.size_weights.split(",")):
        t0 = time.monotonic()
        config = GraphPrecisionConfig(steps=args.steps, size_weight=weight, bit_relaxation=args.bit_relaxation)
        result = search_graph_precision(task, config, seed=args.seed, progress=print)
        search_seconds = time.monotonic() - t0
        arch = space.architecture(result["values"])
        uniform = {**result, "weight_bits": {k: 8 for k in LAYERS}, "activation_bits": {k: 8 for k in ACTIVATIONS}}
        rows: dict = {"fp32": [], "mixed": [], "uniform8": []}
        sizes: dict = {}
        for seed in range(args.seeds):
            ev, _ = evaluator.final(arch, seed, recipe)
            rows["fp32"].append(ev.metrics["test_accuracy"])
            for name, r in (("mixed", result), ("uniform8", uniform)):
                q = score_quantized(task, r, recipe, seed=seed, final=True)
                rows[name].append(q["accuracy"])
                sizes[name], sizes["fp32"] = q["size_bytes"], q["size_bytes_fp32"]
            print(f"size_weight {weight}: seed {seed}: fp32 {rows['fp32'][-1]:.3f}  mixed {rows['mixed'][-1]:.3f}  "
                  f"uniform 8-bit {rows['uniform8'][-1]:.3f}")
        arms.append({"size_weight": weight, "architecture": space.describe(arch),
                     "derived": f"[{result['link']}] " + " ".join(result["operations"].values()),
                     "values": result["values"],
                     "weight_bits": result["weight_bits"], "activation_bits": result["activation_bits"],
                     "collapsed": result["collapsed"], "search_seconds": round(search_seconds, 1),
                     "seconds_per_step": result["seconds_per_step"], "peak_rss_mb": result["peak_rss_mb"],
                     "test_accuracy": {k: mean_std(v) for k, v in rows.items()},
                     "size_bytes": sizes, "final_history": result["history"][-1]})
    out = {"task": "mnist1d-knn", "space": "gnn", "search_steps": args.steps, "search_seed": args.seed, "bit_relaxation": args.bit_relaxation, "recipe": recipe.as_dict(),
           "seeds": args.seeds, "arms": arms,
           "command": "OMP_NUM_THREADS=1 python benchmarks/graph_precision.py " + " ".join(argv or []),
           "date": datetime.date.today().isoformat(),
           "machine": f"{platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
                      f"torch {torch.__version__}, 1 thread"}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    for a in arms:
        acc = a["test_accuracy"]
        print(f"size_weight {a['size_weight']}: {a['derived']}  bits {a['weight_bits']}  "
              f"fp32 {100 * acc['fp32']['mean']:.2f} ± {100 * acc['fp32']['std']:.2f} % "
              f"({a['size_bytes']['fp32'] / 1024:.1f} KiB)  mixed {100 * acc['mixed']['mean']:.2f} ± "
              f"{100 * acc['mixed']['std']:.2f} % ({a['size_bytes']['mixed'] / 1024:.1f} KiB)  uniform 8-bit "
              f"{100 * acc['uniform8']['mean']:.2f} % ({a['size_bytes']['uniform8'] / 1024:.1f} KiB)")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
