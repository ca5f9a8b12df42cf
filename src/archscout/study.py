"""Study: one named search (space, task, objective, constraints, strategy, budget, seed) and its loop."""
from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .errors import ArchscoutError, TrialFailed
from .evaluate import Infeasible, LatencyConfig, TrainingEvaluator, release_memory
from .evaluate.training import TrainConfig
from .metrics import Constraint, check_metric, direction
from .space import Architecture, Space, get_space
from .storage import FINISHED, Storage, TrialRow
from .strategy import canonical_name, make_strategy
from .tasks import Task, check_task_name, get_task

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
MAX_DUPLICATE_STREAK = 500


def parse_duration(text: str | float | int | None) -> float | None:
    """Seconds from ``90``, ``90s``, ``30m``, ``1.5h``, ``1h30m``; None passes through."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", s)
        if not s or not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([hms]?)", "", s).strip():
            raise ArchscoutError(f"cannot read time budget {text!r}; use e.g. 90s, 30m, 1.5h or 1h30m")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)
    if not seconds > 0 or not math.isfinite(seconds):
        raise ArchscoutError(f"time budget must be positive, got {text!r}")
    return seconds


def check_budget(trials: int | None, time_budget: str | float | None) -> float | None:
    """Validate a search budget; returns the time budget in seconds (or None)."""
    seconds = parse_duration(time_budget)
    if trials is None and seconds is None:
        raise ArchscoutError("give a budget: a number of trials (--trials), a time budget (--time-budget), or both")
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        raise ArchscoutError(f"the number of trials must be a positive integer, got {trials!r}")
    return seconds


@dataclass
class Trial:
    """One evaluated (or failed) candidate as stored."""

    number: int
    arch: Architecture
    status: str
    metrics: dict
    details: dict
    error: str | None
    budget: str
    seed: int
    duration: float | None
    id: int
    final: dict = field(default_factory=dict)  # test_accuracy mean/std over seeds, when retrained
    _study: "Study | None" = field(default=None, repr=False)

    def build(self):
        """An untrained ``nn.Module`` for the study's task."""
        task = self._study.task
        return self.arch.build(task.input_shape, task.num_classes)

    def export(self, path: str) -> dict:
        """Write model.onnx, model.pt (state dict), architecture.json and metrics.json to ``path``."""
        from .export import export_trial
        return export_trial(self._study, self, path)


class Study:
    """A named search stored in a database; re-creating it with the same name resumes it.

    Example::

        study = Study("digits-mlp", space="mlp", task="digits", storage="sqlite:///runs.db",
                      train={"steps": 300}, constraints=["params <= 20000"])
        study.run(strategy="evolution", trials=20)
        best = study.best()
    """

    def __init__(self, name: str | None = None, *, space: str | Space = "conv1d", task: str | Task = "mnist1d",
                 objective: str = "accuracy", constraints: Iterable[str] = (), strategy: str = "evolution",
                 strategy_options: dict | None = None, storage: str | Storage = "sqlite:///archscout.db",
                 train: TrainConfig | dict | None = None, final_train: TrainConfig | dict | None = None,
                 seed: int = 0, latency: LatencyConfig | None = None):
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ArchscoutError(f"seed must be a non-negative integer, got {seed!r}")
        self.space = get_space(space)
        self._task_ref = task
        self._task: Task | None = task if isinstance(task, Task) else None
        task_name = task.name if isinstance(task, Task) else str(task)
        if isinstance(task, str):
            check_task_name(task)  # the data itself is loaded when first needed
        self.name = name or f"{_safe(task_name)}-{self.space.name}"
        if not _NAME.match(self.name):
            raise ArchscoutError(f"study name {self.name!r}: use letters, digits and . _ - : (up to 200), "
                                 f"starting with a letter or digit")
        self.objective = check_metric(objective)
        if self.objective == "test_accuracy":
            raise ArchscoutError("the objective cannot be test_accuracy: selection uses validation data only")
        self.constraints = [Constraint.parse(c) for c in constraints]
        self.strategy_name = canonical_name(strategy)
        self.strategy_options = dict(strategy_options or {})
        make_strategy(self.strategy_name, self.space, seed=seed, **self.strategy_options)  # validate options
        self.train_config = _train_config(train, TrainConfig())
        self.final_train = _train_config(final_train, self.train_config.with_(
            steps=self.train_config.steps * 3, epochs=None if self.train_config.epochs is None
            else self.train_config.epochs * 3))
        self.seed = seed
        self.latency = latency or LatencyConfig()
        self.storage = storage if isinstance(storage, Storage) else Storage(storage)
        config = self._config(task_name)
        row = self.storage.get_study(self.name)
        if row is None:
            row = self.storage.create_study(self.name, config)
        else:
            _check_same(self.name, row.config, config)
        self.id = row.id

    # -- construction helpers -----------------------------------------------------------
    def _config(self, task_name: str) -> dict:
        return {
            "space": self.space.name, "space_fingerprint": self.space.fingerprint(),
            "task": task_name, "objective": self.objective,
            "constraints": [str(c) for c in self.constraints], "strategy": self.strategy_name,
            "strategy_options": self.strategy_options, "seed": self.seed,
            "train": self.train_config.as_dict(), "budget": self.train_config.budget_key(),
            "final_train": self.final_train.as_dict(),
        }

    @classmethod
    def load(cls, name: str, storage: str | Storage = "sqlite:///archscout.db", space: Space | None = None,
             task: Task | None = None) -> "Study":
        """Open an existing study with the settings it was created with."""
        store = storage if isinstance(storage, Storage) else Storage(storage)
        row = store.get_study(name)
        if row is None:
            names = [s["name"] for s in store.list_studies()]
            from .errors import unknown_name
            if names:
                raise unknown_name("study", name, names)
            raise ArchscoutError(f"no study named {name!r} in {store.url} (the database holds no studies)")
        cfg = row.config
        if space is None:
            space = get_space(cfg["space"]) if cfg["space"] in _builtin_spaces() else None
            if space is None:
                raise ArchscoutError(f"study {name!r} uses the custom space {cfg['space']!r}; open it from Python "
                                     f"with Study.load(name, storage, space=...)")
        return cls(name, space=space, task=task if task is not None else cfg["task"], objective=cfg["objective"],
                   constraints=cfg["constraints"], strategy=cfg["strategy"],
                   strategy_options=cfg["strategy_options"], storage=store, train=cfg["train"],
                   final_train=cfg.get("final_train"), seed=cfg["seed"])

    @property
    def task(self) -> Task:
        if self._task is None:
            self._task = get_task(self._task_ref)
        return self._task

    def evaluator(self) -> TrainingEvaluator:
        return TrainingEvaluator(self.task, self.train_config, self.latency)

    # -- reading ----------------------------------------------------------------------
    def _score(self, metrics: dict) -> float | None:
        value = metrics.get(self.objective)
        if value is None or not math.isfinite(value):
            return None
        return value if direction(self.objective) == "max" else -value

    def trials(self, status: str | None = None) -> list[Trial]:
        finals = self._final_summary()
        out = []
        for r in self.storage.trials(self.id):
            if status is not None and r.status != status:
                continue
            out.append(self._trial(r, finals.get(r.id, {})))
        return out

    def _trial(self, r: TrialRow, final: dict) -> Trial:
        arch = Architecture.from_json(r.arch, self.space)
        return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                     final, self)

    def _final_summary(self) -> dict[int, dict]:
        by_trial: dict[int, list] = {}
        for f in self.storage.finals(self.id):
            if f.budget == self.final_train.budget_key():
                by_trial.setdefault(f.trial_id, []).append(f)
        out = {}
        for tid, rows in by_trial.items():
            accs = [r.metrics["test_accuracy"] for r in rows]
            out[tid] = {"test_accuracy_mean": statistics.fmean(accs),
                        "test_accuracy_std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
                        "seeds": len(accs), "test_accuracies": accs}
        return out

    def leaderboard(self, n: int | None = None) -> list[Trial]:
        """Completed trials that meet every constraint, best objective first (ties: lower validation loss)."""
        ranked = [t for t in self.trials("complete") if self._score(t.metrics) is not None]
        # accuracy on a few hundred validation samples ties often; the validation loss breaks ties
        ranked.sort(key=lambda t: (-self._score(t.metrics), t.metrics.get("loss", math.inf), t.number))
        return ranked[:n] if n else ranked

    def best(self) -> Trial:
        board = self.leaderboard(1)
        if not board:
            raise ArchscoutError(f"study {self.name!r} has no completed trial yet")
        return board[0]

    def front(self) -> list[Trial]:
        """The trials not dominated on the objective: with one objective, the best one."""
        return [self.best()]

    @property
    def search_seconds(self) -> float:
        row = self.storage.get_study(self.name)
        return row.search_seconds if row else 0.0

    # -- the search loop ----------------------------------------------------------------
    def run(self, trials: int | None = None, time_budget: str | float | None = None, *,
            strategy: str | None = None, final_top_k: int = 3, final_seeds: int = 3,
            progress: bool | Callable | None = None) -> "Study":
        """Search until ``trials`` evaluated trials (in total) or ``time_budget`` of search time (in total),
        then retrain the ``final_top_k`` best on all training data with ``final_seeds`` seeds."""
        if strategy is not None and canonical_name(strategy) != self.strategy_name:
            raise ArchscoutError(f"study {self.name!r} uses strategy {self.strategy_name!r}, not {strategy!r}; "
                                 f"start a new study (another name) to compare strategies")
        self.search(trials=trials, time_budget=time_budget, progress=progress)
        if final_top_k > 0 and final_seeds > 0:
            self.finalize(top_k=final_top_k, seeds=final_seeds, progress=progress)
        return self

    def search(self, trials: int | None = None, time_budget: str | float | None = None,
               progress: bool | Callable | None = None) -> list[Trial]:
        seconds = check_budget(trials, time_budget)
        task = self.task
        self._check_task(task)
        self._check_space_fits(task)
        evaluator = self.evaluator()
        budget = evaluator.budget_key
        strategy = make_strategy(self.strategy_name, self.space, seed=self.seed, **self.strategy_options)
        self.storage.mark_interrupted(self.id)

        known: dict[str, dict | None] = {}
        counted = 0
        for r in self.storage.trials(self.id):
            if r.status not in FINISHED:
                continue
            counted += 1
            arch = Architecture.from_json(r.arch, self.space)
            score = self._score(r.metrics) if r.status == "complete" else None
            if r.budget == budget:
                known[r.arch_id] = r.metrics if r.status == "complete" else None
            strategy.tell(arch, score)

        reporter = _reporter(progress, trials, seconds)
        used = self.search_seconds
        best = max((s for s in (self._score(m) for m in known.values() if m) if s is not None), default=None)
        reporter.start(counted, used, best, self)
        new: list[Trial] = []
        streak = 0
        started = time.monotonic()
        mark = started
        try:
            while (trials is None or counted < trials) and (seconds is None or used < seconds):
                arch = strategy.ask()
                if arch.id in known:  # evaluated at this budget already: tell, do not train again
                    metrics = known[arch.id]
                    strategy.tell(arch, self._score(metrics) if metrics else None)
                    streak += 1
                    if streak >= MAX_DUPLICATE_STREAK:
                        reporter.note(f"the strategy proposed {streak} already-evaluated architectures in a "
                                      f"row; the space looks exhausted, stopping the search")
                        break
                    continue
                streak = 0
                row = self.storage.start_trial(self.id, arch.id, arch.to_json(), budget, self.seed)
                status, metrics, details, error = self._evaluate(evaluator, arch)
                release_memory()
                self.storage.finish_trial(row.id, status, metrics, details, error)
                now = time.monotonic()
                self.storage.add_search_seconds(self.id, now - mark)
                used += now - mark
                mark = now
                counted += 1
                score = self._score(metrics) if status == "complete" else None
                known[arch.id] = metrics if status == "complete" else None
                strategy.tell(arch, score)
                if score is not None and (best is None or score > best):
                    best = score
                trial = Trial(row.number, arch, status, metrics, details, error, budget, self.seed,
                              None, row.id, {}, self)
                new.append(trial)
                reporter.trial(trial, counted, used, best)
        except KeyboardInterrupt:
            self.storage.mark_interrupted(self.id)
            self.storage.add_search_seconds(self.id, time.monotonic() - mark)
            reporter.stop()
            raise
        self.storage.add_search_seconds(self.id, time.monotonic() - mark)
        reporter.stop()
        return new

    def _evaluate(self, evaluator: TrainingEvaluator, arch: Architecture) -> tuple[str, dict, dict, str | None]:
        cost_constraints = [c for c in self.constraints if c.is_cost]

        def cost_check(m: dict) -> str | None:
            return next((r for r in (c.check(m) for c in cost_constraints) if r), None)

        try:
            ev = evaluator.evaluate(arch, seed=self.seed, cost_check=cost_check)
        except Infeasible as e:
            return "infeasible", e.metrics, {}, str(e)
        except TrialFailed as e:
            return "failed", {}, {}, str(e)
        except (ArchscoutError, RuntimeError, ValueError, TypeError, IndexError, MemoryError) as e:
            return "failed", {}, {}, f"{type(e).__name__}: {e}"
        violated = next((r for r in (c.check(ev.metrics) for c in self.constraints) if r), None)
        if violated:
            return "infeasible", ev.metrics, ev.details, violated
        return "complete", ev.metrics, ev.details, None

    def _check_space_fits(self, task: Task) -> None:
        """A space that cannot take the task's inputs at all is the user's error, not a failing trial."""
        try:
            self.space.sample(self.seed).build(task.input_shape, task.num_classes)
        except ArchscoutError as e:
            raise ArchscoutError(f"space {self.space.name!r} does not fit task {task.name!r}: {e}") from None
        except Exception:  # noqa: BLE001 - a candidate-specific failure is recorded per trial
            pass

    def _check_task(self, task: Task) -> None:
        if len(task.train) < 2 or len(task.valid) < 1:
            raise ArchscoutError(f"task {task.name!r} has too little data to search on")
        config = self.storage.get_study(self.name).config
        fingerprint = task.fingerprint()
        if "task_fingerprint" not in config:
            self.storage.update_config(self.id, {**config, "task_fingerprint": fingerprint})
        elif config["task_fingerprint"] != fingerprint:
            raise ArchscoutError(f"study {self.name!r} was searched on different data for task {task.name!r}; "
                                 f"use a new study name for this data")

    # -- final retraining ---------------------------------------------------------------
    def finalize(self, top_k: int = 3, seeds: int = 3, progress: bool | Callable | None = None) -> list[Trial]:
        """Retrain the top-k trials (by the objective, on validation) on all training data with ``seeds``
        seeds; store test accuracy and weights. Pairs already stored are not trained again."""
        if top_k < 1 or seeds < 1:
            raise ArchscoutError("final retraining needs top_k >= 1 and seeds >= 1")
        top = self.leaderboard(top_k)
        if not top:
            n = len(self.trials())
            raise ArchscoutError(f"study {self.name!r} has no completed trial to retrain ({n} trials failed or "
                                 f"broke a constraint); see `archscout show {self.name} --failed` for the reasons")
        evaluator = self.evaluator()
        budget = self.final_train.budget_key()
        done = {(f.trial_id, f.seed) for f in self.storage.finals(self.id) if f.budget == budget}
        todo = [(t, s) for t in top for s in range(seeds) if (t.id, s) not in done]
        reporter = _reporter(progress, len(todo), None)
        reporter.start_final(len(todo))
        for i, (t, s) in enumerate(todo):
            ev, weights = evaluator.final(t.arch, seed=s, train_config=self.final_train)
            release_memory()
            self.storage.add_final(self.id, t.id, s, budget, ev.metrics, ev.details, weights)
            reporter.final(t, s, ev.metrics, i + 1, len(todo))
        reporter.stop()
        ids = {t.id for t in top}
        return [t for t in self.trials() if t.id in ids]

    def final_weights(self, trial: Trial, seed: int = 0) -> bytes | None:
        budget = self.final_train.budget_key()
        for f in self.storage.finals(self.id, with_weights=True):
            if f.trial_id == trial.id and f.seed == seed and f.budget == budget:
                return f.weights
        return None


def _builtin_spaces() -> list[str]:
    from .space import list_spaces
    return list_spaces()


def _safe(name: str) -> str:
    import os
    base = os.path.splitext(os.path.basename(name))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base) or "task"


def _train_config(value: TrainConfig | dict | None, default: TrainConfig) -> TrainConfig:
    if value is None:
        return default
    if isinstance(value, TrainConfig):
        return value
    if not isinstance(value, dict):
        raise ArchscoutError(f"training settings must be a TrainConfig or a dict, got {value!r}")
    fields = TrainConfig.__dataclass_fields__
    bad = [k for k in value if k not in fields]
    if bad:
        raise ArchscoutError(f"unknown training setting(s) {', '.join(bad)}; known: {', '.join(fields)}")
    return TrainConfig(**value)


def _check_same(name: str, stored: dict, wanted: dict) -> None:
    keys = ["space", "space_fingerprint", "task", "objective", "constraints", "strategy", "strategy_options",
            "seed", "budget", "final_train"]
    diff = [k for k in keys if k in stored and stored.get(k) != wanted.get(k)]
    if diff:
        parts = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {wanted.get(k)!r}" for k in diff
                          if k != "space_fingerprint")
        raise ArchscoutError(f"study {name!r} already exists with other settings ({parts or 'space definition'}). "
                             f"Resume it with the same settings, or pick another name with --study")


def _reporter(progress, trials, seconds):
    from .report.progress import make_reporter
    return make_reporter(progress, trials, seconds)
