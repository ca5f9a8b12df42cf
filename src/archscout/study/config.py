"""StudyConfig: the one list of a study's settings, how each is checked, stored as JSON and compared on resume."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from ..checks import finite_number, non_negative_int
from ..errors import ArchscoutError
from ..evaluate import EvaluatorSpec
from ..metrics import Constraint, direction
from ..recipe import TrainConfig
from ..tasks import canonical_label

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


def _resumed(default=None, *, compared: bool = True, factory=None, options: tuple[str, ...] = ()):
    """A setting: ``compared`` ones must be the same when a study is resumed; ``default`` is what a database
    written before the setting existed holds; ``options``: the ``archscout search`` options (and so config
    file keys) that set it (none for what is worked out from the others)."""
    meta = {"compared": compared, "options": options}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class StudyConfig:
    """A study's settings as stored with it (the JSON of ``studies.config``). :meth:`Study.__init__` checks each
    (the functions below) and builds one; :meth:`from_stored` reads one back, older databases included;
    :meth:`differences` says which settings a resume asks to change."""

    space: str = _resumed("conv1d", options=("--space",))
    space_fingerprint: str | None = _resumed()
    task: str | None = _resumed(options=("--task",))
    task_options: dict | None = _resumed(options=("--label", "--task-kind", "--val-fraction", "--folds"))
    objective: str = _resumed("accuracy")  # the first objective, the leaderboard's first sort key
    objectives: list = _resumed(factory=list, options=("--objectives",))
    reference_point: dict | None = _resumed(compared=False, options=("--reference",))  # else fixed by a search
    reference_sources: dict | None = _resumed(compared=False)  # where each coordinate came from, once fixed
    measure: list = _resumed(factory=list, compared=False, options=("--measure",))
    prescreen_latency: bool = _resumed(False, compared=False, options=("--prescreen-latency",))
    guide: dict | None = _resumed(options=("--guide", "--guide-pool", "--guide-proxies"))
    constraints: list = _resumed(factory=list, options=("--constraint",))
    strategy: str = _resumed("evolution", options=("--strategy",))
    strategy_options: dict = _resumed(factory=dict, options=("--strategy-option", "--population-size",
                                                              "--sample-size"))
    seed: int = _resumed(0, options=("--seed",))
    early_stopping: str | None = _resumed(compared=False, options=("--early-stop",))
    # compared through the budget key below
    train: dict = _resumed(factory=dict, compared=False, options=("--steps", "--epochs", "--batch-size", "--lr",
                                                                  "--optimizer", "--schedule", "--fidelity-mode"))
    final_train: dict | None = _resumed(options=("--final-steps",))
    evaluator: str = _resumed("train", options=("--evaluator",))
    predictor: str | None = _resumed()  # the fingerprint of a file the evaluator reads
    budget: str | None = _resumed()
    metrics: dict | None = _resumed(compared=False)  # a user evaluator's metrics and directions, for reading it back

    @classmethod
    def options(cls) -> dict[str, tuple[str, ...]]:
        """Each setting a user gives, with the ``archscout search`` options that set it."""
        return {f.name: f.metadata["options"] for f in fields(cls) if f.metadata["options"]}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_stored(cls, stored: dict) -> StudyConfig:
        """The settings of a stored study; settings it predates get the value they had then."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in stored.items() if k in known}
        config = cls(**values)
        if not config.objectives:
            config.objectives = [[config.objective, direction(config.objective)]]
        return config

    def differences(self, stored: dict) -> list[str]:
        """The compared settings in which ``stored`` (a stored config) differs from this one. A setting the
        stored study predates is not compared; a file the evaluator reads is compared by its fingerprint
        only when this config read it (a study opened for reading does not)."""
        stored = dict(stored)
        raw = stored.get("evaluator")
        if isinstance(raw, str):  # a file an older version stored by the path it was given, relative or not
            try:
                canonical = EvaluatorSpec.parse(raw, load=False).text
            except ArchscoutError:  # an evaluator not registered here: compared as stored
                canonical = raw
            if stored.get("budget") == raw:  # the budget of an evaluator that trains nothing is its spec
                stored["budget"] = canonical
            stored["evaluator"] = canonical
        if isinstance(stored.get("task"), str):  # an older study stored data.csv:COLUMN as given
            task, options = canonical_label(stored["task"], dict(stored.get("task_options") or {}))
            if task != stored["task"]:
                stored["task"], stored["task_options"] = task, options
        mine = self.to_json()
        return [f.name for f in fields(self) if f.metadata["compared"] and f.name in stored
                and stored[f.name] != mine[f.name] and not (f.name == "predictor" and mine[f.name] is None)]

    def check_same(self, name: str, stored: dict) -> None:
        """Refuse to resume study ``name`` with other settings than it was created with."""
        diff = self.differences(stored)
        if diff:
            mine = self.to_json()
            set_by = {f.name: f.metadata["options"] for f in fields(self)}
            parts = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {mine.get(k)!r}"
                              + (f" ({', '.join(set_by[k])})" if set_by.get(k) else "")
                              for k in diff if k != "space_fingerprint")
            raise ArchscoutError(f"study {name!r} already exists with other settings ({parts or 'space definition'}). "
                                 f"Resume it with the same settings, or pick another name with --study")


def check_seed(seed) -> int:
    return non_negative_int(seed, "seed")


def measured_constraint(c: Constraint, spec: EvaluatorSpec) -> Constraint:
    """A constraint on a metric the evaluator stores (bare size_bytes means fp32), else a clear error."""
    if c.metric == "size_bytes":
        c = Constraint("size_bytes@fp32", c.op, c.bound)
    if c.metric == "test_accuracy":
        raise ArchscoutError(f"constraint {c}: test accuracy is never used during the search (selection uses "
                             f"validation data only)")
    if not spec.can_measure(c.metric):
        raise ArchscoutError(f"constraint {c}: the {spec.name} evaluator does not measure "
                             f"{c.metric!r}; it measures {', '.join(spec.measured())}")
    return c


def measure_list(measure, spec: EvaluatorSpec) -> list[str]:
    """Metrics to measure for every trial besides the objectives and constraints (e.g. accuracy@int8)."""
    from ..metrics import check_metric
    items = [p for p in measure.split(",") if p.strip()] if isinstance(measure, str) else list(measure)
    out = []
    for item in items:
        metric = check_metric(item)
        if not spec.can_measure(metric):
            raise ArchscoutError(f"cannot measure {metric!r}: the {spec.name} evaluator measures "
                                 f"{', '.join(spec.measured())}")
        out.append(metric)
    return list(dict.fromkeys(out))


def check_reference(reference: dict | None, objectives: list[tuple[str, str]]) -> dict | None:
    """A user's hypervolume reference point: {objective metric: value}, finite numbers."""
    if reference is None:
        return None
    if not isinstance(reference, dict):
        raise ArchscoutError(f"a reference point is a dict {{metric: value}}, got {reference!r}")
    from ..metrics import check_metric
    names = [m for m, _ in objectives]
    out = {}
    for key, value in reference.items():
        metric = check_metric(key)
        if metric not in names:
            raise ArchscoutError(f"reference point: {metric!r} is not an objective ({', '.join(names)})")
        out[metric] = float(finite_number(value, f"reference point: {metric}"))
    return out


def safe_name(name: str) -> str:
    import os
    base = os.path.splitext(os.path.basename(os.path.normpath(name)))[0]  # a graph folder may end in '/'
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base) or "task"


def train_config(value: TrainConfig | dict | None, default: TrainConfig) -> TrainConfig:
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
