"""The INT8 ONNX variant of an export, quantized the way the study's evaluator measured it."""
from __future__ import annotations

import os

import numpy as np

from .formats import INT8_FILE, add_metadata, error_text, one_line, remove_file, table_onnx


def write_int8(study, trial, model, task, folder: str, fp32_path: str | None, metadata: dict) -> dict:
    """model.int8.onnx: the fp32 ONNX model quantized as the study's evaluator measured it (static INT8,
    calibrated on a class-stratified random subset of the training samples, the space's fp32 policy), and the
    validation (and test) accuracy of both in ONNX Runtime. ``int8`` None and ``int8_error`` when it cannot be made.

    The model takes raw inputs (its input standardisation inside it): it is calibrated on the same training
    samples as the search, in raw units, and scored on raw inputs; the standardisation stays in fp32, so the
    network after it is quantized exactly as the search measured it. The sizes are the network's weights (the
    figures the search stored); ``preprocessing_bytes`` are the statistics the files hold besides."""
    import tempfile

    from ..cost.quantize import onnx_accuracy, onnx_weight_bytes, quantize_int8
    from ..errors import TrialFailed
    from ..evaluate import CALIBRATION_SAMPLES
    from .deploy import STANDARDISE_SCOPE, Deployed, buffer_bytes

    path = os.path.join(folder, INT8_FILE)
    with tempfile.TemporaryDirectory(prefix="archscout-export-") as tmp:
        if fp32_path is None:  # ONNX was not among the formats: export it here, checked all the same
            fp32_path = os.path.join(tmp, "model.onnx")
            res = table_onnx(model, task, fp32_path, metadata)
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
        add_metadata(path, metadata)
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
        remove_file(path)
        return {"int8": None, "int8_error": one_line(str(e) if isinstance(e, TrialFailed) else error_text(e), 500)}
    return {"int8": out}


