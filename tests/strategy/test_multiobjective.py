"""Several objectives: the metric vocabulary, Pareto fronts stored after every trial, `archscout front`."""
import json

import numpy as np
import pytest

from archscout.cli import main
from archscout.errors import ArchscoutError
from archscout.metrics import check_metric, parse_objectives
from archscout.space import get_space
from archscout.study import Study

CORA = "nas-bench-graph:cora"


def test_metric_names_are_canonical():
    assert check_metric("latency_ms@pytorch:b1") == "latency_ms"
    assert check_metric("latency_ms@onnxruntime") == "latency_ms@onnxruntime:b1"
    assert check_metric("size_bytes") == "size_bytes@fp32"
    assert parse_objectives("accuracy:max, latency_ms@onnxruntime:b8:min,params") == [
        ("accuracy", "max"), ("latency_ms@onnxruntime:b8", "min"), ("params", "min")]
    assert parse_objectives({"accuracy@int8": "max", "size_bytes@int8": "min"}) == [
        ("accuracy@int8", "max"), ("size_bytes@int8", "min")]
    for bad, phrase in [("accuracy,accuracy:min", "given twice"), ("latency_ms@gpu", "qualifier"),
                        ("accuracy:best", "max or min"), ("", "at least one"), ("latency_ms@onnxruntime:b0", "the batch size must be a positive integer, got 0")]:
        with pytest.raises(ArchscoutError, match=phrase):
            parse_objectives(bad)


def _dominated(a, b):
    """Whether (acc, latency) b dominates a."""
    return b[0] >= a[0] and b[1] <= a[1] and b != a


def test_front_is_stored_after_every_trial_and_is_the_non_dominated_set(tmp_path):
    db = f"sqlite:///{tmp_path}/mo.db"
    study = Study("mo", evaluator=CORA, objectives="accuracy:max,latency_ms:min", strategy="random", storage=db,
                  constraints=["latency_ms <= 3"])
    study.run(trials=40)
    done = [t for t in study.trials("complete")]
    points = {t.number: (t.metrics["accuracy"], t.metrics["latency_ms"]) for t in done}
    expected = {n for n, p in points.items() if not any(_dominated(p, q) for q in points.values())}
    front = study.front()
    assert {t.number for t in front} == expected and len(expected) >= 2
    assert [t.metrics["accuracy"] for t in front] == sorted((t.metrics["accuracy"] for t in front), reverse=True)
    assert all(t.metrics["latency_ms"] <= 3 for t in front)  # infeasible trials are never on the front

    history = study.fronts()
    assert [f["finished"] for f in history] == list(range(1, 41))
    assert set(history[-1]["front"]) == expected
    # one process: what it worked out is what the search stored after each trial
    stored = study.storage.fronts(study.id)
    assert [f["front"] for f in history] == [f["front"] for f in stored]
    assert [f["hypervolume"] for f in history] == pytest.approx([f["hypervolume"] for f in stored])
    # the reference point: accuracy 0 and the latency constraint's bound, fixed and stored with the study
    assert study.storage.get_study("mo").config["reference_point"] == {"accuracy": 0.0, "latency_ms": 3.0}
    hv = [f["hypervolume"] for f in history]
    assert all(h is not None for h in hv) and all(b >= a - 1e-12 for a, b in zip(hv, hv[1:]))
    pts = np.array(sorted(points[n] for n in expected))
    # two objectives: the area dominated up to (0, 3), summed as rectangles along the latency axis
    order = np.argsort(pts[:, 1])
    acc, lat = pts[order, 0], pts[order, 1]
    area = sum((nxt - x) * a for a, x, nxt in zip(np.maximum.accumulate(acc), lat, list(lat[1:]) + [3.0]))
    assert hv[-1] == pytest.approx(area)


def test_a_multi_objective_study_resumes_with_its_objectives(tmp_path):
    db = f"sqlite:///{tmp_path}/mo.db"
    Study("mo", evaluator=CORA, objectives={"accuracy": "max", "params": "min"}, strategy="random",
          storage=db).run(trials=10)
    again = Study.load("mo", db)
    assert again.objectives == [("accuracy", "max"), ("params", "min")]
    again.run(trials=15)
    assert len(again.trials()) == 15 and len(again.fronts()) == 15
    with pytest.raises(ArchscoutError, match="objectives"):
        Study("mo", evaluator=CORA, objectives="accuracy:max,latency_ms:min", strategy="random", storage=db)
    assert again.best().number == again.leaderboard(1)[0].number == again.front()[0].number


def test_one_objective_strategies_are_refused_for_several_objectives(tmp_path):
    with pytest.raises(ArchscoutError, match="optimises one objective.*nsga2"):
        Study("x", evaluator=CORA, objectives="accuracy:max,latency_ms:min", strategy="evolution",
              storage=f"sqlite:///{tmp_path}/x.db")


def test_quantization_policy_names_modules_of_the_built_network():
    space = get_space("conv1d-quant")
    for seed in range(20):
        arch = space.sample(seed)
        model = arch.build((40,), 10)
        names = {n for n, _ in model.named_modules()}
        scopes = space.fp32_scopes(arch)
        assert all(s in names for s in scopes)
        wanted = sum(st["precision"] == "fp32" for st in arch.values["stages"]) + (
            arch.values["classifier_precision"] == "fp32")
        assert len(scopes) == wanted
    assert get_space("conv1d").fp32_scopes(get_space("conv1d").sample(0)) == []


def test_front_command_prints_the_front_and_writes_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--evaluator", CORA, "--objectives", "accuracy:max,latency_ms:min,params:min",
                 "--strategy", "random", "--trials", "25", "--study", "f", "--no-progress",
                 "--reference", "latency_ms=3", "--reference", "params=2e6"]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "hypervolume" in out
    assert main(["front", "f", "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "latency_ms (min)" in out and "params (min)" in out
    assert (tmp_path / "plots" / "f-front.png").stat().st_size > 0
    assert (tmp_path / "plots" / "f-hypervolume.png").stat().st_size > 0
    assert main(["front", "f", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reference_point"] == {"accuracy": 0.0, "latency_ms": 3.0, "params": 2000000.0}
    assert doc["objectives"] == [["accuracy", "max"], ["latency_ms", "min"], ["params", "min"]]
    assert doc["front"] and doc["hypervolume"] > 0


@pytest.mark.slow
def test_training_evaluator_measures_runtimes_int8_and_memory_on_request(tmp_path):
    """ONNX Runtime latency at two batch sizes, INT8 size / latency / accuracy under the space's policy,
    peak memory: stored per trial with their measurement records."""
    study = Study("rt", space="mlp-quant", task="iris", strategy="random", storage=f"sqlite:///{tmp_path}/rt.db",
                  train={"steps": 40}, final_train={"steps": 40},
                  objectives="accuracy@int8:max,latency_ms@onnxruntime:b1:min,size_bytes@int8:min",
                  measure="latency_ms@onnxruntime:b8,memory_mb,size_bytes@fp16")
    study.run(trials=3, final_top_k=1, final_seeds=1)
    trials = study.trials("complete")
    assert trials
    for t in trials:
        m = t.metrics
        assert 0 <= m["accuracy@int8"] <= 1 and 0 <= m["accuracy"] <= 1
        assert m["latency_ms@onnxruntime:b1"] > 0 and m["latency_ms@onnxruntime:b8"] > 0
        assert m["size_bytes@fp16"] * 2 == m["size_bytes@fp32"]
        # smaller in INT8 unless a layer stays fp32, or the network is a linear model (0 layers: a few dozen
        # weights, where the quantisation's scales and zero points outweigh what INT8 saves)
        assert (m["size_bytes@int8"] < m["size_bytes@fp32"] or study.space.fp32_scopes(t.arch)
                or not t.arch.values["stages"])
        assert m["memory_mb"] > m["size_bytes@fp32"] / 2**20
        records = t.details["latencies"]
        assert records["latency_ms@onnxruntime:b8"]["batch_size"] == 8
        assert all(r["threads"] >= 1 and r["repeats"] >= 1 for r in records.values())
        assert records["latency_ms@onnxruntime:b1"]["runtime"] == "onnxruntime"
    final = [t for t in study.trials() if t.final]
    assert final and "test_accuracy_int8_mean" in final[0].final


def test_spread_picks_both_ends_and_evenly_between():
    from archscout.study import spread
    front = list(range(10))
    assert spread(front, 3) == [0, 4, 9] or spread(front, 3) == [0, 5, 9]
    assert spread(front, 2) == [0, 9] and spread(front, 1) == [0] and spread(front[:2], 5) == [0, 1]


def test_a_latency_estimate_clearly_over_the_bound_rejects_the_candidate_unmeasured():
    from archscout.evaluate import Infeasible, make_evaluator
    from archscout.evaluate.training import TrainConfig
    from archscout.tasks import get_task

    class Table:  # stands in for a LatencyTable that puts every network at 10 ms
        def estimate(self, arch):
            return 10.0

    ev = make_evaluator("train", get_task("iris"), TrainConfig(steps=5), metrics=["latency_ms@onnxruntime:b1"])
    arch = get_space("mlp").sample(0)
    ev.prescreen["latency_ms@onnxruntime:b1"] = (Table(), 1.0)
    with pytest.raises(Infeasible, match="estimated at 10 ms .* not measured") as caught:
        ev.evaluate(arch)
    assert "latency_ms@onnxruntime:b1" not in caught.value.metrics and caught.value.metrics["params"] > 0
    ev.prescreen["latency_ms@onnxruntime:b1"] = (Table(), 9.0)  # within the margin: measured for real
    assert ev.evaluate(arch).metrics["latency_ms@onnxruntime:b1"] > 0


@pytest.mark.slow
def test_prescreening_builds_lookup_tables_for_the_latency_bounds(tmp_path):
    study = Study("pre", space="mlp", task="iris", strategy="random", storage=f"sqlite:///{tmp_path}/p.db",
                  train={"steps": 5}, constraints=["latency_ms <= 50"], prescreen_latency=True)
    ev = study.evaluator()
    study._attach_latency_tables(ev)
    table, bound = ev.prescreen["latency_ms"]
    assert bound == 50 and len(table) > 0 and table.runtime == "pytorch"
    study.run(trials=2, final_top_k=0)
    assert len(study.trials("complete")) == 2
    assert Study.load("pre", f"sqlite:///{tmp_path}/p.db").prescreen_latency


def test_latency_on_every_runtime_is_measured_before_training():
    """A cost check sees every latency (and the INT8 size) of the untrained network, so a latency bound
    rejects a candidate without training it."""
    from archscout.evaluate import Infeasible, make_evaluator
    from archscout.evaluate.training import TrainConfig
    from archscout.metrics import Constraint
    from archscout.tasks import get_task

    wanted = ["latency_ms@onnxruntime:b4", "latency_ms@onnxruntime-int8:b1", "size_bytes@int8"]
    ev = make_evaluator("train", get_task("iris"), TrainConfig(steps=5), metrics=wanted)
    seen = {}

    def reject(metrics):
        seen.update(metrics)
        return Constraint.parse("latency_ms@onnxruntime:b4 <= 0").check(metrics)

    with pytest.raises(Infeasible, match="violates latency_ms@onnxruntime:b4"):
        ev.evaluate(get_space("mlp").sample(1), cost_check=reject)
    assert all(seen[m] > 0 for m in wanted + ["latency_ms", "params", "flops"])
    assert "accuracy" not in seen and "train_seconds" not in seen


@pytest.mark.slow
def test_the_front_history_of_a_study_searched_by_two_processes_at_once(tmp_path):
    """Each process stores the front it saw, without the other's latest results; the history that reports
    and plots read is worked out from every trial in the order they finished, so it ends on the real front."""
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path}/two.db"
    cmd = [sys.executable, "-m", "archscout.cli", "search", "--evaluator", "synthetic:delay=0.2", "--space", "mlp",
           "--strategy", "nsga2", "--objectives", "accuracy:max,latency_ms:min", "--trials", "50", "--study", "two",
           "--storage", db, "--no-progress"]
    Study("two", space="mlp", evaluator="synthetic:delay=0.2", strategy="nsga2",
          objectives="accuracy:max,latency_ms:min", storage=db)  # created once, so both processes resume it
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    study = Study.load("two", db)
    sessions = {t.details.get("worker", {}).get("pid") for t in study.trials()}
    assert len(sessions) == 2  # both processes ran trials
    history = study.fronts()
    assert [f["finished"] for f in history] == list(range(1, 51))
    assert history[-1]["front"] == sorted(t.number for t in study.front())
    hv = [f["hypervolume"] for f in history]
    assert all(b >= a - 1e-12 for a, b in zip(hv, hv[1:]) if a is not None)
    from archscout.pareto import hypervolume, to_minimise
    ref = to_minimise([[study.reference_point[m] for m, _ in study.objectives]], ["max", "min"])[0]
    points = to_minimise([[t.metrics["accuracy"], t.metrics["latency_ms"]] for t in study.front()], ["max", "min"])
    assert hv[-1] == pytest.approx(hypervolume(points, ref))


def test_the_reference_point_comes_from_the_problem_where_it_can_and_says_where_it_came_from():
    from archscout.metrics import Constraint
    from archscout.study.fronts import default_reference

    F = np.array([[-0.9, 10.0], [-0.8, 5.0], [-0.7, 4.0], [-0.6, 2.0], [-0.5, 1.0]])
    objectives = [("accuracy", "max"), ("latency_ms", "min")]
    ref, sources = default_reference(objectives, [], None, None, F)
    assert ref == {"accuracy": 0.0, "latency_ms": pytest.approx(10.0 + 0.5 * 9.0)}
    assert sources == {"accuracy": "accuracy", "latency_ms": "study"}
    assert default_reference(objectives, [], None, None, F[:4]) is None  # too few results for the study's own
    ref, sources = default_reference(objectives, [Constraint.parse("latency_ms <= 3")], {"accuracy": 0.5}, None, F)
    assert ref == {"accuracy": 0.5, "latency_ms": 3.0} and sources == {"accuracy": "given", "latency_ms": "constraint"}
    # a cost computed from the network: the space's examined architectures, worst plus 10 % of their range
    ref, sources = default_reference([("accuracy", "max"), ("params", "min")], [], None, None, F[:1],
                                     space_values=lambda m: [100.0, 300.0, 200.0] if m == "params" else None)
    assert ref["params"] == pytest.approx(320.0) and sources["params"] == "space"


@pytest.mark.slow
def test_two_trained_studies_of_one_problem_share_a_params_reference(tmp_path):
    refs = []
    for name, seed in (("a", 0), ("b", 1)):
        study = Study(name, space="mlp", task="iris", objectives="accuracy:max,params:min", strategy="random",
                      storage=f"sqlite:///{tmp_path}/{name}.db", seed=seed, train={"steps": 5, "batch_size": 16})
        study.run(trials=2)
        assert study.front() and study.fronts()[-1]["hypervolume"] is not None
        assert study.reference_sources == {"accuracy": "accuracy", "params": "space"}
        assert study.reference_note() is None
        refs.append(study.reference_point)
    assert refs[0] == refs[1] and refs[0]["params"] > 0


def test_a_reference_from_the_studys_own_results_is_flagged(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--evaluator", "synthetic", "--space", "mlp", "--objectives",
                 "accuracy:max,latency_ms:min", "--strategy", "random", "--trials", "8", "--study", "own",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["front", "own"]) == 0
    out = capsys.readouterr().out
    assert "latency_ms came from this study's first results" in out and "--reference latency_ms=VALUE" in out
    study = Study.load("own", "sqlite:///archscout.db")
    assert study.reference_sources == {"accuracy": "accuracy", "latency_ms": "study"}
