"""A search with no training budget at all (issue #6): zero-cost evaluation of many candidates, then only the
final retraining of the best three.

    .venv/bin/python benchmarks/zero_cost_search.py --trials 300 --objective proxy@nwot

Regularized evolution over conv1d on MNIST-1D with ``--evaluator zero-cost`` (or a predictor file),
``--trials`` candidates scored untrained, then the top 3 retrained on all training data with 3 seeds
(3,000 steps) and tested. Writes benchmarks/results/zero-cost/OBJECTIVE.json with the search time,
the final test accuracies and, for reference, the ground-truth validation accuracy of the chosen
architectures when the ground-truth file holds them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

from _common import HERE, RESULTS, machine

OUT = os.path.join(RESULTS, "zero-cost")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--objective", default="proxy@nwot")
    ap.add_argument("--evaluator", default="zero-cost")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    import archscout as asc

    os.makedirs(OUT, exist_ok=True)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{args.evaluator.split(':')[0]}-{args.objective}-s{args.seed}")
    study = asc.Study(tag, space="conv1d", task="mnist1d", strategy="evolution", seed=args.seed,
                      evaluator=args.evaluator, objective=args.objective,
                      storage=f"sqlite:///{os.path.join(OUT, 'runs.db')}")
    t0 = time.time()
    study.search(trials=args.trials)
    search_seconds = time.time() - t0
    t1 = time.time()
    study.finalize(top_k=3, seeds=3)
    final_seconds = time.time() - t1
    truth = {}
    with open(os.path.join(HERE, "data", "mnist1d-conv1d.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            truth[row["id"]] = row.get("val_accuracy")
    top = study.leaderboard(3)
    result = {"command": " ".join([".venv/bin/python", "benchmarks/zero_cost_search.py"] + sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d"), "machine": machine(torch_threads=1), "trials": args.trials,
              "objective": args.objective, "evaluator": args.evaluator,
              "search_seconds": round(search_seconds, 1), "final_seconds": round(final_seconds, 1),
              "failed": len(study.trials("failed")),
              "top3": [{"trial": t.number, "describe": t.arch.describe(), "objective": t.metrics[args.objective],
                        "params": t.metrics["params"], "test_accuracy_mean": t.final.get("test_accuracy_mean"),
                        "test_accuracy_std": t.final.get("test_accuracy_std"),
                        "ground_truth_val_accuracy": truth.get(t.arch.id)} for t in top]}
    with open(os.path.join(OUT, f"{tag}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
