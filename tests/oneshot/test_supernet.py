"""The weight-sharing conv supernet (issue 19): its elastic space, sub-networks on shared weights, extraction."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from archscout import ArchscoutError
from archscout.evaluate.checkpoints import CheckpointStore
from archscout.oneshot.supernet import ElasticSpec, elastic_spec
from archscout.oneshot.supernet.net import SuperNet, recalibrate
from archscout.oneshot.supernet.train import METHODS, OFA_ELASTIC, SupernetTraining, sample_subnet, train_supernet
from archscout.space import get_space
from archscout.space.blocks import MacroNet
from archscout.tasks.base import Split

SHAPES = {"conv1d": (40,), "conv2d": (1, 8, 8), "conv1d-quant": (40,), "conv2d-quant": (1, 8, 8)}


def scramble_norms(net: SuperNet, seed: int) -> None:
    """Give the batch norms non-trivial statistics and affine parameters, so that slicing them matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in net.norms:
            norm.running_mean.copy_(torch.randn(norm.num_features, generator=gen))
            norm.running_var.copy_(torch.rand(norm.num_features, generator=gen) + 0.5)
            norm.weight.copy_(torch.randn(norm.num_features, generator=gen))
            norm.bias.copy_(torch.randn(norm.num_features, generator=gen))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_an_extracted_sub_network_computes_what_the_supernet_computes_for_it(name):
    torch.manual_seed(0)
    spec = elastic_spec(name)
    net = SuperNet(spec, SHAPES[name], 10).eval()
    scramble_norms(net, 1)
    x = torch.randn(8, *SHAPES[name])
    space = spec.space()
    for seed in range(12):
        values = space.sample(seed).values
        for st in values["stages"]:  # an INT8 stage is fake-quantized in the supernet (tested below)
            st.pop("precision", None) and st.update(precision="fp32")
        if "classifier_precision" in values:
            values["classifier_precision"] = "fp32"
        net.set_active(values)
        sub = net.extract().eval()
        assert isinstance(sub, MacroNet)
        assert torch.allclose(net(x), sub(x), atol=1e-5)
        # the same module a stand-alone model of that architecture is: same names, same shapes
        alone = space.build(space.architecture(values), SHAPES[name], 10)
        assert {k: v.shape for k, v in alone.state_dict().items()} == {k: v.shape for k, v in sub.state_dict().items()}


def test_sub_networks_share_weights_smaller_ones_are_slices_of_larger_ones():
    spec = elastic_spec("conv1d")
    net = SuperNet(spec, (40,), 10)
    big, small = spec.largest(), spec.smallest()
    w_big = net.extract(big).convs[0].conv.weight
    w_small = net.extract(small).convs[0].conv.weight
    assert w_big.shape == (128, 1, 9) and w_small.shape == (8, 1, 3)
    assert torch.equal(w_small, w_big[:8, :, 3:6])  # the first 8 channels, the centre 3 taps
    # a gradient through a small sub-network reaches only its slice of the shared weight
    net.set_active(small)
    net(torch.randn(4, 40)).sum().backward()
    grad = net.convs[0].weight.grad
    assert grad[:8, :, 3:6].abs().sum() > 0 and grad[8:].abs().sum() == 0 and grad[:, :, :3].abs().sum() == 0
    assert net.convs[1].weight.grad is None  # the second stage is not in a one-stage sub-network


def test_the_elastic_space_says_what_is_elastic_and_what_is_fixed():
    spec = elastic_spec("conv1d")
    text = spec.describe()
    assert "depth 1-5" in text and "widths 8/16/24/32/48/64/96/128" in text and "kernels 3/5/7/9" in text
    assert "fixed: op conv" in text and "norm batch" in text and "head gap" in text
    space = spec.space()
    assert space.name == "conv1d-elastic"
    for seed in range(30):
        assert spec.check(space.sample(seed).values) is None


@pytest.mark.parametrize("change, reason", [
    (lambda v: v["stages"][0].update(op="dwconv"), "stage 0 has op 'dwconv'; the supernet's is fixed at 'conv'"),
    (lambda v: v["stages"][0].update(width=12), "stage 0 has width 12; the supernet's widths are 8, 16"),
    (lambda v: v["stages"][0].update(kernel=11), "stage 0 has kernel 11; the supernet's kernels are 3, 5, 7, 9"),
    (lambda v: v["stages"][0].update(residual=True), "stage 0 has residual True"),
    (lambda v: v["stages"][0].update(norm="layer"), "stage 0 has norm 'layer'"),
    (lambda v: v["stages"].append(dict(v["stages"][0])), "it has 6 stages; the supernet has 1 to 5"),
    (lambda v: v.update(head="flatten"), "its head is 'flatten'; the supernet's is 'gap'"),
    (lambda v: v["stages"][0].update(precision="int8"), "this supernet is not quantization-aware"),
])
def test_a_candidate_outside_the_elastic_space_is_refused_with_the_reason(change, reason):
    spec = elastic_spec("conv1d")
    values = spec.largest()
    change(values)
    assert reason in spec.check(values)
    net = SuperNet(spec, (40,), 10)
    with pytest.raises(ArchscoutError, match="not a sub-network of the supernet"):
        net.set_active(values)
    with pytest.raises(ArchscoutError, match="not a sub-network"):
        net.extract(values)


def test_a_base_space_architecture_inside_the_elastic_space_is_accepted():
    base = get_space("conv1d")
    values = {"stages": [{"op": "conv", "width": 32, "kernel": 5, "dilation": 1, "downsample": "maxpool",
                          "residual": False, "norm": "batch", "act": "relu"}], "head": "gap"}
    arch = base.architecture(values)
    assert elastic_spec("conv1d").check(arch.values) is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernels=(3, 4)), "elastic kernels must be odd"),
    (dict(widths=(16, 8)), "elastic widths must be increasing"),
    (dict(min_depth=3, max_depth=2), "min_depth <= max_depth"),
    (dict(downsample="pixelshuffle"), "downsample is one of"),
])
def test_a_bad_elastic_spec_is_refused(kwargs, message):
    with pytest.raises(ArchscoutError, match=message):
        elastic_spec("conv1d", **kwargs)


def test_only_conv_spaces_have_a_supernet():
    with pytest.raises(ArchscoutError, match="a supernet is built for the conv spaces"):
        elastic_spec("mlp")


def test_a_spec_round_trips_through_a_dict():
    spec = elastic_spec("conv2d-quant", downsample="avgpool")
    assert ElasticSpec.from_dict(spec.as_dict()) == spec and spec.quantization


def test_recalibration_estimates_each_sub_networks_own_statistics():
    torch.manual_seed(0)
    spec = elastic_spec("conv1d")
    net = SuperNet(spec, (40,), 10)
    scramble_norms(net, 2)
    x = torch.randn(64, 40) * 3 + 1
    sub = net.extract(spec.smallest())
    seen = recalibrate(sub, [x[:32], x[32:]])
    assert seen == 64 and not sub.training
    # cumulative average over the batches: the mean of the batch means of the first conv's output
    with torch.no_grad():
        h = sub.convs[0].conv(x.reshape(64, 1, 40))
    assert torch.allclose(sub.convs[0].norm.running_mean, h.mean((0, 2)), atol=1e-4)
    assert sub.convs[0].norm.momentum == 0.1  # restored
    with pytest.raises(ArchscoutError, match="got no batches"):
        recalibrate(sub, [])


def test_int8_stages_run_fake_quantized_weights_with_a_straight_through_gradient():
    torch.manual_seed(0)
    spec = elastic_spec("conv1d-quant")
    net = SuperNet(spec, (40,), 10).eval()
    x = torch.randn(8, 40)
    fp32 = spec.largest()
    int8 = spec._uniform(spec.max_depth, spec.widths[-1], spec.kernels[-1], precision="int8")
    net.set_active(fp32)
    a = net(x)
    net.set_active(int8)
    b = net(x)
    assert not torch.equal(a, b) and torch.allclose(a, b, atol=0.1)  # rounding moves it, a little
    b.sum().backward()
    assert net.convs[0].weight.grad.abs().sum() > 0
    assert torch.allclose(net.extract(fp32).eval()(x), a, atol=1e-5)


# -- training ----------------------------------------------------------------------------------------------

def tiny_task(seed: int = 0, n: int = 256):
    """A 1-D task a tiny conv net learns in a few dozen steps: the class is the level of a noisy signal."""
    gen = np.random.default_rng(seed)
    y = gen.integers(0, 4, n)
    X = (gen.normal(0, 0.5, (n, 1, 16)) + (y - 1.5)[:, None, None]).astype(np.float32)
    return Split(X, y.astype(np.int64))


TINY = dict(widths=(4, 8), kernels=(1, 3), max_depth=2)


def accuracy(net: SuperNet, values: dict, split) -> float:
    sub = net.extract(values)
    X = torch.as_tensor(split.X)
    recalibrate(sub, [X])
    with torch.no_grad():
        return (sub(X).argmax(1) == torch.as_tensor(split.y)).float().mean().item()


@pytest.mark.parametrize("method", METHODS)
def test_each_training_method_teaches_the_shared_weights(method):
    torch.manual_seed(0)
    spec = elastic_spec("conv1d", **TINY)
    net = SuperNet(spec, (1, 16), 4)
    data = tiny_task()
    before = accuracy(net, spec.largest(), data)
    out = train_supernet(net, data, SupernetTraining(method=method, steps=150, batch_size=32, lr=0.02), seed=0,
                         validate=lambda step: {"largest": accuracy(net, spec.largest(), data)})
    assert out["steps"] == 150 and len(out["curve"]) == 10 and out["curve"][-1]["step"] == 150
    assert accuracy(net, spec.largest(), data) > max(0.8, before + 0.3)
    assert accuracy(net, spec.smallest(), data) > 0.5  # the smallest shares the weights and learned too


def test_bignas_trains_largest_smallest_and_random_sub_networks_every_step(monkeypatch):
    spec = elastic_spec("conv1d", **TINY)
    net = SuperNet(spec, (1, 16), 4)
    seen: list[dict] = []
    real = SuperNet.set_active
    monkeypatch.setattr(SuperNet, "set_active", lambda self, v: (seen.append(v), real(self, v))[1])
    train_supernet(net, tiny_task(), SupernetTraining(method="bignas", steps=3, batch_size=32, random_subnets=2))
    per_step = seen[:-1]  # the last one: the net is left on its largest
    assert len(per_step) == 3 * 4
    for k in range(3):
        four = per_step[4 * k:4 * k + 4]
        assert four[0] == spec.largest() and four[1] == spec.smallest()


def test_ofa_shrinks_progressively_kernel_then_depth_then_width():
    cfg = SupernetTraining(method="ofa", steps=400)
    assert [cfg.phase(s) for s in (0, 99, 100, 199, 200, 300, 399)] == [0, 0, 1, 1, 2, 3, 3]
    spec = elastic_spec("conv1d")
    rng = __import__("random").Random(0)
    kernel_only = [sample_subnet(spec, rng, OFA_ELASTIC[1]) for _ in range(30)]
    assert all(len(v["stages"]) == 5 and {s["width"] for s in v["stages"]} == {128} for v in kernel_only)
    assert len({s["kernel"] for v in kernel_only for s in v["stages"]}) == 4
    with_depth = [sample_subnet(spec, rng, OFA_ELASTIC[2]) for _ in range(30)]
    assert len({len(v["stages"]) for v in with_depth}) > 1 and {s["width"] for v in with_depth
                                                                  for s in v["stages"]} == {128}


def test_a_crashed_supernet_training_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(tmp_path):
    spec = elastic_spec("conv1d", **TINY)
    data = tiny_task()
    cfg = SupernetTraining(method="bignas", steps=40, batch_size=32)

    torch.manual_seed(5)
    whole = SuperNet(spec, (1, 16), 4)
    init = {k: v.clone() for k, v in whole.state_dict().items()}
    train_supernet(whole, data, cfg, seed=3)

    store = CheckpointStore(tmp_path, every=0)
    crashed = SuperNet(spec, (1, 16), 4)
    crashed.load_state_dict(init)

    def crash(step):
        if step == 24:
            raise RuntimeError("killed")
        return {}

    with pytest.raises(RuntimeError, match="killed"):
        train_supernet(crashed, data, cfg, seed=3, checkpoint=store.line("supernet", "bignas", 3), validate=crash)
    resumed = SuperNet(spec, (1, 16), 4)
    out = train_supernet(resumed, data, cfg, seed=3, checkpoint=store.line("supernet", "bignas", 3),
                         validate=lambda step: {})
    assert out["start"] == 20 and out["steps"] == 20  # the save after the validation at step 20
    for key, value in whole.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="darts"), "unknown supernet training method 'darts'; known: bignas, ofa, spos"),
    (dict(steps=0), "steps must be a positive integer"),
    (dict(random_subnets=-1), "random_subnets must be a non-negative integer"),
    (dict(temperature=0), "temperature must be a positive number"),
    (dict(ofa_phases=(1, 1)), "ofa_phases are four non-negative shares"),
    (dict(optimizer="lion"), "optimizer"),
])
def test_bad_supernet_training_settings_are_refused(kwargs, message):
    with pytest.raises(ArchscoutError, match=message):
        SupernetTraining(**kwargs)


def test_fake_quantized_activations_take_at_most_256_levels_and_pass_gradients_straight_through():
    from archscout.oneshot.supernet.net import fake_quant_activation

    x = torch.linspace(-1.0, 3.0, 5000, requires_grad=True)
    q = fake_quant_activation(x)
    assert len(torch.unique(q.detach())) <= 256 and torch.allclose(q, x, atol=4.0 / 255)
    q.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
