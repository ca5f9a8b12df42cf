"""Latency estimates: the per-operator lookup table, the learned predictor and their agreement with measurement."""
import json
import math

import numpy as np
import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space
from archscout.cost.latency_table import LatencyPredictor, LatencyTable, agreement

SHAPE, CLASSES = (1, 32), 3
TINY = Space("tiny-latency",
             stages=Repeat(1, 3, Block(op=Choice(["conv"]), width=Choice([4, 128]), kernel=Choice([3, 9]),
                                       act=Choice(["relu", "gelu"]))),
             head=Choice(["gap"]))
SMALL = TINY.architecture({"stages": [{"op": "conv", "width": 4, "kernel": 3, "act": "relu"}], "head": "gap"})
LARGE = TINY.architecture({"stages": [{"op": "conv", "width": 128, "kernel": 9, "act": "gelu"}] * 3, "head": "gap"})


@pytest.fixture(scope="module")
def table():
    return LatencyTable.build(TINY, SHAPE, CLASSES, samples=8, calibration=8)


def test_build_times_operators_and_fits_the_overhead(table):
    assert len(table) > 0 and all(ms > 0 for ms in table.entries.values())
    assert len(table.overhead_) == 3 and len(table.calibration_) == 8
    assert table.added_on_demand == 0
    assert "estimate" in table.source


def test_estimates_are_positive_and_rank_a_large_network_above_a_small_one(table):
    small, large = table.estimate(SMALL), table.estimate(LARGE)
    assert 0 < small < large


def test_unknown_operators_are_measured_and_added():
    table = LatencyTable(TINY, SHAPE, CLASSES)
    assert len(table) == 0
    first = table.estimate(LARGE)
    assert first > 0 and len(table) == table.added_on_demand > 0
    assert table.estimate(LARGE) == first and table.added_on_demand == len(table)  # nothing new the second time


def test_save_load_round_trip_and_refusals(table, tmp_path):
    path = tmp_path / "table.json"
    table.save(path)
    loaded = LatencyTable.load(path, runtime="pytorch", batch_size=1, threads=1, space=TINY)
    assert loaded.entries == table.entries and loaded.overhead_ == table.overhead_
    assert loaded.estimate(SMALL) == table.estimate(SMALL)
    for wrong in ({"runtime": "onnxruntime"}, {"batch_size": 8}, {"threads": 2}):
        with pytest.raises(ArchscoutError, match="holds latencies for"):
            LatencyTable.load(path, space=TINY, **wrong)
    data = json.loads(path.read_text())
    data["machine"]["cpu_model"] = "another CPU"
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="not on this machine"):
        LatencyTable.load(path, space=TINY)


def test_estimate_refuses_another_space(table):
    with pytest.raises(ArchscoutError, match="tiny-latency"):
        table.estimate(Space("other", stages=Repeat(1, 1, Block(width=Choice([4])))).sample(seed=0))


def test_onnxruntime_table():
    table = LatencyTable.build(TINY, SHAPE, CLASSES, samples=3, calibration=3, runtime="onnxruntime")
    assert table.runtime == "onnxruntime" and table.estimate(LARGE) > 0


def test_predictor_fits_and_predicts_one_latency_per_architecture():
    archs = [TINY.sample(seed=i) for i in range(40)]
    # a stand-in for measured latency: grows with width and depth
    latency = [0.01 + sum(s["width"] * s["kernel"] for s in a.values["stages"]) / 1e4 for a in archs]
    predictor = LatencyPredictor(TINY).fit(archs, latency)
    predicted = predictor.predict(archs[:7])
    assert predicted.shape == (7,) and np.all(predicted > 0)
    assert predictor.predict([]).shape == (0,)
    assert agreement(predictor.predict(archs), latency)["spearman"] > 0.9
    assert "estimate" in predictor.source


def test_predictor_refuses_bad_input():
    with pytest.raises(ArchscoutError, match="not fitted"):
        LatencyPredictor(TINY).predict([SMALL])
    with pytest.raises(ArchscoutError, match="as many latencies"):
        LatencyPredictor(TINY).fit([SMALL, LARGE], [1.0])
    with pytest.raises(ArchscoutError, match="positive"):
        LatencyPredictor(TINY).fit([SMALL, LARGE], [1.0, 0.0])


def test_agreement_on_known_values():
    perfect = agreement([1.1, 2.0, 2.7], [1.0, 2.0, 3.0])
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["n"] == 3
    assert perfect["mean_relative_error"] == pytest.approx((0.1 / 1 + 0 + 0.3 / 3) / 3)
    assert agreement([3, 2, 1], [1, 2, 3])["spearman"] == pytest.approx(-1.0)
    assert math.isclose(agreement([2, 4], [2, 4])["mean_relative_error"], 0.0)
    with pytest.raises(ArchscoutError):
        agreement([1, 2, 3], [1, 2])
    with pytest.raises(ArchscoutError):
        agreement([1, 2], [0, 2])


def test_an_estimate_is_never_below_the_fastest_speed_up_a_calibration_network_showed():
    table = LatencyTable.build(TINY, SHAPE, CLASSES, samples=3, calibration=3)
    # a fit on a few noisy networks with a negative cost per call (ONNX Runtime's fusion gives real ones),
    # extrapolated to a network of many calls, would say a negative latency
    table.overhead_ = (0.0, 0.1, -1.0)
    estimate = table.estimate(LARGE)
    ratio = min(r["measured_ms"] / r["sum_ms"] for r in table.calibration_)
    assert estimate > 0 and estimate == pytest.approx(ratio * table._sum(LARGE.build(SHAPE, CLASSES))[0])
