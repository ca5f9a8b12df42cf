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


# -- the distributions PriorBand scores and samples with (archscout.space.priors) ----------------------------------
def _small():
    return Space("small", act=Choice(["relu", "gelu", "silu"], prior="gelu", confidence="high"),
                 stages=Repeat(1, 3, Block(width=Choice([8, 16, 32, 64], prior=16, confidence="medium"),
                                           norm=Choice(["bn", "ln"])), prior=2, confidence="low"))


def test_log_prob_is_the_probability_with_which_prior_sampling_draws_an_architecture():
    import math
    space = _small()
    rng = random.Random(1)
    draws = collections.Counter(space.sample(rng, prior=True) for _ in range(20000))
    for arch, count in draws.most_common(5):
        assert count / 20000 == pytest.approx(math.exp(space.log_prob(arch)), rel=0.15)
    total = 0.0  # over the whole space the probabilities sum to one
    for act in ("relu", "gelu", "silu"):
        for n in (1, 2, 3):
            import itertools
            for blocks in itertools.product([{"width": w, "norm": m} for w in (8, 16, 32, 64) for m in ("bn", "ln")],
                                            repeat=n):
                total += math.exp(space.log_prob(space.architecture({"act": act, "stages": list(blocks)})))
    assert total == pytest.approx(1.0)


def test_a_distribution_centred_on_an_architecture_puts_the_most_mass_on_it():
    import math
    space = _small()
    centre = space.architecture({"act": "silu", "stages": [{"width": 64, "norm": "ln"}] * 3})
    near = space.architecture({"act": "silu", "stages": [{"width": 32, "norm": "ln"}] * 3})
    far = space.architecture({"act": "relu", "stages": [{"width": 8, "norm": "bn"}]})
    assert space.log_prob(centre, centre) > space.log_prob(near, centre) > space.log_prob(far, centre)
    assert space.log_prob(centre, centre) > space.log_prob(centre)  # the priors point elsewhere
    # a choice without a prior, centred, gets the low confidence: norm's centre ln over bn
    from archscout.space.priors import choice_probs
    norm = space.root.fields["stages"].block.fields["norm"]
    assert choice_probs(norm, "ln")[1] == pytest.approx(prior_weights(2, 1, 0.25, False)[1])
    assert choice_probs(norm) == [0.5, 0.5]
    assert math.exp(space.log_prob(far, centre)) > 0


def test_a_local_mutation_redraws_each_decision_with_the_rate_and_moves_ordered_ones_nearby():
    space = _small()
    base = space.architecture({"act": "gelu", "stages": [{"width": 16, "norm": "bn"}] * 2})
    rng = random.Random(0)
    assert all(space.local_mutation(base, rng, rate=0.0) == base for _ in range(20))
    moved = [space.local_mutation(base, rng, rate=1.0) for _ in range(400)]
    assert all(m.values["act"] != "gelu" for m in moved)  # unordered: always another value
    widths = collections.Counter(s["width"] for m in moved for s in m.values["stages"])
    assert widths[8] + widths[16] + widths[32] > widths[64]  # ordered: near 16 more often than far
    lengths = collections.Counter(len(m.values["stages"]) for m in moved)
    assert set(lengths) <= {1, 2, 3} and len(lengths) > 1
    half = [space.local_mutation(base, rng, rate=0.5) for _ in range(400)]
    changed = sum(m.values["act"] != "gelu" for m in half) / 400
    assert changed == pytest.approx(0.5, abs=0.08)
