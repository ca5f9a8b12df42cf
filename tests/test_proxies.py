"""Zero-cost proxies score untrained networks of every built-in space without changing them."""
import math

import numpy as np
import pytest
import torch

from archscout.cost import count_flops, count_params
from archscout.errors import ArchscoutError
from archscout.evaluate.proxies import PROXIES, ProxyFailed, proxy_batch, score, score_all
from archscout.space.builtin import get_space
from archscout.tasks import get_task

torch.set_num_threads(1)

RELU_BN = {"act": "relu", "norm": "batch"}


def _macro(space: str, stages: list, input_shape: tuple, head: str = "gap", seed: int = 0):
    values = {"stages": stages, "head": head} if space != "mlp" else {"stages": stages}
    torch.manual_seed(seed)
    return get_space(space).architecture(values).build(input_shape, 10)


def _conv_stage(width: int, **kw) -> dict:
    return {"op": "conv", "width": width, "kernel": 3, "dilation": 1, "downsample": "maxpool", "residual": False,
            **RELU_BN, **kw}


@pytest.fixture(scope="module")
def mnist1d_batch():
    task = get_task("mnist1d")
    return task, (torch.as_tensor(task.train.X[:32]),), torch.as_tensor(task.train.y[:32])


@pytest.fixture(scope="module")
def conv1d_model(mnist1d_batch):
    task = mnist1d_batch[0]
    stages = [_conv_stage(16), _conv_stage(24, op="dwconv", act="gelu", residual=True),
              {"op": "fc", "width": 32, "residual": False, "norm": "none", "act": "silu", "dropout": 0.1}]
    return _macro("conv1d", stages, task.input_shape)


def _networks(mnist1d_batch, conv1d_model):
    """(name, model, inputs, targets, mask) for one network of each kind of built-in space."""
    gen = torch.Generator().manual_seed(0)
    digits = torch.rand((24, 1, 8, 8), generator=gen)
    labels = torch.arange(24) % 10
    conv2d = _macro("conv2d", [_conv_stage(8, kernel=3), _conv_stage(16, downsample="stride2", residual=True)],
                    (1, 8, 8), head="flatten")
    mlp = _macro("mlp", [{"width": 32, "act": "relu", "dropout": 0.0, "norm": "batch", "residual": False},
                         {"width": 32, "act": "tanh", "dropout": 0.1, "norm": "layer", "residual": True}], (13,))
    graph = get_task("mnist1d-knn")
    torch.manual_seed(0)
    gnn = get_space("gnn").architecture({"link": "0-0-1-1", "op1": "gcn", "op2": "gat", "op3": "sage",
                                         "op4": "skip"}).build(graph.input_shape, graph.num_classes)
    mask = np.zeros(graph.num_nodes, dtype=bool)
    mask[np.flatnonzero(graph.train_mask)[:32]] = True
    return [("conv1d", conv1d_model, mnist1d_batch[1], mnist1d_batch[2], None),
            ("conv2d", conv2d, (digits,), labels, None),
            ("mlp", mlp, (torch.rand((24, 13), generator=gen),), labels, None),
            ("gnn", gnn, (torch.as_tensor(graph.x), torch.as_tensor(graph.edge_index)), torch.as_tensor(graph.y),
             torch.as_tensor(mask))]


def _state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_every_proxy_scores_every_kind_of_network_and_leaves_it_unchanged(mnist1d_batch, conv1d_model):
    for kind, model, inputs, targets, mask in _networks(mnist1d_batch, conv1d_model):
        for mode in (True, False):
            model.train(mode)
            before = _state(model)
            results = score_all(model, inputs, targets, mask=mask)
            assert list(results) == list(PROXIES)
            for name, r in results.items():
                if kind == "gnn" and name == "zen":  # the GNN has no BatchNorm: zen says so
                    assert r["value"] is None and "BatchNorm" in r["error"]
                    continue
                assert r["error"] is None, (kind, name, r["error"])
                assert math.isfinite(r["value"]), (kind, name)
                assert r["seconds"] >= 0
            assert model.training is mode
            assert [m.training for m in model.modules()] == [mode] * len(list(model.modules()))
            after = model.state_dict()
            assert before.keys() == after.keys()
            assert all(torch.equal(before[k], after[k]) for k in before), kind
            assert all(p.grad is None for p in model.parameters())
            assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_seed_gives_the_same_scores(mnist1d_batch, conv1d_model):
    _, inputs, targets = mnist1d_batch
    first = score_all(conv1d_model, inputs, targets, seed=3)
    again = score_all(conv1d_model, inputs, targets, seed=3)
    assert {n: r["value"] for n, r in first.items()} == {n: r["value"] for n, r in again.items()}
    # the seed drives zen's Gaussian inputs and the dropout masks
    assert score("zen", conv1d_model, inputs, targets, seed=4) != first["zen"]["value"]


def test_scoring_leaves_the_global_random_state_alone(mnist1d_batch, conv1d_model):
    _, inputs, targets = mnist1d_batch
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    score("zen", conv1d_model, inputs, targets, seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_nwot_needs_relu_like_activations_and_zen_needs_batchnorm():
    x, y = torch.rand((16, 13)), torch.arange(16) % 10
    tanh_mlp = _macro("mlp", [{"width": 16, "act": "tanh", "dropout": 0.0, "norm": "batch", "residual": False}],
                      (13,))
    with pytest.raises(ProxyFailed, match="nwot: the network has no ReLU-like activation"):
        score("nwot", tanh_mlp, (x,), y)
    plain_mlp = _macro("mlp", [{"width": 64, "act": "relu", "dropout": 0.0, "norm": "none", "residual": False}],
                       (13,))
    with pytest.raises(ProxyFailed, match="zen: the network has no BatchNorm layer"):
        score("zen", plain_mlp, (x,), y)
    result = score_all(plain_mlp, (x,), y, names=["zen", "nwot"])
    assert result["zen"]["value"] is None and "BatchNorm" in result["zen"]["error"]
    assert math.isfinite(result["nwot"]["value"])


def test_unknown_proxy_names_list_the_valid_ones(mnist1d_batch, conv1d_model):
    _, inputs, targets = mnist1d_batch
    with pytest.raises(ArchscoutError, match="unknown proxy 'synflw'.*Did you mean 'synflow'.*Valid proxies:.*"
                                             "epe_nas.*zen"):
        score("synflw", conv1d_model, inputs, targets)
    with pytest.raises(ArchscoutError, match="unknown proxy 'naswot'"):
        score_all(conv1d_model, inputs, targets, names=["snip", "naswot"])


def test_params_and_flops_are_archscouts_cost_metrics(mnist1d_batch, conv1d_model):
    task, inputs, targets = mnist1d_batch
    assert score("params", conv1d_model, inputs, targets) == count_params(conv1d_model)
    assert score("flops", conv1d_model, inputs, targets) == count_flops(conv1d_model, task.input_shape)


def test_synflow_and_params_grow_with_width_at_a_fixed_depth():
    x, y = torch.rand((16, 13)), torch.arange(16) % 10

    def mlp(width):
        return _macro("mlp", [{"width": width, "act": "relu", "dropout": 0.0, "norm": "none", "residual": False}] * 2,
                      (13,))

    narrow, wide = mlp(16), mlp(128)
    assert score("synflow", wide, (x,), y) > score("synflow", narrow, (x,), y)
    assert score("params", wide, (x,), y) > score("params", narrow, (x,), y)


def test_nwot_tells_a_network_of_distinct_codes_from_one_that_maps_every_sample_alike():
    y = torch.arange(16) % 10
    model = _macro("mlp", [{"width": 64, "act": "relu", "dropout": 0.0, "norm": "none", "residual": False}], (13,))
    varied = score("nwot", model, (torch.randn((16, 13), generator=torch.Generator().manual_seed(0)),), y)
    assert varied > 0
    with pytest.raises(ProxyFailed, match="nwot: the activation-code kernel is singular"):
        score("nwot", model, (torch.ones((16, 13)),), y)


def test_nwot_refuses_a_singular_kernel_whatever_the_order_of_the_samples():
    # a network a guided search trained: its one depthwise channel sets the sign of every unit at a position,
    # so the 64 samples' distinct codes give a kernel of rank 41, whose determinant's sign is rounding noise
    task = get_task("mnist1d")
    (x,), y, _ = proxy_batch(task)
    model = _macro("conv1d", [{"op": "dwconv", "width": 128, "kernel": 9, "dilation": 1, "downsample": "avgpool",
                               "residual": True, "act": "gelu", "norm": "batch", "dropout": None}], task.input_shape)
    gen = torch.Generator().manual_seed(0)
    for order in [torch.arange(64)] + [torch.randperm(64, generator=gen) for _ in range(7)]:
        with pytest.raises(ProxyFailed, match="nwot: the activation-code kernel is singular"):
            score("nwot", model, (x[order],), y[order])
    regular = _macro("mlp", [{"width": 64, "act": "relu", "dropout": 0.0, "norm": "none", "residual": False}], (13,))
    x, y = torch.randn((16, 13), generator=gen), torch.arange(16) % 10
    first = score("nwot", regular, (x,), y)
    for order in [torch.randperm(16, generator=gen) for _ in range(3)]:
        assert score("nwot", regular, (x[order],), y[order]) == pytest.approx(first, rel=1e-9)


def test_a_custom_loss_is_used_by_the_loss_based_proxies(mnist1d_batch, conv1d_model):
    _, inputs, targets = mnist1d_batch

    def doubled(out, t):
        return 2 * torch.nn.functional.cross_entropy(out, t)

    base = score("grad_norm", conv1d_model, inputs, targets)
    assert score("grad_norm", conv1d_model, inputs, targets, loss=doubled) == pytest.approx(2 * base, rel=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_conv1d_networks_get_a_score_or_a_reason_from_each_proxy(mnist1d_batch, seed):
    task, inputs, targets = mnist1d_batch
    torch.manual_seed(seed)
    model = get_space("conv1d").sample(seed=seed).build(task.input_shape, task.num_classes)
    for name, r in score_all(model, inputs, targets).items():
        if r["error"] is None:
            assert math.isfinite(r["value"]), name
        else:
            assert r["value"] is None and r["error"].startswith(f"{name}: "), r["error"]
