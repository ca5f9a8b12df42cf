"""`archscout search` with no --strategy: the default search (auto) and a time budget for the whole command."""
from __future__ import annotations

import pytest

from archscout.cli import main
from archscout.space import get_space
from archscout.storage import Storage


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_no_strategy_runs_the_default_search_from_the_priors_and_says_how_the_time_splits(capsys, db):
    code, out, err = run(capsys, "search", "--task", "iris", "--trials", "4", "--steps", "27", "--final-steps", "20",
                         "--final-seeds", "1", "--revalidate", "2", "--revalidate-seeds", "1", "--no-progress",
                         "--storage", db, "--study", "d")
    assert code == 0, err
    assert "default search (auto): space mlp-recipe for inputs (4,), 1 worker, low fidelities continue" in out
    assert "space mlp-recipe · strategy auto" in out
    storage = Storage(db)
    study = storage.get_study("d")
    trials = sorted(storage.trials(study.id), key=lambda r: r.number)
    first = get_space("mlp-recipe").prior_mode()
    assert trials[0].arch_id == first.id and trials[0].details["source"] == "prior-mode"
    assert trials[0].fidelity == {"steps": 3}  # the lowest rung: 27 / 9
    finals = [f for f in storage.finals(study.id) if not f.budget.startswith("revalidate:")]
    assert len(finals) == 1  # the default retrains the one the revalidation chose (--top-k 1), with 1 seed here


@pytest.mark.slow
def test_a_time_budget_bounds_the_whole_command_and_the_split_is_printed(capsys, db):
    code, out, err = run(capsys, "search", "--task", "iris", "--time-budget", "15s", "--steps", "27",
                         "--final-steps", "20", "--final-seeds", "1", "--no-progress", "--storage", db)
    assert code == 0, err
    assert "for the whole run: the search stops starting trials once the time left is what revalidating" in out
    assert "time: search" in out and "final retraining" in out


def test_an_explicit_strategy_keeps_the_given_space_and_settings(capsys, db):
    code, out, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--strategy", "random", "--trials", "1",
                         "--steps", "5", "--final-seeds", "1", "--top-k", "1", "--revalidate", "0", "--no-progress",
                         "--storage", db)
    assert code == 0, err
    assert "default search" not in out and "space mlp · strategy random" in out


def test_several_objectives_without_a_strategy_use_mo_asha(capsys, db):
    code, out, err = run(capsys, "search", "--task", "iris", "--objectives", "accuracy:max,params:min", "--trials",
                         "2", "--steps", "9", "--top-k", "0", "--no-progress", "--storage", db)
    assert code == 0, err
    assert "strategy mo-asha" in out
