"""Export a trained trial and load it back.

``export_trial`` writes the retrained model of a completed trial in the formats asked for (ONNX,
TorchScript, state dict), its architecture JSON and metrics.json, each runnable file checked against
PyTorch, and on request an INT8 ONNX variant quantized the way the study's evaluator measured it.
``load`` rebuilds the ``nn.Module`` from an export folder.

What the task does to raw data travels with the model: a task that standardises its inputs, or a
regression (trained on the standardised target), is exported as :class:`~archscout.export.deploy.Deployed`,
the network with that preprocessing inside it, so every file takes raw inputs and a regression
answers in the target's own units; architecture.json records the preprocessing and the label names.

A graph network (gnn spaces) is exported with two inputs, ``x`` [nodes, features] and
``edge_index`` [2, edges], both of any size; it is checked on the task's graph and a subgraph.
"""
from .formats import ARCHITECTURE_KEY, DEFAULT_FORMATS, FORMATS, INT8_FILE, check_formats, measured_int8, not_exportable
from .load import load, load_model
from .trial import export_trial

__all__ = ["ARCHITECTURE_KEY", "DEFAULT_FORMATS", "FORMATS", "INT8_FILE", "check_formats",
           "export_trial", "load", "load_model", "measured_int8", "not_exportable"]
