"""Differentiable methods as their reference code runs them (issue 29, part 2): ProxylessNAS's rescaled α and its
Adam, darts-pt's perturbation-based selection, GDAS's step order and DARTS's second-order virtual step."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from archscout.oneshot.differentiable import search as search_module
from archscout.oneshot.differentiable.config import DifferentiableConfig
from archscout.oneshot.differentiable.mixed import SearchNetwork
from archscout.oneshot.differentiable.search import halves, perturbation_select, search_cell

FAST = dict(batch_size=16, channels=8, stages=2)


# -- ProxylessNAS ----------------------------------------------------------------------------------------------

def test_a_proxyless_architecture_step_leaves_the_unsampled_paths_probabilities_as_they_were(tiny, monkeypatch):
    before: list[torch.Tensor] = []
    gates: list[torch.Tensor] = []
    real = SearchNetwork.sample_gates

    def spy(self, candidates=1):
        out = real(self, candidates)
        if candidates == 2:  # the architecture step's two paths per edge
            before.append(F.softmax(self.alpha.detach(), -1).clone())
            gates.append(out.detach().clone())
        return out

    monkeypatch.setattr(SearchNetwork, "sample_gates", spy)
    result = search_cell(tiny, DifferentiableConfig(method="proxyless", steps=1, check_every=1, a_lr=0.05, **FAST),
                         seed=0)
    after = torch.tensor(result["history"][0]["probabilities"], dtype=before[0].dtype)
    (p0,), (g,) = before, gates
    unsampled, sampled = g < 0, g >= 0
    assert int(unsampled.sum()) == 6 * 3
    assert torch.allclose(after[unsampled], p0[unsampled], atol=1e-6)  # the rescale keeps them
    assert not torch.allclose(after[sampled], p0[sampled], atol=1e-4)  # while the two sampled paths moved
    assert torch.allclose(after.sum(1), torch.ones(6), atol=1e-6)


def test_proxyless_alpha_has_adam_with_beta1_zero_and_no_weight_decay_darts_keeps_its_own(tiny, monkeypatch):
    made: list[dict] = []
    real = torch.optim.Adam

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, params, **kw):
            super().__init__(params, **kw)
            made.append(dict(self.defaults))

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    for method in ("proxyless", "darts"):
        search_cell(tiny, DifferentiableConfig(method=method, steps=1, check_every=1, **FAST), seed=0)
    proxyless, darts = made
    assert (proxyless["betas"], proxyless["weight_decay"], proxyless["eps"]) == ((0.0, 0.999), 0.0, 1e-8)
    assert (darts["betas"], darts["weight_decay"]) == ((0.5, 0.999), 1e-3)


# -- perturbation-based selection (darts-pt) -------------------------------------------------------------------

def test_masking_an_operation_leaves_the_edges_other_weights_unrenormalised():
    net = SearchNetwork((1, 12), 3, channels=4, stages=1)
    with torch.no_grad():
        net.alpha.copy_(torch.randn(6, 5, generator=torch.Generator().manual_seed(0)))
    full = net.edge_weights().detach()
    net.removed = (2, 3)
    w = net.edge_weights().detach()
    assert w[2, 3] == 0
    assert torch.allclose(w[2, [0, 1, 2, 4]], full[2, [0, 1, 2, 4]])  # as they were: the edge sums to < 1
    assert float(w[2].sum()) == pytest.approx(1 - float(full[2, 3]), abs=1e-6)
    assert torch.allclose(w[[0, 1, 3, 4, 5]], full[[0, 1, 3, 4, 5]])


def test_perturbations_are_scored_in_train_mode_with_batch_statistics():
    torch.manual_seed(0)
    net = SearchNetwork((1, 12), 3, channels=4, stages=1)
    modes: list[bool] = []
    net.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    net.eval()
    batches = [(torch.randn(8, 1, 12), torch.randint(0, 3, (8,))) for _ in range(2)]
    perturbation_select(net, batches, lambda: None, 0, random.Random(0))
    assert len(modes) == 6 * 6 * 2 and all(modes)  # per edge: the base and 5 masks, on 2 batches each
    assert not net.training  # left as it was


@pytest.mark.slow
def test_perturbation_tunes_alpha_with_the_weights_and_scores_on_the_whole_architecture_half(tiny, monkeypatch):
    seen: dict = {}
    real = search_module.perturbation_select

    def spy(net, batches, tune_step, tune_steps, rng):
        alpha, weights = net.alpha.detach().clone(), [w.detach().clone() for w in net.weights()]
        tune_step()
        seen["alpha moved"] = not torch.equal(alpha, net.alpha.detach())
        seen["weights moved"] = any(not torch.equal(a, b.detach()) for a, b in zip(weights, net.weights()))
        seen["scored"] = sum(len(y) for _, y in batches)
        return real(net, batches, tune_step, 0, rng)

    monkeypatch.setattr(search_module, "perturbation_select", spy)
    search_cell(tiny, DifferentiableConfig(method="darts", steps=2, check_every=2, selection="perturbation", **FAST),
                seed=0)
    arch_half = len(halves(tiny.train, 0)[1])
    assert seen == {"alpha moved": True, "weights moved": True, "scored": arch_half // 16 * 16}


# -- GDAS and DARTS second order -------------------------------------------------------------------------------

@pytest.mark.parametrize("method, order", [("gdas", "wawa"), ("darts", "awaw")])
def test_gdas_updates_the_weights_before_alpha_darts_after(tiny, monkeypatch, method, order):
    calls: list[str] = []
    for cls, tag in ((torch.optim.SGD, "w"), (torch.optim.Adam, "a")):
        real = cls.step
        monkeypatch.setattr(cls, "step", lambda self, *a, _real=real, _tag=tag, **k: (calls.append(_tag),
                                                                                       _real(self, *a, **k))[1])
    search_cell(tiny, DifferentiableConfig(method=method, steps=2, check_every=2, **FAST), seed=0)
    assert "".join(calls) == order


def test_darts_second_orders_virtual_step_carries_momentum_and_weight_decay():
    from archscout.oneshot.differentiable.search import _second_order_alpha_grad

    torch.manual_seed(0)
    net = SearchNetwork((1, 12), 3, channels=4, stages=1)
    xt, yt = torch.randn(16, 1, 12), torch.randint(0, 3, (16,))
    xv, yv = torch.randn(16, 1, 12), torch.randint(0, 3, (16,))
    opt = torch.optim.SGD(net.weights(), lr=0.1, momentum=0.9, weight_decay=0.1)
    F.cross_entropy(net(xt), yt).backward()
    opt.step()  # a momentum buffer to carry
    opt.zero_grad(set_to_none=True)
    net.alpha.grad = None
    weights = net.weights()
    w0 = [w.detach().clone() for w in weights]
    grads = torch.autograd.grad(F.cross_entropy(net(xt), yt), weights, allow_unused=True)
    xi = 0.05
    expected = [w - xi * (g + 0.1 * w + 0.9 * opt.state[p]["momentum_buffer"])
                for w, g, p in zip(w0, grads, weights) if g is not None]
    seen: list[list[torch.Tensor]] = []
    net.register_forward_pre_hook(lambda module, args: seen.append(
        [w.detach().clone() for w, g in zip(weights, grads) if g is not None]))
    _second_order_alpha_grad(net, xt, yt, xv, yv, xi, opt)
    virtual = seen[1]  # the validation loss's forward, at the virtual weights
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(virtual, expected))
    assert all(torch.equal(w.detach(), s) for w, s in zip(weights, w0))  # restored afterwards
    assert net.alpha.grad is not None and torch.isfinite(net.alpha.grad).all()
