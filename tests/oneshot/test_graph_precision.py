"""lpgnas-lite: graph operators and per-layer bit widths searched together (LPGNAS-style), the quantised GNN."""
from __future__ import annotations

import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from archscout import Study  # noqa: E402
from archscout.errors import ArchscoutError  # noqa: E402
from archscout.evaluate.training import TrainConfig  # noqa: E402
from archscout.oneshot.differentiable.graph_precision import (  # noqa: E402
    LAYERS,
    GraphPrecisionConfig,
    _modules,
    fake_quantize,
    quantized_network,
    score_quantized,
    search_graph_precision,
)
from archscout.space import get_space  # noqa: E402
from archscout.strategy import make_strategy  # noqa: E402
from archscout.tasks import from_graph  # noqa: E402

SMALL = dict(hidden=8, dropout=0.0, record_every=2)


@pytest.fixture(scope="module")
def graph():
    """Two classes on a ring with a few chords; the features carry the class, so a GNN can learn it."""
    rng = np.random.default_rng(0)
    n = 60
    src = np.arange(n)
    y = (src // 5) % 2
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[:, 0] += 2.0 * y
    edges = np.stack([np.concatenate([src, [0, 7, 21]]), np.concatenate([(src + 1) % n, [30, 40, 50]])])
    return from_graph(types.SimpleNamespace(x=x, edge_index=edges, y=y), name="ring2", seed=1)


def test_fake_quantization_keeps_float_at_32_bits_and_uses_few_levels_below():
    t = torch.linspace(-1.0, 1.0, 101, requires_grad=True)
    assert torch.equal(fake_quantize(t, 32), t)
    q2 = fake_quantize(t, 2)
    assert len(torch.unique(q2.detach())) == 3  # -1, 0, 1 times the scale
    assert len(torch.unique(fake_quantize(t, 4).detach())) == 15
    assert float((fake_quantize(t, 8) - t).detach().abs().max()) <= 1.0 / 127 / 2 + 1e-6
    relu = torch.linspace(0.0, 1.0, 101)
    assert len(torch.unique(fake_quantize(relu, 2))) == 4  # unsigned: all four levels above 0
    q2.sum().backward()  # straight through: the gradient of the identity
    assert torch.equal(t.grad, torch.ones_like(t))


def _values(link, ops):
    return {"link": link, **dict(zip(("op1", "op2", "op3", "op4"), ops))}


def test_the_quantized_network_at_32_bits_is_the_space_s_network():
    from archscout.space.gnn_build import GNN

    QuantizedGNN, _ = _modules()
    values = _values("0-1-2-3", ["gcn", "sage", "fc", "gin"])
    torch.manual_seed(0)
    plain = GNN(values, 6, 2, hidden=8, dropout=0.0).eval()
    q = QuantizedGNN(values, 6, 2, {}, {}, hidden=8, dropout=0.0).eval()
    q.net.load_state_dict(plain.state_dict())
    x, ei = torch.randn(20, 6), torch.stack([torch.arange(20), (torch.arange(20) + 1) % 20])
    assert torch.allclose(plain(x, ei), q(x, ei), atol=1e-6)
    low = QuantizedGNN(values, 6, 2, {k: 2 for k in LAYERS}, {}, hidden=8, dropout=0.0).eval()
    low.net.load_state_dict(plain.state_dict())
    assert not torch.allclose(plain(x, ei), low(x, ei), atol=1e-3)


def test_size_counts_weight_matrices_at_their_bits_and_the_rest_at_32():
    QuantizedGNN, _ = _modules()
    values = _values("0-0-0-0", ["fc", "skip", "skip", "skip"])
    bits = {"pre": 4, "op1": 2, "classifier": 8}
    q = QuantizedGNN(values, 6, 3, bits, {}, hidden=8)
    # pre 6x8 + 8, fc 8x8 + 8, classifier 8x3 + 3; skip nodes hold nothing
    assert q.size_bits() == 48 * 4 + 8 * 32 + 64 * 2 + 8 * 32 + 24 * 8 + 3 * 32


def test_expected_size_equals_the_derived_network_s_size_when_every_softmax_is_decided():
    _, Relaxed = _modules()
    QuantizedGNN, _ = _modules()
    net = Relaxed("0-1-1-2", 6, 3, (2, 4, 8, 32), 8, 0.0)
    with torch.no_grad():
        for logits in net.arch_parameters():
            logits.zero_()
        for i, k in enumerate([1, 7, 8, 2]):  # gcn, fc, skip, gin
            net.alpha_op[i, k] = 50.0
        for j, k in enumerate([0, 1, 2, 3, 1, 2]):
            net.alpha_wbits[j, k] = 50.0
    d = net.derive()
    assert d["operations"] == {"op1": "gcn", "op2": "fc", "op3": "skip", "op4": "gin"}
    assert d["weight_bits"] == {"pre": 2, "op1": 4, "op2": 8, "op3": None, "op4": 4, "classifier": 8}
    assert d["collapsed"] is False
    derived = QuantizedGNN({"link": "0-1-1-2", **d["operations"]}, 6, 3,
                           {k: 32 if v is None else v for k, v in d["weight_bits"].items()}, {}, hidden=8)
    assert float(net.expected_size_bits().detach()) == pytest.approx(derived.size_bits(), rel=1e-5)


def test_an_all_skip_derivation_keeps_the_likeliest_other_operator_and_is_flagged():
    _, Relaxed = _modules()
    net = Relaxed("0-1-2-3", 6, 3, (8, 32), 8, 0.0, ("gcn", "fc", "skip"))
    with torch.no_grad():
        net.alpha_op.copy_(torch.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 3.0]]))
    d = net.derive()
    assert d["collapsed"] is True
    assert d["operations"] == {"op1": "skip", "op2": "gcn", "op3": "skip", "op4": "skip"}


def test_a_heavy_size_weight_drives_every_layer_to_the_fewest_bits(graph):
    cfg = GraphPrecisionConfig(steps=12, size_weight=50.0, bits=(2, 8, 32), ops=("gcn", "fc", "skip"), **SMALL)
    r = search_graph_precision(graph, cfg, seed=0)
    assert {b for b in r["weight_bits"].values() if b is not None} == {2}
    free = search_graph_precision(graph, GraphPrecisionConfig(steps=12, size_weight=0.0, bits=(2, 8, 32),
                                                              ops=("gcn", "fc", "skip"), **SMALL), seed=0)
    first, last = free["history"][0]["expected_size_kb"], r["history"][-1]["expected_size_kb"]
    assert last < first
    assert len(r["history"]) == 6 and r["history"][-1]["step"] == 12
    assert len(r["history"][0]["operations"]) == 4 and len(r["history"][0]["operations"][0]) == 3
    assert r["values"]["link"] == "0-1-2-3" and r["peak_rss_mb"] > 0


def test_quantization_aware_training_scores_the_derived_network_and_shrinks_it(graph):
    r = search_graph_precision(graph, GraphPrecisionConfig(steps=4, bits=(4, 32), ops=("gcn", "fc"), **SMALL))
    r = {**r, "weight_bits": {k: 4 for k in LAYERS}, "activation_bits": {k: 8 for k in r["activation_bits"]}}
    q = score_quantized(graph, r, TrainConfig(steps=30, lr=0.01), seed=0)
    assert 0 <= q["accuracy"] <= 1 and q["size_bytes"] < q["size_bytes_fp32"] / 4
    final = score_quantized(graph, r, TrainConfig(steps=30, lr=0.01), seed=0, final=True)
    assert final["size_bytes"] == q["size_bytes"]
    model = quantized_network(graph, r["values"], r["weight_bits"], r["activation_bits"], 8, 0.0)
    assert model.size_bits() / 8 == q["size_bytes"]


def test_config_and_strategy_refuse_bad_settings():
    with pytest.raises(ArchscoutError, match="link"):
        GraphPrecisionConfig(link="0-0-9-1")
    with pytest.raises(ArchscoutError, match="bits"):
        GraphPrecisionConfig(bits=(1, 8))
    with pytest.raises(ArchscoutError, match="ops"):
        GraphPrecisionConfig(ops=("conv3",))
    with pytest.raises(ArchscoutError, match="gnn space"):
        make_strategy("lpgnas-lite", get_space("conv1d"))
    with pytest.raises(ArchscoutError, match="bits"):
        make_strategy("lpgnas-lite", get_space("gnn"), bits="2,x")
    s = make_strategy("lpgnas-lite", get_space("gnn-proteins"), bits="2,8,32")
    assert s.config.bits == (2, 8, 32) and s.config.ops == ("gcn", "sage", "arma", "fc", "skip")
    with pytest.raises(ArchscoutError, match="record"):
        s.ask()


@pytest.mark.slow
def test_a_study_records_the_derived_gnn_in_fp32_and_quantized_once(graph, tmp_path):
    study = Study("lp", space="gnn", task=graph, strategy="lpgnas-lite", storage=f"sqlite:///{tmp_path}/s.db",
                  strategy_options={"steps": 4, "bits": "4,8", "record_every": 2}, train={"steps": 10})
    [t] = study.search()
    assert t.status == "complete"
    assert t.metrics["size_bytes@mixed"] < t.metrics["size_bytes@fp32"]
    assert 0 <= t.metrics["accuracy@mixed"] <= 1 and 0 <= t.metrics["accuracy"] <= 1
    gp = t.details["graph_precision"]
    assert set(gp["weight_bits"]) == set(LAYERS) and gp["quantized"]["size_bytes"] == t.metrics["size_bytes@mixed"]
    assert set(b for b in gp["weight_bits"].values() if b is not None) <= {4, 8}
    assert [x.number for x in study.search()] == [t.number]  # recorded once; a second call does not search again
    from archscout.report.html import report

    sink: dict = {}
    html = report(study, sink=sink)
    assert 'id="precision"' in html and "lpgnas-lite, 4 steps" in html and "quantised (" in html
    assert sink["precision-0"].startswith(b"\x89PNG")


def test_it_needs_a_graph_task(tmp_path):
    from archscout.tasks import get_task

    with pytest.raises(ArchscoutError, match="graph task"):
        Study("lp", space="gnn", task="mnist1d", strategy="lpgnas-lite", storage=f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ArchscoutError, match="graph task"):
        search_graph_precision(get_task("mnist1d"), GraphPrecisionConfig(steps=1))


def test_the_gumbel_relaxation_uses_one_bit_width_per_layer_in_training_and_the_softmax_otherwise():
    _, Relaxed = _modules()
    net = Relaxed("0-1-2-3", 6, 3, (2, 8, 32), 8, 0.0, ("gcn", "fc"), bit_mode="gumbel")
    net.train()
    w = net._bit_weights(net.alpha_wbits[0])
    assert sorted(w.detach().tolist()) == [0.0, 0.0, 1.0] and w.requires_grad
    net.eval()
    soft = net._bit_weights(net.alpha_wbits[0])
    assert torch.allclose(soft, torch.softmax(net.alpha_wbits[0], -1))
    with pytest.raises(ArchscoutError, match="bit_relaxation"):
        GraphPrecisionConfig(bit_relaxation="hard")
    with pytest.raises(ArchscoutError, match="tau"):
        GraphPrecisionConfig(bit_relaxation="gumbel", tau_min=2.0, tau_max=1.0)


def test_a_gumbel_search_runs_and_anneals(graph):
    cfg = GraphPrecisionConfig(steps=4, bits=(4, 32), ops=("gcn", "fc"), bit_relaxation="gumbel", **SMALL)
    r = search_graph_precision(graph, cfg, seed=0)
    assert r["config"]["bit_relaxation"] == "gumbel" and set(r["weight_bits"]) == set(LAYERS)


def test_a_failing_quantised_training_keeps_the_fp32_result(graph, tmp_path, monkeypatch):
    from archscout.errors import TrialFailed

    def diverge(*a, **k):
        raise TrialFailed("training diverged: loss became nan at step 3 of 10")

    monkeypatch.setattr("archscout.oneshot.differentiable.graph_precision.score_quantized", diverge)
    study = Study("lp", space="gnn", task=graph, strategy="lpgnas-lite", storage=f"sqlite:///{tmp_path}/s.db",
                  strategy_options={"steps": 2, "bits": "4,8"}, train={"steps": 5})
    [t] = study.search()
    assert t.status == "complete" and "accuracy" in t.metrics and "accuracy@mixed" not in t.metrics
    assert "diverged" in t.details["graph_precision"]["quantized_error"]
