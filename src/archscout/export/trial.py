"""Export a trained trial: its retrained model in the formats asked for, its architecture JSON and metrics.json."""
from __future__ import annotations

import io
import json
import os

from ..errors import ArchscoutError
from ..tasks import GraphTask
from .formats import (
    DEFAULT_FORMATS,
    FORMAT_FILES,
    INT8_FILE,
    MODEL_FILES,
    check_folder,
    check_formats,
    check_int8,
    graph_onnx,
    not_exportable,
    remove_file,
    table_onnx,
    write_torchscript,
)
from .int8 import write_int8


def export_trial(study, trial, path: str, seed: int = 0, formats=DEFAULT_FORMATS, int8: bool = False) -> dict:
    """Write the trial's retrained model (seed ``seed``) to ``path``; retrain it first if it never was.

    ``formats``: any of "onnx" (model.onnx, the architecture JSON in its metadata under
    ``archscout.architecture``), "torchscript" (model.ts) and "state" (model.pt, the state dict), as a
    list or a comma-separated string. architecture.json and metrics.json are always written; model
    files of an earlier export to the same folder are removed, so the folder never mixes two models.
    ONNX is checked with ONNX Runtime and TorchScript after reloading it, each against PyTorch on
    validation inputs (a graph network: the task's graph); the largest absolute logit difference is
    recorded in metrics.json (``onnx_max_abs_diff``, ``torchscript_max_abs_diff``). A network that a
    format cannot express, or whose file computes logits further than TOLERANCE from PyTorch's, gets no
    file (the difference is None, ``onnx_error`` / ``torchscript_error`` says why). metrics.json also
    holds ``retrained`` (this seed's final retraining: test accuracy, ...) and ``final`` (the trial's
    summary over every seed retrained so far, this one included). ``int8``: also model.int8.onnx,
    quantized as the study's evaluator measured it, with the ONNX Runtime accuracy of the fp32 and INT8
    models (``int8`` in metrics.json); only for a study that measured an INT8 variant, never for a graph
    network nor a regression. A folder holding other files and no earlier export is refused. Returns
    metrics.json's content.

    Every file holds the network with the task's preprocessing (:func:`archscout.export.deploy.deployable`): it
    takes raw inputs, standardised inside with the training part's statistics, and a regression's
    output is in the target's own units; architecture.json (and the ONNX metadata) records it under
    ``preprocessing`` with the task's ``kind``. The checks feed it raw inputs.
    """
    import torch

    from .deploy import deployable

    formats = check_formats(formats)
    reason = not_exportable(trial, study.name)
    if reason:
        raise ArchscoutError(reason)
    if not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"study {study.name!r} uses the {study.evaluator_spec.name} evaluator: it "
                             f"has no trained model to export")
    task = study.task
    if int8:
        check_int8(study, trial, task)
    check_folder(path)  # before a retraining that would be stored for nothing
    retrained, weights = study.final_run(trial, seed)
    final = next((t.final for t in study.trials("complete") if t.number == trial.number), None)
    net = trial.arch.build(task.input_shape, task.num_classes)
    net.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
    preprocessing = None if isinstance(task, GraphTask) else task.preprocessing
    # raw inputs in, a regression's prediction in the target's units out; the network itself when nothing changes
    model = deployable(net.eval(), preprocessing, task.input_shape).eval()
    try:
        os.makedirs(path, exist_ok=True)
        for name in MODEL_FILES:
            remove_file(os.path.join(path, name))
    except OSError as e:
        raise ArchscoutError(f"cannot create export folder {path!r}: {e}") from None

    arch_doc = {**trial.arch.to_dict(), "input_shape": list(task.input_shape), "num_classes": task.num_classes,
                "classes": list(task.classes), "task": task.name, "study": study.name, "trial": trial.number}
    if preprocessing is not None:
        arch_doc.update(kind=task.kind, preprocessing=preprocessing.as_dict())
    info = {"study": study.name, "trial": trial.number, "seed": seed, "formats": list(formats),
            "validation": trial.metrics, "retrained": retrained, "final": final or None}
    files = []
    onnx_path = None
    if "onnx" in formats:
        target = os.path.join(path, FORMAT_FILES["onnx"])
        info.update(graph_onnx(model, task, target, arch_doc) if isinstance(task, GraphTask)
                    else table_onnx(model, task, target, arch_doc))
        if info["onnx_max_abs_diff"] is not None:
            files.append(FORMAT_FILES["onnx"])
            onnx_path = target
    if "torchscript" in formats:
        info.update(write_torchscript(model, task, os.path.join(path, FORMAT_FILES["torchscript"])))
        if info["torchscript_max_abs_diff"] is not None:
            files.append(FORMAT_FILES["torchscript"])
    if int8:
        info.update(write_int8(study, trial, model, task, path, onnx_path, arch_doc))
        if info["int8"] is not None:
            files.append(INT8_FILE)
    if "state" in formats:
        torch.save(model.state_dict(), os.path.join(path, FORMAT_FILES["state"]))
        files.append(FORMAT_FILES["state"])
    with open(os.path.join(path, "architecture.json"), "w") as f:
        json.dump(arch_doc, f, indent=2)
    info["files"] = files + ["architecture.json", "metrics.json"]
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump(info, f, indent=2, default=float)
    return info


