"""`archscout bench`: the runs, the statistics, the files, and refusals of bad arguments."""
import json
import math

import pytest

import numpy as np

from archscout import ArchscoutError
from archscout.bench import (hypervolume_curve, markdown, mean_ci, run_bench, run_once, run_pareto, space_optimum,
                             summarise, true_front, wilson, write_results)
from archscout.cli import main
from archscout.evaluate.tabular import load_table
from archscout.pareto import nondominated
from archscout.space import benchmark_key, get_space
from archscout.strategy import Strategy

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
    runs = [{"dataset": "proteins", "strategy": "s", "seed": i, "seconds": 1.0,
             "best_valid": [low[0], top], "picked_test": [low[1], 0.5], "picked_key": [other, key]} for i in range(2)]
    runs.append({"dataset": "proteins", "strategy": "s", "seed": 2, "seconds": 1.0, "best_valid": [low[0]],
                 "picked_test": [low[1]], "picked_key": [other]})  # stopped short: its last value is carried
    rows = {r["budget"]: r for r in summarise(runs, [1, 2])}
    assert rows[1]["valid_regret"] == pytest.approx(100 * (top - low[0]))
    assert rows[1]["hit_rate"] == 0 and rows[2]["hit_rate"] == pytest.approx(2 / 3)
    assert rows[2]["valid_regret"] == pytest.approx(100 * (top - low[0]) / 3)
    assert rows[2]["runs_short_of_budget"] == 1 and rows[1]["runs_short_of_budget"] == 0
    assert rows[2]["test_accuracy"] == pytest.approx((50 + 50 + 100 * low[1]) / 3)


def test_intervals():
    m, h = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(4.303 * 1 / math.sqrt(3), rel=1e-3)
    lo, hi = wilson(8, 10)
    assert 0.44 < lo < 0.5 and 0.94 < hi < 0.97
    assert wilson(0, 20)[0] == 0.0


def test_querying_the_whole_space_always_hits():
    # a budget of all 2,021 proteins architectures: whatever the order, the best is found
    result = run_bench("nas-bench-graph", ["proteins"], ["random"], [100, 2021], seeds=1)
    rows = {r["budget"]: r for r in result["summary"]}
    assert rows[2021]["runs_short_of_budget"] == 0
    assert rows[2021]["hit_rate"] == 1 and rows[2021]["valid_regret"] == 0
    assert rows[100]["valid_regret"] > 0
    assert len({benchmark_key(a) for a in get_space("gnn-proteins").enumerate()}) == 2021


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
    for name in ("cora.png", "proteins.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "results.md").read_text().startswith("# nas-bench-graph")


@pytest.mark.parametrize("args, message", [
    (["nas-bench-101"], "unknown benchmark 'nas-bench-101'"),
    (["nas-bench-graph", "--datasets", "cora,coraa"], "Valid NAS-Bench-Graph datasets: arxiv, citeseer, computers"),
    (["nas-bench-graph", "--strategies", "random,evolutoin"], "Did you mean 'evolution'"),
    (["nas-bench-graph", "--budgets", "10,x"], "'x' is not a whole number"),
    (["nas-bench-graph", "--budgets", "0"], "budgets are numbers of queries >= 1"),
    (["nas-bench-graph", "--datasets", "proteins", "--budgets", "3000"], "more than the 2021 architectures"),
    (["nas-bench-graph", "--seeds", "0"], "seeds must be a number >= 1"),
    (["nas-bench-graph", "--datasets", ""], "comma-separated list"),
    (["nas-bench-graph", "--workers", "0"], "workers must be a number >= 1"),
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


def test_hypervolume_ratio_by_hand():
    scaled = np.array([[0.5, 0.5], [0.25, 0.75], [0.6, 0.6], [1.0, 0.0]])
    # (0.5, 0.5) alone: 0.25; (0.25, 0.75) adds 0.25 x 0.25; a dominated point and one on the box edge add nothing
    ratios, sizes = hypervolume_curve(scaled, 0.5, [1, 2, 3, 4, 9])
    assert ratios == pytest.approx([0.5, 0.625, 0.625, 0.625, 0.625])
    assert sizes == [1, 2, 2, 3, 3]


def test_a_run_that_queries_the_true_front_reaches_a_ratio_of_one():
    front = true_front("proteins", (("accuracy", "max"), ("latency_ms", "min")))
    n = len(front["keys"])
    strat = FrontFirst(get_space("gnn-proteins"), front["keys"])
    run = run_pareto("proteins", strat, seed=0, budget=n + 10, objectives=ACC_LATENCY, at=[1, n - 1, n, n + 10])
    assert run["hv_ratio"][0] < run["hv_ratio"][1] < 1.0
    assert run["hv_ratio"][2] == pytest.approx(1.0) and run["hv_ratio"][3] == pytest.approx(1.0)
    assert run["front_size"][2] == n and sorted(run["front_keys"]) == sorted(front["keys"])
    table = load_table("proteins")
    first = table[front["keys"][0]]
    assert strat.told[0] == (first[0], -first[2])  # oriented: higher is better, latency negated


def test_a_random_run_has_a_ratio_between_zero_and_one():
    run = run_pareto("cora", "random", seed=4, budget=100, objectives=ACC_LATENCY)
    assert run["queries"] == 100 and run["at_queries"][-1] == 100
    ratios = run["hv_ratio"]
    assert 0 < ratios[0] and ratios[-1] <= 1 and all(a <= b for a, b in zip(ratios, ratios[1:]))
    table = load_table("cora")
    F = np.array([[-table[k][0], table[k][2]] for k in run["front_keys"]])
    assert len(nondominated(F)) == len(F) == run["front_size"][-1]


def test_a_multi_objective_bench_summarises_and_writes_hypervolume_ratios(tmp_path):
    result = run_bench("nas-bench-graph", ["cora", "proteins"], ["random", "optuna-nsga2"], [10, 30], seeds=3,
                       objectives=["accuracy", "params:min"])
    assert result["objectives"] == ["accuracy:max", "params:min"] and result["peers"] == ["random", "optuna-nsga2"]
    rows = {(r["dataset"], r["strategy"], r["budget"]): r for r in result["summary"]}
    assert len(rows) == 2 * 2 * 2
    for r in rows.values():
        assert 0 < r["hv_ratio"] <= 1 and r["hv_ratio_ci95"] >= 0 and r["front_size"] >= 1
    assert rows[("cora", "random", 30)]["hv_ratio"] >= rows[("cora", "random", 10)]["hv_ratio"]
    text = markdown(result)
    assert "| strategy | B=10 HV ratio | B=10 front | B=30 HV ratio | B=30 front | s/run |" in text
    assert f"## proteins (true front: {result['true_front']['proteins']['size']} architectures)" in text
    paths = write_results(result, str(tmp_path / "mo"))
    data = json.loads((tmp_path / "mo" / "results.json").read_text())
    assert data["summary"] == json.loads(json.dumps(result["summary"]))
    run = data["runs"][0]
    assert 10 in run["at_queries"] and len(run["hv_ratio"]) == len(run["at_queries"]) == len(run["front_size"])
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
