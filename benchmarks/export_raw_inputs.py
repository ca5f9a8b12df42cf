"""An exported digits model on raw pixels against the test accuracy the study stored (issue 29, part 1, item 1).

Searches `digits` (space mlp, 3 random trials of 300 steps, seed 0) with the given evaluator, exports the best
trial, loads it with ``archscout.load`` and scores it on the held-out rows as ``sklearn.datasets.load_digits()``
gives them (``images[:, None]``, pixels 0..16, no scaling). The two figures match when the task's scaling travels
with the model:

    .venv/bin/python benchmarks/export_raw_inputs.py
    .venv/bin/python benchmarks/export_raw_inputs.py --evaluator tests/contract_user_evaluator.py:short_training
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaluator", default="train")
    args = ap.parse_args()

    import torch
    from sklearn.datasets import load_digits

    import archscout as asc
    from archscout.tasks import stratified_split

    folder = tempfile.mkdtemp(prefix="archscout-export-raw-")
    study = asc.Study("digits-mlp", space="mlp", task="digits", storage=f"sqlite:///{folder}/r.db", strategy="random",
                      train={"steps": 300}, evaluator=args.evaluator, seed=0)
    study.search(trials=3)
    info = study.best().export(os.path.join(folder, "model"), formats="onnx,state")
    model = asc.load(os.path.join(folder, "model"))
    data = load_digits()
    _, held = stratified_split(data.target, 0.2, 0)  # the built-in task's test rows
    X = data.images[held][:, None].astype(np.float32)
    with torch.inference_mode():
        accuracy = float((model(torch.as_tensor(X)).numpy().argmax(1) == data.target[held]).mean())
    print(f"evaluator {args.evaluator}: stored test accuracy {100 * info['retrained']['test_accuracy']:.2f} %, "
          f"exported model on raw load_digits() pixels {100 * accuracy:.2f} %")


if __name__ == "__main__":
    main()
