"""`supernet check` measures trust as the field does (issue 29, part 2 item 5): a uniform sample of the elastic
space and τ within parameter bins beside the size-spanning sample, with bootstrap intervals."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from archscout import ArchscoutError
from archscout.evaluate.training import TrainConfig
from archscout.oneshot.supernet import elastic_spec
from archscout.oneshot.supernet.check import (
    binned_ranking,
    check_supernet,
    kendall_tau,
    ranking,
    rhos,
    spanning_sample,
    spearman_rho,
    taus,
    uniform_sample,
)
from archscout.oneshot.supernet.net import SuperNet
from archscout.oneshot.supernet.train import SupernetTraining, train_supernet
from archscout.tasks import get_task

SMALL = dict(widths=(8, 16), kernels=(3, 5), max_depth=2)


def test_the_uniform_sample_draws_every_elastic_choice_uniformly_and_is_not_spread_over_sizes():
    spec = elastic_spec("conv1d")
    net = SuperNet(spec, (40,), 10)
    drawn = uniform_sample(net, 500, seed=0)
    assert len({spec.space().architecture(v).id for v in drawn}) == 500
    depths = Counter(len(v["stages"]) for v in drawn)
    widths = Counter(st["width"] for v in drawn for st in v["stages"])
    kernels = Counter(st["kernel"] for v in drawn for st in v["stages"])
    # uniform over the depths, then over each stage's widths and kernels; the sub-networks are distinct, so depth 1
    # (only 32 of them) falls below its fifth in a sample this large
    assert set(depths) == {1, 2, 3, 4, 5} and depths[1] <= 32
    for counts, values in ((depths, range(2, 6)), (widths, spec.widths), (kernels, spec.kernels)):
        assert set(values) <= set(counts)
        assert chisquare([counts[v] for v in values]).pvalue > 0.001
    # a size-spread sample holds both ends of the size range; 30 uniform draws almost never do
    space = spec.space()
    span = [space.architecture(v).id for v in spanning_sample(net, 30, seed=0)]
    uniform = uniform_sample(net, 30, seed=0)
    ends = {space.architecture(spec.smallest()).id, space.architecture(spec.largest()).id}
    assert ends <= set(span) and not ends & {space.architecture(v).id for v in uniform}
    assert uniform == drawn[:30]  # the order drawn, the same for the same seed
    assert uniform != uniform_sample(net, 30, seed=1)
    with pytest.raises(ArchscoutError, match="at least 3 sub-networks"):
        uniform_sample(net, 2)
    tiny = SuperNet(elastic_spec("conv1d", **SMALL), (40,), 10)  # 4 + 16 sub-networks in all
    assert len(uniform_sample(tiny, 20)) == 20
    with pytest.raises(ArchscoutError, match="only 20 distinct sub-networks"):
        uniform_sample(tiny, 21)


def test_the_bootstrap_rank_correlations_are_scipys_row_by_row():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, (40, 12)).astype(float)  # many ties
    Y = rng.integers(0, 5, (40, 12)).astype(float)
    assert np.allclose(taus(X, Y), [kendall_tau(x, y) for x, y in zip(X, Y)])
    assert np.allclose(rhos(X, Y), [spearman_rho(x, y) for x, y in zip(X, Y)])
    assert np.isnan(taus(np.ones((1, 5)), np.arange(5.0)[None])[0])  # a constant row has no τ


def test_ranking_gives_intervals_that_hold_the_estimate_and_narrow_with_agreement():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    r = ranking(x, x + rng.normal(scale=0.5, size=30), rounds=400)
    lo, hi = r["kendall_tau_interval"]
    assert -1 <= lo < r["kendall_tau"] < hi <= 1 and r["samples"] == 30
    assert r["spearman_rho_interval"][0] < r["spearman_rho"] < r["spearman_rho_interval"][1]
    assert ranking(x, 2 * x, rounds=100)["kendall_tau_interval"] == [1.0, 1.0]


def test_binned_tau_is_computed_within_each_bin_by_parameter_count():
    # accuracy rises with size across the bins, but inside each bin the inherited order is reversed: τ over all
    # of them looks good, τ within the bins is -1
    rows = [{"params": p, "alone": p / 100, "inherited": (p - 1) // 3 - ((p - 1) % 3) / 10} for p in range(1, 10)]
    assert kendall_tau([r["inherited"] for r in rows], [r["alone"] for r in rows]) == pytest.approx(0.5)
    b = binned_ranking(rows, bins=3, rounds=200)
    assert [g["params"] for g in b["bins"]] == [[1, 3], [4, 6], [7, 9]]
    assert [g["samples"] for g in b["bins"]] == [3, 3, 3]
    assert [g["kendall_tau"] for g in b["bins"]] == pytest.approx([-1.0, -1.0, -1.0])
    assert b["kendall_tau_weighted"] == pytest.approx(-1.0) and b["kendall_tau_weighted_interval"] == [-1.0, -1.0]
    # the weighted mean weighs each bin by its sub-networks; a bin whose τ is undefined carries no weight
    rows = ([{"params": p, "inherited": p, "alone": p} for p in range(1, 4)]
            + [{"params": p, "inherited": -p, "alone": p} for p in range(4, 8)]
            + [{"params": p, "inherited": p, "alone": 0.5} for p in range(8, 11)])
    b = binned_ranking(rows, bins=3, rounds=50)
    assert [g["samples"] for g in b["bins"]] == [4, 3, 3]
    assert b["bins"][2]["kendall_tau"] is None
    tau0 = kendall_tau([1, 2, 3, -4], [1, 2, 3, 4])
    assert b["kendall_tau_weighted"] == pytest.approx((4 * tau0 + 3 * -1.0) / 7)
    # too few sub-networks for the bins asked: fewer bins of at least 3
    few = binned_ranking(rows[:7], bins=3, rounds=10)
    assert len(few["bins"]) == 2 and few["bins_asked"] == 3


@pytest.fixture(scope="module")
def small_supernet():
    task = get_task("mnist1d")
    torch.manual_seed(0)
    net = SuperNet(elastic_spec("conv1d", **SMALL), task.input_shape, task.num_classes)
    train_supernet(net, task.train, SupernetTraining(steps=20, batch_size=64), seed=0)
    return net, task


def test_a_check_ranks_the_size_spanning_and_the_uniform_sample_and_within_bins(small_supernet):
    net, task = small_supernet
    space = net.spec.space()
    result = check_supernet(net, task, TrainConfig(steps=5, batch_size=64), samples=4, uniform=6, bins=2, rounds=50)
    ids = {name: [space.architecture(v).id for v in picks] for name, picks in
           (("spanning", spanning_sample(net, 4)), ("uniform", uniform_sample(net, 6)))}
    rows = result["rows"]
    # a sub-network in both samples is trained once; each row says which samples it belongs to
    assert len(rows) == len(set(ids["spanning"]) | set(ids["uniform"]))
    for name in ("spanning", "uniform"):
        assert sorted(space.architecture(r["values"]).id for r in rows if name in r["sample"]) == sorted(ids[name])
    r = result["rankings"]
    assert set(r) == {"spanning", "uniform", "binned"}
    assert r["spanning"]["samples"] == 4 and r["uniform"]["samples"] == 6 and r["binned"]["samples"] == len(rows)
    uniform_rows = [x for x in rows if "uniform" in x["sample"]]
    assert r["uniform"]["kendall_tau"] == pytest.approx(
        kendall_tau([x["inherited"] for x in uniform_rows], [x["alone"] for x in uniform_rows]))
    assert len(r["binned"]["bins"]) == 2 and sum(g["samples"] for g in r["binned"]["bins"]) == len(rows)
    assert result["kendall_tau"] == r["spanning"]["kendall_tau"] and result["samples"] == 4
    assert result["interval"] == {"level": 0.95, "bootstrap": 50, "over": "sub-networks"}
    # no uniform sample when asked for none
    alone = check_supernet(net, task, TrainConfig(steps=5, batch_size=64), samples=3, uniform=0, rounds=10)
    assert set(alone["rankings"]) == {"spanning", "binned"} and len(alone["rows"]) == 3
