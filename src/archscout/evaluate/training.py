"""Budgeted training: a training recipe (steps or epochs, optimizer, schedule, batch, seed) and the loop."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..errors import ArchscoutError, TrialFailed
from ..recipe import EVALUATIONS, TrainConfig


def make_optimizer(model, cfg: TrainConfig):
    """The optimizer the recipe names, over all of ``model``'s parameters."""
    import torch

    params = list(model.parameters())
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_schedule(opt, cfg: TrainConfig, total: int):
    """The learning-rate schedule the recipe names over ``total`` steps (None for a constant rate)."""
    import torch

    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.25)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    return None


def optimisation_step(loss, opt, sched, step: int, total: int) -> None:
    """Backpropagate ``loss`` and step the optimiser and schedule; a NaN or infinite loss fails the trial."""
    import torch

    if not torch.isfinite(loss):
        raise TrialFailed(f"training diverged: loss became {loss.item()} at step {step + 1} of {total}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


def resolve_device(device: str | None = None):
    """A ``torch.device`` for ``auto`` (CUDA if present, else Apple's MPS, else the CPU), ``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``; one clear error for a device this machine does not have."""
    import torch

    text = (device or "cpu").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps") if mps is not None and mps.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ArchscoutError("device 'mps' is not available here (it needs Apple silicon and a PyTorch built "
                                 "with MPS); use --device cpu or auto")
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index = text.partition(":")[2]
        if index and not index.isdigit():
            raise ArchscoutError(f"unknown device {device!r}; write cuda or cuda:N with N a GPU number")
        if not torch.cuda.is_available():
            raise ArchscoutError(f"device {device!r} is not available: this machine has no CUDA GPU that PyTorch "
                                 f"can use (torch {torch.__version__}); use --device cpu or auto")
        if index and int(index) >= torch.cuda.device_count():
            raise ArchscoutError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} "
                                 f"CUDA GPU(s), numbered from 0")
        return torch.device(text)
    raise ArchscoutError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps")


def autocast(device, amp: bool):
    """Automatic mixed precision on ``device`` when ``amp`` (float16 on CUDA, bfloat16 elsewhere), else nothing."""
    import contextlib

    import torch
    if not amp:
        return contextlib.nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def loss_function(kind: str):
    """Cross-entropy on logits for classification, mean squared error on the standardised target for a regression."""
    import torch
    if kind == "regression":
        def mse(out, target):
            return torch.nn.functional.mse_loss(out.reshape(-1).float(), target.float())
        return mse
    return torch.nn.CrossEntropyLoss()


class BatchStream:
    """The training batches of ``split``: shuffled each pass (seeded), the last partial batch of a pass skipped
    for arrays; a dataset split is read by a DataLoader. Its state (the generator, the pass's order and the
    position in it) goes into a checkpoint, so a run continued from one sees the batches an uninterrupted run
    would have seen (a dataset split starts a fresh pass instead, seeded by the step)."""

    def __init__(self, split, bs: int, seed: int):
        import torch
        self.split, self.bs, self.seed = split, bs, seed
        self.gen = torch.Generator().manual_seed(seed)
        self.loader = getattr(split, "loader", None)
        self.perm: Any = None
        self.pos = 0
        self._iter: Any = None
        if self.loader is None:
            self.X, self.y = torch.as_tensor(split.X), torch.as_tensor(split.y)

    def next(self):
        import torch
        if self.loader is not None:
            while True:
                if self._iter is None:
                    self._iter = iter(self.loader(self.bs, self.gen))
                try:
                    return next(self._iter)
                except StopIteration:
                    self._iter = None
        n = len(self.y)
        if self.perm is None or self.pos + self.bs > n:
            self.perm, self.pos = torch.randperm(n, generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.bs]
        self.pos += self.bs
        return self.X[idx], self.y[idx]

    def state_dict(self, step: int) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm, "pos": self.pos, "step": step}

    def load_state_dict(self, state: dict) -> None:
        if self.loader is not None:  # a DataLoader's place in a pass cannot be restored: a fresh seeded pass
            self.gen.manual_seed(hash((self.seed, int(state["step"]))) & 0x7FFFFFFF)
            return
        self.gen.set_state(state["gen"])
        self.perm, self.pos = state["perm"], int(state["pos"])


def evaluation_steps(total: int, horizon: int) -> list[int]:
    """Where a run of ``total`` steps (of a schedule of ``horizon``) is validated: every ``horizon //
    EVALUATIONS`` steps and at its last step, so that runs of one horizon are validated at the same steps."""
    every = max(1, horizon // EVALUATIONS)
    return sorted({s for s in range(every, total + 1, every)} | {total})


def _resume(saved: dict, model, device, opt, sched, scaler, stream) -> tuple[int, float, list, float]:
    """Load a checkpoint's state into the training run (model, optimizer, schedule, scaler, batches, RNG); returns
    its step, running loss, learning curve and seconds trained."""
    import torch

    model.load_state_dict(saved["model"])
    model.to(device)
    opt.load_state_dict(saved["optimizer"])
    if sched is not None and saved.get("schedule") is not None:
        sched.load_state_dict(saved["schedule"])
    if scaler is not None and saved.get("scaler") is not None:
        scaler.load_state_dict(saved["scaler"])
    stream.load_state_dict(saved["batches"])
    torch.set_rng_state(saved["rng"])
    return int(saved["step"]), float(saved["running"]), list(saved["curve"]), float(saved.get("seconds", 0.0))


def fit(model, split, cfg: TrainConfig, seed: int = 0, guard=None, *, kind: str = "classification",
        device=None, amp: bool = False, report=None, validate=None, observe=None, checkpoint=None) -> dict:
    """Train ``model`` in place on ``split`` (arrays or a dataset) with ``cfg``'s budget, on ``device`` (a
    ``torch.device``; None: the CPU), with mixed precision when ``amp``. Raises TrialFailed when the loss turns
    NaN or infinite or ``guard.check()`` (per-trial limits, every step) raises. ``report(step, loss)`` is
    called about ten times.

    ``validate(step) -> dict`` is called at :func:`evaluation_steps` (the model in eval mode; its return is
    collected as the learning curve), then ``observe(step, values, curve)`` (an early-stopping rule may raise
    there). ``checkpoint`` (a :class:`~archscout.evaluate.checkpoints.Line`) makes
    the run resumable: it starts from the line's latest state at or below its last step (a lower fidelity's
    end, or the last save of a run that crashed) and saves its state after validations (as often as the line
    allows) and at the end. Returns steps, seconds, the running training loss, the learning curve and the
    step it started from."""
    import torch

    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    n = len(split)
    bs = min(cfg.batch_size, n)
    total = cfg.total_steps(n)
    horizon = cfg.horizon_steps(n)
    model.to(device)
    opt = make_optimizer(model, cfg)
    sched = make_schedule(opt, cfg, horizon)
    loss_fn = loss_function(kind)
    scaler = torch.amp.GradScaler(device.type) if amp and device.type == "cuda" else None
    stream = BatchStream(split, bs, seed)
    start, running, seconds_before = 0, float("nan"), 0.0
    curve: list[dict] = []
    saved = checkpoint.latest(total) if checkpoint is not None else None
    if saved is not None:
        start, running, curve, seconds_before = _resume(saved, model, device, opt, sched, scaler, stream)

    def state(step: int) -> dict:
        return {"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "schedule": sched.state_dict() if sched is not None else None,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "batches": stream.state_dict(step), "rng": torch.get_rng_state(), "running": running,
                "curve": curve, "seconds": seconds_before + time.perf_counter() - t0}

    checks = [s for s in evaluation_steps(total, horizon) if s > start] if validate is not None else []
    model.train()
    t0 = time.perf_counter()
    every = max(1, total // 10)
    for step in range(start, total):
        if guard is not None:
            guard.check()
        xb, yb = stream.next()
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        with autocast(device, amp):
            loss = loss_fn(model(xb), yb)
        if scaler is not None:
            if not torch.isfinite(loss):
                raise TrialFailed(f"training diverged: loss became {loss.item()} at step {step + 1} of {total}")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if sched is not None:
                sched.step()
        else:
            optimisation_step(loss, opt, sched, step, total)
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        if report is not None and (step + 1) % every == 0:
            report(step + 1, running)
        if checks and step + 1 == checks[0]:
            checks.pop(0)
            rng = torch.get_rng_state()
            values = validate(step + 1)
            curve.append({"step": step + 1, **values})
            torch.set_rng_state(rng)  # validation draws no training randomness
            model.train()
            if observe is not None:
                observe(step + 1, values, curve)
            if checkpoint is not None and step + 1 < total and checkpoint.due():
                checkpoint.save(state(step + 1))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    if checkpoint is not None:
        checkpoint.finish(state(total), partial=total < horizon)
    return {"steps": total - start, "train_seconds": time.perf_counter() - t0, "train_loss": running,
            "curve": curve, "start": start}


def predict(model, split, batch_size: int = 1000, device=None, amp: bool = False) -> np.ndarray:
    """The network's outputs on every sample of ``split`` (logits, or a regression's standardised values)."""
    import torch

    device = device or torch.device("cpu")
    model.to(device)
    model.eval()
    outs = []
    with torch.inference_mode():
        for xb, _ in split.batches(batch_size):
            with autocast(device, amp):
                outs.append(model(xb.to(device)).float().cpu())
    model.train()
    return torch.cat(outs).numpy() if outs else np.zeros((0, 1), np.float32)


def scores(outputs: np.ndarray, y: np.ndarray, kind: str, prep=None) -> dict:
    """The validation (or test) metrics of a task's kind from the network's outputs: classification: accuracy,
    balanced accuracy, macro F1, AUROC (omitted when the split holds one class), log loss and loss (the same
    cross-entropy); regression: R², MSE and MAE in the target's own units, and loss (the MSE of the
    standardised target, what training minimises)."""
    if kind == "regression":
        z = outputs.reshape(len(outputs), -1)[:, 0].astype(np.float64)
        yz = np.asarray(y, np.float64)
        loss = float(np.mean((z - yz) ** 2))
        if not math.isfinite(loss):
            raise TrialFailed(f"evaluation produced a non-finite loss ({loss})")
        pred = prep.raw_targets(z) if prep is not None else z
        true = prep.raw_targets(yz) if prep is not None else yz
        err = pred - true
        sst = float(np.sum((true - true.mean()) ** 2))
        r2 = 1.0 - float(np.sum(err ** 2)) / sst if sst > 0 else (1.0 if not err.any() else 0.0)
        return {"r2": r2, "mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err))), "loss": loss}
    logits = outputs.astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    y = np.asarray(y, np.int64)
    loss = float(-logp[np.arange(len(y)), y].mean())
    if not math.isfinite(loss):
        raise TrialFailed(f"evaluation produced a non-finite loss ({loss})")
    pred = logits.argmax(1)
    present = np.unique(y)
    recalls = [float((pred[y == c] == c).mean()) for c in present]
    f1s = []
    for c in np.union1d(present, np.unique(pred)):
        tp = float(np.sum((pred == c) & (y == c)))
        denom = float(np.sum(pred == c) + np.sum(y == c))
        f1s.append(2 * tp / denom if denom else 0.0)
    out = {"accuracy": float((pred == y).mean()), "loss": loss, "balanced_accuracy": float(np.mean(recalls)),
           "f1_macro": float(np.mean(f1s)), "log_loss": loss}
    auroc = _auroc(np.exp(logp), y)
    if auroc is not None:
        out["auroc"] = auroc
    return out


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) form, ties counted half."""
    from scipy.stats import rankdata
    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auroc(probs: np.ndarray, y: np.ndarray) -> float | None:
    """Binary: AUC of the second class's probability; more classes: the mean one-vs-rest AUC over the classes
    present (None when the split holds a single class)."""
    present = np.unique(y)
    if len(present) < 2:
        return None
    if probs.shape[1] == 2:
        return _auc(probs[:, 1], y == 1)
    return float(np.mean([_auc(probs[:, c], y == c) for c in present]))


def train(model, X: np.ndarray, y: np.ndarray, cfg: TrainConfig, seed: int = 0, guard=None) -> dict:
    """Train a classifier in place on arrays (see :func:`fit`). Returns steps, seconds, loss."""
    from ..tasks import Split
    return fit(model, Split(X, y), cfg, seed, guard)


def evaluate(model, X: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> dict:
    """Accuracy and mean cross-entropy loss of a classifier on arrays, in eval mode."""
    from ..tasks import Split
    res = scores(predict(model, Split(X, y), batch_size), y, "classification")
    return {"accuracy": res["accuracy"], "loss": res["loss"]}
