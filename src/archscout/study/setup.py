"""Creating or opening a study: every setting checked (the rules of :mod:`.config`), in the order that decides
which error a user sees first, the settings gathered into a :class:`~.config.StudyConfig`, and the study created
in storage or resumed (refused when its stored settings differ). :meth:`Study.create <archscout.study.Study.create>`
and :meth:`Study.load <archscout.study.Study.load>` come here; the :class:`~archscout.study.Study` keeps the objects."""
from __future__ import annotations

from ..errors import ArchscoutError
from ..evaluate import EvaluatorSpec, LatencyConfig
from ..metrics import Constraint, parse_objectives
from ..recipe import TrainConfig
from ..space import Space, get_space, list_spaces
from ..storage import Storage
from ..strategy import STRATEGIES, canonical_name, make_strategy
from ..tasks import GraphTask, Task, canonical_label, check_task_name, check_task_options, get_task
from . import preflight
from .config import (
    NAME,
    StudyConfig,
    check_reference,
    check_seed,
    measure_list,
    measured_constraint,
    safe_name,
    train_config,
)


class StudyParts:
    """The objects a :class:`~archscout.study.Study` is made of: set once by :func:`configure`, each from a checked
    setting, and never changed after (the reference point excepted: a search fixes it the first time a front
    needs one)."""

    name: str
    evaluator_spec: EvaluatorSpec
    space: Space
    _predictor: str | None
    _task_ref: str | Task | GraphTask | None
    _task: Task | GraphTask | None
    task_options: dict
    device: str
    objectives: list[tuple[str, str]]
    objective: str
    measure: list[str]
    prescreen_latency: bool
    constraints: list[Constraint]
    guide: dict | None
    reference_point: dict | None
    early_stopping: str | None
    _checkpoint_dir: str | None
    strategy_name: str
    strategy_options: dict
    train_config: TrainConfig
    final_train: TrainConfig
    seed: int
    latency: LatencyConfig
    storage: Storage
    config: StudyConfig
    id: int


def configure(study: StudyParts, name: str | None, *, space, task, objective, objectives, constraints, strategy,
              strategy_options, storage, train, final_train, seed, latency, evaluator, reference_point, measure,
              prescreen_latency, guide, task_options, device, early_stopping, checkpoint_dir, reading: bool) -> None:
    """Check every setting of ``study`` and set it; then create the study in ``storage`` or resume it.
    ``reading``: opened to read its trials (show, report, ...), so the task's data and a predictor file it was
    searched with need not be found here."""
    check_seed(seed)
    task_name = _evaluator_and_task(study, evaluator, space, task, task_options, device, reading)
    _name(study, name, task_name)
    _objectives(study, objective, objectives, measure, prescreen_latency, constraints, reading)
    _search(study, guide, strategy, strategy_options, reference_point, early_stopping, checkpoint_dir, train,
            final_train, seed, latency, reading)
    _open(study, storage, task_name)


def _evaluator_and_task(study, evaluator, space, task, task_options, device, reading: bool) -> str | None:
    """The evaluator, the space it searches and the task (not loaded yet); returns the task's name."""
    study.evaluator_spec = EvaluatorSpec.parse(evaluator, load=not reading)
    required = None if reading else study.evaluator_spec.required_space()
    study.space = study.evaluator_spec.searched_space(get_space(space if space is not None else required
                                                              or "conv1d"))
    # the fingerprint of a file the evaluator reads (a predictor's contents), stored with the study
    study._predictor = None
    if task is None and study.evaluator_spec.needs_task:
        task = "mnist1d"
    if not reading:
        study.evaluator_spec.check_task(task)  # before the space: a supernet of another task says so first
        study.evaluator_spec.check_space(study.space)
        study._predictor = study.evaluator_spec.source_fingerprint()
    if task is not None and not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"the {study.evaluator_spec.name} evaluator trains nothing, so a task has "
                             f"no effect; leave out the task (--task)")
    study.task_options = check_task_options(task_options)
    if isinstance(task, str):  # data.csv:COLUMN is stored as data.csv with --label COLUMN: one form, one study
        task, study.task_options = canonical_label(task, study.task_options)
    study._task_ref = task
    if study.task_options and task is None:
        raise ArchscoutError("task options (--label, --task-kind, --val-fraction, --folds) need a task")
    study._task = task if isinstance(task, (Task, GraphTask)) else None
    study.device = device or "cpu"  # where trials and final retrainings train (not stored: a run option)
    task_name = task.name if isinstance(task, (Task, GraphTask)) else (None if task is None else str(task))
    if isinstance(task, str) and not reading:
        check_task_name(task)  # the data itself is loaded when first needed
    return task_name


def _name(study, name, task_name: str | None) -> None:
    """The study's name: given, or made from the task (or evaluator) and the space."""
    if name is not None and not isinstance(name, str):
        raise ArchscoutError(f"a study name is a string, got {name!r}")
    default = study.evaluator_spec.name if study.evaluator_spec.name != "python" \
        else study.evaluator_spec.options.rpartition(":")[2]  # a user's function: its name
    study._former_name = None  # the default name before issue 29 where it now differs (see _open)
    if name is None:
        study.name = f"{_distinct(study, task_name, default)}-{study.space.name}"
        former = f"{safe_name(task_name or default)}-{study.space.name}"
        study._former_name = former if former != study.name else None
    else:
        study.name = name
    if not NAME.match(study.name):
        raise ArchscoutError(f"study name {study.name!r}: use letters, digits and . _ - : (up to 200), "
                             f"starting with a letter or digit")


def _distinct(study, task_name: str | None, default: str) -> str:
    """The first part of a default study name: the task's (or evaluator's) name as before, except where two
    studies would have shared it: a data file named like a built-in task keeps its extension (``wine.csv``, not
    ``wine``), and a lookup evaluator names its dataset (``nas-bench-201-cifar100``)."""
    import os
    import re

    from ..tasks import list_tasks

    if task_name is not None:
        base = safe_name(task_name)
        if task_name != base and base in list_tasks():  # a file such as wine.csv, not the built-in wine
            whole = os.path.basename(os.path.normpath(task_name.split(":")[0] if ".csv:" in task_name else task_name))
            return re.sub(r"[^A-Za-z0-9_.-]", "_", whole) or base
        return base
    options = study.evaluator_spec.options
    if study.evaluator_spec.name != "python" and re.fullmatch(r"[A-Za-z0-9_.-]+", options or ""):
        return f"{safe_name(default)}-{options}"  # nas-bench-201:cifar10 and :cifar100 apart
    return safe_name(default)


def _objectives(study, objective, objectives, measure, prescreen_latency, constraints, reading: bool) -> None:
    """The objectives (the first one the leaderboard's sort key), what else is measured, and the constraints."""
    if objective is not None and objectives is not None:
        raise ArchscoutError("give either objective (one metric) or objectives (several), not both")
    if objectives is None and objective is None and study.evaluator_spec.needs_task and not reading \
            and study.evaluator_spec.default_objective() == "accuracy":
        # a regression selects on r2, a classification on accuracy (the task is loaded to learn its kind)
        objective = getattr(study.task, "metric", "accuracy")
    study.objectives = parse_objectives(objectives if objectives is not None else
                                       (objective or study.evaluator_spec.default_objective()))
    for metric, _ in study.objectives:
        if metric == "test_accuracy":
            raise ArchscoutError("an objective cannot be test_accuracy: selection uses validation data only")
        if not study.evaluator_spec.can_measure(metric):
            raise ArchscoutError(f"the objective {metric!r} is not measured by the {study.evaluator_spec} "
                                 f"evaluator; it measures {', '.join(study.evaluator_spec.measured())}")
    study.objective = study.objectives[0][0]  # the leaderboard's first sort key
    study.measure = measure_list(measure, study.evaluator_spec)
    study.prescreen_latency = bool(prescreen_latency)
    study.constraints = [measured_constraint(Constraint.parse(c), study.evaluator_spec) for c in constraints]
    if not reading:
        preflight.check_devices(study)


def _search(study, guide, strategy, strategy_options, reference_point, early_stopping, checkpoint_dir, train,
            final_train, seed, latency, reading: bool) -> None:
    """What the search uses: the guide, the reference point, early stopping, the strategy and its options (a
    strategy is built once to check them), the training budgets of the search and the final retraining."""
    from .guide import check_guide
    study.guide = check_guide(guide, study)
    if study.guide and study.guide["by"] != "screen" and STRATEGIES.get(canonical_name(strategy)).schedules_fidelity:
        raise ArchscoutError(f"strategy {canonical_name(strategy)!r} schedules fidelities itself (its rungs and "
                             f"promotions); a guide (--guide) ranks whole proposals and cannot be combined "
                             f"with it (--guide screen can: it screens new candidates only)")
    study.reference_point = check_reference(reference_point, study.objectives)
    if study.prescreen_latency and (not study.evaluator_spec.needs_task or not preflight.latency_bounds(study)):
        raise ArchscoutError("latency prescreening needs the train evaluator and an upper bound on a PyTorch or "
                             "ONNX Runtime latency to screen against, e.g. --constraint 'latency_ms <= 2'")
    from ..evaluate.stopping import parse_rule
    study.early_stopping = None if parse_rule(early_stopping) is None else str(early_stopping).strip().lower()
    if study.early_stopping and not (study.evaluator_spec.trains or study.evaluator_spec.name == "python"):
        raise ArchscoutError(f"early stopping watches a training run's learning curve; the "
                             f"{study.evaluator_spec.name} evaluator trains nothing")
    study._checkpoint_dir = checkpoint_dir
    study.strategy_name = canonical_name(strategy)
    study.strategy_options = dict(strategy_options or {})
    study.train_config = train_config(train, TrainConfig())
    make_strategy(study.strategy_name, study.space, seed=seed, objectives=len(study.objectives),
                  fidelity=study.top_fidelity,
                  **study.strategy_options)  # validate options (and that it handles several objectives)
    study.final_train = train_config(final_train, study.train_config.with_(
        steps=study.train_config.steps * 3, epochs=None if study.train_config.epochs is None
        else study.train_config.epochs * 3))
    study.seed = seed
    study.latency = latency or LatencyConfig()


def _open(study, storage, task_name: str | None) -> None:
    """Create the study in storage (after the checks that need its data), or resume it with the same settings."""
    study.storage = storage if isinstance(storage, Storage) else Storage(storage)
    study.config = stored_config(study, task_name)
    row = study.storage.get_study(study.name)
    if row is None and study._former_name:  # a study stored under the default name it had before issue 29
        former = study.storage.get_study(study._former_name)
        try:
            if former is not None:
                study.config.check_same(study._former_name, former.config)
                study.name, row = study._former_name, former
        except ArchscoutError:  # another study that had the same default name: this one gets its new name
            pass
    if row is None:
        if study.evaluator_spec.needs_task:  # bad data or a space that cannot take it: refuse before storing
            preflight.check_kind(study, study.task)
            preflight.check_space_fits(study, study.task)
        preflight.check_meetable(study)
        row = study.storage.create_study(study.name, study.config.to_json())
    else:
        study.config.check_same(study.name, row.config)
    study.id = row.id


def stored_config(study, task_name: str | None) -> StudyConfig:
    """The study's settings as stored with it."""
    return StudyConfig(
        space=study.space.name, space_fingerprint=study.space.fingerprint(), task=task_name,
        objective=study.objective, objectives=[list(o) for o in study.objectives],
        reference_point=study.reference_point, measure=list(study.measure),
        prescreen_latency=study.prescreen_latency, guide=study.guide,
        constraints=[str(c) for c in study.constraints], strategy=study.strategy_name,
        strategy_options=study.strategy_options, seed=study.seed, early_stopping=study.early_stopping,
        train=study.train_config.as_dict(),
        final_train=study.final_train.as_dict(), evaluator=study.evaluator_spec.text, predictor=study._predictor,
        budget=study.evaluator_spec.budget(study.train_config), task_options=study.task_options or None,
        metrics=user_metrics(study))


def user_metrics(study) -> dict | None:
    """A user evaluator's declared metrics ({name: direction}), stored so the study opens without its code."""
    if study.evaluator_spec.name != "python":
        return None
    from ..metrics import METRICS
    return {m: METRICS[m] for m in study.evaluator_spec.measured() if m in METRICS}



def stored_settings(name: str, storage: str | Storage, space: Space | None, task: Task | None,
                    check_task: bool) -> dict:
    """The settings a stored study was created with, as :meth:`Study.create` takes them (see
    :meth:`Study.load <archscout.study.Study.load>`); a user evaluator's code is imported, or its stored metrics
    remembered when the study is opened for reading only."""
    store = storage if isinstance(storage, Storage) else Storage(storage)
    row = store.get_study(name)
    if row is None:
        names = [s["name"] for s in store.list_studies()]
        from ..errors import unknown_name
        if names:
            raise unknown_name("study", name, names)
        raise ArchscoutError(f"no study named {name!r} in {store.url} (the database holds no studies)")
    cfg = StudyConfig.from_stored(row.config)
    if cfg.evaluator.startswith("python:") and cfg.metrics:
        from ..evaluate.user import PythonEvaluator
        reference = cfg.evaluator.partition(":")[2]
        if check_task and PythonEvaluator._known.get(reference, {}).get("__reading__"):
            del PythonEvaluator._known[reference]  # opened to search now: import the code itself
        try:
            PythonEvaluator._declaration(reference)
        except ArchscoutError:
            if check_task:
                raise
            PythonEvaluator.remember(reference, cfg.metrics, cfg.task is not None)  # read trials without its code
    if space is None:
        space = get_space(cfg.space) if cfg.space in list_spaces() else None
        if space is None:
            raise ArchscoutError(f"study {name!r} uses the custom space {cfg.space!r}; name its definition with "
                                 f"--space module:attr (or --space path/to/file.py:attr), or open it from "
                                 f"Python with Study.load(name, storage, space=...)")
    return dict(space=space, task=task if task is not None else cfg.task, objectives=cfg.objectives,
                constraints=cfg.constraints, strategy=cfg.strategy, reference_point=cfg.reference_point,
                measure=cfg.measure, prescreen_latency=cfg.prescreen_latency, guide=cfg.guide,
                strategy_options=cfg.strategy_options, storage=store, train=cfg.train,
                final_train=cfg.final_train, seed=cfg.seed, evaluator=cfg.evaluator,
                task_options=cfg.task_options, early_stopping=cfg.early_stopping, _reading=not check_task)


def needed_metrics(study: StudyParts) -> list[str]:
    """The metrics the objectives, constraints, ``measure`` and a guide's proxies name, each once in that order."""
    names = [m for m, _ in study.objectives] + [c.metric for c in study.constraints] + list(study.measure)
    if study.guide:  # the proxies a guide ranks by are stored with every trained candidate
        names += [f"proxy@{p}" for p in study.guide["proxies"]]
    return list(dict.fromkeys(names))


def load_task(study: StudyParts) -> Task | GraphTask:
    """The study's task, loaded the first time it is needed (an error when the study has none)."""
    if study._task is None:
        if study._task_ref is None:
            raise ArchscoutError(f"study {study.name!r} has no task (its evaluator is {study.evaluator_spec.text!r})")
        study._task = get_task(study._task_ref, study.task_options)
    return study._task


def stored_now(study: StudyParts) -> dict:
    """The settings as stored now (a search may have fixed the reference point since ``study`` was opened)."""
    row = study.storage.get_study(study.name)
    if row is None:
        raise ArchscoutError(f"study {study.name!r} is no longer in {study.storage.shown_url}")
    return row.config
