"""Zero-cost proxies score untrained networks of every built-in space without changing them, as their papers' code does."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

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


@pytest.mark.slow
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
    # the seed drives zen's weights and Gaussian inputs, and the other proxies' dropout masks
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


# --- the proxies against their reference implementations, written out here from the papers and the authors' code

def _stack_1d(bias: bool = False):
    """Two conv + BatchNorm + ReLU stages (the second one depthwise-separable), pooled, a classifier."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 8, 3, padding=1, bias=bias), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Conv1d(8, 8, 5, padding=2, groups=8, bias=bias), nn.Conv1d(8, 12, 1, bias=bias),
                         nn.BatchNorm1d(12), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(12, 10))


def _stack_2d():
    """Three conv + BatchNorm + ReLU stages, the last with stride 2, pooled, a classifier."""
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.Conv2d(6, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.Conv2d(6, 10, 3, stride=2), nn.BatchNorm2d(10), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 10))


def _residual_macro():
    """An archscout network whose conv stages have shortcuts (a pooled 1x1 convolution, then the identity),
    then a fully connected stage with BatchNorm after the pooled head."""
    stages = [_conv_stage(8, residual=True), _conv_stage(8, downsample="none", residual=True),
              {"op": "fc", "width": 16, "residual": False, "norm": "batch", "act": "relu", "dropout": 0.0}]
    return _macro("conv1d", stages, (1, 40))


def _stack_features(net, x, bn_inputs: list):
    """A Sequential's features before its global pooling, noting each BatchNorm layer's input on the way."""
    for layer in net:
        if isinstance(layer, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            return x
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            bn_inputs.append(x)
        x = layer(x)
    raise AssertionError("no global pooling")


def _macro_features(net, x, bn_inputs: list, shortcuts: bool = False):
    """An archscout MacroNet's features before its pooled head, its conv stages written out without their
    shortcuts (or with them: the forward Zen-NAS does not score)."""
    x = x.reshape((x.shape[0],) + net.in_shape)
    for block in net.convs:
        z = block.conv(x)
        bn_inputs.append(z)
        y = block.pool(block.drop(block.act(block.norm(z))))
        x = y + block.skip(x) if shortcuts else y
    return x


def _zen_algorithm_1(model, shape, seed, features):
    """Zen-NAS, Algorithm 1: weights from N(0, 1) (BatchNorm 1 / 0, biases 0), Gaussian x and e,
    log E_x sum |f(x) - f(x + 0.01 e)| + sum over BatchNorm layers of log sqrt(mean batch variance)."""
    net = copy.deepcopy(model).train()
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, 1.0)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        x, e = torch.randn(shape), torch.randn(shape)
        bn_inputs: list = []
        f = features(net, x, bn_inputs)
        f_mixed = features(net, x + 0.01 * e, [])
        delta = (f - f_mixed).abs().flatten(1).sum(1).mean()
        scales = [z.var(dim=[0, *range(2, z.dim())], unbiased=False).mean().sqrt() for z in bn_inputs]
        return float(torch.log(delta) + sum(torch.log(s) for s in scales))


@pytest.mark.parametrize("seed", [0, 5])
def test_zen_is_zen_nas_algorithm_1_on_plain_networks(seed):
    x, y = torch.rand((16, 1, 40)), torch.arange(16) % 10
    for net in (_stack_1d(), _stack_1d(bias=True)):
        assert score("zen", net, (x,), y, seed=seed) == pytest.approx(
            _zen_algorithm_1(net, x.shape, seed, _stack_features), rel=1e-5)
    images = torch.rand((12, 1, 8, 8))
    net = _stack_2d()
    assert score("zen", net, (images,), y[:12], seed=seed) == pytest.approx(
        _zen_algorithm_1(net, images.shape, seed, _stack_features), rel=1e-5)


def test_zen_scores_the_architecture_not_the_networks_current_weights():
    x, y = torch.rand((16, 1, 40)), torch.arange(16) % 10
    net = _stack_1d()
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        for p in scaled.parameters():
            p.mul_(3.0)
    assert score("zen", scaled, (x,), y) == score("zen", net, (x,), y)
    # the data is not used either: only its shape
    assert score("zen", net, (torch.randn((16, 1, 40)),), y) == score("zen", net, (x,), y)


def test_zen_removes_residual_links_and_leaves_the_callers_network_alone():
    x, y = torch.rand((16, 40)), torch.arange(16) % 10
    net = _residual_macro()
    before = _state(net)
    value = score("zen", net, (x,), y, seed=2)
    assert value == pytest.approx(_zen_algorithm_1(net, x.shape, 2, _macro_features), rel=1e-5)
    with_shortcuts = _zen_algorithm_1(net, x.shape, 2, lambda n, v, b: _macro_features(n, v, b, shortcuts=True))
    assert abs(value - with_shortcuts) > 0.05
    assert all(block.residual for block in net.convs)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_zen_switches_dropout_off():
    # with a flatten head, the features are the classifier's input: after the fully connected stages
    x, y = torch.rand((16, 40)), torch.arange(16) % 10

    def network(dropout):
        fc = {"op": "fc", "width": 32, "residual": False, "norm": "batch", "act": "relu", "dropout": dropout}
        return _macro("conv1d", [_conv_stage(8), fc], (1, 40), head="flatten")

    assert score("zen", network(0.25), (x,), y) == score("zen", network(0.0), (x,), y)


def _fisher_reference(model, x, y):
    """Abdelfattah et al.'s Fisher: the output a of every conv / linear layer, per channel
    0.5 * mean over samples of (sum over positions of a * dL/da)^2, spread over the channel's weights, summed."""
    net = copy.deepcopy(model).train()
    outputs = []
    h = x
    for layer in net:
        h = layer(h)
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            h.retain_grad()
            outputs.append((layer, h))
    torch.nn.functional.cross_entropy(h, y).backward()
    total = 0.0
    for layer, a in outputs:
        act_grad = a.detach() * a.grad
        g_nk = act_grad.sum(dim=list(range(2, a.dim()))) if a.dim() > 2 else act_grad
        per_channel = 0.5 * g_nk.pow(2).mean(0)
        w = layer.weight
        total += float(per_channel.reshape((-1,) + (1,) * (w.dim() - 1)).expand_as(w).sum())
    return total


def test_fisher_is_abdelfattahs_fisher_of_every_conv_and_linear_layer():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn((16, 1, 40), generator=gen), torch.arange(16) % 10
    net = _stack_1d()
    assert score("fisher", net, (x,), y) == pytest.approx(_fisher_reference(net, x, y), rel=1e-5)
    images = torch.randn((12, 1, 8, 8), generator=gen)
    net = _stack_2d()
    assert score("fisher", net, (images,), y[:12]) == pytest.approx(_fisher_reference(net, images, y[:12]),
                                                                    rel=1e-5)
    # a network without any activation function is scored too: Fisher looks at the layers, not the activations
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Conv1d(1, 6, 3), nn.BatchNorm1d(6), nn.Flatten(), nn.Linear(6 * 38, 10))
    assert score("fisher", linear, (x,), y) == pytest.approx(_fisher_reference(linear, x, y), rel=1e-5)


def _epe_nas_reference(model, x, y):
    """Lopes et al.'s EPE-NAS, as their code computes it (numpy, per class, on the input Jacobians)."""
    net = copy.deepcopy(model).train()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    jac, labels, n_classes = x.grad.reshape(len(x), -1).numpy(), y.numpy(), out.shape[-1]
    scores = []
    for c in np.unique(labels):
        rows = jac[labels == c]
        s = np.sum(np.log(np.abs(np.corrcoef(rows)) + 1e-5))
        scores.append(s / len(rows) if n_classes > 100 else s)
    if n_classes <= 100:
        return float(np.sum(np.abs(scores)))
    return float(sum(abs(a - b) for a in scores for b in scores) / len(scores))


@pytest.mark.parametrize("classes", [10, 120])
def test_epe_nas_sums_the_classes_scores_up_to_100_classes_and_compares_them_pairwise_above(classes):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((48, 13), generator=gen)
    y = torch.arange(48) % 8 * (classes // 10)  # 8 classes in the batch, 6 samples each
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(13, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, classes))
    assert score("epe_nas", net, (x,), y) == pytest.approx(_epe_nas_reference(net, x, y), rel=1e-9)


def test_published_nb201_figures_are_for_the_same_form_of_the_proxy_and_name_their_source():
    from archscout.report.proxies import correlations

    records = [{"proxies": {"zen": float(i), "fisher": float(i), "epe_nas": float(-i)}, "accuracy": i / 10,
                "seconds": {}, "errors": {}} for i in range(5)]
    rows = {r["proxy"]: r for r in correlations(records, ["zen", "fisher", "epe_nas", "grad_sign"])}
    # NAS-Bench-Suite-Zero's zen keeps the residual links and reads running_var: not the proxy scored here
    for name in ("zen", "grad_sign"):
        assert rows[name]["published_nb201_spearman"] is None and rows[name]["published_nb201_source"] is None
    assert rows["fisher"]["published_nb201_spearman"] == 0.360
    assert "Abdelfattah" in rows["fisher"]["published_nb201_source"]
    assert rows["epe_nas"]["published_nb201_spearman"] == 0.70
    assert "NAS-Bench-Suite-Zero" in rows["epe_nas"]["published_nb201_source"]
