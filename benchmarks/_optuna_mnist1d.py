"""The Optuna peer of benchmarks/mnist1d_multifidelity.py: what a user would write without a NAS tool.

A hand-written 1-D CNN / MLP space (../shared/REFERENCES.md, "Peer, measured here"): a CNN of 1-4 conv layers,
each with its own width (16, 32, 64 or 128 channels), kernel (3, 5, 7) and stride (1, 2), batch normalisation
on or off, global average pooling or flatten before the classifier; or an MLP of 1-3 hidden layers (32-256
units); the learning rate log-uniform. With ReLU, "same" padding and conv biases, the reference pick (4 conv
layers, 16-128-64-64, kernels 3-3-5-3, BN, GAP) has exactly the 60,906 parameters REFERENCES.md reports.

Training reuses archscout's loop (``archscout.evaluate.training.fit``: Adam, one-cycle, batch 100, the same
batching and seeding), the data is archscout's ``mnist1d`` task (its train / validation split for the search,
train + validation for the final retraining, its 1,000 test samples), so peer and archscout train alike.
"""
from __future__ import annotations

import time

import optuna
import torch
from torch import nn

from archscout.errors import TrialFailed
from archscout.evaluate import release_memory
from archscout.evaluate.training import TrainConfig, fit, predict, scores

WIDTHS = (16, 32, 64, 128)
KERNELS = (3, 5, 7)
STRIDES = (1, 2)
MLP_WIDTHS = (32, 64, 128, 256)
LR_RANGE = (1e-4, 5e-2)
BATCH = 100


def suggest(trial: optuna.Trial) -> dict:
    """One candidate, define-by-run (conditional parameters: TPE models each where it exists)."""
    lr = trial.suggest_float("lr", *LR_RANGE, log=True)
    if trial.suggest_categorical("model", ["cnn", "mlp"]) == "mlp":
        depth = trial.suggest_int("mlp_depth", 1, 3)
        return {"model": "mlp", "hidden": [trial.suggest_categorical(f"mlp_width{i}", MLP_WIDTHS)
                                           for i in range(depth)], "lr": lr}
    depth = trial.suggest_int("depth", 1, 4)
    layers = [{"width": trial.suggest_categorical(f"width{i}", WIDTHS),
               "kernel": trial.suggest_categorical(f"kernel{i}", KERNELS),
               "stride": trial.suggest_categorical(f"stride{i}", STRIDES)} for i in range(depth)]
    return {"model": "cnn", "layers": layers, "bn": trial.suggest_categorical("bn", [True, False]),
            "head": trial.suggest_categorical("head", ["gap", "flatten"]), "lr": lr}


def config_of(params: dict) -> dict:
    """The candidate an Optuna trial's ``params`` describe (what :func:`suggest` returned)."""
    if params["model"] == "mlp":
        return {"model": "mlp", "hidden": [params[f"mlp_width{i}"] for i in range(params["mlp_depth"])],
                "lr": params["lr"]}
    return {"model": "cnn", "layers": [{"width": params[f"width{i}"], "kernel": params[f"kernel{i}"],
                                        "stride": params[f"stride{i}"]} for i in range(params["depth"])],
            "bn": params["bn"], "head": params["head"], "lr": params["lr"]}


def describe(cfg: dict) -> str:
    if cfg["model"] == "mlp":
        return f"mlp {'-'.join(map(str, cfg['hidden']))} | lr={cfg['lr']:.3g}"
    convs = "-".join(f"{c['width']}k{c['kernel']}" + ("s2" if c["stride"] == 2 else "") for c in cfg["layers"])
    return (f"cnn {len(cfg['layers'])} conv {convs}{', BN' if cfg['bn'] else ''}, {cfg['head'].upper()}"
            f" | lr={cfg['lr']:.3g}")


def build(cfg: dict, input_shape: tuple, num_classes: int, seed: int) -> nn.Module:
    """The network, initialised from ``seed``."""
    torch.manual_seed(seed)
    channels, length = input_shape
    if cfg["model"] == "mlp":
        mods: list[nn.Module] = [nn.Flatten()]
        width = channels * length
        for h in cfg["hidden"]:
            mods += [nn.Linear(width, h), nn.ReLU()]
            width = h
        return nn.Sequential(*mods, nn.Linear(width, num_classes))
    mods = []
    c = channels
    for layer in cfg["layers"]:
        k, s = layer["kernel"], layer["stride"]
        mods.append(nn.Conv1d(c, layer["width"], k, stride=s, padding=k // 2))
        if cfg["bn"]:
            mods.append(nn.BatchNorm1d(layer["width"]))
        mods.append(nn.ReLU())
        c = layer["width"]
        length = (length + 2 * (k // 2) - k) // s + 1
    if cfg["head"] == "gap":
        mods += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    else:
        mods += [nn.Flatten(), nn.Linear(c * length, num_classes)]
    return nn.Sequential(*mods)


def recipe(cfg: dict, steps: int) -> TrainConfig:
    """Adam (no weight decay) with a one-cycle schedule peaking at the candidate's learning rate, batch 100."""
    return TrainConfig(steps=steps, batch_size=BATCH, optimizer="adam", lr=cfg["lr"], weight_decay=0.0,
                       schedule="onecycle")


def params_of(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def accuracy(model, split) -> float:
    return scores(predict(model, split), split.y, "classification")["accuracy"]


def objective_factory(task, steps: int, seed: int, t0: float, log: list, prune: bool, report_every: int):
    """The Optuna objective: train ``steps`` steps on the task's training part, return validation accuracy.
    With ``prune``: validation accuracy reported every ``report_every`` steps (archscout's ``fit`` calls its
    ``report`` hook every ``steps // 10`` steps) and ``should_prune()`` checked there. Every finished trial
    (complete, pruned or failed) is appended to ``log`` with its times relative to ``t0``."""

    def objective(trial: optuna.Trial) -> float:
        started = time.monotonic() - t0
        cfg = suggest(trial)
        entry = {"number": trial.number, "architecture": describe(cfg), "config": cfg, "started": started,
                 "reports": [], "state": "running"}
        model = build(cfg, task.input_shape, task.num_classes, seed)
        entry["params"] = params_of(model)

        def report(step, _loss):
            if step % report_every:
                return
            acc = accuracy(model, task.valid)
            entry["reports"].append([step, acc])
            trial.report(acc, step)
            if trial.should_prune():
                entry["pruned_at"] = step
                raise optuna.TrialPruned(f"pruned at step {step}")

        try:
            fit(model, task.train, recipe(cfg, steps), seed=seed, report=report if prune else None)
            last = entry["reports"][-1] if entry["reports"] else None
            acc = last[1] if last is not None and last[0] == steps else accuracy(model, task.valid)
            entry.update(state="complete", val_accuracy=acc, steps=steps)
            return acc
        except optuna.TrialPruned:
            entry.update(state="pruned", steps=entry["pruned_at"])
            raise
        except TrialFailed as e:
            entry.update(state="failed", error=str(e))
            raise
        finally:
            entry["finished"] = time.monotonic() - t0
            entry["seconds"] = entry["finished"] - started
            log.append(entry)
            model = None  # freed before the heap is trimmed (the report hook holds the name, not the network)
            release_memory()

    return objective


def final(task, cfg: dict, steps: int, seeds: int) -> list[dict]:
    """Retrain ``cfg`` on training + validation data with seeds 0..seeds-1, score it on the test part."""
    out = []
    for seed in range(seeds):
        model = build(cfg, task.input_shape, task.num_classes, seed)
        stats = fit(model, task.full_train(), recipe(cfg, steps), seed=seed)
        out.append({"seed": seed, "test_accuracy": accuracy(model, task.test),
                    "train_seconds": stats["train_seconds"], "params": params_of(model)})
        print(f"  final seed {seed}: test accuracy {100 * out[-1]['test_accuracy']:.2f} % "
              f"({stats['train_seconds']:.0f} s)", flush=True)
        model = None
        release_memory()
    return out
