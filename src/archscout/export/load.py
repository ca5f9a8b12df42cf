"""Load an export folder back: the ``nn.Module`` with its weights and the task's preprocessing inside it."""
from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from ..errors import ArchscoutError
from ..space import Architecture
from .formats import INT8_FILE, error_text, one_line

_LOADABLE = ("model.pt", "model.ts", "model.onnx", INT8_FILE, "architecture.json", "metrics.json")


def load(path, space=None):
    """Rebuild an exported model: an ``nn.Module`` in eval mode, built from architecture.json with the
    weights of model.pt (the state dict) or, without it, of model.ts (TorchScript).

    An export whose architecture.json records input statistics or a regression (``preprocessing``) is
    rebuilt with them, as :class:`~archscout.export.deploy.Deployed`: it takes raw inputs and a regression
    answers in the target's units. The module has ``classes`` (the label name of each output index; empty
    for a regression) and ``kind`` ("classification" or "regression"). An export without a
    ``preprocessing`` entry (an older one, a graph network) is the network alone, as it was exported.

    ``path``: an export folder or a file in it (model.pt, model.ts, model.onnx, architecture.json);
    a named model.pt or model.ts is the one read. ``space``: the Space object of a custom space (a
    built-in space is found by its name). A folder with only ONNX files is refused: the ONNX
    exporter folds BatchNorm into convolutions and renames or merges weights, so ONNX runs with ONNX
    Runtime; export with the state or torchscript format to reload in PyTorch.
    """
    from .deploy import deployable

    path, folder, named = _export_folder(path)
    arch_file = os.path.join(folder, "architecture.json")
    doc, input_shape, num_classes, preprocessing = _read_architecture_file(folder, arch_file)
    arch = Architecture.from_json(doc, space)
    if arch.space is None:
        raise ArchscoutError(f"{arch_file!r} holds an architecture of the space {arch.space_name!r}, which is not "
                             f"built in; for a space of your own pass its Space object: load(path, space=...)")

    weights = _weights_file(path, folder, named)
    state = _read_state(weights)
    try:
        model: Any = arch.build(input_shape, num_classes)  # Any: load adds the attributes classes and kind
        model = deployable(model, preprocessing, input_shape)
    except Exception as e:  # noqa: BLE001 - an edited file can ask for a network the builder cannot make
        raise ArchscoutError(f"the architecture in {arch_file!r} cannot be built for input shape "
                             f"{list(input_shape)} and {num_classes} classes ({error_text(e)})") from None
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        raise ArchscoutError(f"{weights!r} does not hold the weights of the architecture in architecture.json "
                             f"({mismatch})")
    model.load_state_dict(state)
    kind = preprocessing.kind if preprocessing is not None else "classification"
    model.classes = () if kind == "regression" else tuple(doc.get("classes") or ())
    model.kind = kind
    return model.eval()


def _export_folder(path) -> tuple[str, str, str | None]:
    """``path`` as a string, the export folder, and the file of it that ``path`` names (None: the folder)."""
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
    return path, folder, named


def _read_architecture_file(folder: str, arch_file: str) -> tuple[dict, tuple[int, ...], int, Any]:
    """architecture.json's document, input shape, number of classes and preprocessing (None: none)."""
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
        raise ArchscoutError(f"{arch_file!r} is not a readable architecture file ({error_text(e)})") from None
    return doc, input_shape, num_classes, preprocessing


def _weights_file(path: str, folder: str, named: str | None) -> str:
    """The weights to load: the model.pt or model.ts that ``path`` names, else the folder's (model.pt first)."""
    if named in ("model.pt", "model.ts"):
        weights: str | None = path
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
    return weights


def _read_state(weights: str) -> dict:
    """The state dict of model.pt, or of the TorchScript module in model.ts."""
    import torch

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
                             f"{one_line(first, 160)})") from None
    return state


def _preprocessing(doc: dict):
    """The Preprocessing recorded in an architecture document, checked; None for an export without one."""
    from ..tasks.base import KINDS, Preprocessing

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

