"""The RL controller (rl) and the optuna strategies (optuna, optuna-tpe, optuna-nsga2, optuna-random)."""
import logging
import random
import statistics
import subprocess
import sys

import numpy as np
import pytest

from archscout import ArchscoutError, Block, Choice, Repeat, Space, Study
from archscout.cli import main
from archscout.space import conv1d
from archscout.strategy import OptunaSampler, OptunaTPE, ReinforceController, make_strategy
from archscout.strategy._rl import RecurrentPolicy

TOY = Space("toy", stages=Repeat(1, 4, Block(width=Choice(list(range(10))), kind=Choice(["a", "b", "c"]))),
            bias=Choice(list(range(10))))

# conditional fields, a nested block, an empty-able repeat of variable length, and a constraint
COND = Space(
    "cond",
    stages=Repeat(0, 3, Block(op=Choice(["conv", "pool", "id"]),
                              kernel=Choice([1, 3, 5], when={"op": ["conv"]}),
                              pool=Choice(["max", "avg"], when={"op": ["pool"]}),
                              fixed=Choice(["only"]))),
    head=Block(kind=Choice(["gap", "flat"]), units=Choice([16, 32, 64], when={"kind": ["flat"]})),
    constraints=[lambda v: sum(s["op"] == "conv" for s in v["stages"]) <= 1 or v["head"]["kind"] == "gap"],
)

NAMES = ["rl", "optuna", "optuna-tpe", "optuna-nsga2", "optuna-random"]


def toy_score(arch) -> float:
    """Peak at 4 stages of width 7 and kind 'b', bias 3: a landscape with structure to exploit."""
    v = arch.values
    s = -abs(len(v["stages"]) - 4) * 3 - abs(v["bias"] - 3)
    for st in v["stages"]:
        s -= abs(st["width"] - 7) + (st["kind"] != "b") * 2
    return float(s)


def cond_score(arch) -> float:
    v = arch.values
    return float(sum((s["kernel"] or 0) + (s["op"] == "pool") for s in v["stages"]) + (v["head"]["units"] or 0) / 16)


def best_after(name, n, seed):
    strat = make_strategy(name, TOY, seed=seed)
    best = float("-inf")
    for _ in range(n):
        a = strat.ask()
        assert TOY.contains(a)
        s = toy_score(a)
        strat.tell(a, s)
        best = max(best, s)
    return best


def proposals(strat, space, score, n):
    out = []
    for _ in range(n):
        a = strat.ask()
        strat.tell(a, score(a))
        out.append(a.id)
    return out


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("space,score", [(TOY, toy_score), (COND, cond_score), (conv1d(), lambda a: 0.0)],
                         ids=["toy", "conditional", "conv1d"])
def test_proposals_are_in_the_space(name, space, score):
    strat = make_strategy(name, space, seed=1)
    rng = random.Random(0)
    for _ in range(40):
        a = strat.ask()
        assert space.contains(a) and space.satisfies(a.values)
        strat.tell(a, None if rng.random() < 0.2 else score(a) + rng.random())


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_proposals(name):
    def run(seed):
        return proposals(make_strategy(name, TOY, seed=seed), TOY, toy_score, 40)

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("name", ["rl", "optuna-tpe"])
@pytest.mark.slow
def test_learning_strategies_beat_random_on_a_toy_objective(name):
    ours = [best_after(name, 100, seed) for seed in range(6)]
    rand = [best_after("random", 100, seed) for seed in range(6)]
    assert statistics.mean(ours) > statistics.mean(rand) + 3


@pytest.mark.parametrize("name", NAMES)
def test_unasked_and_out_of_order_tells(name):
    strat = make_strategy(name, COND, seed=0)
    outstanding = [strat.ask() for _ in range(6)]  # parallel workers: six asks before any tell
    for a in reversed(outstanding):
        strat.tell(a, cond_score(a))
    for i in range(8):  # a resumed history or requeued trials: never proposed by this strategy
        a = COND.sample(100 + i)
        strat.tell(a, None if i % 3 == 0 else cond_score(a))
    strat.tell(outstanding[0], cond_score(outstanding[0]))  # the study answers a duplicate at once
    assert all(COND.contains(strat.ask()) for _ in range(5))
    if isinstance(strat, OptunaSampler):
        states = [t.state.name for t in strat.study.trials]
        assert states.count("COMPLETE") >= 6 + 8 + 1 and states.count("RUNNING") == 5
        assert sum(len(q) for q in strat.pending.values()) == 5


def test_optuna_parameters_are_named_by_decision_path_and_match_the_asked_ones():
    strat = OptunaTPE(COND, seed=0)
    for _ in range(15):
        a = strat.ask()
        trial = strat.pending[a][-1]
        params, dists = strat.params(a)
        assert params == trial.params and dists == trial.distributions  # as ask suggested them
        n = len(a.values["stages"])
        assert params["stages.#len"] == n
        for i, st in enumerate(a.values["stages"]):
            assert (f"stages.{i}.kernel" in params) == (st["op"] == "conv")
            assert f"stages.{i}.fixed" not in params  # a single value is no decision
        assert ("head.units" in params) == (a.values["head"]["kind"] == "flat")
        strat.tell(a, cond_score(a))


def test_rl_reads_the_decisions_of_an_architecture_back():
    strat = ReinforceController(COND, seed=0)
    for seed in range(30):
        a = COND.sample(seed)
        steps = strat.decisions(a)
        it = iter(steps)
        rebuilt = strat.slots.walk(COND.root, None, lambda s, _, it=it: next(it)[1])
        assert rebuilt == a.values and next(it, None) is None
        keys = [strat.slots.keys[s] for s, _ in steps]
        assert keys[0] == "stages.#len" and keys.count("stages.op") == len(a.values["stages"])
        assert "stages.fixed" not in keys and keys.count("stages.kernel") == [s["op"] for s in
                                                                            a.values["stages"]].count("conv")


@pytest.mark.parametrize("name", NAMES)
def test_resume_after_replaying_a_history_gives_the_same_next_proposals(name):
    rng = random.Random(7)
    history = [(a, None if rng.random() < 0.2 else toy_score(a)) for a in (TOY.sample(rng) for _ in range(30))]

    def resumed():
        strat = make_strategy(name, TOY, seed=5)
        for a, s in history:
            strat.tell(a, s)
        strat.resume(len(history))
        return proposals(strat, TOY, toy_score, 12)

    first = resumed()
    assert first == resumed()
    other = make_strategy(name, TOY, seed=5)
    for a, s in history:
        other.tell(a, s)
    other.resume(len(history) + 1)  # the seed of a resume depends on the length of the history
    assert proposals(other, TOY, toy_score, 12) != first


OPTUNA_PRESETS = ["optuna-tpe", "optuna-nsga2", "optuna-random"]


def toy_pair(arch) -> tuple[float, float]:
    """Two conflicting objectives, both oriented "higher is better": the toy score and shallowness."""
    return toy_score(arch), -float(len(arch.values["stages"]))


@pytest.mark.parametrize("name", OPTUNA_PRESETS)
def test_optuna_presets_search_two_objectives(name):
    strat = make_strategy(name, TOY, seed=1, objectives=2)
    assert strat.multi_objective
    rng = random.Random(0)
    for _ in range(40):
        a = strat.ask()
        assert TOY.contains(a)
        strat.tell(a, None if rng.random() < 0.2 else toy_pair(a))
    assert [d.name for d in strat.study.directions] == ["MAXIMIZE", "MAXIMIZE"]
    complete = [t for t in strat.study.trials if t.state.name == "COMPLETE"]
    assert len(complete) >= 35 and all(len(t.values) == 2 for t in complete)


def test_a_failure_is_told_as_the_worst_value_so_far_of_each_objective():
    strat = make_strategy("optuna-nsga2", TOY, seed=0, objectives=2)
    first = strat.ask()
    strat.tell(first, None)  # nothing known yet: a failed trial
    strat.tell(strat.ask(), (1.0, -5.0))
    strat.tell(TOY.sample(3), (3.0, -2.0))  # never proposed: added as a finished trial
    strat.tell(strat.ask(), None)
    strat.tell(TOY.sample(4), None)
    trials = strat.study.trials
    assert trials[0].state.name == "FAIL"
    assert [t.values for t in trials[1:]] == [[1.0, -5.0], [3.0, -2.0], [1.0, -5.0], [1.0, -5.0]]


def test_a_score_of_the_wrong_shape_is_refused_and_changes_nothing():
    two = make_strategy("optuna-tpe", TOY, seed=0, objectives=2)
    a = two.ask()
    with pytest.raises(ArchscoutError, match=r"made for 2 objective\(s\).*the single score 0.5"):
        two.tell(a, 0.5)
    with pytest.raises(ArchscoutError, match="a tuple of 3"):
        two.tell(a, (1.0, 2.0, 3.0))
    assert [t.state.name for t in two.study.trials] == ["RUNNING"] and two.worst is None
    two.tell(a, (1.0, 2.0))
    assert two.study.trials[0].values == [1.0, 2.0]
    with pytest.raises(ArchscoutError, match="a tuple of 2"):
        make_strategy("optuna-tpe", TOY, seed=0).tell(a, (1.0, 2.0))
    with pytest.raises(ArchscoutError, match="objectives must be the number of objectives"):
        make_strategy("optuna-random", TOY, objectives=0)


@pytest.mark.parametrize("name", OPTUNA_PRESETS)
def test_a_one_objective_tuple_is_a_plain_score(name):
    def run(wrap):
        strat = make_strategy(name, TOY, seed=2)
        return proposals(strat, TOY, lambda a: wrap(toy_score(a)), 30)

    assert run(lambda v: (v,)) == run(lambda v: v)


@pytest.mark.parametrize("name", OPTUNA_PRESETS)
def test_two_objective_resume_gives_the_same_next_proposals(name):
    rng = random.Random(7)
    history = [(a, None if rng.random() < 0.2 else toy_pair(a)) for a in (TOY.sample(rng) for _ in range(30))]

    def resumed(told):
        strat = make_strategy(name, TOY, seed=5, objectives=2)
        for a, s in history:
            strat.tell(a, s)
        strat.resume(told)
        return proposals(strat, TOY, toy_pair, 12)

    first = resumed(len(history))
    assert first == resumed(len(history))
    assert resumed(len(history) + 1) != first


def test_constrained_proposals_are_retried_and_never_break_the_constraint():
    tight = Space("tight", a=Choice(list(range(6))), b=Choice(list(range(6))),
                  constraints=[lambda v: v["a"] + v["b"] == 5])
    for name in NAMES:
        strat = make_strategy(name, tight, seed=0)
        for _ in range(20):
            a = strat.ask()
            assert a.values["a"] + a.values["b"] == 5
            strat.tell(a, float(a.values["a"]))


def test_failures_before_any_score_teach_the_controller_nothing():
    strat = ReinforceController(TOY, seed=0, batch_size=2)
    before = {k: v.copy() for k, v in strat.policy.params.items()}
    for _ in range(4):
        strat.tell(strat.ask(), None)
    assert strat.batch == [] and all(np.array_equal(before[k], v) for k, v in strat.policy.params.items())
    strat.tell(strat.ask(), 1.0)
    strat.tell(strat.ask(), None)  # now the worst score seen (1.0): a full batch, one Adam step
    assert any(not np.array_equal(before[k], v) for k, v in strat.policy.params.items())


def test_rl_learns_from_every_sample_it_draws_exactly_once(monkeypatch):
    """Unbiased REINFORCE: a sample of an architecture already told is learned from with its known score (and
    the controller samples again), one still running is learned from when its result comes; resample_seen=True
    draws again without learning from the repeats, the biased way."""
    ten = Space("ten", x=Choice(list(range(10))))

    def run(**options):
        strategy = ReinforceController(ten, seed=0, batch_size=10_000, **options)
        draws = []
        sample = strategy._sample
        monkeypatch.setattr(strategy, "_sample", lambda: draws.append(1) or sample())
        running = [strategy.ask() for _ in range(3)]  # asked ahead: results come later
        for _ in range(20):
            arch = strategy.ask()
            strategy.tell(arch, float(arch["x"]))
        for arch in running:
            strategy.tell(arch, float(arch["x"]))
        return len(draws), len(strategy.batch), len({strategy.ask() for _ in range(3)})

    draws, learned, _ = run()
    assert draws > 23 and learned == draws
    draws, learned, _ = run(resample_seen=True)
    assert draws > 23 and learned == 23


def test_rl_whose_policy_has_concentrated_still_proposes_new_architectures():
    """Repeats are learned from rather than proposed, so proposals are new far more often than the
    policy's draws are."""
    strategy = ReinforceController(TOY, seed=0, lr=0.1)
    told, new = set(), 0
    for i in range(200):
        arch = strategy.ask()
        new += i >= 150 and arch not in told
        strategy.tell(arch, toy_score(arch))
        told.add(arch)
    draws = [TOY.architecture(strategy._sample()[0]) for _ in range(100)]
    repeats = sum(d in told for d in draws) / len(draws)
    assert repeats > 0.8  # the policy has concentrated on what it found ...
    assert new > 2 * (1 - repeats) * 50  # ... yet more of the last 50 proposals are new than its draws would be


def test_rl_learns_from_the_decisions_it_sampled_not_their_canonical_form():
    """In a space with symmetries the stored architecture is a canonical form whose decisions may differ
    from the ones the policy took; the gradient belongs to the ones it took."""
    from archscout.space import get_space

    gnn = get_space("gnn")
    strategy = ReinforceController(gnn, seed=0, batch_size=100)
    for _ in range(50):
        arch = strategy.ask()
        sampled = list(strategy.drawn[arch][-1])
        strategy.tell(arch, 1.0)
        assert strategy.batch[-1][0] == sampled
        if sampled != strategy.decisions(arch):
            break
    else:
        pytest.fail("no sample differed from its canonical form")


@pytest.mark.parametrize("tanh_constant", [2.5, None])
def test_rl_policy_gradient_matches_finite_differences(tanh_constant):
    strat = ReinforceController(COND, seed=3, hidden_size=6, tanh_constant=tanh_constant)
    policy: RecurrentPolicy = strat.policy
    rng = np.random.default_rng(0)
    for k in policy.params:  # away from the near-zero init, so every term matters
        policy.params[k] += rng.normal(0, 0.5, policy.params[k].shape)
    episodes = [(strat.decisions(COND.sample(s)), adv) for s, adv in [(1, 1.3), (2, -0.7), (5, 0.4), (9, 2.0)]]
    assert all(steps for steps, _ in episodes)
    _, grads = policy.loss_and_grad(episodes, entropy_weight=0.3)
    eps = 1e-6
    for name, param in policy.params.items():
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            up = policy.loss_and_grad(episodes, 0.3)[0]
            param[idx] = old - eps
            down = policy.loss_and_grad(episodes, 0.3)[0]
            param[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        assert np.abs(grads[name]).max() > 0  # the check is not vacuous
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", ["rl", "optuna-tpe"])
@pytest.mark.slow
def test_a_study_searches_and_resumes(name, tmp_path):
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    study = Study("s", space="conv1d", evaluator="synthetic", strategy=name, storage=db, seed=2)
    study.search(trials=30, progress=False)
    assert len(study.trials()) == 30
    again = Study("s", space="conv1d", evaluator="synthetic", strategy=name, storage=db, seed=2)
    again.search(trials=40, progress=False)
    trials = again.trials()
    assert len(trials) == 40 and len({t.arch.id for t in trials}) == 40
    assert sum(t.status == "complete" for t in trials) >= 30


def test_names_aliases_and_options():
    with pytest.raises(ArchscoutError, match="unknown strategy 'graphnas'"):  # GraphNAS's controller is an LSTM
        make_strategy("graphnas", TOY)
    assert isinstance(make_strategy("reinforce", TOY, hidden_size=8, lr=0.01, batch_size=3, baseline_decay=0.9,
                                    entropy_weight=0.0, tanh_constant=None, resample_seen=True), ReinforceController)
    assert make_strategy("optuna", TOY, sampler="nsga2", population_size=4).sampler == "nsga2"
    with pytest.raises(ArchscoutError, match="Valid optuna samplers: nsga2, random, tpe"):
        make_strategy("optuna", TOY, sampler="gp")
    with pytest.raises(ArchscoutError, match="population_size is an option of the nsga2 sampler"):
        make_strategy("optuna", TOY, population_size=4)
    with pytest.raises(ArchscoutError, match="no option"):
        make_strategy("optuna-tpe", TOY, population_size=4)
    with pytest.raises(ArchscoutError, match="lr must be"):
        make_strategy("rl", TOY, lr=-1)


def test_optuna_log_level_is_left_as_it_was():
    import optuna
    before = optuna.logging.get_verbosity()
    try:
        optuna.logging.set_verbosity(logging.INFO)
        strat = OptunaTPE(TOY, seed=0)
        strat.tell(strat.ask(), 1.0)
        assert optuna.logging.get_verbosity() == logging.INFO
    finally:
        optuna.logging.set_verbosity(before)


def test_missing_optuna_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    with pytest.raises(ArchscoutError, match="pip install optuna"):
        make_strategy("optuna-tpe", TOY)


def test_new_strategies_do_not_import_torch():
    code = ("import sys, archscout.strategy; from archscout.space import conv1d; "
            "[archscout.strategy.make_strategy(n, conv1d()).ask() for n in ('rl', 'optuna-tpe')]; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_lists_the_new_strategies(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"\n{name} " in "\n" + out
