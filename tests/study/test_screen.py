"""Training-free screening gated by its measured ranking (``--guide screen``): the gate, the pool, the promotions
that pass, the resume from storage and the settings it refuses."""
import pytest
from scipy.stats import kendalltau

from archscout import Study
from archscout.errors import ArchscoutError
from archscout.space import Choice, Space
from archscout.strategy import Result
from archscout.strategy.fidelity.asha import ASHA
from archscout.study.guide import ScreenedStrategy, check_guide, vote

FAST = {"steps": 27}


class FakeGuide:
    """Ranks a pool by one proxy, ``proxy@nwot``, that is the architecture's width (what pick() is handed is
    recorded)."""

    def __init__(self, **config):
        self.config = {"by": "screen", "pool": 4, "proxies": ["nwot"], "min_tau": 0.3, "min_results": 6, **config}
        self.pool = self.config["pool"]
        self.vote_proxies = ["nwot"]
        self.pools: list[list] = []

    def pick(self, candidates, trained):
        self.pools.append(candidates)
        best = max(range(len(candidates)), key=lambda i: candidates[i]["width"])
        return best, {"by": "vote", "pool": len(candidates)}


def _space():
    return Space("widths", width=Choice(list(range(1, 41))))


def _screened(**config):
    inner = ASHA(_space(), seed=3, fidelity={"steps": 27}, eta=3)
    return ScreenedStrategy(inner, FakeGuide(**config)), inner


def _tell(strategy, proposal, score, metrics=None):
    """A result with the trial number a study would give it (promotions name theirs as parent)."""
    strategy.told = getattr(strategy, "told", 0) + 1
    strategy.tell_result(Result(proposal.arch, score, metrics or {}, proposal.fidelity, strategy.told, "complete",
                                proposal.parent))


def _tell_first(strategy, proposal, score):
    _tell(strategy, proposal, score, {"proxy@nwot": float(proposal.arch["width"])})


def test_screening_stays_off_until_enough_first_results_then_follows_the_measured_tau():
    strategy, inner = _screened()
    guide = strategy.guide
    firsts = 0
    while True:
        p = strategy.ask()
        if p.parent is not None:  # ASHA's promotions pass unscreened
            assert "screen" not in (p.details or {})
            _tell(strategy, p, 0.5)
            continue
        if firsts == 6:
            break
        assert p.details["screen"] == {"on": False, "tau": None, "n": firsts}
        _tell_first(strategy, p, p.arch["width"] / 40)  # the proxy ranks these perfectly
        firsts += 1
    assert len(guide.pools) == 1  # only the last proposal was screened
    assert p.details["screen"] == {"on": True, "tau": 1.0, "n": 6}
    assert len(guide.pools) == 1 and len(guide.pools[0]) == 4
    assert p.arch["width"] == max(a["width"] for a in guide.pools[0])  # the vote's winner is the proposal
    assert p.details["guide"] == {"by": "vote", "pool": 4}
    # the losers were discarded: the scheduler no longer waits for them, and they are not proposed again
    losers = {a.id for a in guide.pools[0]} - {p.arch.id}
    assert not any(a.id in losers for a, _ in inner._pending)


def test_screening_is_off_where_the_proxies_rank_the_first_results_badly():
    strategy, _ = _screened()
    for _ in range(8):
        p = strategy.ask()
        if p.parent is None:
            _tell_first(strategy, p, 1 - p.arch["width"] / 40)  # the proxy ranks them backwards
        else:
            _tell(strategy, p, 0.5)
    on, tau, n = strategy.gate({"steps": 1})
    assert n >= 6 and tau == -1.0 and not on
    assert strategy.guide.pools == []


def test_the_gate_measures_the_vote_tau_over_the_first_results_at_one_fidelity():
    strategy, _ = _screened(min_results=5)
    rows = [(3, 0.2), (9, 0.5), (1, 0.4), (20, 0.9), (7, 0.1), (12, 0.6)]
    for w, s in rows:
        arch = _space().architecture({"width": w})
        strategy.tell_result(Result(arch, s, {"proxy@nwot": float(w)}, {"steps": 1}, None, "complete", None))
    # a promotion's result (it has a parent) and a failed one do not count
    strategy.tell_result(Result(arch, 0.99, {"proxy@nwot": 1.0}, {"steps": 3}, None, "complete", 5))
    strategy.tell_result(Result(arch, None, {"proxy@nwot": 1.0}, {"steps": 1}, None, "failed", None))
    on, tau, n = strategy.gate({"steps": 1})
    expected = kendalltau(vote([{"nwot": float(w)} for w, _ in rows], ["nwot"]), [s for _, s in rows]).statistic
    assert n == 6 and tau == pytest.approx(expected, abs=1e-4) and on == (expected >= 0.3)
    assert strategy.gate({"steps": 3}) == (False, None, 0)  # first results at another fidelity: none


def test_check_guide_fills_the_screen_defaults_and_refuses_options_of_other_guides():
    class StudyLike:
        multi_objective = False

        class evaluator_spec:
            trains = True

    assert check_guide("screen", StudyLike) == {"by": "screen", "pool": 5, "proxies": ["nwot", "jacov", "flops"],
                                                "min_tau": 0.3, "min_results": 20}
    with pytest.raises(ArchscoutError, match="guide min_tau must be a number in \\[-1, 1\\], got 2"):
        check_guide({"by": "screen", "min_tau": 2}, StudyLike)
    with pytest.raises(ArchscoutError, match="guide min_results must be an integer >= 5"):
        check_guide({"by": "screen", "min_results": 3}, StudyLike)
    with pytest.raises(ArchscoutError, match="guide option min_tau belongs to the 'screen' guide, not 'proxies'"):
        check_guide({"by": "proxies", "min_tau": 0.5}, StudyLike)


@pytest.mark.slow
def test_a_screened_scheduler_search_records_its_gate_and_resumes_it_from_storage(tmp_path):
    db = f"sqlite:///{tmp_path}/s.db"
    guide = {"by": "screen", "pool": 3, "min_results": 5, "min_tau": -1}  # on as soon as 5 first results exist
    settings = dict(space="mlp", task="iris", storage=db, train={"steps": 9}, strategy="auto", guide=guide)
    study = Study("screened", **settings)
    study.search(trials=12)
    trials = study.trials()
    new = [t for t in trials if t.parent is None]
    assert [t.details["screen"]["on"] for t in new[:5]] == [False] * 5
    later = [t for t in new if t.details["screen"]["n"] >= 5]
    assert later and all(t.details["screen"]["on"] and t.details["guide"]["pool"] == 3 for t in later)
    assert all("screen" not in t.details for t in trials if t.parent is not None)
    assert all("proxy@jacov" in t.metrics for t in trials if t.status == "complete")

    again = Study("screened", **settings)
    again.search(trials=20)
    trials = again.trials()
    resumed = [t for t in trials[12:] if t.parent is None]
    assert resumed
    first = resumed[0]
    before = [t for t in trials if t.number < first.number and t.parent is None and t.status == "complete"
              and t.fidelity == first.fidelity]
    assert first.details["screen"]["n"] == len(before)  # the gate counts what storage holds


def test_screen_is_the_one_guide_a_scheduler_takes(tmp_path):
    db = f"sqlite:///{tmp_path}/s.db"
    study = Study("ok", space="mlp", task="iris", storage=db, train=FAST, strategy="asha", guide="screen")
    assert study.guide["by"] == "screen"
    with pytest.raises(ArchscoutError, match="--guide screen can: it screens new candidates only"):
        Study("no", space="mlp", task="iris", storage=db, train=FAST, strategy="asha", guide="proxies")


class Scripted:
    """An inner strategy that proposes what it is given, in order, and records what it is told to discard."""

    name = "scripted"

    def __init__(self, space, proposals):
        self.space, self.seed, self.proposals, self.discarded = space, 0, list(proposals), []

    def ask(self):
        return self.proposals.pop(0) if self.proposals else None

    def discard(self, arch):
        self.discarded.append(arch.id)

    def resume(self, told):
        pass


def test_a_promotion_or_another_fidelity_asked_while_filling_a_pool_is_proposed_next_not_dropped():
    from archscout.strategy import Proposal
    space = _space()
    new = list({a.id: a for a in (space.sample(seed=i) for i in range(40))}.values())[:5]  # 5 distinct widths
    promotion = Proposal(new[0], {"steps": 81}, 7)
    other = Proposal(new[1], {"steps": 81})
    inner = Scripted(space, [Proposal(new[2], FAST), promotion, Proposal(new[3], FAST), other,
                             Proposal(new[2], FAST), Proposal(new[4], FAST)])
    strategy = ScreenedStrategy(inner, FakeGuide(pool=3, min_results=0))
    strategy.gate = lambda fidelity: (True, 1.0, 6)  # screening on
    first = strategy.ask()
    assert {first.arch.id} <= {new[2].id, new[3].id, new[4].id} and first.fidelity == FAST
    assert [a.id for a in strategy.guide.pools[0]] == [new[2].id, new[3].id, new[4].id]  # the repeat left out
    losers = [a.id for a in strategy.guide.pools[0] if a.id != first.arch.id]
    assert inner.discarded == [new[2].id] + losers  # the repeat of a pooled candidate, then the vote's losers
    assert new[0].id not in inner.discarded and new[1].id not in inner.discarded
    second = strategy.ask()
    assert (second.arch.id, second.fidelity, second.parent) == (new[0].id, {"steps": 81}, 7)  # the promotion
    third = strategy.ask()
    assert (third.arch.id, third.fidelity) == (new[1].id, {"steps": 81})  # then the other fidelity
    assert strategy.ask() is None
