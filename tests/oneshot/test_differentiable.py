"""Differentiable search over the cell space (issue 20): DARTS (1st / 2nd order), PC-DARTS, GDAS, collapse guards."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from archscout import ArchscoutError, Study
from archscout.oneshot.differentiable.config import DifferentiableConfig
from archscout.oneshot.differentiable.mixed import MixedEdge, SearchNetwork
from archscout.oneshot.differentiable.search import _grown, dominant_eigenvalue, search_cell
from archscout.space import get_space
from archscout.space.cell import EDGES, OPS

FAST = dict(steps=6, batch_size=16, check_every=3, channels=8, stages=2)


@pytest.mark.parametrize("method", ["darts", "darts-2nd", "pc-darts", "gdas", "proxyless"])
@pytest.mark.slow
def test_each_method_searches_and_derives_a_cell_of_the_space(tiny, method):
    result = search_cell(tiny, DifferentiableConfig(method=method, **FAST), seed=0)
    cell = result["cell"]
    assert set(cell) == set(EDGES) and all(op in OPS for op in cell.values())
    get_space("cell").architecture(cell)  # a valid architecture
    assert [h["step"] for h in result["history"]] == [3, 6]
    probs = np.array(result["history"][-1]["probabilities"])
    assert probs.shape == (6, 5) and np.all(probs >= 0)
    if method != "pc-darts":  # PC-DARTS scales each edge by its normalised beta
        assert np.allclose(probs.sum(1), 1.0)
    assert all(np.isfinite(h["eigenvalue"]) for h in result["history"])
    assert result["seconds_per_step"] > 0 and result["peak_rss_mb"] > 0


def test_gdas_computes_only_the_sampled_operation():
    torch.manual_seed(0)
    edge = MixedEdge(8, 1)
    x = torch.randn(4, 8, 10)
    for i in range(len(OPS)):
        onehot = torch.zeros(len(OPS))
        onehot[i] = 1.0
        assert torch.allclose(edge(x, onehot, "gumbel"), edge.ops[i](x))


def test_pc_darts_mixes_a_quarter_of_the_channels_and_passes_the_rest():
    torch.manual_seed(0)
    edge = MixedEdge(8, 1, partial_k=4)
    x = torch.randn(2, 8, 10)
    only_skip = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])  # the skip operation alone: every channel comes through
    out = edge(x, only_skip, "partial")
    assert out.shape == x.shape
    assert sorted(out[0, :, 0].tolist()) == pytest.approx(sorted(x[0, :, 0].tolist()))
    only_none = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])  # zero on the 2 mixed channels, the other 6 untouched
    out = edge(x, only_none, "partial")
    assert int((out[0, :, 0] == 0).sum()) == 2


def test_the_dominant_eigenvalue_is_the_hessians_largest():
    torch.manual_seed(0)
    net = SearchNetwork((1, 12), 3, channels=4, stages=1)
    x, y = torch.randn(16, 1, 12), torch.randint(0, 3, (16,))
    lam = dominant_eigenvalue(net, x, y)

    def loss(a):
        from torch.func import functional_call
        return torch.nn.functional.cross_entropy(functional_call(net, {"alpha": a}, (x,)), y)

    a = net.alpha.detach().clone()
    H = torch.autograd.functional.hessian(loss, a).reshape(30, 30).double().numpy()
    assert np.allclose(H, H.T, atol=1e-5)
    assert lam == pytest.approx(float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1]), rel=1e-3, abs=1e-7)
    assert lam > 0  # the loss is not at a maximum in alpha


def test_the_early_stop_fires_when_the_eigenvalue_grows_and_returns_the_earlier_cell(tiny, monkeypatch):
    cfg = DifferentiableConfig(window=2, es_ratio=0.75)
    flat = [{"eigenvalue": v} for v in (1.0, 1.0, 1.1, 1.2)]
    grown = [{"eigenvalue": v} for v in (1.0, 1.0, 1.5, 1.6)]
    assert not _grown(flat, cfg) and _grown(grown, cfg) and not _grown(grown[:3], cfg)
    values = iter([1.0, 1.0, 2.0, 2.0, 9.0, 9.0])
    monkeypatch.setattr("archscout.oneshot.differentiable.search.dominant_eigenvalue", lambda *a: next(values))
    monkeypatch.setattr("archscout.oneshot.differentiable.search.parameter_free_edges", lambda cell: 0)
    result = search_cell(tiny, DifferentiableConfig(method="darts", guard=True, steps=30, check_every=3,
                                                    batch_size=16, channels=8, stages=2), seed=0)
    assert result["stopped_early_at"] == 12 and result["steps_run"] == 12
    assert result["stop_reason"] == "eigenvalue"
    assert result["cell"] == result["history"][1]["cell"]  # the cell of `window` checks before the stop


def test_the_guard_stops_when_the_cell_turns_parameter_free_and_keeps_the_last_healthy_cell(tiny, monkeypatch):
    monkeypatch.setattr("archscout.oneshot.differentiable.search.dominant_eigenvalue", lambda *a: 1.0)
    free = iter([2, 3, 5, 6, 6])
    monkeypatch.setattr("archscout.oneshot.differentiable.search.parameter_free_edges", lambda cell: next(free))
    cfg = DifferentiableConfig(method="darts", guard=True, steps=30, check_every=3, batch_size=16, channels=8,
                               stages=2)
    result = search_cell(tiny, cfg, seed=0)
    assert result["stopped_early_at"] == 9 and result["stop_reason"] == "parameter-free"
    assert result["cell"] == result["history"][1]["cell"]  # the latest with fewer than 4 parameter-free edges
    free = iter([5, 6, 6, 6, 6])  # collapsed from the first check: nothing healthy to go back to
    first = search_cell(tiny, cfg, seed=0)
    assert first["stopped_early_at"] == 3 and first["cell"] == first["history"][0]["cell"]
    unguarded = search_cell(tiny, DifferentiableConfig(method="darts", steps=6, check_every=3, batch_size=16,
                                                       channels=8, stages=2), seed=0)
    assert unguarded["stopped_early_at"] is None and unguarded["stop_reason"] is None


@pytest.mark.slow
def test_a_study_records_the_derived_cell_once_trained_and_retrained(tiny, tmp_path):
    s = Study("d", space="cell", task=tiny, strategy="darts", strategy_options={**FAST},
              storage=f"sqlite:///{tmp_path}/d.db", train={"steps": 10}, final_train={"steps": 10})
    s.run(final_top_k=1, final_seeds=1, progress=False)
    (t,) = s.trials()
    assert t.status == "complete" and t.details["recorded_by"] == "darts"
    assert t.details["differentiable"]["steps_run"] == 6 and "accuracy" in t.metrics
    assert t.final and "test_accuracy_mean" in t.final
    s.run(final_top_k=0, progress=False)  # searched already: nothing new
    assert len(s.trials()) == 1


def test_differentiable_methods_need_the_cell_space_and_a_task():
    with pytest.raises(ArchscoutError, match="darts searches the cell space"):
        Study("d", space="conv1d", strategy="darts", storage="sqlite:///:memory:")
    with pytest.raises(ArchscoutError, match="unknown differentiable method|steps must be a positive integer"):
        Study("d", space="cell", strategy="gdas", strategy_options={"steps": 0}, storage="sqlite:///:memory:")


@pytest.mark.slow
def test_the_report_draws_the_architecture_weights_over_the_search(tiny, tmp_path):
    from archscout.report.html import report

    s = Study("d", space="cell", task=tiny, strategy="gdas", strategy_options={**FAST},
              storage=f"sqlite:///{tmp_path}/d.db", train={"steps": 5})
    s.run(final_top_k=0, progress=False)
    sink: dict = {}
    html = report(s, sink=sink)
    assert 'id="differentiable"' in html and "gdas, 6 steps" in html
    assert "differentiable-0" in sink and sink["differentiable-0"].startswith(b"\x89PNG")
    # the search ran as a session of the study: its time is the study's search time, in seconds under a minute
    (t,) = s.trials()
    assert s.search_seconds >= t.details["differentiable"]["seconds"] > 0
    assert f"<td>search time</td><td>{s.search_seconds:.0f} s</td>" in html
    # the live dashboard shows the same section
    from archscout.report.dashboard import Dashboard

    status, _, page, *_ = Dashboard(s.storage).route("/study/d")
    assert status == 200 and 'id="differentiable"' in page and "gdas, 6 steps" in page


# -- ProxylessNAS --------------------------------------------------------------------------------------------

def test_proxyless_gates_pick_one_path_and_one_candidate_per_edge():
    torch.manual_seed(0)
    net = SearchNetwork((1, 12), 3, channels=4, stages=1, mode="binary")
    gates = net.sample_gates(2)
    assert gates.shape == (6, 5) and gates.requires_grad
    assert all(sorted(row) == [-1.0, -1.0, -1.0, 0.0, 1.0] for row in gates.tolist())
    x, y = torch.randn(8, 1, 12), torch.randint(0, 3, (8,))
    torch.nn.functional.cross_entropy(net(x), y).backward()
    grad = net.binary_alpha_grad()
    left_out = gates.detach() < 0
    assert torch.all(grad[left_out] == 0)
    # over an edge's two candidates the gradient sums to zero: sum_i p_j (delta_ij - p_i) = 0
    assert torch.allclose(grad.sum(1), torch.zeros(6), atol=1e-7)
    assert grad.abs().sum() > 0


@pytest.mark.slow
def test_a_latency_weight_moves_proxyless_to_cheaper_operations(tiny, monkeypatch):
    # a fixed table, so that the test does not depend on timing: convolutions cost, the rest is free
    monkeypatch.setattr("archscout.oneshot.differentiable.search.op_latencies",
                        lambda net, shape, repeats=30: [[0.0, 0.0, 1.0, 1.0, 0.0]] * 2)
    cheap = []
    for weight in (0.0, 50.0):
        r = search_cell(tiny, DifferentiableConfig(method="proxyless", latency_weight=weight, steps=30,
                                                   check_every=30, batch_size=16, channels=8, stages=2,
                                                   a_lr=0.05), seed=0)
        cheap.append(r["history"][-1]["expected_latency_ms"])
        assert r["latency_table_ms"] == [[0.0, 0.0, 1.0, 1.0, 0.0]] * 2
    assert cheap[1] < 0.5 * cheap[0]


def test_the_latency_weight_is_proxylessnas_alone():
    with pytest.raises(ArchscoutError, match="latency_weight is ProxylessNAS's"):
        DifferentiableConfig(method="darts", latency_weight=1.0)


def test_the_latency_table_is_measured_per_cell_and_operation():
    from archscout.oneshot.differentiable.search import op_latencies

    net = SearchNetwork((1, 16), 3, channels=8, stages=2, mode="binary")
    table = op_latencies(net, (1, 16), repeats=3)
    assert len(table) == 2 and all(len(row) == 5 and all(v > 0 for v in row) for row in table)


# -- perturbation-based selection ------------------------------------------------------------------------------

def test_taking_an_operation_out_masks_it_without_renormalising_and_fixed_edges_are_one_hot():
    net = SearchNetwork((1, 12), 3, channels=4, stages=1)
    with torch.no_grad():
        net.alpha.copy_(torch.randn(6, 5))
    full = net.edge_weights().detach()
    net.removed = (2, 3)
    w = net.edge_weights().detach()
    # darts-pt's projection: the operation's weight is 0 and the others keep theirs (they no longer sum to 1)
    assert w[2, 3] == 0 and torch.isclose(w[2].sum(), 1 - full[2, 3])
    assert torch.allclose(w[2, [0, 1, 2, 4]], full[2, [0, 1, 2, 4]])
    assert torch.allclose(w[[0, 1, 3, 4, 5]], full[[0, 1, 3, 4, 5]])
    net.removed, net.fixed = None, {4: 1}
    assert net.edge_weights()[4].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0] and net.derive()["e4"] == "skip"


@pytest.mark.slow
def test_perturbation_keeps_on_each_edge_the_operation_whose_removal_costs_most(tiny):
    result = search_cell(tiny, DifferentiableConfig(method="darts", selection="perturbation", tune_steps=1, **FAST),
                         seed=0)
    sel = result["selection"]
    assert sorted(e["edge"] for e in sel["edges"]) == list(EDGES)
    for e in sel["edges"]:
        assert e["kept"] == OPS[max(range(5), key=lambda i: (e["drops"][i], -i))]
        assert result["cell"][e["edge"]] == e["kept"]  # the derived cell is what the selection kept
    get_space("cell").architecture(result["cell"])


def test_perturbation_needs_a_mixture_of_every_operation():
    with pytest.raises(ArchscoutError, match="perturbation-based selection needs a mixture"):
        DifferentiableConfig(method="gdas", selection="perturbation")


@pytest.mark.slow
def test_a_differentiable_search_runs_from_the_command_line_without_a_trial_budget(tmp_path, capsys):
    from archscout.cli import main

    code = main(["search", "--space", "cell", "--strategy", "darts", "--strategy-option", "steps=4",
                 "--strategy-option", "check_every=2", "--strategy-option", "channels=4", "--steps", "5",
                 "--top-k", "0", "--storage", f"sqlite:///{tmp_path}/d.db", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "~0|+|" in out  # the derived cell on the leaderboard
    (trial,) = Study.load("mnist1d-cell", f"sqlite:///{tmp_path}/d.db").trials()
    assert trial.details["recorded_by"] == "darts" and trial.status == "complete"
    # not silent: each check, then the derived cell, its parameter-free edges, collapse and the search time
    d = trial.details["differentiable"]
    assert "darts step 2/4" in out and "darts step 4/4" in out
    collapsed = "collapsed (mostly parameter-free operations)" if d["collapsed"] else "not collapsed"
    assert (f"darts searched 4 steps in {d['seconds']:.0f} s: derived {trial.arch.describe()}; "
            f"{d['parameter_free_edges']} of 6 edges parameter-free; {collapsed}; training it with the study's "
            f"recipe") in out


@pytest.mark.slow
def test_a_differentiable_search_says_what_it_derived_to_a_progress_callback(tiny, tmp_path):
    events: list = []
    s = Study("d", space="cell", task=tiny, strategy="pc-darts", strategy_options={**FAST},
              storage=f"sqlite:///{tmp_path}/d.db", train={"steps": 5})
    s.search(progress=lambda event, **data: events.append((event, data)))
    (t,) = s.trials()
    d = t.details["differentiable"]
    assert [e for e, _ in events] == ["note", "note", "searched"]
    searched = events[-1][1]
    assert {k: searched[k] for k in ("strategy", "cell", "steps", "seconds", "collapsed", "parameter_free_edges")} \
        == {"strategy": "pc-darts", "cell": t.arch.describe(), "steps": 6, "seconds": d["seconds"],
            "collapsed": d["collapsed"], "parameter_free_edges": d["parameter_free_edges"]}
    assert searched["text"].startswith(f"pc-darts searched 6 steps in {d['seconds']:.0f} s: derived ")


def test_a_searched_line_says_a_collapse_an_early_stop_and_minutes_from_a_minute_on():
    from archscout.oneshot.differentiable.run import searched_line

    assert searched_line("darts", "|skip~0|", steps=1200, seconds=150, collapsed=True, parameter_free_edges=5,
                         stopped_early_at=900, stop_reason="eigenvalue") == \
        ("darts searched 1,200 steps in 2.5 min, stopped early at step 900 (eigenvalue): derived |skip~0|; "
         "5 of 6 edges parameter-free; collapsed (mostly parameter-free operations)")
    assert searched_line("lpgnas-lite", "gcn", steps=10, seconds=42.2, collapsed=False, weight_bits={"l1": 8}) == \
        "lpgnas-lite searched 10 steps in 42 s: derived gcn; weight bits {'l1': 8}; not collapsed"


def test_parameter_free_edges_are_counted_on_the_cell_as_it_computes():
    from archscout.oneshot.differentiable.search import parameter_free_edges

    live = {"e0": "conv3x3", "e1": "skip", "e2": "none", "e3": "none", "e4": "conv1x1", "e5": "avgpool3x3"}
    assert parameter_free_edges(live) == 4  # skip, none, none, avgpool
    # convolutions only into node 1, which has no way out: the cell computes nothing with parameters
    dead = {"e0": "conv3x3", "e1": "none", "e2": "none", "e3": "skip", "e4": "none", "e5": "conv1x1"}
    assert parameter_free_edges(dead) == 6


@pytest.mark.slow
def test_auto_s_one_shot_stage_records_the_derived_cell_first_and_the_search_goes_on_from_it(tiny, tmp_path):
    s = Study("o", space="cell", task=tiny, strategy="auto", seed=1,
              strategy_options={"one_shot": True, "one_shot_options": {**FAST, "tune_steps": 2}},
              storage=f"sqlite:///{tmp_path}/o.db",
              train={"steps": 9})
    said = []
    s.run(trials=4, final_top_k=0, progress=lambda kind, **kw: said.append(kw.get("text")))
    first, *rest = sorted(s.trials(), key=lambda t: t.number)
    assert first.details["recorded_by"] == "darts" and first.fidelity is None  # at the top fidelity
    assert first.details["differentiable"]["config"]["selection"] == "perturbation"
    assert first.details["differentiable"]["steps_run"] == 6
    assert len(rest) == 3 and all(t.details.get("recorded_by") is None for t in rest)
    assert any(text and text.startswith("darts searched 6 steps") for text in said)
    s.run(trials=6, final_top_k=0, progress=False)  # resumed: the pass is not run again
    assert sum(t.details.get("recorded_by") == "darts" for t in s.trials()) == 1 and len(s.trials()) == 6


def test_auto_s_one_shot_stage_needs_the_cell_space():
    with pytest.raises(ArchscoutError, match="one_shot needs a space that a one-shot pass can search"):
        Study("o", space="conv1d", strategy="auto", strategy_options={"one_shot": True},
              storage="sqlite:///:memory:")
    with pytest.raises(ArchscoutError, match="one_shot_options is a mapping"):
        Study("o", space="cell", strategy="auto", strategy_options={"one_shot": True, "one_shot_options": 5},
              storage="sqlite:///:memory:")
