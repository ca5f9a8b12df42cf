"""The training recipe's vocabulary: :class:`TrainConfig` (steps or epochs, optimizer, schedule, batch) and its
valid values. Torch-free, so spaces, strategies and the command line can name and check a recipe without torch."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from .checks import non_negative_number, positive_int, positive_number
from .errors import ArchscoutError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("onecycle", "cosine", "constant")
FIDELITY_MODES = ("continue", "restart")
EVALUATIONS = 10  # validation points per training run (per horizon), besides the last step


@dataclass(frozen=True)
class TrainConfig:
    """How a candidate is trained. The budget is ``steps`` or, when given, ``epochs``.

    ``horizon`` (in the budget's unit; None: the budget itself) is the length the learning-rate schedule
    spans: a run at a low fidelity stops at ``steps`` of a schedule planned for ``horizon``, so training it
    further (a promotion) continues the same run and ends where a full run would. ``fidelity_mode`` says how
    a fidelity below the study's budget is trained: ``continue`` (the schedule of the full budget, stopped
    early; a promotion continues from the checkpoint) or ``restart`` (a whole schedule of its own; a
    promotion trains again from the start).
    """

    steps: int = 1000
    epochs: float | None = None
    batch_size: int = 100
    optimizer: str = "adamw"
    lr: float = 1e-2
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    amp: bool = False  # automatic mixed precision (float16 on CUDA, bfloat16 on the CPU)
    horizon: float | None = None
    fidelity_mode: str = "continue"

    def __post_init__(self):
        if self.epochs is None:
            positive_int(self.steps, "training steps")
        else:
            positive_number(self.epochs, "training epochs")
        positive_int(self.batch_size, "batch size")
        if self.optimizer not in OPTIMIZERS:
            raise ArchscoutError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ArchscoutError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        positive_number(self.lr, "learning rate")
        if not isinstance(self.amp, bool):
            raise ArchscoutError(f"amp (mixed precision) is true or false, got {self.amp!r}")
        non_negative_number(self.weight_decay, "weight decay")
        if self.fidelity_mode not in FIDELITY_MODES:
            raise ArchscoutError(f"fidelity mode is one of {', '.join(FIDELITY_MODES)}, got {self.fidelity_mode!r}")
        if self.horizon is not None:
            budget = self.steps if self.epochs is None else self.epochs
            if not (isinstance(self.horizon, (int, float)) and math.isfinite(self.horizon)
                    and self.horizon >= budget):
                raise ArchscoutError(f"a training horizon is at least the budget ({budget:g}), got {self.horizon!r}")

    def total_steps(self, n_samples: int) -> int:
        if self.epochs is None:
            return self.steps
        return max(1, math.ceil(self.epochs * n_samples / min(self.batch_size, n_samples)))

    def horizon_steps(self, n_samples: int) -> int:
        """The steps the learning-rate schedule spans (:meth:`total_steps` without a horizon)."""
        if self.horizon is None:
            return self.total_steps(n_samples)
        if self.epochs is None:
            return int(self.horizon)
        return max(1, math.ceil(self.horizon * n_samples / min(self.batch_size, n_samples)))

    @property
    def partial(self) -> bool:
        """Whether the run stops before the end of its schedule (a low fidelity that may be continued)."""
        return self.horizon is not None and self.horizon != (self.steps if self.epochs is None else self.epochs)

    def budget_key(self) -> str:
        """Identifies the fidelity: trials with the same architecture and key are not trained twice. A run
        stopped early in a longer schedule says so (``steps=111/1000``); at its horizon the key is the plain
        one, since the training is the same."""
        b = f"epochs={self.epochs:g}" if self.epochs is not None else f"steps={self.steps}"
        if self.partial:
            b += f"/{self.horizon:g}"
        return b + self.line_key()

    def run_key(self) -> str:
        """What makes two runs one: the schedule's length (its horizon, or the budget without one) and the
        settings, not where the run stops."""
        span = self.horizon if self.horizon is not None else (self.steps if self.epochs is None else self.epochs)
        return ("epochs" if self.epochs is not None else "steps") + f"~{span:g}" + self.line_key()

    def line_key(self) -> str:
        """The budget key without the budget: runs with the same line key and horizon are one training run
        stopped at different points (what a checkpoint continues)."""
        return (f",bs={self.batch_size},{self.optimizer},lr={self.lr:g},wd={self.weight_decay:g},"
                f"{self.schedule}" + (",amp" if self.amp else ""))

    def as_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)
