"""Your own evaluator: a Python function (or Evaluator class) named by reference, ``module:attr`` or
``path/to/file.py:attr``, on the command line (``--evaluator``), in config files and in a study's stored
settings (as ``python:REFERENCE``), so that resume, ``--workers`` and Ray import it again.

A function is declared with :func:`evaluator`, which says what it measures::

    import archscout

    @archscout.evaluator(measures={"val_mse": "min", "accuracy": "max"})
    def my_training(model, ctx):
        ...  # train ``model`` (built for the study's task) your way, on ctx.device
        ctx.report(step, val_mse=...)  # intermediate values, stored with the trial
        return {"val_mse": ..., "accuracy": ...}

``model=True`` (the default): the function receives the network built for the study's task, after its
cost metrics (params, FLOPs, size, latency) are measured, so cost constraints still reject a candidate
before the function runs; it is given ``ctx`` (:class:`Context`: architecture, seed, fidelity, device,
task, training settings, ``report``). ``model=False``: it receives the architecture and measures
everything itself (no task needed). Metrics it declares join the vocabulary: objectives, constraints and
reports name them like built-ins. A class subclassing :class:`~archscout.evaluate.Evaluator` may be named
the same way; its ``measures`` are its metrics and ``directions`` (``{name: "max"|"min"}``) names new ones.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ArchscoutError, TrialFailed
from ..metrics import METRICS, register_metric
from .base import EVALUATORS, Evaluation, Evaluator
from .measure import LatencyConfig, NetworkEvaluator
from .stopping import EarlyStopped, columns
from .training import TrainConfig

PREFIX = "python"


@dataclass(frozen=True)
class Declaration:
    """What a user's function measures (``{metric: direction}``), whether it takes the built model, and the
    fidelity keys it understands."""

    measures: dict
    model: bool = True
    fidelities: tuple = ()


def evaluator(measures, *, model: bool = True, fidelities: tuple | list = ()) -> Callable:
    """Declare a function as an archscout evaluator. ``measures``: ``{name: "max"|"min"}`` (a list may name
    built-in metrics, whose directions are known); ``model``: whether it receives the network built for the
    study's task (else the architecture); ``fidelities``: fidelity keys it reads from ``ctx.fidelity``."""
    declared = _declare(measures, "@archscout.evaluator")
    fid = tuple(fidelities)

    def mark(fn: Callable) -> Callable:
        if not callable(fn):
            raise ArchscoutError(f"@archscout.evaluator decorates a function, got {fn!r}")
        fn.__archscout_evaluator__ = Declaration(declared, bool(model), fid)  # type: ignore[attr-defined]
        return fn
    return mark


def _declare(measures, where: str) -> dict:
    if isinstance(measures, str):
        measures = [measures]
    if isinstance(measures, (list, tuple)):
        out = {}
        for m in measures:
            if not isinstance(m, str) or m not in METRICS:
                raise ArchscoutError(f"{where}: {m!r} is not a known metric; give measures as a dict "
                                     f"{{name: 'max' or 'min'}} to declare a new one")
            out[m] = METRICS[m]
        measures = out
    if not isinstance(measures, dict) or not measures:
        raise ArchscoutError(f"{where}: measures is a dict {{metric: 'max' or 'min'}} naming at least one metric")
    for name, way in measures.items():
        if name in METRICS and "@" not in name:
            if way != METRICS[name]:
                raise ArchscoutError(f"{where}: {name!r} is a built-in metric with direction {METRICS[name]}, not "
                                     f"{way!r}")
        else:
            register_metric(name, way)
    return dict(measures)


@dataclass
class Context:
    """What a user's evaluator is given besides the model: the architecture, the seed (set for torch already),
    the fidelity (None: the study's own budget), the ``torch.device`` to train on, the study's task (None
    without one), its training settings, and :meth:`report` for intermediate values."""

    arch: Any
    seed: int
    fidelity: dict | None
    device: Any
    task: Any
    train: TrainConfig
    guard: Any = None
    final: bool = False  # the final retraining: task.train is training + validation data, task.valid the test split
    reported: list = field(default_factory=list)
    checkpoint: Any = None  # the study's checkpoint line of this architecture and seed (None: no checkpoints)

    def load_checkpoint(self) -> dict | None:
        """What :meth:`save_checkpoint` saved for this architecture and seed at a budget at or below this
        trial's: the end of a lower fidelity's run (this trial is its promotion: continue from it) or a save
        of this run before its process died; None: start from the beginning. Its ``"step"`` is where it was
        saved (in the fidelity's unit)."""
        if self.checkpoint is None:
            return None
        return self.checkpoint.latest(self.budget)

    def save_checkpoint(self, state: dict, step: float) -> None:
        """Save ``state`` (state dicts, tensors, numbers, lists, dicts: what ``torch.load(weights_only=True)``
        reads back) at ``step`` of this run, in the fidelity's unit; a promotion of this architecture, or this
        trial run again after a crash, gets it from :meth:`load_checkpoint`. Nothing happens without a
        checkpoint folder (the final retraining, a study evaluated outside a search)."""
        if self.checkpoint is not None:
            self.checkpoint.save({**state, "step": float(step)})

    @property
    def budget(self) -> float:
        """This trial's budget in its fidelity's unit (infinite at the study's own budget)."""
        if not self.fidelity or len(self.fidelity) != 1:
            return math.inf
        return float(next(iter(self.fidelity.values())))

    def report(self, step: int, **values: float) -> None:
        """Record intermediate values at ``step`` (stored with the trial as its learning curve); also checks
        the per-trial time and memory limits, and the study's early-stopping rule (``--early-stop``) when
        the values include its first objective: a trial stopped there ends with those values."""
        bad = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise TrialFailed(f"ctx.report: {', '.join(bad)} must be numbers")
        self.reported.append({"step": int(step), **{k: float(v) for k, v in values.items()}})
        self.check()
        observe = getattr(self.guard, "observe", None)
        if observe is not None and not self.final:  # the study's early-stopping rule may end the trial here
            observe(int(step), self.reported[-1])

    def check(self) -> None:
        """Raise (the trial fails) when a per-trial time or memory limit is exceeded; call it now and then."""
        if self.guard is not None:
            self.guard.check()


SESSION = "<session>"  # the reference of a function defined where no import finds it (a notebook, a script's body)
_SESSION: dict[str, Callable] = {}


def reference_for(fn: Callable) -> str:
    """The reference a study stores for a declared function given as an object: ``module:attr`` when importing
    finds it again, else ``<session>:NAME``, usable in this process only (the local executor)."""
    from ..registry import reference_of
    reference = reference_of(fn)
    if reference is not None:
        return reference
    reference = f"{SESSION}:{fn.__qualname__}"
    _SESSION[reference] = fn
    return reference


def load_target(reference: str):
    """The function or Evaluator class a reference names, checked: a declared function or an Evaluator subclass."""
    from ..registry import load_reference
    if reference.startswith(SESSION + ":"):
        if reference not in _SESSION:
            raise ArchscoutError(f"evaluator {reference.partition(':')[2]} was defined in an interactive session or "
                                 f"a script's body, which nothing can import here; pass the function again "
                                 f"(Study(..., evaluator=fn)) in this process, or put it in a module and name it "
                                 f"module:attr or path/to/file.py:attr so that workers, Ray and a resume find it")
        return _SESSION[reference]
    obj = load_reference(reference, "evaluator")
    if isinstance(obj, type) and issubclass(obj, Evaluator):
        for name, way in getattr(obj, "directions", {}).items():
            register_metric(name, way)
        return obj
    if callable(obj):
        if not isinstance(getattr(obj, "__archscout_evaluator__", None), Declaration):
            raise ArchscoutError(f"evaluator {reference}: declare what it measures with "
                                 f"@archscout.evaluator(measures={{'metric': 'max'}}) above the function")
        return obj
    raise ArchscoutError(f"evaluator {reference}: expected a function declared with @archscout.evaluator or an "
                         f"Evaluator class, got {type(obj).__name__}")


def check_metrics(returned, declared: dict, where: str) -> dict:
    """A user's returned metrics, checked: a dict of declared names to finite numbers (TrialFailed otherwise)."""
    if not isinstance(returned, dict):
        raise TrialFailed(f"{where} returned {type(returned).__name__}, not a dict of metrics")
    out = {}
    for k, v in returned.items():
        if k not in declared:
            raise TrialFailed(f"{where} returned metric {k!r}, which it does not declare (declared: "
                              f"{', '.join(declared)})")
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:  # a numpy or torch scalar
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TrialFailed(f"{where} returned {k} = {v!r}, not a number")
        if not math.isfinite(v):
            raise TrialFailed(f"{where} returned {k} = {v}, not a finite number")
        out[k] = float(v)
    missing = [k for k in declared if k not in out]
    if missing:
        raise TrialFailed(f"{where} did not return {', '.join(missing)}, which it declares")
    return out


@EVALUATORS.register(PREFIX)
class PythonEvaluator(NetworkEvaluator):
    """A user's function named by reference (``--evaluator module:attr`` or ``path/file.py:attr``): see the module."""

    name = PREFIX
    resumable = True  # ctx.load_checkpoint / ctx.save_checkpoint reach the study's checkpoint folder
    measures: ClassVar[tuple[str, ...]] = ()
    _known: ClassVar[dict] = {}  # reference -> declared {metric: direction}, also from a stored study (reading)

    # -- what a study asks of the spec ------------------------------------------------------------
    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if not options:
            raise ArchscoutError("the python evaluator names a function: --evaluator module:attr or "
                                 "path/to/file.py:attr")
        reference = _canonical(options)
        if load:
            cls._declaration(reference)
        return reference

    @classmethod
    def _declaration(cls, reference: str) -> dict:
        if reference not in cls._known:
            target = load_target(reference)
            if isinstance(target, type):
                measures = getattr(target, "measures", ())
                cls._known[reference] = {"__class__": True, **{m: METRICS.get(m, "max") for m in measures}}
            else:
                decl = target.__archscout_evaluator__
                cls._known[reference] = {"__model__": decl.model, "__fidelities__": decl.fidelities,
                                         **decl.measures}
        return cls._known[reference]

    @classmethod
    def remember(cls, reference: str, metrics: dict, model: bool) -> None:
        """What a stored study says its evaluator measures (and whether it was given networks of a task), for
        opening it where the code cannot be imported."""
        for name, way in metrics.items():
            if name not in METRICS:
                register_metric(name, way)
        cls._known.setdefault(reference, {"__reading__": True, "__model__": model, **metrics})

    @classmethod
    def declared(cls, options: str) -> dict:
        return {k: v for k, v in cls._declaration(options).items() if not k.startswith("__")}

    @classmethod
    def _takes_model(cls, options: str) -> bool:
        decl = cls._declaration(options)
        return bool(decl.get("__model__", True)) and not decl.get("__class__")

    @classmethod
    def takes_task(cls, options: str = "") -> bool:
        return cls._given_networks(options, "takes_task")

    @classmethod
    def does_train(cls, options: str = "") -> bool:
        return cls._given_networks(options, "does_train")

    @classmethod
    def _given_networks(cls, options: str, asked: str) -> bool:
        """A class answers for itself (``asked``); a function builds on the task and trains unless model=False."""
        decl = cls._declaration(options)
        if decl.get("__class__"):
            return getattr(load_target(options), asked)("")
        return bool(decl.get("__model__", True))

    @classmethod
    def measured(cls, options: str = "") -> tuple[str, ...]:
        costs = ("params", "flops", "size_bytes@fp32", "latency_ms") if cls._takes_model(options) else ()
        return tuple(cls.declared(options)) + costs

    @classmethod
    def can_measure(cls, metric: str, options: str = "") -> bool:
        if cls._declaration(options).get("__reading__"):
            return True  # opened for reading: the stored settings were checked when the study was made
        if cls._declaration(options).get("__class__"):
            return load_target(options).can_measure(metric, "")
        return metric in cls.measured(options) or cls._takes_model(options) and metric.startswith(cls.on_request)

    @classmethod
    def default_objective(cls, options: str = "") -> str:
        return next(iter(cls.declared(options)))

    @classmethod
    def budget(cls, options: str, train: TrainConfig) -> str:
        """Its reference, with the study's training settings when it trains the study's networks (they are in
        ``ctx.train``)."""
        return f"{PREFIX}:{options}" + (f"|{train.budget_key()}" if cls.takes_task(options) else "")

    @classmethod
    def check_space(cls, options: str, space) -> None:
        decl = cls._declaration(options)
        if decl.get("__class__"):
            load_target(options).check_space("", space)

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> NetworkEvaluator:
        decl = cls._declaration(options)
        if decl.get("__class__"):
            return ByReference(options, task, train, latency, list(metrics))  # type: ignore[return-value]
        ev = cls(task, train, latency, metrics)
        ev.reference = options
        ev.fidelities = tuple(decl.get("__fidelities__", ()))  # type: ignore[misc]
        return ev

    # -- a search -------------------------------------------------------------------------------
    reference: str = ""

    @property
    def spec(self) -> str:
        return f"{PREFIX}:{self.reference}"

    @property
    def budget_key(self) -> str:
        return self.budget(self.reference, self.train_config)

    def __getstate__(self):  # the function travels by its reference, imported again where it runs
        return {**super().__getstate__(), "_fn": None}

    def after_trial(self) -> None:
        """Memory goes back to the OS after trials that built a network; a function given architectures built none."""
        if self._takes_model(self.reference):
            super().after_trial()

    def _function(self):
        fn = getattr(self, "_fn", None)
        if fn is None:
            try:
                fn = self._fn = load_target(self.reference)
            except ArchscoutError as e:  # a worker (pool, Ray) where the code cannot be imported: this trial fails
                import socket
                raise TrialFailed(f"the process evaluating this trial (pid {__import__('os').getpid()} on "
                                  f"{socket.gethostname()}) cannot load the evaluator: {e}") from None
        return fn

    def evaluate(self, arch, seed: int = 0, cost_check=None, guard=None, fidelity: dict | None = None) -> Evaluation:
        import torch

        fn = self._function()
        declared = self.declared(self.reference)
        if fidelity:
            self.check_fidelity(fidelity)
        details: dict = {}
        metrics: dict = {}
        device = self.torch_device()
        ctx = Context(arch, seed, fidelity, device, self.task if self._takes_model(self.reference) else None,
                      self.with_recipe(self.train_config, arch), guard)
        if self.checkpoints is not None:  # one run per architecture, seed and training settings
            config = self.with_recipe(self.train_config, arch)
            ctx.checkpoint = self.checkpoints.line(arch.id, f"{self.reference}|{config.line_key()}", seed)
        where = f"evaluator {self.reference}"
        try:
            if self._takes_model(self.reference):
                model, metrics = self.build_and_cost(arch, seed, cost_check, details)
                torch.manual_seed(seed)
                result = _call(fn, model, ctx, where)
            else:
                torch.manual_seed(seed)
                result = _call(fn, arch, ctx, where)
        except EarlyStopped as e:  # stored with the values it had then
            e.metrics = {**metrics, **{k: v for k, v in ctx.reported[-1].items() if k != "step"}}
            e.details = {**details, "intermediate": ctx.reported, "learning_curve": columns(ctx.reported)}
            if ctx.checkpoint is not None:
                ctx.checkpoint.discard()
            raise
        except TrialFailed:
            if ctx.checkpoint is not None:  # nothing will continue a failed run
                ctx.checkpoint.discard()
            raise
        if ctx.checkpoint is not None and ctx.checkpoint.loaded_from is not None:
            details["continued_from"] = {"step": ctx.checkpoint.loaded_from}
        metrics.update(check_metrics(result, declared, where))
        if ctx.reported:
            details["intermediate"] = ctx.reported
            details["learning_curve"] = columns(ctx.reported)
        return Evaluation(metrics, details)


    def final(self, arch, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """The user's function again, as the final retraining: ``ctx.final`` is True, ``ctx.task``'s training part is
        training and validation data together and its validation part is the test split; what it returns is
        stored as ``test_NAME``, with the weights it trained."""
        import io

        import torch
        if not self._takes_model(self.reference):
            raise ArchscoutError(f"the evaluator {self.reference} is given architectures, not networks, so it "
                                 f"has nothing to retrain or export")
        task = self.task
        if task.test is None:
            raise ArchscoutError(f"task {task.name!r} has no test split to report on")
        from dataclasses import replace
        final_task = replace(task, train=task.full_train(), valid=task.test, test=None, folds=None)
        model = self.build(arch, seed)
        ctx = Context(arch, seed, None, self.torch_device(), final_task, self.with_recipe(train_config, arch),
                      final=True)
        torch.manual_seed(seed)
        where = f"evaluator {self.reference} (final retraining)"
        try:
            result = check_metrics(_call(fn=self._function(), first=model, ctx=ctx, where=where),
                                   self.declared(self.reference), where)
        except TrialFailed as e:
            raise ArchscoutError(str(e)) from None
        model.to("cpu")
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        from ..cost import count_params
        metrics = {f"test_{k}": v for k, v in result.items()}
        metrics["params"] = count_params(model)
        metrics.setdefault("train_seconds", 0.0)
        details = {"intermediate": ctx.reported} if ctx.reported else {}
        return Evaluation(metrics, details), buf.getvalue()


def _call(fn, first, ctx: Context, where: str):
    try:
        return fn(first, ctx)
    except (TrialFailed, ArchscoutError):
        raise
    except Exception as e:  # noqa: BLE001 - the user's code fails this trial only, with its reason
        raise TrialFailed(f"{where} raised {type(e).__name__}: {str(e)[:300]}") from None


def _canonical(options: str) -> str:
    """A file reference with an absolute path (resume and workers run elsewhere); a module reference as given."""
    import os
    where, _, attr = options.rpartition(":")
    if where.endswith(".py"):
        return f"{os.path.abspath(where)}:{attr}"
    return options


class ByReference(Evaluator):
    """A user's Evaluator class named by reference: built with the study's settings, pickled as its reference."""

    name = PREFIX

    def __init__(self, reference: str, task, train, latency, metrics: list):
        self.reference, self._args = reference, (task, train, latency, metrics)
        self.inner = load_target(reference).create("", task=task, train=train, latency=latency, metrics=metrics)
        self.fidelities = self.inner.fidelities  # type: ignore[misc]

    def __getstate__(self):
        return {"reference": self.reference, "_args": self._args}

    def __setstate__(self, state):
        ByReference.__init__(self, state["reference"], *state["_args"])

    @property
    def spec(self) -> str:
        return f"{PREFIX}:{self.reference}"

    def prepare(self) -> None:
        self.inner.prepare()

    def after_trial(self) -> None:
        self.inner.after_trial()

    def use_device(self, device):
        self.inner.use_device(device)
        return super().use_device(device)

    def evaluate(self, arch, seed: int = 0, cost_check=None, guard=None, fidelity: dict | None = None) -> Evaluation:
        return self.inner.evaluate(arch, seed=seed, cost_check=cost_check, guard=guard, fidelity=fidelity)

    def final(self, arch, seed: int, train_config: TrainConfig):
        return self.inner.final(arch, seed, train_config)
