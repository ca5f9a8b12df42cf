"""The peers of benchmarks/default_search.py: Optuna, NePS and Syne Tune over one hand-written space (issue 30).

Every peer searches the hand-written 1-D CNN / MLP space of benchmarks/_optuna_mnist1d.py (what a user of that tool
writes in an afternoon: 1-4 conv layers with their own width, kernel and stride, batch norm, GAP or flatten, or an
MLP of 1-3 layers, and the learning rate log-uniform in [1e-4, 5e-2]), and every trial is trained by the same
function: archscout's training loop (``archscout.evaluate.training.fit``: Adam, one-cycle, batch 100), on the task's
training part, scored on its validation part. A peer stops starting trials once its wall-time budget is spent.

* ``optuna-tpe``, ``optuna-hyperband``: benchmarks/_optuna_mnist1d.py's objective (TPE; with
  ``HyperbandPruner(steps/10, steps, 3)`` and a report every steps/10 steps).
* ``neps``: ``neps.run`` at its default optimizer for a space with a fidelity (``optimizer="auto"``: NePS 0.17 picks
  ``neps_hyperband`` for a ``PipelineSpace`` with a fidelity and no priors), the fidelity ``steps`` an
  ``IntegerFidelity(steps/10, steps)``; each evaluation trains from the start for ``steps`` steps with a one-cycle
  schedule of that length (NePS hands over no checkpoint unless the user writes one). The space is flat (every
  parameter always drawn; the ones a candidate does not use are ignored), as NePS's own examples write one. NePS stops
  by cost: each evaluation's cost is the wall time since the previous one ended (or since the start), so the budget
  is wall time, NePS's own overhead included.
* ``syne-tune``: Syne Tune 0.16's ``BOHB`` baseline (asynchronous successive halving, stopping type, with its KDE
  searcher) at its defaults (``grace_period=1``, ``reduction_factor=3``, one bracket), the resource being the number
  of reports (one every steps/10 steps, ``max_t=10``), driven in this process through the scheduler's own calls
  (``suggest``, ``on_trial_add``, ``on_trial_result`` after each report and its STOP / CONTINUE decision,
  ``on_trial_complete``) instead of the local backend's one subprocess per trial, which would add an import of
  torch (seconds) to every trial: the scheduler sees what the local backend would show it, with less overhead.

Each returns the trial log (``number``, ``architecture``, ``config``, ``params``, ``started``, ``finished``,
``seconds``, ``steps``, ``val_accuracy``, ``state``, ``reports``) and what it ran (``library``, ``optimizer``).
"""
from __future__ import annotations

import math
import time

import _optuna_mnist1d as hand

PEERS = ("optuna-tpe", "optuna-hyperband", "neps", "syne-tune")


class Trials:
    """The trial log every peer keeps, with times relative to the search's start."""

    def __init__(self, task, seed: int):
        self.task, self.seed, self.t0, self.log = task, seed, time.monotonic(), []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def train(self, cfg: dict, steps: int, report=None, report_every: int = 0) -> dict:
        """Train ``cfg`` for ``steps`` steps (a one-cycle schedule of that length), score it on validation.
        ``report(step, accuracy) -> bool`` is called every ``report_every`` steps; True stops the trial there."""
        from archscout.errors import TrialFailed
        from archscout.evaluate import release_memory
        from archscout.evaluate.training import fit

        entry = {"number": len(self.log), "architecture": hand.describe(cfg), "config": cfg, "started": self.now(),
                 "reports": [], "state": "running", "steps": steps}
        model = hand.build(cfg, self.task.input_shape, self.task.num_classes, self.seed)
        entry["params"] = hand.params_of(model)

        class Stop(Exception):
            pass

        def hook(step, _loss):
            if not report_every or step % report_every:
                return
            acc = hand.accuracy(model, self.task.valid)
            entry["reports"].append([step, acc])
            if report(step, acc):
                entry["stopped_at"] = step
                raise Stop

        try:
            fit(model, self.task.train, hand.recipe(cfg, steps), seed=self.seed, report=hook if report else None)
            last = entry["reports"][-1] if entry["reports"] else None
            acc = last[1] if last is not None and last[0] == steps else hand.accuracy(model, self.task.valid)
            entry.update(state="complete", val_accuracy=acc)
        except Stop:
            entry.update(state="pruned", steps=entry["stopped_at"], val_accuracy=entry["reports"][-1][1])
        except TrialFailed as e:
            entry.update(state="failed", error=str(e), val_accuracy=None)
        finally:
            entry["finished"] = self.now()
            entry["seconds"] = entry["finished"] - entry["started"]
            self.log.append(entry)
            model = None
            release_memory()
        best = max((e["val_accuracy"] for e in self.log if e["state"] == "complete" and e["steps"] == steps
                    and e["val_accuracy"] is not None), default=math.nan)
        acc_text = "failed" if entry["val_accuracy"] is None else f"val {100 * entry['val_accuracy']:.2f} %"
        print(f"#{entry['number']} {entry['architecture']} · {entry['params']:,} params · {entry['steps']} steps · "
              f"{acc_text} ({entry['state']}) · {entry['seconds']:.1f} s [{entry['finished']:.0f} s, best at "
              f"{steps} steps {100 * best:.2f} %]", flush=True)
        return entry


def run_optuna(task, seed: int, seconds: float, steps: int, hyperband: bool) -> tuple[list[dict], dict]:
    import optuna

    from archscout.errors import TrialFailed

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report_every = max(1, steps // 10)
    pruner = (optuna.pruners.HyperbandPruner(min_resource=report_every, max_resource=steps, reduction_factor=3)
              if hyperband else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    log: list[dict] = []
    t0 = time.monotonic()
    objective = hand.objective_factory(task, steps, seed, t0, log, hyperband, report_every)

    def shown(_study, frozen):
        e = next((x for x in reversed(log) if x["number"] == frozen.number), None)
        if e is not None:
            acc = e.get("val_accuracy", e["reports"][-1][1] if e["reports"] else None)
            print(f"#{e['number']} {e['architecture']} · {e['state']} · steps {e.get('steps')} · "
                  f"val {100 * acc if acc is not None else math.nan:.2f} % · {e['seconds']:.1f} s "
                  f"[{e['finished']:.0f} s]", flush=True)

    study.optimize(objective, timeout=seconds, catch=(TrialFailed,), callbacks=[shown], gc_after_trial=False)
    for e in log:  # a pruned trial's score is its last report
        if e["state"] == "pruned" and e["reports"]:
            e["val_accuracy"] = e["reports"][-1][1]
    return log, {"library": f"optuna {optuna.__version__}", "optimizer": f"TPESampler(seed={seed})"
                 + (f" + HyperbandPruner({report_every}, {steps}, 3)" if hyperband else "")}


def _flat(cfg: dict) -> dict:
    """A flat configuration (every parameter drawn) as the hand-written space's candidate."""
    if cfg["model"] == "mlp":
        return {"model": "mlp", "hidden": [int(cfg[f"mlp_width{i}"]) for i in range(int(cfg["mlp_depth"]))],
                "lr": float(cfg["lr"])}
    return {"model": "cnn", "layers": [{"width": int(cfg[f"width{i}"]), "kernel": int(cfg[f"kernel{i}"]),
                                        "stride": int(cfg[f"stride{i}"])} for i in range(int(cfg["depth"]))],
            "bn": cfg["bn"] in (True, "true", "True"), "head": str(cfg["head"]), "lr": float(cfg["lr"])}


def run_neps(task, seed: int, seconds: float, steps: int, root: str) -> tuple[list[dict], dict]:
    import neps
    import numpy as np
    import torch

    trials = Trials(task, seed)
    low, top = max(1, steps // 10), steps
    np.random.seed(seed)
    torch.manual_seed(seed)
    import random
    random.seed(seed)

    # the hand-written space, flat: every parameter is drawn, a candidate uses the ones it needs (see _flat)
    attrs = {"lr": neps.Float(lower=hand.LR_RANGE[0], upper=hand.LR_RANGE[1], log=True),
             "model": neps.Categorical(choices=("cnn", "mlp")), "depth": neps.Integer(lower=1, upper=4),
             "bn": neps.Categorical(choices=("true", "false")), "head": neps.Categorical(choices=("gap", "flatten")),
             "mlp_depth": neps.Integer(lower=1, upper=3), "steps": neps.IntegerFidelity(lower=low, upper=top)}
    for name, count, values in (("width", 4, hand.WIDTHS), ("kernel", 4, hand.KERNELS), ("stride", 4, hand.STRIDES),
                                ("mlp_width", 3, hand.MLP_WIDTHS)):
        attrs.update({f"{name}{i}": neps.Categorical(choices=values) for i in range(count)})
    HandWritten = type("HandWritten", (neps.PipelineSpace,), attrs)

    last_end = [0.0]

    def evaluate_pipeline(**cfg):
        budget = int(cfg.pop("steps"))
        entry = trials.train(_flat(cfg), budget)
        cost = trials.now() - last_end[0]
        last_end[0] = trials.now()
        if entry["val_accuracy"] is None:
            raise RuntimeError(entry.get("error", "trial failed"))
        return {"objective_to_minimize": 1.0 - entry["val_accuracy"], "cost": cost}

    neps.run(evaluate_pipeline=evaluate_pipeline, pipeline_space=HandWritten(), root_directory=root,
             overwrite_root_directory=True, total_cost_to_spend=seconds, ignore_errors=True, optimizer="auto")
    import importlib.metadata as md
    chosen = neps.optimizers.algorithms.determine_optimizer_automatically(HandWritten())
    return trials.log, {"library": f"neural-pipeline-search {md.version('neural-pipeline-search')}",
                        "optimizer": f"auto ({chosen}), fidelity steps in [{max(1, steps // 10)}, {steps}]"}


def run_syne_tune(task, seed: int, seconds: float, steps: int) -> tuple[list[dict], dict]:
    import datetime
    import importlib.metadata as md

    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import choice, loguniform, randint
    from syne_tune.optimizer.baselines import BOHB
    from syne_tune.optimizer.scheduler import SchedulerDecision

    trials = Trials(task, seed)
    space = {"lr": loguniform(*hand.LR_RANGE), "model": choice(["cnn", "mlp"]), "depth": randint(1, 4),
             **{f"width{i}": choice(list(hand.WIDTHS)) for i in range(4)},
             **{f"kernel{i}": choice(list(hand.KERNELS)) for i in range(4)},
             **{f"stride{i}": choice(list(hand.STRIDES)) for i in range(4)},
             "bn": choice([True, False]), "head": choice(["gap", "flatten"]), "mlp_depth": randint(1, 3),
             **{f"mlp_width{i}": choice(list(hand.MLP_WIDTHS)) for i in range(3)}}
    every = max(1, steps // 10)
    max_t = steps // every
    scheduler = BOHB(space, metric="val_accuracy", do_minimize=False, time_attr="report", max_t=max_t,
                     random_seed=seed)
    number = 0
    while trials.now() < seconds:
        suggestion = scheduler.suggest()
        if suggestion is None:
            break
        trial = Trial(trial_id=number, config=suggestion.config, creation_time=datetime.datetime.now())
        number += 1
        scheduler.on_trial_add(trial)
        last: dict = {}

        def report(step, acc, trial=trial, last=last):
            last.update({"val_accuracy": acc, "report": step // every})
            return scheduler.on_trial_result(trial, dict(last)) == SchedulerDecision.STOP and step < steps

        entry = trials.train(_flat(suggestion.config), steps, report, every)
        if entry["val_accuracy"] is None:
            scheduler.on_trial_error(trial)
        elif entry["state"] == "complete":
            scheduler.on_trial_complete(trial, {"val_accuracy": entry["val_accuracy"], "report": max_t})
        else:
            scheduler.on_trial_remove(trial) if trial.trial_id in scheduler.trial_info else None
    return trials.log, {"library": f"syne-tune {md.version('syne-tune')}",
                        "optimizer": f"BOHB(time_attr=report, max_t={max_t}, grace_period=1, reduction_factor=3, "
                                     f"random_seed={seed}), a report every {every} steps, driven in-process"}


def run_peer(arm: str, task, seed: int, seconds: float, steps: int, root: str) -> tuple[list[dict], dict]:
    if arm in ("optuna-tpe", "optuna-hyperband"):
        return run_optuna(task, seed, seconds, steps, arm == "optuna-hyperband")
    if arm == "neps":
        return run_neps(task, seed, seconds, steps, root)
    if arm == "syne-tune":
        return run_syne_tune(task, seed, seconds, steps)
    raise SystemExit(f"unknown peer {arm!r}; peers: {', '.join(PEERS)}")
