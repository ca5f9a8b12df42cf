"""Export a trained trial (ONNX + state dict + architecture JSON + metrics) and load it back."""
from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np

from .errors import ArchscoutError
from .space import Architecture


def _onnx_export(model, example, path: str) -> None:
    import torch

    kwargs = dict(input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the TorchScript exporter: fast, and dynamic batch size without extra packages
            torch.onnx.export(model, (example,), path, dynamo=False, opset_version=17, **kwargs)
        except (TypeError, RuntimeError, AttributeError):
            torch.onnx.export(model, (example,), path, dynamo=True,
                              dynamic_shapes=({0: torch.export.Dim("batch")},), input_names=["input"],
                              output_names=["logits"])


def export_trial(study, trial, path: str, seed: int = 0) -> dict:
    """Write the trial's retrained model (seed ``seed``) to ``path``; retrain it first if it never was.

    The ONNX file is checked against PyTorch on a random batch; the largest absolute
    difference of the logits is recorded in metrics.json.
    """
    import onnxruntime as ort
    import torch

    if trial.status != "complete":
        raise ArchscoutError(f"trial #{trial.number} did not complete ({trial.status}); nothing to export")
    weights = study.final_weights(trial, seed)
    if weights is None:
        ev, weights = study.evaluator().final(trial.arch, seed=seed, train_config=study.final_train)
        study.storage.add_final(study.id, trial.id, seed, study.final_train.budget_key(), ev.metrics,
                                ev.details, weights)
    task = study.task
    model = trial.arch.build(task.input_shape, task.num_classes)
    model.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
    model.eval()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ArchscoutError(f"cannot create export folder {path!r}: {e}") from None
    torch.save(model.state_dict(), os.path.join(path, "model.pt"))
    onnx_path = os.path.join(path, "model.onnx")
    example = torch.as_tensor(task.valid.X[:1])
    _onnx_export(model, example, onnx_path)

    batch = torch.as_tensor(task.valid.X[:8])
    with torch.inference_mode():
        ref = model(batch).numpy()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: batch.numpy()})[0]
    diff = float(np.max(np.abs(ref - got)))

    arch_doc = {**trial.arch.to_dict(), "input_shape": list(task.input_shape), "num_classes": task.num_classes,
                "classes": list(task.classes), "task": task.name, "study": study.name, "trial": trial.number}
    with open(os.path.join(path, "architecture.json"), "w") as f:
        json.dump(arch_doc, f, indent=2)
    info = {"study": study.name, "trial": trial.number, "seed": seed, "validation": trial.metrics,
            "final": trial.final or None, "onnx_max_abs_diff": diff,
            "files": ["model.onnx", "model.pt", "architecture.json", "metrics.json"]}
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump(info, f, indent=2, default=float)
    return info


def load_model(path: str, space=None):
    """Rebuild an exported model (``nn.Module`` in eval mode) from a folder written by ``export``."""
    import torch

    arch_file, weights_file = os.path.join(path, "architecture.json"), os.path.join(path, "model.pt")
    for f in (arch_file, weights_file):
        if not os.path.exists(f):
            raise ArchscoutError(f"{path!r} is not an archscout export: {os.path.basename(f)} is missing")
    with open(arch_file) as f:
        doc = json.load(f)
    arch = Architecture.from_json(doc, space)
    model = arch.build(tuple(doc["input_shape"]), doc["num_classes"])
    model.load_state_dict(torch.load(weights_file, weights_only=True))
    return model.eval()
