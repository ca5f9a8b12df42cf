"""Bad input of multi-fidelity search, early stopping and revalidation (docs/bad-input.md, section 15): one
``error:`` line, exit 2, nothing stored."""
from __future__ import annotations

import pytest
from test_bad_input import assert_user_error, dump

from archscout.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)


def run(capsys, *args):
    code = main(["search", "--no-progress", "--storage", "sqlite:///db.sqlite", "--trials", "1", "--space", "mlp",
                 *args])
    out, err = capsys.readouterr()
    return code, out, err


IRIS = ["--task", "iris"]
SYN = ["--evaluator", "synthetic"]
REFUSED = [
    ("early-stop-unknown", [*IRIS, "--early-stop", "sometimes"], "unknown early stopping rule 'sometimes'; use median, "
                                                          "percentile:P"),
    ("early-stop-percentile", [*IRIS, "--early-stop", "percentile:100"], "0 < P < 100"),
    ("early-stop-no-training", [*SYN, "--early-stop", "median"],
     "early stopping watches a training run's learning curve; the synthetic evaluator trains nothing"),
    ("revalidate-negative", [*IRIS, "--revalidate", "-1"], "--revalidate must be a non-negative integer, got -1"),
    ("revalidate-seeds-zero", [*IRIS, "--revalidate-seeds", "0"], "--revalidate-seeds must be a positive integer, got 0"),
    ("revalidate-splits-folds", [*IRIS, "--revalidate-on", "splits", "--folds", "3"],
     "--folds 3 already validates on every sample"),
    ("scheduler-eta", [*IRIS, "--strategy", "asha", "--strategy-option", "eta=1"], "eta"),
    ("scheduler-min-above-top", [*IRIS, "--strategy", "hyperband", "--strategy-option", "min_fidelity=5000"],
     "min_fidelity 5000 is above the top rung's steps (1000)"),
    ("scheduler-no-fidelity", [*SYN, "--strategy", "asha"],
     "needs max_fidelity"),
    ("scheduler-with-guide", [*IRIS, "--strategy", "asha", "--guide", "proxies"], "schedules fidelities itself"),
    ("scheduler-one-objective", [*IRIS, "--strategy", "asha", "--objectives", "accuracy:max,params:min"],
     "for 2 objectives use one of"),
]


@pytest.mark.parametrize("args,phrase", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_with_one_line_and_nothing_stored(capsys, tmp_path, args, phrase):
    code, out, err = run(capsys, *args)
    assert_user_error(code, err, phrase)
    stored = dump(tmp_path / "db.sqlite")
    assert stored in (None, []) or not any("INSERT INTO studies" in r for r in stored)


def test_an_unknown_fidelity_mode_is_a_usage_error(capsys):
    code, out, err = run(capsys, *IRIS, "--fidelity-mode", "resume")
    assert code == 2 and "Traceback" not in err and "'resume' is not one of 'continue', 'restart'" in err
