"""`archscout bench`: the runs, the statistics, the files, and refusals of bad arguments."""
import json
import math
import statistics

import numpy as np
import pytest

from archscout import ArchscoutError
from archscout.bench import (
    PARETO_TUNING_GRIDS,
    REPORT_DATASETS,
    REPORT_SEED_START,
    TUNING_DATASETS,
    TUNING_GRIDS,
    TUNING_SEEDS,
    best_test,
    front_quality,
    igd_plus,
    markdown,
    run_bench,
    run_once,
    run_pareto,
    space_optimum,
    summarise,
    true_front,
    write_results,
)
from archscout.cli import main
from archscout.evaluate.tables.nas_bench_graph import DATASETS, load_table
from archscout.pareto import hypervolume, nondominated
from archscout.space import benchmark_key, get_space
from archscout.stats import mean_ci, nemenyi_cd, wilson
from archscout.strategy import Strategy, make_strategy

ACC_LATENCY = ("accuracy:max", "latency_ms:min")


def test_a_run_counts_distinct_queries_and_tracks_the_pick():
    run = run_once("citeseer", "evolution", seed=3, budget=80)
    assert run["queries"] == 80 and run["asks"] >= 80
    table = load_table("citeseer")
    curve = run["best_valid"]
    assert len(curve) == 80 and all(a <= b for a, b in zip(curve, curve[1:]))
    for best, test, key in zip(curve, run["picked_test"], run["picked_key"]):
        assert table[key][0] == best and table[key][1] == test  # the pick is the best-validation one so far


def test_summary_statistics_by_hand():
    top, best_keys = space_optimum("proteins")
    (key,) = best_keys
    other = next(k for k in load_table("proteins") if k != key)
    low = load_table("proteins")[other]
    runs = [{"dataset": "proteins", "strategy": "s", "seed": i, "seconds": 1.0, "queries": 2,
             "best_valid": [low[0], top], "picked_test": [low[1], 0.5], "picked_key": [other, key]} for i in range(2)]
    runs.append({"dataset": "proteins", "strategy": "s", "seed": 2, "seconds": 1.0, "queries": 1,
                 "best_valid": [low[0]], "picked_test": [low[1]], "picked_key": [other]})  # stopped short
    rows = {r["budget"]: r for r in summarise(runs, [1, 2])}
    assert rows[1]["valid_regret"] == pytest.approx(100 * (top - low[0]))
    assert rows[2]["valid_regret"] == pytest.approx(100 * (top - low[0]) / 3)
    assert rows[2]["runs_short_of_budget"] == 1 and rows[1]["runs_short_of_budget"] == 0
    # the headline: the test accuracy of the validation pick, and its regret against the space's best test accuracy
    assert rows[2]["test_accuracy"] == pytest.approx((50 + 50 + 100 * low[1]) / 3)
    assert rows[2]["test_regret"] == pytest.approx(100 * best_test("proteins") - rows[2]["test_accuracy"])
    # the area: the mean picked test accuracy over queries 1..2 (the short run keeps its last value)
    assert rows[2]["test_area"] == pytest.approx((2 * (100 * low[1] + 50) / 2 + 100 * low[1]) / 3)
    assert rows[2]["best_validation_pick_rate"] == pytest.approx(2 / 3)


def test_intervals():
    m, h = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(4.303 * 1 / math.sqrt(3), rel=1e-3)
    lo, hi = wilson(8, 10)
    assert 0.44 < lo < 0.5 and 0.94 < hi < 0.97
    assert wilson(0, 20)[0] == 0.0


def test_querying_the_whole_space_has_no_validation_regret_but_may_have_test_regret():
    # a budget of all 2,021 proteins architectures: whatever the order, the best-validation one is picked
    result = run_bench("nas-bench-graph", ["proteins"], ["random"], [100, 2021], seeds=1)
    rows = {r["budget"]: r for r in result["summary"]}
    assert rows[2021]["runs_short_of_budget"] == 0 and rows[2021]["valid_regret"] == 0
    assert rows[100]["valid_regret"] > 0
    table = load_table("proteins")
    (key,) = space_optimum("proteins")[1]
    assert rows[2021]["test_accuracy"] == pytest.approx(100 * table[key][1])
    assert rows[2021]["test_regret"] == pytest.approx(100 * (best_test("proteins") - table[key][1]))
    assert len({benchmark_key(a) for a in get_space("gnn-proteins").enumerate()}) == 2021


def test_reports_run_on_other_datasets_and_seeds_than_the_defaults_were_tuned_on():
    assert not set(TUNING_DATASETS) & set(REPORT_DATASETS)
    assert set(TUNING_DATASETS) | set(REPORT_DATASETS) == set(DATASETS)
    result = run_bench("nas-bench-graph", strategies=["random"], budgets=[3], seeds=2)
    assert result["datasets"] == list(REPORT_DATASETS)
    assert {r["seed"] for r in result["runs"]} == {REPORT_SEED_START, REPORT_SEED_START + 1}
    assert not {r["seed"] for r in result["runs"]} & set(TUNING_SEEDS)
    assert "None of the datasets reported here was used for tuning" in markdown(result)
    warned = markdown(run_bench("nas-bench-graph", ["cora", "cs"], ["random"], [3], seeds=2))
    assert "Warning: cora was used for tuning" in warned


def test_every_tuned_strategy_gets_the_same_number_of_configurations_defaults_first():
    for grids in (TUNING_GRIDS, PARETO_TUNING_GRIDS):
        assert len({len(g) for g in grids.values()}) == 1
        for name, grid in grids.items():
            assert grid[0] == {} and len({json.dumps(c, sort_keys=True) for c in grid}) == len(grid)
            for options in grid:  # every configuration is one the strategy accepts
                make_strategy(name, get_space("gnn"), objectives=2 if grids is PARETO_TUNING_GRIDS else 1, **options)
    assert {"optuna-tpe"} <= set(TUNING_GRIDS) and {"optuna-nsga2", "optuna-tpe"} <= set(PARETO_TUNING_GRIDS)


def test_tuning_picks_the_configuration_with_the_best_mean_headline(monkeypatch):
    import archscout.bench as bench
    # evolution with a population of 500 is random search for 30 queries; 5 keeps mutating the best
    monkeypatch.setitem(bench.TUNING_GRIDS, "evolution", [{}, {"population_size": 500, "sample_size": 2}])
    tuning = bench.tune(["evolution", "random"], datasets=["cora", "pubmed"], seeds=range(3), budget=30)
    assert tuning["grids"]["random"] == [{}] and tuning["chosen"]["random"] == {}
    assert math.isnan(tuning["scores"]["random"][0])  # one configuration: nothing to run
    scores = tuning["scores"]["evolution"]
    expected = []
    for options in ({}, {"population_size": 500, "sample_size": 2}):
        expected.append(statistics.fmean(statistics.fmean(100 * run_once(d, "evolution", s, 30, options)
                                                          ["picked_test"][-1] for s in range(3))
                                         for d in ("cora", "pubmed")))
    assert scores == pytest.approx(expected)
    assert tuning["chosen"]["evolution"] == [{}, {"population_size": 500, "sample_size": 2}][int(np.argmax(expected))]
    result = run_bench("nas-bench-graph", ["proteins"], ["random"], [5], seeds=1,
                       options={"random": {}})
    assert result["tuning"] is None and result["options"] == {"random": {}}


def test_comparisons_with_peers_are_corrected_for_their_number():
    result = run_bench("nas-bench-graph", ["cs", "proteins"], ["random", "evolution", "optuna-tpe"], [10, 30],
                       seeds=3)
    rows = result["comparisons"]
    assert len(rows) == 2 * 2 * 1 * 2  # datasets x budgets x (ours) x peers
    assert {r["comparisons"] for r in rows} == {8} and {r["strategy"] for r in rows} == {"evolution"}
    for r in rows:
        assert r["low"] <= r["difference"] <= r["high"]
        assert r["verdict"] == ("better" if r["low"] > 0 else "worse" if r["high"] < 0 else "no difference")
    ranks = {r["budget"]: r for r in result["ranks"]}
    assert set(ranks[30]["ranks"]) == {"random", "evolution", "optuna-tpe"}
    assert sum(ranks[30]["ranks"].values()) == pytest.approx(1 + 2 + 3)
    assert ranks[30]["critical_difference"] == pytest.approx(nemenyi_cd(3, 2))


def test_cli_writes_table_json_and_plots(tmp_path, capsys):
    out = tmp_path / "res"
    code = main(["bench", "nas-bench-graph", "--datasets", "cora,proteins", "--strategies", "random,evolution",
                 "--budgets", "10,30", "--seeds", "3", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "## cora" in stdout and "## proteins" in stdout and "| evolution |" in stdout
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == 2 * 2 * 3 and {r["budget"] for r in data["summary"]} == {10, 30}
    assert data["peers"] == ["random"]
    run = data["runs"][0]
    assert run["at_queries"][0] == 1 and run["at_queries"][-1] == 30 and 10 in run["at_queries"]
    assert len(run["best_valid"]) == len(run["at_queries"]) == len(run["picked_key"])
    for name in ("cora.png", "proteins.png", "ranks.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "results.md").read_text().startswith("# nas-bench-graph")


@pytest.mark.parametrize("args, message", [
    (["nas-bench-101"], "unknown benchmark 'nas-bench-101'"),
    (["nas-bench-graph", "--datasets", "cora,coraa"], "Valid NAS-Bench-Graph datasets: arxiv, citeseer, computers"),
    (["nas-bench-graph", "--strategies", "random,evolutoin"], "Did you mean 'evolution'"),
    (["nas-bench-graph", "--budgets", "10,x"], "'x' is not a whole number"),
    (["nas-bench-graph", "--budgets", "0"], "budgets are numbers of queries >= 1"),
    (["nas-bench-graph", "--datasets", "proteins", "--budgets", "3000"], "more than the 2021 architectures"),
    (["nas-bench-graph", "--seeds", "0"], "seeds must be a positive integer, got 0"),
    (["nas-bench-graph", "--datasets", ""], "comma-separated list"),
    (["nas-bench-graph", "--workers", "0"], "workers must be a positive integer, got 0"),
    (["nas-bench-graph", "--seed-start", "-1"], "seed_start must be a non-negative integer, got -1"),
])
def test_bad_arguments_get_one_line_and_exit_2(capsys, args, message):
    code = main(["bench", *args])  # refused before any run starts
    _, err = capsys.readouterr()
    assert code == 2 and message in err and "Traceback" not in err and err.count("\n") == 1


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code = main(["bench", "nas-bench-graph", "--datasets", "cora", "--strategies", "random", "--budgets", "5",
                 "--seeds", "1", "--out", str(f)])
    _, err = capsys.readouterr()
    assert code == 2 and "is a file" in err


def test_api_refuses_bad_arguments():
    with pytest.raises(ArchscoutError, match="budgets"):
        run_bench("nas-bench-graph", ["cora"], ["random"], [-5], seeds=1)


# -- multi-objective mode ----------------------------------------------------------------------

class FrontFirst(Strategy):
    """Proposes the table's true front first, then the rest of the space in order."""

    multi_objective = True

    def __init__(self, space, keys):
        super().__init__(space)
        by_key = {benchmark_key(a): a for a in space.enumerate()}
        first = set(keys)
        self.queue = [by_key[k] for k in keys] + [a for k, a in by_key.items() if k not in first]
        self.told = []

    def ask(self):
        return self.queue.pop(0)

    def tell(self, arch, score):
        self.told.append(score)


def test_front_quality_by_hand():
    valid = np.array([[0.5, 0.5], [0.25, 0.75], [0.6, 0.6], [1.2, 0.0]])
    test = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.5, 0.5]])
    # the validation front: rows 0, 1 and 3 (row 2 is dominated; row 3 lies beyond the reference (1.1, 1.1) and
    # adds nothing): 0.6 x 0.6 + 0.25 x 0.35 = 0.4475 of the true front's 0.895
    valid_ref = {"reference": np.array([1.1, 1.1]), "hypervolume": 0.895}
    # scored on test: rows 0, 1 and 3, never row 2 (its test point is the best, but validation did not pick it):
    # boxes of 0.11, 0.11 and 0.36 with overlaps 0.01, 0.06, 0.06 and 0.01 in all three: 0.46
    test_ref = {"reference": np.array([1.1, 1.1]), "hypervolume": 0.92, "scaled": np.array([[0.0, 1.0], [1.0, 0.0]])}
    q = front_quality(valid, test, valid_ref, test_ref)
    assert q["front_size"] == 3
    assert q["valid_hv_ratio"] == pytest.approx(0.5) and q["test_hv_ratio"] == pytest.approx(0.5)
    assert q["test_igd_plus"] == 0.0  # both true front points were found


def test_igd_plus_counts_only_where_the_found_points_are_worse():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert igd_plus(np.array([[0.2, 0.2]]), front) == pytest.approx(0.2)
    assert igd_plus(np.array([[0.0, 0.0]]), front) == 0.0  # dominating the true front costs nothing
    assert igd_plus(np.array([[0.5, 1.5], [1.5, 0.5]]), front) == pytest.approx(math.sqrt(0.5))  # (0.5, 0.5) worse
    assert igd_plus(np.zeros((0, 2)), front) == math.inf


def test_the_reference_point_is_the_true_fronts_nadir_plus_a_tenth_of_its_range_with_latency_on_a_log_scale():
    ref = true_front("cora", (("accuracy", "max"), ("latency_ms", "min")))
    table = load_table("cora")
    front = np.array([[-table[k][0], math.log10(table[k][2])] for k in ref["keys"]])
    assert ref["ideal"] == pytest.approx(front.min(0)) and ref["nadir"] == pytest.approx(front.max(0))
    assert list(ref["reference"]) == [1.1, 1.1]
    assert ref["scaled"].min(0) == pytest.approx([0, 0]) and ref["scaled"].max(0) == pytest.approx([1, 1])
    on_test = true_front("cora", (("accuracy", "max"), ("latency_ms", "min")), test=True)
    assert set(on_test["keys"]) != set(ref["keys"])  # the test front is a different set of architectures
    F = np.array([[-table[k][1], math.log10(table[k][2])] for k in on_test["keys"]])
    assert len(nondominated(F)) == len(F)


def test_a_run_that_queries_the_true_front_reaches_a_validation_ratio_of_one():
    front = true_front("proteins", (("accuracy", "max"), ("latency_ms", "min")))
    n = len(front["keys"])
    strat = FrontFirst(get_space("gnn-proteins"), front["keys"])
    run = run_pareto("proteins", strat, seed=0, budget=n + 10, objectives=ACC_LATENCY, at=[1, n - 1, n, n + 10])
    assert run["valid_hv_ratio"][0] < run["valid_hv_ratio"][1] < 1.0
    assert run["valid_hv_ratio"][2] == pytest.approx(1.0) and run["valid_hv_ratio"][3] == pytest.approx(1.0)
    assert run["front_size"][2] == n and sorted(run["front_keys"]) == sorted(front["keys"])
    # the headline scores the same architectures on test accuracy: not the true test front, so below one
    on_test = true_front("proteins", (("accuracy", "max"), ("latency_ms", "min")), test=True)
    table = load_table("proteins")
    test = np.array([[-table[k][1], math.log10(table[k][2])] for k in front["keys"]])
    expected = hypervolume((test - on_test["ideal"]) / on_test["span"], on_test["reference"]) / on_test["hypervolume"]
    assert run["test_hv_ratio"][2] == pytest.approx(expected) and expected < 1.0
    first = table[front["keys"][0]]
    assert strat.told[0] == (first[0], -first[2])  # oriented: higher is better, latency negated


def test_a_random_run_has_ratios_between_zero_and_one():
    run = run_pareto("cora", "random", seed=4, budget=100, objectives=ACC_LATENCY)
    assert run["queries"] == 100 and run["at_queries"][-1] == 100 and len(run["test_hv_curve"]) == 100
    ratios = run["valid_hv_ratio"]
    assert 0 <= ratios[0] and ratios[-1] <= 1 and all(a <= b for a, b in zip(ratios, ratios[1:]))
    assert all(0 <= r <= 1 for r in run["test_hv_ratio"]) and run["test_hv_ratio"][-1] == run["test_hv_curve"][-1]
    table = load_table("cora")
    F = np.array([[-table[k][0], table[k][2]] for k in run["front_keys"]])
    assert len(nondominated(F)) == len(F) == run["front_size"][-1]


def test_a_multi_objective_bench_summarises_and_writes_test_hypervolume_ratios(tmp_path):
    result = run_bench("nas-bench-graph", ["cora", "proteins"], ["random", "optuna-nsga2"], [10, 30], seeds=3,
                       objectives=["accuracy", "params:min"])
    assert result["objectives"] == ["accuracy:max", "params:min"] and result["peers"] == ["random", "optuna-nsga2"]
    assert result["log_scaled"] == ["params"]
    rows = {(r["dataset"], r["strategy"], r["budget"]): r for r in result["summary"]}
    assert len(rows) == 2 * 2 * 2
    for r in rows.values():
        assert 0 <= r["test_hv_ratio"] <= 1 and r["test_hv_ratio_ci95"] >= 0 and r["front_size"] >= 1
        assert r["test_igd_plus"] >= 0 and 0 <= r["test_area"] <= 1
    assert rows[("cora", "random", 30)]["valid_hv_ratio"] >= rows[("cora", "random", 10)]["valid_hv_ratio"]
    text = markdown(result)
    assert "| strategy | B=10 test HV ratio | B=10 IGD+ | B=30 test HV ratio | B=30 IGD+ | B=30 area |" in text
    assert f"## proteins (true test front: {result['true_front']['proteins']['size']} architectures)" in text
    assert "Warning: cora was used for tuning" in text
    paths = write_results(result, str(tmp_path / "mo"))
    data = json.loads((tmp_path / "mo" / "results.json").read_text())
    assert data["summary"] == json.loads(json.dumps(result["summary"]))
    run = data["runs"][0]
    assert 10 in run["at_queries"] and len(run["test_hv_ratio"]) == len(run["at_queries"]) == len(run["front_size"])
    assert "test_hv_curve" not in run and set(run["test_area"]) == {"10", "30"}
    for path in paths[2:]:
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("objectives, message", [
    (["accuracy:max", "flops:min"], "do not hold 'flops'; objectives can use accuracy, latency_ms, params"),
    (["accuracy:max", "latencyms:min"], "unknown metric"),
    (["accuracy:max", "accuracy:min"], "given twice"),
    (["accuracy:up", "latency_ms:min"], "accuracy:up"),
    (["test_accuracy:max", "latency_ms:min"], "test_accuracy cannot be an objective"),
    (["accuracy:max"], "two or more objectives"),
])
def test_bad_objectives_are_refused(objectives, message):
    with pytest.raises(ArchscoutError, match=message):
        run_bench("nas-bench-graph", ["cora"], ["random"], [5], seeds=1, objectives=objectives)


def test_a_single_objective_strategy_is_refused_in_multi_objective_mode():
    with pytest.raises(ArchscoutError, match="'evolution' optimises one objective; .*optuna-tpe.*random"):
        run_bench("nas-bench-graph", ["cora"], ["random", "evolution"], [5], seeds=1, objectives=ACC_LATENCY)
