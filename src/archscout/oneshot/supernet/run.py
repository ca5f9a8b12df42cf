"""Training a supernet for a task end to end: plan the steps, train with checkpoints, write the file.

:func:`train_for_task` is what ``archscout supernet train`` runs. With a time budget the number of steps is
planned from the measured time of a few steps (then fixed, and stored with the checkpoints so a resumed
run keeps it). Checkpoints go to ``OUT.checkpoints/`` next to the output file, are saved every
``ARCHSCOUT_CHECKPOINT_EVERY`` seconds (default 30), and are deleted once the file is written; running the
same command again after a crash continues from the last one. The training curve is the validation
accuracy of the largest and the smallest sub-network (batch norms recalibrated) at ten points.
"""
from __future__ import annotations

import copy
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from ...errors import ArchscoutError
from ...evaluate.checkpoints import CheckpointStore
from ...evaluate.training import BatchStream, make_optimizer, predict, scores
from .elastic import elastic_spec
from .net import SuperNet, recalibrate
from .store import save_supernet
from .train import SupernetTraining, train_step, train_supernet

PLAN_STEPS = 5  # steps timed to plan a time budget


def plan_steps(net: SuperNet, split, training: SupernetTraining, seconds: float, seed: int = 0, device=None) -> int:
    """How many steps of ``training`` fit in ``seconds``, from the time of a few steps on a throwaway copy."""
    probe = copy.deepcopy(net).to(device or torch.device("cpu"))
    opt = make_optimizer(probe, training.recipe())
    stream = BatchStream(split, min(training.batch_size, len(split)), seed)
    rng = random.Random(seed)
    probe.train()
    # the costliest phase: OFA's last (a first share must be above 0, so a vanishing one), the others' only one
    timed = replace(training, ofa_phases=(1e-9, 0.0, 0.0, 1.0)) if training.method == "ofa" else training
    teacher = copy.deepcopy(probe).eval().requires_grad_(False) if training.method == "ofa" else None
    t0 = None
    for i in range(PLAN_STEPS + 1):
        if i == 1:
            t0 = time.perf_counter()  # the first step warms up
        xb, yb = stream.next()
        opt.zero_grad(set_to_none=True)
        train_step(probe, teacher, xb, yb, timed, rng, PLAN_STEPS)
        opt.step()
    per_step = (time.perf_counter() - t0) / PLAN_STEPS if t0 is not None else 1.0
    return max(10, int(seconds / max(per_step, 1e-6)))


def train_for_task(task, space: str, out: str, training: SupernetTraining, *, seed: int = 0,
                   time_budget: float | None = None, device=None, progress: Callable[[str], None] | None = None,
                   step_progress: Callable[[int, int, float], None] | None = None) -> dict:
    """Train the supernet of ``space`` for ``task`` and write it to ``out``; returns the file's header."""
    if task.kind != "classification":
        raise ArchscoutError(f"a supernet is trained for a classification task; {task.name!r} is a {task.kind}")
    spec = elastic_spec(space[:-len("-elastic")] if space.endswith("-elastic") else space)
    reason = spec.space().accepts(task, seed=seed)
    if reason is not None:
        raise ArchscoutError(f"the {spec.base} supernet does not fit task {task.name!r}: {reason}")
    say = progress or (lambda text: None)
    torch.manual_seed(seed)
    net = SuperNet(spec, task.input_shape, task.num_classes)
    store = CheckpointStore(f"{out}.checkpoints")
    plan_file = os.path.join(str(store.root), "plan.json")
    key = json.dumps({"spec": spec.as_dict(), "training": {**training.as_dict(), "steps": None}, "seed": seed,
                      "task": task.fingerprint(), "time_budget": time_budget}, sort_keys=True)
    if time_budget is not None:
        planned = None
        if os.path.exists(plan_file):
            with open(plan_file) as f:
                plan = json.load(f)
            if plan.get("key") == key:
                planned = int(plan["steps"])
                say(f"resuming the planned {planned:,} steps")
        if planned is None:
            planned = plan_steps(net, task.train, training, time_budget, seed, device)
            os.makedirs(str(store.root), exist_ok=True)
            with open(plan_file, "w") as f:
                json.dump({"key": key, "steps": planned}, f)
            say(f"{time_budget:g} s fit about {planned:,} steps of {training.method}")
        training = replace(training, steps=planned)
    line = store.line("supernet", key, seed)
    n = len(task.train)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:min(n, 2000)].sort().values
    X = torch.as_tensor(task.train.take(idx.numpy()))
    calibration = [X[i:i + 200] for i in range(0, len(X), 200)]

    def accuracy(values: dict) -> float:
        sub = net.extract(values)
        recalibrate(sub, calibration)
        return float(scores(predict(sub, task.valid), task.valid.y, task.kind, task.preprocessing)["accuracy"])

    def validate(step: int) -> dict:
        values = {"largest": accuracy(spec.largest()), "smallest": accuracy(spec.smallest())}
        say(f"step {step:>7,}/{training.steps:,}  val accuracy: largest {values['largest']:.4f}  "
            f"smallest {values['smallest']:.4f}")
        return values

    def tick(step: int, loss: float) -> None:
        if step_progress is not None:
            step_progress(step, training.steps, loss)

    result = train_supernet(net, task.train, training, seed, checkpoint=line, validate=validate, progress=tick,
                            device=device, every=max(1, training.steps // 100))
    if result["start"]:
        say(f"continued from the checkpoint at step {result['start']:,}")
    net.to("cpu")
    header = save_supernet(net, out, task=task, training=training, seed=seed,
                           train_seconds=result["train_seconds"], curve=result["curve"])
    store.clean()
    return header
