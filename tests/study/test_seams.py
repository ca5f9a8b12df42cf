"""The public seams of the core: registries, a user's evaluator, proposals with a fidelity, Study.record,
the study's settings object, and databases of the previous schema."""
import json

import pytest
import sqlalchemy as sa

import archscout
from archscout import ArchscoutError, Study
from archscout.evaluate import EVALUATORS, Evaluation, Evaluator, EvaluatorSpec
from archscout.registry import Registry
from archscout.space import SPACES, get_space
from archscout.strategy import STRATEGIES, Proposal, Result, Strategy
from archscout.study import StudyConfig


def test_a_registry_names_aliases_patterns_and_close_matches():
    reg = Registry("widget")

    @reg.register("blue-widget", aliases=("bw",))
    class Blue:
        """A blue widget.

        More text."""

    reg.register("red-widget", object())
    assert reg.get("bw") is Blue and reg.canonical("bw") == "blue-widget"
    assert reg.names() == ["blue-widget", "red-widget"] and reg.names("blue*") == ["blue-widget"]
    assert reg.describe("blue-widget") == "A blue widget." and "bw" not in reg.names()
    with pytest.raises(ArchscoutError, match=r"unknown widget 'blue-widgt'\. Did you mean 'blue-widget'"):
        reg.get("blue-widgt")
    with pytest.raises(ArchscoutError, match="registered already"):
        reg.register("bw", object())
    reg.unregister("blue-widget")
    assert "bw" not in reg and reg.names() == ["red-widget"]


def test_built_in_parts_are_found_in_their_registries():
    assert {"evolution", "nsga2", "bo"} <= set(STRATEGIES) and STRATEGIES.canonical("re") == "evolution"
    assert {"conv1d", "gnn"} <= set(SPACES) and SPACES.names("gnn*") == ["gnn", "gnn-proteins"]
    assert {"train", "zero-cost", "predictor", "synthetic", "nas-bench-graph"} <= set(EVALUATORS)
    assert archscout.tasks.TASKS.get("iris") is archscout.tasks.iris
    with pytest.raises(ArchscoutError, match="Did you mean 'synthetic'"):
        EvaluatorSpec.parse("synthetik")


class CountingEvaluator(Evaluator):
    """Scores an architecture by how many choices it makes (a user's evaluator, no task)."""

    name = "counting"
    measures = ("accuracy", "params")
    fidelities = ("steps",)

    def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
        n = len(arch.space.encode(arch, "ordinal"))
        scale = 1.0 if fidelity is None else min(1.0, fidelity["steps"] / 100)
        return Evaluation({"accuracy": scale * (sum(arch.space.encode(arch, "ordinal")) / (3 * n)), "params": n},
                          {"fidelity_seen": fidelity})


@pytest.fixture
def counting():
    EVALUATORS.register("counting", CountingEvaluator)
    yield CountingEvaluator
    EVALUATORS.unregister("counting")


def test_a_users_evaluator_registers_like_a_built_in_and_runs_a_study(tmp_path, counting):
    spec = EvaluatorSpec.parse("counting")
    assert not spec.needs_task and spec.measured() == ("accuracy", "params") and spec.text == "counting"
    with pytest.raises(ArchscoutError, match="takes no options"):
        EvaluatorSpec.parse("counting:x=1")
    study = Study("mine", space="mlp", evaluator="counting", storage=f"sqlite:///{tmp_path}/s.db",
                  strategy="random")
    study.search(trials=5, progress=False)
    assert [t.status for t in study.trials()] == ["complete"] * 5
    assert all(set(t.metrics) == {"accuracy", "params"} for t in study.trials())
    with pytest.raises(ArchscoutError, match="is not measured by the counting evaluator"):
        Study("mine2", space="mlp", evaluator="counting", objectives={"latency_ms": "min"},
              storage=f"sqlite:///{tmp_path}/s.db")


class TwoFidelities(Strategy):
    """Proposes each architecture at 10 steps, then promotes the best of every two to 100 steps."""

    multi_objective = True

    def __init__(self, space, seed=0):
        super().__init__(space, seed)
        self.results: list[Result] = []
        self.queue: list = []

    def ask(self):
        if self.queue:
            return self.queue.pop(0)
        return Proposal(self.space.sample(self.rng), fidelity={"steps": 10})

    def tell_result(self, result):
        self.results.append(result)
        low = [r for r in self.results if r.fidelity == {"steps": 10} and r.score is not None]
        if result.fidelity == {"steps": 10} and len(low) % 2 == 0:
            best = max(low[-2:], key=lambda r: r.score if isinstance(r.score, float) else r.score[0])
            self.queue.append(Proposal(best.arch, fidelity={"steps": 100}, parent=best.trial))


def test_a_strategy_proposes_fidelities_and_parents_and_is_told_metrics(tmp_path, counting):
    STRATEGIES.register("two-fidelities", TwoFidelities)
    try:
        study = Study("mf", space="mlp", evaluator="counting", strategy="two-fidelities",
                      storage=f"sqlite:///{tmp_path}/s.db")
        study.search(trials=6, progress=False)
    finally:
        STRATEGIES.unregister("two-fidelities")
    trials = study.trials()
    assert [t.fidelity for t in trials] == [{"steps": 10}] * 2 + [{"steps": 100}] + [{"steps": 10}] * 2 \
        + [{"steps": 100}]
    promoted = trials[2]
    assert promoted.parent in (0, 1) and promoted.arch == trials[promoted.parent].arch
    assert promoted.details["fidelity_seen"] == {"steps": 100} and promoted.budget != trials[0].budget
    # the leaderboard compares the trials at the highest fidelity reached, and says which are left out
    assert [t.number for t in study.leaderboard()] == sorted([2, 5], key=lambda n: -trials[n].metrics["accuracy"])
    assert study.ranked_fidelity() == 100 and {t.number for t in study.unranked()} == {0, 1, 3, 4}
    assert study.best().fidelity == {"steps": 100}


def test_an_evaluator_refuses_a_fidelity_it_does_not_understand():
    ev = EvaluatorSpec.parse("synthetic").create()
    with pytest.raises(ArchscoutError, match="does not understand fidelity epochs"):
        ev.fidelity_key({"epochs": 2})
    arch = get_space("mlp").sample(0)
    full = ev.evaluate(arch).metrics["accuracy"]
    assert ev.evaluate(arch, fidelity={"steps": 20}).metrics["accuracy"] < full


def test_record_stores_what_a_method_derived_as_ordinary_trials(tmp_path):
    study = Study("rec", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/s.db",
                  constraints=["params <= 5000"])
    space = study.space
    a, b, c = (space.sample(s) for s in (1, 2, 3))
    t = study.record(a, {"accuracy": 0.9, "params": 1000}, source="supernet", details={"epoch": 3})
    assert t.status == "complete" and t.details == {"epoch": 3, "recorded_by": "supernet"}
    assert study.record(b.values, {"accuracy": 0.95, "params": 9000}).status == "infeasible"
    assert study.record(c, {}, status="failed", error="diverged").error == "diverged"
    assert [x.number for x in study.leaderboard()] == [t.number] and study.best().arch == a
    with pytest.raises(ArchscoutError, match="stored already"):
        study.record(a, {"accuracy": 0.5, "params": 10})
    with pytest.raises(ArchscoutError, match="needs every objective"):
        study.record(space.sample(4), {"params": 10})
    with pytest.raises(ArchscoutError, match="finite numbers"):
        study.record(space.sample(5), {"accuracy": float("nan")})
    # a search afterwards learns from the recorded trials and does not evaluate them again
    study.search(trials=6, progress=False)
    assert len({x.arch.id for x in study.trials()}) == 6


def test_the_study_config_is_the_one_list_of_settings(tmp_path):
    study = Study("cfg", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/s.db", seed=3)
    stored = study.storage.get_study("cfg").config
    assert stored == study.config.to_json()
    old = {k: v for k, v in stored.items() if k not in ("objectives", "measure", "guide", "predictor")}
    back = StudyConfig.from_stored(old)  # a database written before those settings existed
    assert back.objectives == [["accuracy", "max"]] and back.measure == [] and back.differences(old) == []
    assert study.config.differences({**stored, "seed": 4}) == ["seed"]
    with pytest.raises(ArchscoutError, match="seed: stored 3, asked 4"):
        Study("cfg", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/s.db", seed=4)


def test_a_database_of_the_previous_schema_opens_resumes_and_reports(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    study = Study("old", space="mlp", evaluator="synthetic", storage=url)
    study.search(trials=3, progress=False)
    study.storage.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as c:  # what archscout wrote before trials had a fidelity (schema 3)
        c.execute(sa.text("ALTER TABLE trials DROP COLUMN fidelity"))
        c.execute(sa.text("ALTER TABLE trials DROP COLUMN parent"))
        c.execute(sa.text("UPDATE archscout_meta SET value = '3' WHERE key = 'schema_version'"))
    engine.dispose()
    again = Study.load("old", url)
    assert again.storage.schema_version() == 4
    assert [t.fidelity for t in again.trials()] == [None] * 3
    again.search(trials=5, progress=False)
    assert len(again.trials("complete")) == 5 and len({t.arch.id for t in again.trials()}) == 5
    assert json.loads(again.trials()[0].arch.to_json())["space"] == "mlp"


def test_a_recorded_trial_is_keyed_as_a_search_would_key_it(tmp_path):
    study = Study("keys", space="mlp", task="iris", storage=f"sqlite:///{tmp_path}/s.db", train={"steps": 30})
    ev = study.evaluator()
    a, b = study.space.sample(1), study.space.sample(2)
    assert study.record(a, {"accuracy": 0.9}).budget == ev.budget_key
    low = study.record(b, {"accuracy": 0.8}, fidelity={"steps": 10})
    assert low.budget == ev.fidelity_key({"steps": 10}) != ev.budget_key and low.fidelity == {"steps": 10}
    # the search finds both stored: a is told from storage, not trained again
    study.search(trials=3, progress=False)
    assert [t.arch.id for t in study.trials()].count(a.id) == 1


def test_the_front_and_its_history_compare_trials_at_the_same_fidelity(tmp_path, counting):
    STRATEGIES.register("two-fidelities", TwoFidelities)
    try:
        study = Study("mf2", space="mlp", evaluator="counting", strategy="two-fidelities",
                      objectives={"accuracy": "max", "params": "min"}, storage=f"sqlite:///{tmp_path}/s.db")
        study.search(trials=9, progress=False)
    finally:
        STRATEGIES.unregister("two-fidelities")
    front = {t.number for t in study.front()}
    assert front and all(study.trials()[n].fidelity == {"steps": 100} for n in front)
    history = study.fronts()
    assert set(history[-1]["front"]) == front and len(history) == 3  # the three promoted trials


def test_every_setting_a_user_gives_is_an_option_of_archscout_search():
    from archscout.cli import cli

    search = cli.commands["search"]
    flags = {opt for p in search.params for opt in getattr(p, "opts", [])}
    settings = StudyConfig.options()
    assert {"space", "task", "objectives", "constraints", "strategy", "strategy_options", "seed", "train",
            "evaluator", "guide"} <= set(settings)
    for name, options in settings.items():
        assert set(options) <= flags, (name, set(options) - flags)
