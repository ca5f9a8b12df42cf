"""The export formats (ONNX, TorchScript, state dict): writing each file and checking it against PyTorch;
a graph network is exported with two inputs, ``x`` and ``edge_index``, of any size."""
from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from ..errors import ArchscoutError
from ..tasks import GraphTask


def _subgraph(x, edge_index, n: int):
    """The first ``n`` nodes and the edges among them."""
    keep = (edge_index < n).all(0)
    return x[:n], edge_index[:, keep]


def graph_onnx(model, task: GraphTask, path: str, metadata: dict | None = None) -> dict:
    """Export a graph network with inputs (x, edge_index) of any size and check it with ONNX Runtime on the
    task's graph and on a subgraph of half its nodes. An operator that cannot be exported leaves no
    model.onnx: the result says why (``onnx_max_abs_diff`` None, ``onnx_error``), nothing fails."""
    import onnxruntime as ort
    import torch

    x, edge_index = torch.from_numpy(task.x), torch.from_numpy(task.edge_index)
    names: dict[str, Any] = dict(input_names=["x", "edge_index"], output_names=["logits"])
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
            if metadata is not None:
                add_metadata(path, metadata)
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
                diff = max(diff, _checked("ONNX Runtime", ref, got))
        except Exception as e:  # noqa: BLE001 - an operator the exporters or ONNX Runtime lack; keep the rest
            if os.path.exists(path):
                os.remove(path)
            return {"onnx_max_abs_diff": None, "onnx_error": error_text(e)}
    # a network without graph operators does not read the edges; the exporter drops that input
    return {"onnx_max_abs_diff": diff, "onnx_inputs": inputs}


FORMATS = ("onnx", "torchscript", "state")
DEFAULT_FORMATS = ("onnx", "state")
FORMAT_FILES = {"onnx": "model.onnx", "torchscript": "model.ts", "state": "model.pt"}
INT8_FILE = "model.int8.onnx"
MODEL_FILES = ("model.onnx", "model.ts", INT8_FILE, "model.pt")  # written by an export; an old one is replaced
ARCHITECTURE_KEY = "archscout.architecture"  # metadata_props key of the architecture JSON in an ONNX file


def one_line(text, limit: int = 300) -> str:
    """A message (an exception's, a stored reason) as one line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def error_text(e: Exception) -> str:
    return one_line(f"{type(e).__name__}: {e}", 500)


TOLERANCE = 1e-4  # largest logit difference allowed, relative to the largest logit (at least 1)


def _checked(runtime: str, ref, got) -> float:
    """The largest absolute difference between PyTorch's logits ``ref`` and another runtime's ``got``;
    an exported file whose outputs differ by more than TOLERANCE (relative) is refused with the figures."""
    ref, got = np.asarray(ref), np.asarray(got)
    if ref.shape != got.shape:
        raise RuntimeError(f"{runtime} gives outputs of shape {got.shape}, PyTorch {ref.shape}")
    diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    allowed = TOLERANCE * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if not diff <= allowed:  # a NaN difference fails too
        raise RuntimeError(f"{runtime}'s outputs differ from PyTorch's by up to {diff:.3g}, more than the "
                           f"{allowed:.3g} allowed; the exported file does not compute the same network")
    return diff


def check_formats(formats) -> tuple[str, ...]:
    """Export formats from a comma-separated string ("onnx,state") or a list; each once, in the order of FORMATS."""
    from ..errors import unknown_name

    valid = ", ".join(FORMATS)
    if isinstance(formats, str):
        items = [f.strip() for f in formats.split(",") if f.strip()]
    else:
        try:
            items = list(formats)
        except TypeError:
            raise ArchscoutError(f"export formats are a list of names ({valid}), got {formats!r}") from None
    if not items:
        raise ArchscoutError(f"give at least one export format: {valid}")
    for item in items:
        if not isinstance(item, str):
            raise ArchscoutError(f"an export format is a name ({valid}), got {item!r}")
        if item not in FORMATS:
            raise unknown_name("export format", item, FORMATS)
    return tuple(f for f in FORMATS if f in items)


def not_exportable(trial, study_name: str) -> str | None:
    """Why a trial cannot be exported (it did not complete), or None when it can."""
    if trial.status == "complete":
        return None
    n = f"trial #{trial.number}"
    reason = one_line(trial.error) if trial.error else "no reason was stored"
    if reason.startswith(f"{trial.status}: "):  # e.g. "interrupted: the process running this trial stopped"
        reason = reason[len(trial.status) + 2:]
    pick = f"pick a completed trial (archscout show {study_name} lists them)"
    if trial.status == "failed":
        return f"{n} did not complete (failed): {reason}; a failed trial has no trained model to export: {pick}"
    if trial.status == "infeasible":
        return f"{n} did not complete (infeasible): {reason}; it breaks a constraint of the study, so it was " \
               f"never retrained and there is no model to export: {pick}"
    if trial.status == "interrupted":
        return f"{n} did not complete (interrupted): {reason}; its evaluation stopped before it finished, so " \
               f"there is no model to export: resuming the search evaluates it again"
    if trial.status == "running":
        return f"{n} has not completed: it is still running, so there is no model to export yet; export it " \
               f"once it completes"
    return f"{n} did not complete ({trial.status}); nothing to export"


def measured_int8(study) -> bool:
    """Whether the study measured an INT8 variant of its networks: a metric it asked for (objective,
    constraint, --measure) or that its completed trials store is an INT8 one, or its space is a
    ``-quant`` space (a per-layer INT8 / fp32 policy)."""
    from ..metrics import is_int8

    if study.space.name.endswith("-quant") or any(is_int8(m) for m in study.needed_metrics):
        return True
    return any("int8" in key for t in study.trials("complete") for key in t.metrics)


def check_int8(study, trial, task) -> None:
    if isinstance(task, GraphTask):
        raise ArchscoutError(f"trial #{trial.number} of study {study.name!r} is a graph network: graph networks "
                             f"are not quantized to INT8; export it without --int8")
    if getattr(task, "kind", "classification") == "regression":
        raise ArchscoutError(f"study {study.name!r} is a regression: --int8 exports an INT8 model judged by its "
                             f"accuracy, which a regression has none of; export it without --int8")
    if not measured_int8(study):
        raise ArchscoutError(f"study {study.name!r} never measured an INT8 variant (no INT8 metric, not a -quant "
                             f"space), so its search never judged how its networks fare in INT8; search a study "
                             f"that measures one (--measure accuracy@int8, or a -quant space such as mlp-quant), "
                             f"or export without --int8")


def add_metadata(path: str, doc: dict) -> None:
    """Store the architecture JSON document in an ONNX file's metadata_props (key ``archscout.architecture``)."""
    import onnx

    model = onnx.load(path)
    for prop in [p for p in model.metadata_props if p.key == ARCHITECTURE_KEY]:
        model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = ARCHITECTURE_KEY, json.dumps(doc)
    onnx.save(model, path)


def check_folder(path: str) -> None:
    """Refuse, before any work is done, an export folder that cannot be created or written, and a folder
    that holds files but no earlier export (its model files would be replaced)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ArchscoutError(f"cannot create export folder {path!r}: a file of that name exists")
    if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, "architecture.json")):
        raise ArchscoutError(f"export folder {path!r} holds other files and no earlier export; give a new or "
                             f"empty folder (an earlier export's folder is replaced)")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ArchscoutError(f"cannot create export folder {path!r}: {existing!r} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ArchscoutError(f"cannot create export folder {path!r}: {existing!r} is not writable")


def remove_file(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def _raw_checks(task):
    """The 8 validation inputs the exported files are checked on, in the raw units the exported model takes."""
    import torch

    return torch.as_tensor(task.preprocessing.raw_inputs(task.valid.take(np.arange(min(8, len(task.valid))))))


REGRESSION_OUTPUT = "prediction"  # a regression's ONNX output (a classifier's is "logits")


def _rename_output(model_bytes: bytes, name: str) -> bytes:
    """The ONNX model with its (single) output renamed."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    old = model.graph.output[0].name
    for node in model.graph.node:
        for i, out in enumerate(node.output):
            if out == old:
                node.output[i] = name
    model.graph.output[0].name = name
    return model.SerializeToString()


def table_onnx(model, task, path: str, metadata: dict) -> dict:
    """Export a network of a table / sequence / image task with a dynamic batch axis and check it with
    ONNX Runtime against PyTorch on 8 validation inputs (raw, as the exported model takes them). A
    network ONNX cannot express leaves no file (``onnx_max_abs_diff`` None, ``onnx_error`` says why)."""
    import onnxruntime as ort
    import torch

    from ..cost.runtime import onnx_bytes

    batch = _raw_checks(task)
    try:
        model_bytes = onnx_bytes(model, task.input_shape)  # the exporter the evaluator measured ONNX latency and INT8 with
        if task.kind == "regression":
            model_bytes = _rename_output(model_bytes, REGRESSION_OUTPUT)
        with open(path, "wb") as f:
            f.write(model_bytes)
        add_metadata(path, metadata)
        with torch.inference_mode():
            ref = model(batch).numpy()
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: batch.numpy()})[0]
        diff = _checked("ONNX Runtime", ref, got)
    except Exception as e:  # noqa: BLE001 - an operator the exporter or ONNX Runtime lack; keep the rest
        remove_file(path)
        return {"onnx_max_abs_diff": None, "onnx_error": error_text(e)}
    return {"onnx_max_abs_diff": diff}


def write_torchscript(model, task, path: str) -> dict:
    """Trace the network (script it if tracing fails), save it with torch.jit.save, load it back with
    torch.jit.load and compare with PyTorch: on 8 validation inputs (raw, as the exported model takes
    them; traced on one, so the batch size is checked to be free), or for a graph network on the task's graph and a subgraph of half its nodes.
    A network TorchScript cannot express leaves no file (``torchscript_max_abs_diff`` None,
    ``torchscript_error`` says why)."""
    import torch

    if isinstance(task, GraphTask):
        x, edge_index = torch.from_numpy(task.x), torch.from_numpy(task.edge_index)
        example: tuple = (x, edge_index)
        checks = [example, _subgraph(x, edge_index, max(1, task.num_nodes // 2))]
    else:
        batch = _raw_checks(task)
        example, checks = (batch[:1],), [(batch,)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                module = torch.jit.trace(model, example)
            except Exception as traced:  # noqa: BLE001 - control flow tracing cannot follow: try scripting
                try:
                    module = torch.jit.script(model)
                except Exception as scripted:  # noqa: BLE001
                    raise RuntimeError(f"tracing failed ({error_text(traced)}); scripting failed ({error_text(scripted)})") \
                        from None
            torch.jit.save(module, path)
            loaded = torch.jit.load(path, map_location="cpu").eval()
            diff = 0.0
            for args in checks:
                with torch.inference_mode():
                    ref, got = model(*args), loaded(*args)
                diff = max(diff, _checked("the reloaded TorchScript module", ref.numpy(), got.numpy()))
        except Exception as e:  # noqa: BLE001 - an operator TorchScript cannot express; keep the rest
            remove_file(path)
            return {"torchscript_max_abs_diff": None, "torchscript_error": error_text(e)}
    return {"torchscript_max_abs_diff": diff}

