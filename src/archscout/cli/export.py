"""`archscout export`: a study's trained model as ONNX / TorchScript / state-dict files, each checked."""
from __future__ import annotations

import click

from ..checks import non_negative_int
from ..errors import ArchscoutError
from .common import echo, existing, storage_option
from .results import resolve_space, space_option


@click.command()
@click.argument("study")
@storage_option
@click.option("--out", default=None, help="Folder to write to (default: export-STUDY).")
@click.option("--trial", "number", type=int, default=None, help="Trial number (default: the best).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which final retraining seed to export.")
@click.option("--format", "formats", default="onnx,state", show_default=True,
              help="Comma-separated formats: onnx (model.onnx), torchscript (model.ts), state (model.pt, the "
                   "state dict).")
@click.option("--int8", is_flag=True, default=False,
              help="Also write model.int8.onnx, quantized as the study measured INT8 (needs a study that did: "
                   "--measure accuracy@int8 or a -quant space).")
@space_option
def export(study, storage, out, number, seed, formats, int8, space):
    """Write a trained model with its architecture JSON and metrics.json, each file checked against PyTorch.

    Reload it with archscout.load(FOLDER) (needs the state or torchscript format); see docs/export.md.
    """
    from ..export import check_formats
    from ..study import Study

    formats = check_formats(formats)
    non_negative_int(seed, "--seed")
    s = Study.load(study, existing(storage), space=resolve_space(space))
    if number is None:
        t = s.best()
    else:
        match = [t for t in s.trials() if t.number == number]
        if not match:
            raise ArchscoutError(f"study {study!r} has no trial #{number}")
        t = match[0]
    out = out or f"export-{s.name}"
    info = t.export(out, seed=seed, formats=formats, int8=int8)  # refuses what cannot be exported, with why
    echo(f"exported trial #{t.number} ({t.arch.describe()}) to {out}/: {', '.join(info['files'])}")
    test = info["retrained"].get("test_accuracy")
    if test is not None:
        echo(f"the model of its final retraining with seed {seed}: test accuracy {100 * test:.2f} %")
    elif info["retrained"].get("test_r2") is not None:  # a regression: R², MSE and MAE in the target's units
        r = info["retrained"]
        echo(f"the model of its final retraining with seed {seed}: test R² {r['test_r2']:.4f} (MSE "
             f"{r['test_mse']:.4g}, MAE {r['test_mae']:.4g} in the target's units)")
    unit = "output" if "test_r2" in info["retrained"] else "logit"  # a regression's output is a prediction
    if "onnx" in formats:
        if info["onnx_max_abs_diff"] is None:  # an operator ONNX cannot express: the other formats are exported
            echo(f"no ONNX file: {info['onnx_error']}")
        else:
            echo(f"ONNX Runtime matches PyTorch within {info['onnx_max_abs_diff']:.2e} (max abs {unit} difference)")
    if "torchscript" in formats:
        if info["torchscript_max_abs_diff"] is None:
            echo(f"no TorchScript file: {info['torchscript_error']}")
        else:
            echo(f"TorchScript reloaded matches PyTorch within {info['torchscript_max_abs_diff']:.2e} "
                 f"(max abs {unit} difference)")
    if int8:
        q = info["int8"]
        if q is None:
            echo(f"no INT8 file: {info['int8_error']}")
        else:
            test = f", {100 * q['test_accuracy_int8']:.2f} % vs {100 * q['test_accuracy_fp32']:.2f} % on test " \
                f"data" if "test_accuracy_int8" in q else ""
            echo(f"INT8 ({q['file']}) in ONNX Runtime: accuracy {100 * q['accuracy_int8']:.2f} % vs "
                 f"{100 * q['accuracy_fp32']:.2f} % fp32 on validation data{test}; weights "
                 f"{q['size_bytes_int8']:,} B vs {q['size_bytes_fp32']:,} B fp32")
    if not {"state", "torchscript"} & set(formats):
        echo("note: archscout.load rebuilds a PyTorch module from the state or torchscript format only; "
             "this folder runs with ONNX Runtime")
