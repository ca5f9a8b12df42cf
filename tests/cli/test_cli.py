import json
import os
import re
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from archscout.cli import main
from archscout.storage import Storage

TINY = ["--steps", "15", "--batch-size", "32", "--no-progress"]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_search_persists_resumes_and_exports(capsys, db, tmp_path):
    code, out, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "3", "--storage", db,
                         "--top-k", "1", "--final-seeds", "2", *TINY)
    assert code == 0, err
    assert "iris-mlp" in out and "test acc" in out
    store = Storage(db)
    study = store.get_study("iris-mlp")
    finals = store.finals(study.id)
    assert len(store.trials(study.id)) == 3 and sum(not f.budget.startswith("revalidate:") for f in finals) == 2
    assert sum(f.budget.startswith("revalidate:") for f in finals) == 3 * 2  # the top 3 validated with 2 more seeds
    assert "choice: trial #" in out
    code, out, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "5", "--storage", db,
                         "--top-k", "1", "--final-seeds", "2", *TINY)
    assert code == 0, err
    trials = store.trials(study.id)
    assert len(trials) == 5
    assert len({(t.arch_id, t.budget) for t in trials}) == 5  # resumed, nothing evaluated twice

    code, out, _ = run(capsys, "show", "iris-mlp", "--storage", db)
    assert code == 0 and "rank" in out
    code, out, _ = run(capsys, "best", "iris-mlp", "--storage", db, "--json")
    best = json.loads(out)
    assert best["architecture"]["space"] == "mlp" and best["final"]["seeds"] == 2
    code, out, _ = run(capsys, "list", "--storage", db)
    assert code == 0 and "iris-mlp" in out

    target = tmp_path / "model"
    code, out, err = run(capsys, "export", "iris-mlp", "--storage", db, "--out", str(target))
    assert code == 0, err
    assert sorted(os.listdir(target)) == ["architecture.json", "metrics.json", "model.onnx", "model.pt"]
    from archscout import load_model
    model = load_model(str(target))
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    with torch.inference_mode():
        ref = model(torch.as_tensor(x)).numpy()
    got = ort.InferenceSession(str(target / "model.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize("args,message", [
    (["search", "--space", "conv3d", "--trials", "1"],
     "Valid spaces: cell, conv1d, conv1d-elastic, conv1d-quant, conv1d-quant-elastic, conv1d-recipe, conv2d, "
     "conv2d-elastic, conv2d-quant, conv2d-quant-elastic, conv2d-recipe, gnn, gnn-proteins, mlp, mlp-quant, "
     "mlp-recipe"),
    (["search", "--task", "mnist", "--trials", "1"], "Did you mean 'mnist1d'"),
    (["search", "--strategy", "genetic", "--trials", "1"], "Valid strategies: asha, asha-kde, auto, bananas, bo, bohb, darts, darts-2nd, "
     "evolution, gdas, hill_climb, hyperband, linas, linas-lite, local_search, lpgnas-lite, mo-asha, nsga2, optuna, "
     "optuna-nsga2, optuna-random, optuna-tpe, pc-darts, priorband, proxyless, random, rl, successive-halving"),
    (["search", "--time-budget", "ten minutes"], "cannot read time budget"),
    (["search", "--trials", "0"], "positive integer"),
    (["search"], "give a budget"),
    (["search", "--trials", "1", "--constraint", "params <<< 3"], "cannot read constraint"),
    (["search", "--trials", "1", "--constraint", "weight <= 3"], "unknown metric"),
    (["search", "--trials", "1", "--task", "no/such/file.npz"], "does not exist"),
    (["search", "--trials", "1", "--storage", "mysql+nodriver://x"], "archscout does not support"),
    (["search", "--trials", "1", "--task", "iris", "--space", "conv2d"], "does not fit task 'iris'"),
    (["search", "--trials", "1", "--study", "has space", "--task", "iris"], "study name"),
    (["search", "--trials", "1", "--steps", "-3"], "steps must be a positive integer"),
    (["show", "nothing-here"], "no database at"),  # a read command never creates the database
])
def test_bad_input_is_one_clear_message(capsys, db, args, message):
    code, out, err = run(capsys, *args, *(["--storage", db] if "--storage" not in args else []))
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_data_file_is_one_clear_message(capsys, tmp_path, db):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    code, _, err = run(capsys, "search", "--task", str(bad), "--trials", "1", "--storage", db)
    assert code == 2 and "not a number" in err


@pytest.mark.slow
def test_nothing_stored_is_lost_when_a_resume_is_refused(capsys, db):
    assert run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "2", "--storage", db,
               "--top-k", "0", *TINY)[0] == 0
    store = Storage(db)
    before = store.trials(store.get_study("iris-mlp").id)
    code, _, err = run(capsys, "search", "--task", "iris", "--space", "mlp", "--trials", "3", "--storage", db,
                       "--strategy", "random", *TINY)
    assert code == 2 and "already exists with other settings" in err
    assert store.trials(store.get_study("iris-mlp").id) == before


@pytest.mark.parametrize("command", ["search", "list", "show", "best", "export", "spaces", "tasks", "strategies"])
def test_every_command_has_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Usage:" in out


def test_search_help_names_every_kind_of_evaluator_and_no_literal_percent_escapes(capsys):
    code, out, _ = run(capsys, "search", "--help")
    text = " ".join(re.sub(r"-\n\s*", "-", out).split())  # click wraps the help text, also after hyphens
    assert code == 0 and "%%" not in out and "25 % over" in text and "top P %)" in text
    for kind in ("train", "zero-cost", "predictor:FILE", "supernet:FILE", "nas-bench-graph:DATASET",
                 "nas-bench-201:DATASET", "module:attr or path/to/file.py:attr (declared with", "synthetic"):
        assert kind in text, kind


def test_a_final_retraining_with_no_seeds_is_refused_not_skipped(capsys, db, tmp_path):
    code, out, err = run(capsys, "search", "--evaluator", "synthetic", "--trials", "1", "--storage", db,
                         "--top-k", "1", "--final-seeds", "0", "--no-progress")
    assert code == 2 and err.startswith("error: --final-seeds 0 retrains nothing, so --top-k 1 would have no "
                                        "effect") and "Traceback" not in err
    assert not (tmp_path / "runs.db").exists()  # refused before anything is stored
    assert run(capsys, "search", "--evaluator", "synthetic", "--trials", "1", "--storage", db, "--top-k", "0",
               "--final-seeds", "0", "--no-progress")[0] == 0  # no final retraining asked for: fine


def test_listing_commands(capsys):
    assert "conv1d" in run(capsys, "spaces")[1]
    assert "mnist1d" in run(capsys, "tasks")[1]
    assert "evolution" in run(capsys, "strategies")[1]


def test_console_script_exit_code_and_no_traceback(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "archscout")
    res = subprocess.run([exe, "search", "--space", "nope", "--trials", "1"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: unknown space 'nope'") and "Traceback" not in res.stderr


# -- --strategy-option KEY=VALUE ----------------------------------------------------------------------

SYN = ["--evaluator", "synthetic", "--trials", "3", "--top-k", "0", "--no-progress"]


def stored_options(db, name):
    return Storage(db).get_study(name).config["strategy_options"]


def assert_refused(code, err, phrase, db=None):
    """exit 2, one line starting with 'error:' holding ``phrase``; with ``db``: it was not even created."""
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and phrase in err, err
    if db is not None:
        assert not os.path.exists(db.removeprefix("sqlite:///"))


@pytest.mark.parametrize("strategy,items,expected", [
    ("bo", ["surrogate=forest", "initial=2", "kappa=0.5"], {"surrogate": "forest", "initial": 2, "kappa": 0.5}),
    ("rl", ["hidden_size=8", "lr=0.05", "tanh_constant=null"], {"hidden_size": 8, "lr": 0.05, "tanh_constant": None}),
    ("linas-lite", ["population_size=4", "batch=2", "surrogate=gp"], {"population_size": 4, "batch": 2, "surrogate": "gp"}),
])
def test_strategy_option_sets_options_of_any_strategy(capsys, db, strategy, items, expected):
    objectives = ["--objectives", "accuracy:max,params:min"] if strategy == "linas-lite" else []
    args = [a for item in items for a in ("--strategy-option", item)]
    code, out, err = run(capsys, "search", *SYN, "--strategy", strategy, *objectives, *args, "--study", "s",
                         "--storage", db)
    assert code == 0, err
    assert stored_options(db, "s") == expected
    # the options are part of the study's settings: other values are another study
    code, _, err = run(capsys, "search", *SYN, "--strategy", strategy, *objectives, "--study", "s", "--storage", db)
    assert code == 2 and "already exists with other settings" in err


@pytest.mark.parametrize("item,expected", [
    ("k=12", ("k", 12)), ("k=1e-3", ("k", 0.001)), ("k=true", ("k", True)), ("k=null", ("k", None)),
    ("k=[1, 2]", ("k", [1, 2])), ("k=forest", ("k", "forest")), ('k="12"', ("k", "12")), ("k=", ("k", "")),
    ("a-b = x=y", ("a_b", "x=y")),
])
def test_strategy_option_values_are_json_else_text(item, expected):
    from archscout.cli.common import split_item
    assert split_item(item) == expected


def test_strategy_option_unknown_key_names_the_strategys_options(capsys, db):
    code, _, err = run(capsys, "search", *SYN, "--strategy", "bo", "--strategy-option", "temperature=2",
                       "--storage", db)
    assert_refused(code, err, "strategy 'bo' has no option(s) temperature; its options: surrogate, encoding", db)


@pytest.mark.parametrize("item", ["population_size", "=5", ""], ids=["no-equals", "no-key", "empty"])
def test_malformed_strategy_option(capsys, db, item):
    code, _, err = run(capsys, "search", *SYN, "--strategy-option", item, "--storage", db)
    assert_refused(code, err, f"cannot read --strategy-option {item!r}; write KEY=VALUE", db)


def test_strategy_options_in_a_config_file(capsys, db, tmp_path):
    toml = tmp_path / "rl.toml"
    toml.write_text('strategy = "rl"\n\n[strategy_options]\nhidden_size = 8\nentropy_weight = 0.1\n')
    code, _, err = run(capsys, "search", "--config", str(toml), *SYN, "--study", "a", "--storage", db)
    assert code == 0, err
    assert stored_options(db, "a") == {"hidden_size": 8, "entropy_weight": 0.1}
    # the command line wins key by key, as it does for every option
    code, _, err = run(capsys, "search", "--config", str(toml), *SYN, "--study", "b", "--storage", db,
                       "--strategy-option", "hidden_size=16")
    assert code == 0, err
    assert stored_options(db, "b") == {"hidden_size": 16, "entropy_weight": 0.1}
    # JSON, and the command line's form: a list of KEY=VALUE strings under strategy_option
    js = tmp_path / "bo.json"
    js.write_text(json.dumps({"strategy": "bo", "strategy_option": ["surrogate=forest", "initial=2"]}))
    code, _, err = run(capsys, "search", "--config", str(js), *SYN, "--study", "c", "--storage", db)
    assert code == 0, err
    assert stored_options(db, "c") == {"surrogate": "forest", "initial": 2}


@pytest.mark.parametrize("name,text,phrase", [
    ("unknown-key.toml", "[strategy_options]\nfoo = 1\n",
     "strategy 'evolution' has no option(s) foo; its options: population_size, sample_size"),
    ("date.toml", "[strategy_options]\npopulation_size = 1979-05-27\n",
     "strategy-options: population_size must be a number, string, true or false, or a list"),
    ("number.toml", "strategy_options = 5\n", "strategy-options must be a table (KEY = VALUE) or a list"),
    ("malformed.json", '{"strategy_option": ["population_size"]}',
     "strategy-options: cannot read 'population_size'; write KEY=VALUE"),
], ids=["unknown-key", "date", "not-a-table", "malformed-item"])
def test_bad_strategy_options_in_a_config_file(capsys, db, tmp_path, name, text, phrase):
    path = tmp_path / name
    path.write_text(text)
    code, _, err = run(capsys, "search", "--config", str(path), *SYN, "--storage", db)
    assert_refused(code, err, phrase, db)


def test_population_size_is_a_strategy_option(capsys, db, tmp_path):
    code, _, err = run(capsys, "search", *SYN, "--population-size", "10", "--strategy-option", "population_size=12",
                       "--storage", db)
    assert_refused(code, err, "strategy option population_size is given twice on the command line with different "
                              "values: 12 (--strategy-option) and 10 (--population-size)", db)
    code, _, err = run(capsys, "search", *SYN, "--population-size", "10", "--strategy-option", "population_size=10",
                       "--sample-size", "3", "--study", "same", "--storage", db)
    assert code == 0, err
    assert stored_options(db, "same") == {"population_size": 10, "sample_size": 3}
    toml = tmp_path / "c.toml"
    toml.write_text("population_size = 10\n[strategy_options]\npopulation_size = 12\n")
    code, _, err = run(capsys, "search", "--config", str(toml), *SYN, "--storage", db)
    assert_refused(code, err, "given twice in the config file with different values: 12 (strategy-options) and 10 "
                              "(population-size)")
    # the command line wins over the file: --population-size replaces the file's population_size
    code, _, err = run(capsys, "search", "--config", str(toml), *SYN, "--population-size", "12", "--study", "cli",
                       "--storage", db)
    assert code == 0, err
    assert stored_options(db, "cli") == {"population_size": 12}


def test_evaluators_lists_every_registered_evaluator_with_what_it_measures():
    from click.testing import CliRunner

    from archscout.cli import cli
    from archscout.evaluate import EVALUATORS

    out = CliRunner().invoke(cli, ["evaluators"])
    assert out.exit_code == 0
    for name in EVALUATORS.names():
        shown = "module:attr" if name == "python" else name  # a user's function is named by its reference
        assert any(line.startswith(shown + " ") for line in out.output.splitlines())
    assert "measures accuracy, test_accuracy, latency_ms, params; no task" in out.output
