"""A registered evaluator class carries its registered name, so a study that stores it opens again."""
import pytest

import archscout as asc
from archscout import ArchscoutError
from archscout.evaluate import EVALUATORS, Evaluation, Evaluator


class _Depth(Evaluator):
    measures = ("accuracy",)

    def evaluate(self, arch, seed=0, cost_check=None, guard=None, fidelity=None):
        return Evaluation({"accuracy": 1.0 / (1 + len(arch.values.get("stages", [])))})


@pytest.fixture
def registered():
    EVALUATORS.register("test-depth-score", _Depth)
    yield _Depth
    EVALUATORS.unregister("test-depth-score")


def test_a_class_without_a_name_takes_its_registered_name_and_its_study_opens_again(registered, db):
    assert registered.name == "test-depth-score"
    study = asc.Study("depth", space="mlp", evaluator="test-depth-score", storage=db, strategy="random")
    study.search(trials=3)
    again = asc.Study.load("depth", db)
    assert again.evaluator_spec == "test-depth-score" and len(again.trials("complete")) == 3


def test_a_class_whose_own_name_differs_from_its_registration_is_refused():
    class Named(_Depth):
        name = "something-else"

    with pytest.raises(ArchscoutError, match="names itself 'something-else' but is registered as 'test-other'"):
        EVALUATORS.register("test-other", Named)
    assert "test-other" not in EVALUATORS.names()
