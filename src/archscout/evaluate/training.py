"""Budgeted training: a training recipe (steps or epochs, optimizer, schedule, batch, seed) and the loop."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import ArchscoutError, TrialFailed

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("onecycle", "cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """How a candidate is trained. The budget is ``steps`` or, when given, ``epochs``."""

    steps: int = 1000
    epochs: float | None = None
    batch_size: int = 100
    optimizer: str = "adamw"
    lr: float = 1e-2
    weight_decay: float = 1e-4
    schedule: str = "onecycle"

    def __post_init__(self):
        if self.epochs is None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ArchscoutError(f"training steps must be a positive integer, got {self.steps!r}")
        if self.epochs is not None and not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ArchscoutError(f"training epochs must be a positive finite number, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ArchscoutError(f"batch size must be a positive integer, got {self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ArchscoutError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ArchscoutError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ArchscoutError(f"learning rate must be positive, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ArchscoutError(f"weight decay must be >= 0, got {self.weight_decay!r}")

    def total_steps(self, n_samples: int) -> int:
        if self.epochs is None:
            return self.steps
        return max(1, math.ceil(self.epochs * n_samples / min(self.batch_size, n_samples)))

    def budget_key(self) -> str:
        """Identifies the fidelity: trials with the same architecture and key are not trained twice."""
        b = f"epochs={self.epochs:g}" if self.epochs is not None else f"steps={self.steps}"
        return (f"{b},bs={self.batch_size},{self.optimizer},lr={self.lr:g},wd={self.weight_decay:g},"
                f"{self.schedule}")

    def as_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def _optimizer(model, cfg: TrainConfig):
    import torch

    params = list(model.parameters())
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _schedule(opt, cfg: TrainConfig, total: int):
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


def train(model, X: np.ndarray, y: np.ndarray, cfg: TrainConfig, seed: int = 0, guard=None) -> dict:
    """Train in place; raise TrialFailed when the loss turns NaN or infinite, or when ``guard.check()``
    (per-trial time and memory limits, checked every step) raises. Returns steps, seconds, loss."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    n = len(yt)
    bs = min(cfg.batch_size, n)
    total = cfg.total_steps(n)
    opt = _optimizer(model, cfg)
    sched = _schedule(opt, cfg, total)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    t0 = time.perf_counter()
    perm, pos, running = torch.randperm(n, generator=gen), 0, float("nan")
    for step in range(total):
        if guard is not None:
            guard.check()
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + bs]
        pos += bs
        loss = loss_fn(model(Xt[idx]), yt[idx])
        optimisation_step(loss, opt, sched, step, total)
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
    return {"steps": total, "train_seconds": time.perf_counter() - t0, "train_loss": running}


def evaluate(model, X: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> dict:
    """Accuracy and mean cross-entropy loss on a split, in eval mode."""
    import torch

    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.inference_mode():
        for i in range(0, len(y), batch_size):
            xb, yb = torch.as_tensor(X[i:i + batch_size]), torch.as_tensor(y[i:i + batch_size])
            out = model(xb)
            loss_sum += float(torch.nn.functional.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
    model.train()
    loss = loss_sum / len(y)
    if not math.isfinite(loss):
        raise TrialFailed(f"evaluation produced a non-finite loss ({loss})")
    return {"accuracy": correct / len(y), "loss": loss}
