"""Training a conv supernet: BigNAS's sandwich rule, Once-for-All's progressive shrinking, or SPOS's uniform paths.

``bignas`` (Yu et al., "BigNAS: Scaling Up Neural Architecture Search with Big Single-Stage Models", ECCV
2020): every step trains the largest sub-network on the labels, then the smallest and ``random_subnets``
random ones on the largest's soft predictions of the same batch (in-place distillation, KL divergence at
temperature ``temperature``); the gradients of all of them are summed into one optimiser step.

``ofa`` (Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient Deployment", ICLR
2020): progressive shrinking in four phases of the step budget (``ofa_phases``, default 25 % each): the
largest network alone; then elastic kernel; then elastic kernel and depth; then kernel, depth and width
(the choices not yet elastic are at their largest). From the second phase on, each step trains
``random_subnets`` + 1 sampled sub-networks, each on the labels plus ``kd_ratio`` times the distillation
loss against a frozen copy of the largest network as it was at the end of the first phase (OFA's
teacher; run in train mode as OFA's code runs it, so its batch norm uses the batch's statistics). The first
phase's share must be above 0. Differences from the paper: the kernel is the centre of the largest (no learned kernel
transformation), widths are the first channels (no channel re-sorting by importance), the depth shrinks
over the whole network (not per stage), and each phase is one run of the schedule's share rather than
separate runs with their own learning rates.

``spos`` (Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform Sampling", ECCV
2020): every step trains one sub-network drawn uniformly (each choice of the elastic space uniform) on the
labels.

In a ``-quant`` space every randomly sampled sub-network also draws an INT8 / fp32 policy (SimQ-NAS's
point: the policy is part of what is sampled; the largest and smallest stay fp32), and a stage or the
classifier marked INT8 runs with its weights fake-quantized (symmetric, per output channel, 8 bits) and its
input activations too (asymmetric, per tensor, 8 bits, over the batch's range), straight-through gradients,
so the shared weights learn to survive quantization. Differences from SimQ-NAS: the activation range is each
batch's own (ONNX Runtime's static quantization, which scores INT8 sub-networks, fixes it from calibration
data), and the outputs of the batch norm and activation are not quantized separately.

Every run uses one optimiser (``optimizer``, ``lr``, ``weight_decay``) and one learning-rate schedule over
all its steps, batches of ``batch_size`` from a seeded :class:`~archscout.evaluate.training.BatchStream`;
with a checkpoint line it saves its whole state (weights, optimiser, schedule, batch order, both random
generators, the teacher, the curve) every ``save_every`` seconds and at the end, and starts from the
latest save when run again. ``validate(step)`` is called about ten times; its values make the training
curve.
"""
from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ...checks import non_negative_int, positive_int, positive_number
from ...errors import ArchscoutError, TrialFailed
from ...evaluate.training import BatchStream, TrainConfig, evaluation_steps, make_optimizer, make_schedule
from .elastic import ElasticSpec
from .net import SuperNet

METHODS = ("bignas", "ofa", "spos")


@dataclass(frozen=True)
class SupernetTraining:
    """How a supernet is trained (see the module's docstring)."""

    method: str = "bignas"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "onecycle"
    random_subnets: int = 2
    temperature: float = 1.0
    kd_ratio: float = 1.0
    ofa_phases: tuple[float, ...] = (0.25, 0.25, 0.25, 0.25)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ArchscoutError(f"unknown supernet training method {self.method!r}; known: {', '.join(METHODS)}")
        for name in ("steps", "batch_size"):
            positive_int(getattr(self, name), f"supernet training: {name}")
        non_negative_int(self.random_subnets, "supernet training: random_subnets")
        for name in ("lr", "temperature"):
            positive_number(getattr(self, name), f"supernet training: {name}")
        if len(self.ofa_phases) != 4 or any(p < 0 for p in self.ofa_phases) or sum(self.ofa_phases) <= 0:
            raise ArchscoutError(f"supernet training: ofa_phases are four non-negative shares of the steps, got "
                                 f"{list(self.ofa_phases)!r}")
        if self.method == "ofa" and self.ofa_phases[0] <= 0:
            raise ArchscoutError(f"supernet training: ofa_phases' first share must be above 0: the first phase trains "
                                 f"the largest network alone, which the later phases distil from (OFA's teacher); "
                                 f"got {list(self.ofa_phases)!r}")
        # the optimiser and schedule are checked as a training recipe's
        self.recipe()

    def recipe(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           optimizer=self.optimizer, schedule=self.schedule)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ofa_phases"] = list(self.ofa_phases)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> SupernetTraining:
        data = dict(data)
        if "ofa_phases" in data:
            data["ofa_phases"] = tuple(data["ofa_phases"])
        return cls(**data)

    def phase(self, step: int) -> int:
        """OFA's phase at ``step`` (0: largest only, 1: + kernel, 2: + depth, 3: + width)."""
        bounds, total = [], 0.0
        share = sum(self.ofa_phases)
        for p in self.ofa_phases:
            total += p / share
            bounds.append(total * self.steps)
        return next((i for i, b in enumerate(bounds) if step < b), 3)


# -- sampling sub-networks --------------------------------------------------------------------------------

def sample_subnet(spec: ElasticSpec, rng: random.Random, elastic: tuple[str, ...] = ("depth", "width", "kernel"),
                  quant: bool = True) -> dict:
    """A sub-network with the ``elastic`` dimensions drawn uniformly, the others at their largest; in a
    quantization-aware spec, each precision drawn too when ``quant``."""
    depth = rng.randint(spec.min_depth, spec.max_depth) if "depth" in elastic else spec.max_depth
    stages = []
    for _ in range(depth):
        st = {**spec.fixed, "width": rng.choice(spec.widths) if "width" in elastic else spec.widths[-1],
              "kernel": rng.choice(spec.kernels) if "kernel" in elastic else spec.kernels[-1]}
        if spec.quantization:
            st["precision"] = rng.choice(("int8", "fp32")) if quant else "fp32"
        stages.append(st)
    values: dict[str, Any] = {"stages": stages, "head": spec.head}
    if spec.quantization:
        values["classifier_precision"] = rng.choice(("int8", "fp32")) if quant else "fp32"
    return values


OFA_ELASTIC = {0: (), 1: ("kernel",), 2: ("kernel", "depth"), 3: ("kernel", "depth", "width")}


def _distill(logits: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    t = temperature
    return F.kl_div(F.log_softmax(logits / t, 1), F.softmax(teacher / t, 1), reduction="batchmean") * t * t


def _check(loss: float, step: int, total: int) -> None:
    if not math.isfinite(loss):
        raise TrialFailed(f"supernet training diverged: loss became {loss} at step {step + 1} of {total}")


def train_supernet(net: SuperNet, split, cfg: SupernetTraining, seed: int = 0, *, checkpoint=None,
                   validate: Callable[[int], dict] | None = None, progress: Callable[[int, float], None] | None = None,
                   device=None, every: int | None = None) -> dict:
    """Train ``net`` in place on ``split`` (arrays) with ``cfg``; returns steps run, seconds, the running loss,
    the training curve (``validate``'s values at about ten steps) and the step it started from.
    ``progress(step, loss)`` is called every ``every`` steps (default a tenth of them)."""
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    spec = net.spec
    n = len(split)
    bs = min(cfg.batch_size, n)
    recipe = cfg.recipe()
    net.to(device)
    opt = make_optimizer(net, recipe)
    sched = make_schedule(opt, recipe, cfg.steps)
    stream = BatchStream(split, bs, seed)
    teacher: SuperNet | None = None
    start, running, curve, seconds_before = 0, float("nan"), [], 0.0
    saved = checkpoint.latest(cfg.steps) if checkpoint is not None else None
    if saved is not None:
        start = int(saved["step"])
        net.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        if sched is not None and saved.get("schedule") is not None:
            sched.load_state_dict(saved["schedule"])
        stream.load_state_dict(saved["batches"])
        torch.set_rng_state(saved["rng"])
        rng.setstate(saved["python_rng"])
        if saved.get("teacher") is not None:
            teacher = SuperNet(spec, net.input_shape, net.num_classes)
            teacher.load_state_dict(saved["teacher"])
            teacher.to(device).eval().requires_grad_(False)
        running, curve = float(saved["running"]), list(saved["curve"])
        seconds_before = float(saved.get("seconds", 0.0))
    t0 = time.perf_counter()

    def state(step: int) -> dict:
        return {"step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
                "schedule": sched.state_dict() if sched is not None else None,
                "batches": stream.state_dict(step), "rng": torch.get_rng_state(), "python_rng": rng.getstate(),
                "teacher": teacher.state_dict() if teacher is not None else None, "running": running,
                "curve": curve, "seconds": seconds_before + time.perf_counter() - t0}

    checks = [s for s in evaluation_steps(cfg.steps, cfg.steps) if s > start] if validate is not None else []
    every = every or max(1, cfg.steps // 10)
    net.train()
    for step in range(start, cfg.steps):
        xb, yb = stream.next()
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad(set_to_none=True)
        total = train_step(net, teacher, xb, yb, cfg, rng, step)
        _check(total, step, cfg.steps)
        opt.step()
        if sched is not None:
            sched.step()
        if cfg.method == "ofa" and teacher is None and cfg.phase(step + 1) >= 1:
            teacher = copy.deepcopy(net).eval().requires_grad_(False)  # the largest as trained in phase 0
        running = total if math.isnan(running) else 0.98 * running + 0.02 * total
        if progress is not None and (step + 1) % every == 0:
            progress(step + 1, running)
        if validate is not None and checks and step + 1 == checks[0]:
            checks.pop(0)
            torch_rng, py_rng = torch.get_rng_state(), rng.getstate()
            values = validate(step + 1)
            curve.append({"step": step + 1, **values})
            torch.set_rng_state(torch_rng)
            rng.setstate(py_rng)
            net.train()
            if checkpoint is not None and step + 1 < cfg.steps and checkpoint.due():
                checkpoint.save(state(step + 1))
    if checkpoint is not None:
        checkpoint.finish(state(cfg.steps), partial=False)
    net.set_active(spec.largest())
    return {"steps": cfg.steps - start, "train_seconds": time.perf_counter() - t0, "train_loss": running,
            "curve": curve, "start": start}


def train_step(net: SuperNet, teacher: SuperNet | None, xb, yb, cfg: SupernetTraining, rng: random.Random,
          step: int) -> float:
    """One optimisation step's forward and backward passes (gradients summed); returns the summed loss."""
    spec, total = net.spec, 0.0
    if cfg.method == "spos":
        net.set_active(sample_subnet(spec, rng))
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        return loss.item()
    if cfg.method == "bignas":
        net.set_active(spec.largest())
        logits = net(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        total += loss.item()
        soft = logits.detach()
        for values in [spec.smallest()] + [sample_subnet(spec, rng) for _ in range(cfg.random_subnets)]:
            net.set_active(values)
            loss = _distill(net(xb), soft, cfg.temperature)
            loss.backward()
            total += loss.item()
        return total
    # ofa: progressive shrinking
    phase = cfg.phase(step)
    if phase == 0:
        net.set_active(spec.largest())
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        return loss.item()
    if teacher is None:  # refused by SupernetTraining: the first phase has a share
        raise ArchscoutError("ofa: no teacher at a later phase; the first phase must have steps")
    teacher.train()  # as OFA's code: the teacher's batch norm on the batch's statistics (it is not trained)
    with torch.no_grad():
        teacher.set_active(spec.largest())
        soft = teacher(xb)
    for _ in range(cfg.random_subnets + 1):
        net.set_active(sample_subnet(spec, rng, OFA_ELASTIC[phase]))
        logits = net(xb)
        loss = F.cross_entropy(logits, yb) + cfg.kd_ratio * _distill(logits, soft, cfg.temperature)
        loss.backward()
        total += loss.item()
    return total
