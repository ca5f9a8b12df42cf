"""Export a trained trial (ONNX + state dict + architecture JSON + metrics) and load it back.

A graph network (gnn spaces) is exported with two inputs, ``x`` [nodes, features] and
``edge_index`` [2, edges], both of any size; it is checked on the task's graph and a subgraph.
"""
from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np

from .errors import ArchscoutError
from .space import Architecture
from .tasks import GraphTask


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


def _subgraph(x, edge_index, n: int):
    """The first ``n`` nodes and the edges among them."""
    keep = (edge_index < n).all(0)
    return x[:n], edge_index[:, keep]


def _graph_onnx(model, task: GraphTask, path: str) -> dict:
    """Export a graph network with inputs (x, edge_index) of any size and check it with ONNX Runtime on the
    task's graph and on a subgraph of half its nodes. An operator that cannot be exported leaves no
    model.onnx: the result says why (``onnx_max_abs_diff`` None, ``onnx_error``), nothing fails."""
    import onnxruntime as ort
    import torch

    x, edge_index = torch.from_numpy(task.x), torch.from_numpy(task.edge_index)
    names = dict(input_names=["x", "edge_index"], output_names=["logits"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:  # the TorchScript exporter handles PyG's scatter operations
                torch.onnx.export(model, (x, edge_index), path, dynamo=False, opset_version=17, **names,
                                  dynamic_axes={"x": {0: "nodes"}, "edge_index": {1: "edges"},
                                                "logits": {0: "nodes"}})
            except (TypeError, RuntimeError, AttributeError):
                torch.onnx.export(model, (x, edge_index), path, dynamo=True, **names,
                                  dynamic_shapes=({0: torch.export.Dim("nodes")}, {1: torch.export.Dim("edges")}))
            options = ort.SessionOptions()
            # ONNX Runtime infers a wrong shape inside exported GATConv and logs a harmless warning per run
            options.log_severity_level = 3
            sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            inputs = [i.name for i in sess.get_inputs()]
            diff = 0.0
            for gx, ge in ((x, edge_index), _subgraph(x, edge_index, max(1, task.num_nodes // 2))):
                with torch.inference_mode():
                    ref = model(gx, ge).numpy()
                feed = {"x": gx.numpy(), "edge_index": ge.numpy()}
                got = sess.run(None, {k: feed[k] for k in inputs})[0]
                diff = max(diff, float(np.max(np.abs(ref - got))))
        except Exception as e:  # noqa: BLE001 - an operator the exporters or ONNX Runtime lack; keep the rest
            if os.path.exists(path):
                os.remove(path)
            return {"onnx_max_abs_diff": None, "onnx_error": f"{type(e).__name__}: {str(e)[:500]}"}
    # a network without graph operators does not read the edges; the exporter drops that input
    return {"onnx_max_abs_diff": diff, "onnx_inputs": inputs}


def export_trial(study, trial, path: str, seed: int = 0) -> dict:
    """Write the trial's retrained model (seed ``seed``) to ``path``; retrain it first if it never was.

    The ONNX file is checked against PyTorch on a batch of validation inputs (a graph network:
    on the task's graph); the largest absolute difference of the logits is recorded in
    metrics.json. A graph network that ONNX cannot express is exported without model.onnx
    (``onnx_max_abs_diff`` None, ``onnx_error`` says why).
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
    if isinstance(task, GraphTask):
        onnx = _graph_onnx(model, task, onnx_path)
    else:
        example = torch.as_tensor(task.valid.X[:1])
        _onnx_export(model, example, onnx_path)

        batch = torch.as_tensor(task.valid.X[:8])
        with torch.inference_mode():
            ref = model(batch).numpy()
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: batch.numpy()})[0]
        onnx = {"onnx_max_abs_diff": float(np.max(np.abs(ref - got)))}

    arch_doc = {**trial.arch.to_dict(), "input_shape": list(task.input_shape), "num_classes": task.num_classes,
                "classes": list(task.classes), "task": task.name, "study": study.name, "trial": trial.number}
    with open(os.path.join(path, "architecture.json"), "w") as f:
        json.dump(arch_doc, f, indent=2)
    files = ["model.onnx", "model.pt", "architecture.json", "metrics.json"]
    info = {"study": study.name, "trial": trial.number, "seed": seed, "validation": trial.metrics,
            "final": trial.final or None, **onnx,
            "files": files if onnx["onnx_max_abs_diff"] is not None else files[1:]}
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
