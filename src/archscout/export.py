"""Export a trained trial and load it back.

``export_trial`` writes the retrained model of a completed trial in the formats asked for (ONNX,
TorchScript, state dict), its architecture JSON and metrics.json, each runnable file checked against
PyTorch, and on request an INT8 ONNX variant quantized the way the study's evaluator measured it.
``load`` rebuilds the ``nn.Module`` from an export folder.

What the task does to raw data travels with the model: a task that standardises its inputs, or a
regression (trained on the standardised target), is exported as :class:`~archscout.deploy.Deployed`,
the network with that preprocessing inside it, so every file takes raw inputs and a regression
answers in the target's own units; architecture.json records the preprocessing and the label names.

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


def _subgraph(x, edge_index, n: int):
    """The first ``n`` nodes and the edges among them."""
    keep = (edge_index < n).all(0)
    return x[:n], edge_index[:, keep]


def _graph_onnx(model, task: GraphTask, path: str, metadata: dict | None = None) -> dict:
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
            if metadata is not None:
                _add_metadata(path, metadata)
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
            return {"onnx_max_abs_diff": None, "onnx_error": _error(e)}
    # a network without graph operators does not read the edges; the exporter drops that input
    return {"onnx_max_abs_diff": diff, "onnx_inputs": inputs}


FORMATS = ("onnx", "torchscript", "state")
DEFAULT_FORMATS = ("onnx", "state")
FORMAT_FILES = {"onnx": "model.onnx", "torchscript": "model.ts", "state": "model.pt"}
INT8_FILE = "model.int8.onnx"
MODEL_FILES = ("model.onnx", "model.ts", INT8_FILE, "model.pt")  # written by an export; an old one is replaced
ARCHITECTURE_KEY = "archscout.architecture"  # metadata_props key of the architecture JSON in an ONNX file


def _one_line(text, limit: int = 300) -> str:
    """A message (an exception's, a stored reason) as one line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _error(e: Exception) -> str:
    return _one_line(f"{type(e).__name__}: {e}", 500)


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
    from .errors import unknown_name

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
    reason = _one_line(trial.error) if trial.error else "no reason was stored"
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
    from .metrics import is_int8

    if study.space.name.endswith("-quant") or any(is_int8(m) for m in study.needed_metrics):
        return True
    return any("int8" in key for t in study.trials("complete") for key in t.metrics)


def _check_int8(study, trial, task) -> None:
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


def _add_metadata(path: str, doc: dict) -> None:
    """Store the architecture JSON document in an ONNX file's metadata_props (key ``archscout.architecture``)."""
    import onnx

    model = onnx.load(path)
    for prop in [p for p in model.metadata_props if p.key == ARCHITECTURE_KEY]:
        model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = ARCHITECTURE_KEY, json.dumps(doc)
    onnx.save(model, path)


def _check_folder(path: str) -> None:
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


def _remove(path: str) -> None:
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


def _table_onnx(model, task, path: str, metadata: dict) -> dict:
    """Export a network of a table / sequence / image task with a dynamic batch axis and check it with
    ONNX Runtime against PyTorch on 8 validation inputs (raw, as the exported model takes them). A
    network ONNX cannot express leaves no file (``onnx_max_abs_diff`` None, ``onnx_error`` says why)."""
    import onnxruntime as ort
    import torch

    from .cost.runtime import onnx_bytes

    batch = _raw_checks(task)
    try:
        model_bytes = onnx_bytes(model, task.input_shape)  # the exporter the evaluator measured ONNX latency and INT8 with
        if task.kind == "regression":
            model_bytes = _rename_output(model_bytes, REGRESSION_OUTPUT)
        with open(path, "wb") as f:
            f.write(model_bytes)
        _add_metadata(path, metadata)
        with torch.inference_mode():
            ref = model(batch).numpy()
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: batch.numpy()})[0]
        diff = _checked("ONNX Runtime", ref, got)
    except Exception as e:  # noqa: BLE001 - an operator the exporter or ONNX Runtime lack; keep the rest
        _remove(path)
        return {"onnx_max_abs_diff": None, "onnx_error": _error(e)}
    return {"onnx_max_abs_diff": diff}


def _torchscript(model, task, path: str) -> dict:
    """Trace the network (script it if tracing fails), save it with torch.jit.save, load it back with
    torch.jit.load and compare with PyTorch: on 8 validation inputs (raw, as the exported model takes
    them; traced on one, so the batch size is checked to be free), or for a graph network on the task's graph and a subgraph of half its nodes.
    A network TorchScript cannot express leaves no file (``torchscript_max_abs_diff`` None,
    ``torchscript_error`` says why)."""
    import torch

    if isinstance(task, GraphTask):
        x, edge_index = torch.from_numpy(task.x), torch.from_numpy(task.edge_index)
        example = (x, edge_index)
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
                    raise RuntimeError(f"tracing failed ({_error(traced)}); scripting failed ({_error(scripted)})") \
                        from None
            torch.jit.save(module, path)
            loaded = torch.jit.load(path, map_location="cpu").eval()
            diff = 0.0
            for args in checks:
                with torch.inference_mode():
                    ref, got = model(*args), loaded(*args)
                diff = max(diff, _checked("the reloaded TorchScript module", ref.numpy(), got.numpy()))
        except Exception as e:  # noqa: BLE001 - an operator TorchScript cannot express; keep the rest
            _remove(path)
            return {"torchscript_max_abs_diff": None, "torchscript_error": _error(e)}
    return {"torchscript_max_abs_diff": diff}


def _int8(study, trial, model, task, folder: str, fp32_path: str | None, metadata: dict) -> dict:
    """model.int8.onnx: the fp32 ONNX model quantized as the study's evaluator measured it (static INT8,
    calibrated on a class-stratified random subset of the training samples, the space's fp32 policy), and the
    validation (and test) accuracy of both in ONNX Runtime. ``int8`` None and ``int8_error`` when it cannot be made.

    The model takes raw inputs (its input standardisation inside it): it is calibrated on the same training
    samples as the search, in raw units, and scored on raw inputs; the standardisation stays in fp32, so the
    network after it is quantized exactly as the search measured it. The sizes are the network's weights (the
    figures the search stored); ``preprocessing_bytes`` are the statistics the files hold besides."""
    import tempfile

    from .cost.quantize import onnx_accuracy, onnx_weight_bytes, quantize_int8
    from .deploy import STANDARDISE_SCOPE, Deployed, buffer_bytes
    from .errors import TrialFailed
    from .evaluate import CALIBRATION_SAMPLES

    path = os.path.join(folder, INT8_FILE)
    with tempfile.TemporaryDirectory(prefix="archscout-export-") as tmp:
        if fp32_path is None:  # ONNX was not among the formats: export it here, checked all the same
            fp32_path = os.path.join(tmp, "model.onnx")
            res = _table_onnx(model, task, fp32_path, metadata)
            if res["onnx_max_abs_diff"] is None:
                return {"int8": None, "int8_error": f"no fp32 ONNX model to quantize: {res['onnx_error']}"}
        with open(fp32_path, "rb") as f:
            fp32 = f.read()
    try:  # the evaluator's quantization: the same calibration samples and fp32 policy as in the search
        evaluator = study.evaluator()
        if isinstance(model, Deployed):
            arch = trial.arch
            scopes = list(arch.space.fp32_scopes(arch)) if arch.space is not None else []
            try:
                quantized = quantize_int8(fp32, task.preprocessing.raw_inputs(evaluator.calibration_samples()),
                                          fp32_scopes=scopes + [STANDARDISE_SCOPE])
            except Exception as e:  # noqa: BLE001 - worded as the evaluator words it
                raise TrialFailed(f"INT8 quantization failed: {type(e).__name__}: {str(e)[:300]}") from None
        else:
            quantized = evaluator.quantize(fp32, trial.arch)
        extra = buffer_bytes(model)
        with open(path, "wb") as f:
            f.write(quantized.model_bytes)
        _add_metadata(path, metadata)
        with open(path, "rb") as f:
            int8 = f.read()
        out = {"file": INT8_FILE, "calibration_samples": min(CALIBRATION_SAMPLES, len(task.train.X)),
               "quantized_nodes": len(quantized.quantized_nodes), "fp32_nodes": list(quantized.fp32_nodes),
               "size_bytes_fp32": onnx_weight_bytes(fp32) - extra, "size_bytes_int8": quantized.size_bytes - extra,
               "file_bytes_fp32": len(fp32), "file_bytes_int8": len(int8)}
        if extra:
            out["preprocessing_bytes"] = extra
        splits = [("", task.valid)] + ([("test_", task.test)] if task.test is not None else [])
        for prefix, data in splits:
            raw = task.preprocessing.raw_inputs(np.asarray(data.X))
            for precision, model_bytes in (("fp32", fp32), ("int8", int8)):
                res = onnx_accuracy(model_bytes, raw, data.y)
                out[f"{prefix}accuracy_{precision}"] = res["accuracy"]
                out[f"{prefix}loss_{precision}"] = res["loss"]
    except Exception as e:  # noqa: BLE001 - a graph the quantizer cannot handle; keep the rest
        _remove(path)
        return {"int8": None, "int8_error": _one_line(str(e) if isinstance(e, TrialFailed) else _error(e), 500)}
    return {"int8": out}


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

    Every file holds the network with the task's preprocessing (:func:`archscout.deploy.deployable`): it
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
        _check_int8(study, trial, task)
    _check_folder(path)  # before a retraining that would be stored for nothing
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
            _remove(os.path.join(path, name))
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
        info.update(_graph_onnx(model, task, target, arch_doc) if isinstance(task, GraphTask)
                    else _table_onnx(model, task, target, arch_doc))
        if info["onnx_max_abs_diff"] is not None:
            files.append(FORMAT_FILES["onnx"])
            onnx_path = target
    if "torchscript" in formats:
        info.update(_torchscript(model, task, os.path.join(path, FORMAT_FILES["torchscript"])))
        if info["torchscript_max_abs_diff"] is not None:
            files.append(FORMAT_FILES["torchscript"])
    if int8:
        info.update(_int8(study, trial, model, task, path, onnx_path, arch_doc))
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


_LOADABLE = ("model.pt", "model.ts", "model.onnx", INT8_FILE, "architecture.json", "metrics.json")


def load(path, space=None):
    """Rebuild an exported model: an ``nn.Module`` in eval mode, built from architecture.json with the
    weights of model.pt (the state dict) or, without it, of model.ts (TorchScript).

    An export whose architecture.json records input statistics or a regression (``preprocessing``) is
    rebuilt with them, as :class:`~archscout.deploy.Deployed`: it takes raw inputs and a regression
    answers in the target's units. The module has ``classes`` (the label name of each output index; empty
    for a regression) and ``kind`` ("classification" or "regression"). An export without a
    ``preprocessing`` entry (an older one, a graph network) is the network alone, as it was exported.

    ``path``: an export folder or a file in it (model.pt, model.ts, model.onnx, architecture.json);
    a named model.pt or model.ts is the one read. ``space``: the Space object of a custom space (a
    built-in space is found by its name). A folder with only ONNX files is refused: the ONNX
    exporter folds BatchNorm into convolutions and renames or merges weights, so ONNX runs with ONNX
    Runtime; export with the state or torchscript format to reload in PyTorch.
    """
    import torch

    from .deploy import deployable

    try:
        path = os.fspath(path)
    except TypeError:
        raise ArchscoutError(f"an export is named by a path, got {path!r}") from None
    if not os.path.exists(path):
        raise ArchscoutError(f"no export at {path!r}: the path does not exist")
    folder, named = (path, None) if os.path.isdir(path) else (os.path.dirname(path) or ".", os.path.basename(path))
    if named is not None and named not in _LOADABLE:
        raise ArchscoutError(f"{path!r} is not a file of an archscout export; give the export folder or its "
                             f"model.pt, model.ts, model.onnx or architecture.json")
    arch_file = os.path.join(folder, "architecture.json")
    if not os.path.isfile(arch_file):
        raise ArchscoutError(f"{folder!r} is not an archscout export: architecture.json is missing")
    try:
        with open(arch_file) as f:
            doc = json.load(f)
        input_shape, num_classes = tuple(int(d) for d in doc["input_shape"]), int(doc["num_classes"])
        if not input_shape or min(input_shape) < 1 or num_classes < 1:
            raise ValueError(f"input_shape {list(input_shape)} and num_classes {num_classes} must be positive")
        preprocessing = _preprocessing(doc)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ArchscoutError(f"{arch_file!r} is not a readable architecture file ({_error(e)})") from None
    arch = Architecture.from_json(doc, space)
    if arch.space is None:
        raise ArchscoutError(f"{arch_file!r} holds an architecture of the space {arch.space_name!r}, which is not "
                             f"built in; for a space of your own pass its Space object: load(path, space=...)")

    if named in ("model.pt", "model.ts"):
        weights = path
    else:
        weights = next((os.path.join(folder, f) for f in ("model.pt", "model.ts")
                        if os.path.isfile(os.path.join(folder, f))), None)
    if weights is None:
        onnx = [f for f in ("model.onnx", INT8_FILE) if os.path.isfile(os.path.join(folder, f))]
        if onnx:
            raise ArchscoutError(f"{folder!r} holds only ONNX ({', '.join(onnx)}), which runs with ONNX Runtime "
                                 f"(onnxruntime.InferenceSession); its weights are folded and renamed, so they are "
                                 f"not loaded back into PyTorch: export with --format state or torchscript to "
                                 f"reload in PyTorch")
        raise ArchscoutError(f"{folder!r} holds no model weights: model.pt, model.ts and model.onnx are all missing")
    try:
        if weights.endswith(".pt"):
            state = torch.load(weights, map_location="cpu", weights_only=True)
            if not isinstance(state, dict):
                raise TypeError(f"it holds a {type(state).__name__}, not a state dict")
        else:
            with warnings.catch_warnings():  # PyTorch deprecates TorchScript; a saved file still loads
                warnings.simplefilter("ignore", DeprecationWarning)
                state = torch.jit.load(weights, map_location="cpu").state_dict()
    except Exception as e:  # noqa: BLE001 - unpickling and TorchScript raise many kinds of errors
        what = "PyTorch state dict" if weights.endswith(".pt") else "TorchScript file"
        # the first sentence only: torch's advice (e.g. to unpickle with weights_only=False) does not apply here
        first = str(e).strip().split(". ")[0].split("\n")[0]
        raise ArchscoutError(f"{weights!r} is damaged or not a {what} ({type(e).__name__}: "
                             f"{_one_line(first, 160)})") from None
    try:
        model = arch.build(input_shape, num_classes)
        model = deployable(model, preprocessing, input_shape)
    except Exception as e:  # noqa: BLE001 - an edited file can ask for a network the builder cannot make
        raise ArchscoutError(f"the architecture in {arch_file!r} cannot be built for input shape "
                             f"{list(input_shape)} and {num_classes} classes ({_error(e)})") from None
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        raise ArchscoutError(f"{weights!r} does not hold the weights of the architecture in architecture.json "
                             f"({mismatch})")
    model.load_state_dict(state)
    kind = preprocessing.kind if preprocessing is not None else "classification"
    model.classes = () if kind == "regression" else tuple(doc.get("classes") or ())
    model.kind = kind
    return model.eval()


def _preprocessing(doc: dict):
    """The Preprocessing recorded in an architecture document, checked; None for an export without one."""
    from .tasks.base import KINDS, Preprocessing

    entry = doc.get("preprocessing")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise TypeError(f"preprocessing is a {type(entry).__name__}, not an object")
    prep = Preprocessing.from_dict(entry)
    if prep.kind not in KINDS:
        raise ValueError(f"preprocessing kind {prep.kind!r} is not one of {', '.join(KINDS)}")
    shape = [int(d) for d in doc["input_shape"]]
    size = int(np.prod(shape)) if shape else 0
    if (prep.input_mean is None) != (prep.input_std is None):
        raise ValueError("preprocessing gives input_mean without input_std or the other way round")
    for name in ("input_mean", "input_std"):
        values = getattr(prep, name)
        if values is not None and len(values) != size:
            raise ValueError(f"preprocessing {name} holds {len(values)} values for inputs of shape {shape}")
    if prep.kind == "regression" and (prep.target_mean is None) != (prep.target_std is None):
        raise ValueError("preprocessing gives target_mean without target_std or the other way round")
    return prep


def _mismatch(expected: dict, got: dict) -> str:
    """What differs between the state dict a network needs and one read from a file ("" when they fit)."""
    def some(names: list) -> str:
        return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")

    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [k for k in expected if k in got and getattr(got[k], "shape", None) != expected[k].shape]
    parts = ([f"{len(missing)} missing: {some(missing)}"] if missing else []) + \
        ([f"{len(unexpected)} unexpected: {some(unexpected)}"] if unexpected else []) + \
        ([f"{len(shapes)} of another shape: {some(shapes)}"] if shapes else [])
    return "; ".join(parts)


load_model = load  # the earlier name
