"""Priors on a space's choices: what a practitioner would try first, drawn from only when asked (strategy auto)."""
from __future__ import annotations

import collections
import random

import pytest

from archscout import ArchscoutError
from archscout.space import Block, Choice, Integer, Repeat, Space, get_space, prior_weights


def test_an_unordered_prior_puts_more_than_uniform_mass_on_its_value_at_every_confidence():
    for n in (2, 3, 4, 8):
        for confidence in (0.25, 0.5, 0.75):
            w = prior_weights(n, 1, confidence, ordered=False)
            assert sum(w) == pytest.approx(1)
            assert w[1] > 1 / n and all(x == pytest.approx(w[0]) for i, x in enumerate(w) if i != 1)
    # a higher confidence puts more there
    assert prior_weights(3, 0, 0.75, False)[0] > prior_weights(3, 0, 0.5, False)[0] > prior_weights(3, 0, 0.25, False)[0]


def test_an_ordered_prior_falls_off_with_the_distance_from_its_value():
    w = prior_weights(7, 2, 0.5, ordered=True)
    assert sum(w) == pytest.approx(1)
    assert w[2] == max(w) and w[1] > w[0] and w[3] > w[4] > w[5] > w[6]
    wide, narrow = prior_weights(7, 2, 0.25, True), prior_weights(7, 2, 0.75, True)
    assert narrow[2] > w[2] > wide[2]


def test_sampling_with_the_prior_follows_its_weights_and_without_it_stays_uniform():
    choice = Choice(["a", "b", "c"], prior="c", confidence="high")
    rng = random.Random(0)
    with_prior = collections.Counter(choice.sample(rng, prior=True) for _ in range(6000))
    uniform = collections.Counter(choice.sample(rng) for _ in range(6000))
    expected = prior_weights(3, 2, 0.75, False)[2]  # 0.833
    assert with_prior["c"] / 6000 == pytest.approx(expected, abs=0.03)
    assert uniform["c"] / 6000 == pytest.approx(1 / 3, abs=0.03)


def test_a_repeat_prior_sets_the_number_of_copies_drawn():
    space = Space("p", stages=Repeat(1, 6, Block(w=Choice([1, 2], prior=2, confidence="high")), prior=2,
                                     confidence="high"))
    rng = random.Random(1)
    lengths = collections.Counter(len(space.sample(rng, prior=True).values["stages"]) for _ in range(3000))
    assert lengths.most_common(1)[0][0] == 2 and lengths[2] > 3 * lengths[6]
    assert space.prior_mode().values == {"stages": [{"w": 2}, {"w": 2}]}


def test_priors_are_checked_and_named_in_clear_errors():
    with pytest.raises(ArchscoutError, match="the prior 5 is not one of"):
        Choice([1, 2, 3], prior=5)
    with pytest.raises(ArchscoutError, match="confidence is one of low, medium, high"):
        Choice([1, 2, 3], prior=2, confidence="sure")
    with pytest.raises(ArchscoutError, match="needs a prior value"):
        Choice([1, 2, 3], confidence="low")
    with pytest.raises(ArchscoutError, match="the prior 9 is not one of"):
        Repeat(1, 3, Block(a=Choice([1])), prior=9)
    assert Integer(1, 9, prior=4).prior_value() == 4
    assert Choice([True, False], prior=False).prior_value() is False  # not 0


def test_priors_leave_the_fingerprint_alone_and_show_in_the_spec():
    plain = Space("s", a=Choice([1, 2, 3]), b=Choice(["x", "y"]))
    with_priors = Space("s", a=Choice([1, 2, 3], prior=2), b=Choice(["x", "y"], prior="y", confidence="low"))
    assert plain.fingerprint() == with_priors.fingerprint()
    assert with_priors.spec()["fields"]["a"]["prior"] == 2 and "prior" not in plain.spec()["fields"]["a"]
    assert with_priors.has_priors() and not plain.has_priors()


def test_the_prior_mode_of_a_conditional_choice_follows_the_choice_it_depends_on():
    space = Space("c", op=Choice(["conv", "fc"], prior="fc"), kernel=Choice([3, 5], when={"op": ["conv"]}, prior=5))
    assert space.prior_mode().values == {"op": "fc", "kernel": None}


@pytest.mark.parametrize("name", ["conv1d-recipe", "conv2d-recipe", "mlp-recipe", "conv1d", "conv2d", "mlp"])
def test_the_default_spaces_carry_priors_whose_mode_is_a_valid_architecture(name):
    space = get_space(name)
    assert space.has_priors()
    mode = space.prior_mode()
    assert space.contains(mode)
    if name.endswith("-recipe"):
        assert mode.values["recipe"] == {"lr": 3e-3, "weight_decay": 1e-4, "batch_size": 64, "optimizer": "adamw",
                                         "schedule": "onecycle"}


def test_the_mlp_space_holds_a_linear_model_and_builds_it():
    torch = pytest.importorskip("torch")
    space = get_space("mlp")
    linear = space.architecture({"stages": []})
    net = space.build(linear, (10,), 3)
    assert sum(p.numel() for p in net.parameters()) == 10 * 3 + 3
    assert net(torch.zeros(4, 10)).shape == (4, 3)
    assert space.neighbors(linear) and all(len(n.values["stages"]) == 1 for n in space.neighbors(linear))
