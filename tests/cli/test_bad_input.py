"""Every user-facing input of archscout, given a malformed value (see docs/bad-input.md).

Each case runs the command line in-process (``archscout.cli.main``) and checks that the user
gets ONE line starting with ``error:`` and exit code 2 (or click's usage error for a value click
itself cannot convert), with a key phrase of the message, and that nothing already stored was
changed. Searches that must really start use the synthetic evaluator or a 5-step iris training;
nothing is downloaded.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import time

import numpy as np
import pytest

from archscout.cli import main

HAS_RAY = importlib.util.find_spec("ray") is not None

SYN = ["--evaluator", "synthetic", "--no-progress"]
T1 = ["--trials", "1"]
TINY = ["--space", "mlp", "--steps", "5", "--trials", "1", "--top-k", "0", "--no-progress"]


# -- helpers ------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every command runs in its own folder (the default storage is ./archscout.db), tracebacks hidden."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, phrase):
    """exit 2, exactly one line on stderr, starting with 'error:', holding ``phrase``."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert phrase.lower() in err.lower(), err


def assert_usage_error(code, err, phrase):
    """click's own usage error (a value click cannot convert): exit 2, 'Error:', no traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, (code, err)
    assert "Error:" in err and phrase in err, err


def assert_any_error(code, err, phrase):
    """Either form is right (an archscout message or click's usage error), but it must be an error."""
    if err.startswith("error:"):
        assert_user_error(code, err, phrase)
    else:
        assert_usage_error(code, err, phrase)


def check(kind, code, err, phrase):
    {"user": assert_user_error, "usage": assert_usage_error, "any": assert_any_error}[kind](code, err, phrase)


def dump(path) -> list[str] | None:
    """The logical content of a SQLite file (reads the WAL too); None when there is no file."""
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def copy_db(src, dst) -> str:
    """A consistent copy of an SQLite database (the backup API includes what is still in the WAL)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return str(dst)


def url(path) -> str:
    return f"sqlite:///{path}"


def study_rows(path, name):
    """(config, trials, finals) of one study, straight from the file."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sid, config = con.execute("SELECT id, config FROM studies WHERE name = ?", (name,)).fetchone()
        trials = con.execute("SELECT * FROM trials WHERE study_id = ? ORDER BY id", (sid,)).fetchall()
        finals = con.execute("SELECT id, trial_id, seed, budget, metrics FROM finals WHERE study_id = ?",
                             (sid,)).fetchall()
    finally:
        con.close()
    return config, trials, finals


# -- stored fixtures (built once, copied per test) ----------------------------------------------

@pytest.fixture(scope="module")
def _seeded_template(tmp_path_factory):
    """A database holding study 'kept' (synthetic evaluator, 3 trials)."""
    path = tmp_path_factory.mktemp("seed") / "seed.db"
    assert main(["search", *SYN, "--trials", "3", "--study", "kept", "--storage", url(path)]) == 0
    return str(path)


@pytest.fixture
def seeded(_seeded_template, tmp_path):
    """This test's own copy of the seeded database: its path."""
    return copy_db(_seeded_template, tmp_path / "runs.db")


@pytest.fixture(scope="module")
def _trained_template(tmp_path_factory):
    """Studies 'tr' (iris, one trained trial, not retrained), 'allfail' (every trial failed) and
    'syn' (synthetic evaluator, complete trials)."""
    path = tmp_path_factory.mktemp("trained") / "trained.db"
    u = url(path)
    assert main(["search", "--task", "iris", *TINY, "--study", "tr", "--storage", u]) == 0
    assert main(["search", "--task", "iris", *TINY, "--trials", "2", "--constraint", "loss < 0",
                 "--study", "allfail", "--storage", u]) == 1  # no trial completed (section 13)
    assert main(["search", *SYN, "--trials", "2", "--study", "syn", "--storage", u]) == 0
    return str(path)


@pytest.fixture
def trained(_trained_template, tmp_path):
    return copy_db(_trained_template, tmp_path / "trained.db")


@pytest.fixture(scope="module")
def _damaged_template(tmp_path_factory, _seeded_template):
    """Archscout databases with intact headers but garbled pages (as a disk error or a partial copy
    leaves them): the root page of one table overwritten."""
    folder = tmp_path_factory.mktemp("damaged")
    base = copy_db(_seeded_template, folder / "base.db")
    con = sqlite3.connect(base)
    con.execute("PRAGMA journal_mode=WAL")  # as archscout keeps it; closing the last connection empties the WAL
    page = con.execute("PRAGMA page_size").fetchone()[0]
    roots = dict(con.execute("SELECT name, rootpage FROM sqlite_master").fetchall())
    con.close()
    assert not os.path.exists(base + "-wal")
    with open(base, "rb") as f:
        raw = f.read()
    junk = bytes((i * 7 + 13) % 256 for i in range(page))
    out = {}
    for table in ("trials", "studies"):
        b = bytearray(raw)
        p = roots[table]
        b[(p - 1) * page:p * page] = junk
        target = folder / f"garbled-{table}.db"
        target.write_bytes(bytes(b))
        out[table] = str(target)
    return out


# -- 1. options of `archscout search` -------------------------------------------------------------

SEARCH_OPTIONS = [
    # --task
    ("task-unknown", ["--task", "mnist", "--evaluator", "train", *T1], "user", "Did you mean 'mnist1d'"),
    ("task-empty", ["--task", "", "--evaluator", "train", *T1], "user", "unknown task ''"),
    ("task-with-synthetic-evaluator", ["--task", "iris", *T1], "user", "trains nothing"),
    # --space
    ("space-unknown", ["--space", "conv3d", *T1], "user",
     "Valid spaces: cell, conv1d, conv1d-elastic, conv1d-quant, conv1d-quant-elastic, conv1d-recipe, conv2d, "
     "conv2d-elastic, conv2d-quant, conv2d-quant-elastic, conv2d-recipe, gnn, gnn-proteins, mlp, mlp-quant, "
     "mlp-recipe"),
    ("space-does-not-fit-task", ["--task", "iris", "--space", "conv2d", "--evaluator", "train", "--steps", "5",
                                 "--top-k", "0", *T1], "user", "does not fit task 'iris'"),
    # --strategy
    ("strategy-unknown", ["--strategy", "genetic", *T1], "user", "Valid strategies: asha, asha-kde, auto, bananas, bo, bohb, darts, darts-2nd, "
     "evolution, gdas, hill_climb, hyperband, linas, linas-lite, local_search, lpgnas-lite, mo-asha, nsga2, optuna, "
     "optuna-nsga2, optuna-random, optuna-tpe, pc-darts, priorband, proxyless, random, rl, successive-halving"),
    # --trials
    ("trials-not-int", ["--trials", "abc"], "usage", "'--trials'"),
    ("trials-zero", ["--trials", "0"], "user", "positive integer"),
    ("trials-negative", ["--trials", "-1"], "user", "positive integer"),
    ("no-budget", [], "user", "give a budget"),
    # --time-budget
    ("time-budget-words", ["--time-budget", "ten minutes"], "user", "cannot read time budget"),
    ("time-budget-zero", ["--time-budget", "0s"], "user", "time budget '0s' must be a positive number, got 0.0"),
    ("time-budget-negative", ["--time-budget", "-5m"], "user", "cannot read time budget"),
    ("time-budget-inf", ["--time-budget", "inf"], "user", "cannot read time budget"),
    # --seed
    ("seed-not-int", ["--seed", "abc", *T1], "usage", "'--seed'"),
    ("seed-negative", ["--seed", "-1", *T1], "user", "seed must be a non-negative integer"),
    # --constraint
    ("constraint-bad-operator", ["--constraint", "params <<< 3", *T1], "user", "cannot read constraint"),
    ("constraint-unknown-metric", ["--constraint", "weight <= 3", *T1], "user", "unknown metric 'weight'"),
    ("constraint-empty", ["--constraint", "", *T1], "user", "cannot read constraint"),
    ("constraint-bound-not-number", ["--constraint", "params <= 1..2", *T1], "user", "is not a number"),
    ("constraint-bound-infinite", ["--constraint", "params <= 1e999", *T1], "user", "the bound must be a finite number, got inf"),
    # test accuracy is never used in a search; a peak memory below every network's cannot be met
    ("constraint-test-accuracy", ["--constraint", "test_accuracy >= 0.9", *T1], "user", "test_accuracy"),
    ("constraint-memory-mb", ["--constraint", "memory_mb <= 0.001", *T1], "user", "memory_mb"),
    ("constraint-unmeasured-qualifier", ["--constraint", "latency_ms@onnx:b1 <= 0.0001", *T1], "user",
     "latency_ms@onnx:b1"),
    # constraints that no architecture of the space can meet: refused from the space's bounds, nothing stored
    ("constraint-params-below-smallest", ["--evaluator", "train", "--constraint", "params <= 10", *T1], "user",
     "no architecture of space 'conv1d-recipe' can meet the constraint params <= 10"),
    ("constraint-params-above-largest", ["--evaluator", "train", "--constraint", "params >= 1e12", *T1], "user",
     "ranges from"),
    ("constraint-latency-impossible", ["--evaluator", "train", "--constraint", "latency_ms <= 0.000001", *T1], "user",
     "cheapest architectures"),
    ("constraint-accuracy-above-one", ["--constraint", "accuracy >= 1.5", *T1], "user", "fraction between 0 and 1"),
    ("constraint-table-latency", ["--evaluator", "nas-bench-graph:cora", "--constraint", "latency_ms <= 0.01", *T1],
     "user", "no architecture in the nas-bench-graph:cora table can meet"),
    # --objectives
    ("objectives-twice", ["--objectives", "accuracy:max,params:min,accuracy:min", *T1], "user", "given twice"),
    ("objectives-unknown-metric", ["--objectives", "acc:max", *T1], "user", "Did you mean 'accuracy'"),
    ("objectives-bad-direction", ["--objectives", "accuracy:up", *T1], "user", "max or min"),
    ("objectives-bad-qualifier", ["--objectives", "accuracy:max,latency_ms@gpu:min", *T1], "user",
     "unknown metric qualifier"),
    ("objectives-empty", ["--objectives", ",", *T1], "user", "at least one objective"),
    ("objectives-test-accuracy", ["--objectives", "test_accuracy:max", *T1], "user",
     "selection uses validation data only"),
    ("objectives-one-objective-strategy", ["--objectives", "accuracy:max,params:min", "--strategy", "evolution",
                                           *T1], "user", "optimises one objective"),
    ("prescreen-without-latency-bound", ["--evaluator", "train", "--prescreen-latency", *T1], "user",
     "latency prescreening needs"),
    ("reference-malformed", ["--reference", "latency_ms", *T1], "user", "write METRIC=NUMBER"),
    ("reference-not-an-objective", ["--objectives", "accuracy:max,latency_ms:min", "--strategy", "random",
                                    "--reference", "params=5", *T1], "user", "'params' is not an objective"),
    ("objectives-unmeasured", ["--evaluator", "nas-bench-graph:cora", "--objectives",
                               "accuracy:max,latency_ms@onnxruntime:b1:min", "--strategy", "random", *T1], "user",
     "not measured by the nas-bench-graph:cora evaluator"),
    # --steps
    ("steps-zero", ["--steps", "0", *T1], "user", "steps must be a positive integer"),
    ("steps-negative", ["--steps", "-3", *T1], "user", "steps must be a positive integer"),
    ("steps-not-int", ["--steps", "abc", *T1], "usage", "'--steps'"),
    # --epochs
    ("epochs-zero", ["--epochs", "0", *T1], "user", "epochs must be a positive number, got 0.0"),
    ("epochs-negative", ["--epochs", "-1", *T1], "user", "epochs must be a positive number, got -1.0"),
    ("epochs-nan", ["--epochs", "nan", *T1], "user", "epochs must be a positive number, got nan"),
    ("epochs-inf", ["--epochs", "inf", *T1], "user", "epochs"),
    ("epochs-not-number", ["--epochs", "abc", *T1], "usage", "'--epochs'"),
    # --batch-size
    ("batch-size-zero", ["--batch-size", "0", *T1], "user", "batch size must be a positive integer"),
    ("batch-size-not-int", ["--batch-size", "abc", *T1], "usage", "'--batch-size'"),
    # --lr
    ("lr-zero", ["--lr", "0", *T1], "user", "learning rate must be a positive number, got 0.0"),
    ("lr-negative", ["--lr", "-1", *T1], "user", "learning rate must be a positive number, got -1.0"),
    ("lr-nan", ["--lr", "nan", *T1], "user", "learning rate must be a positive number, got nan"),
    ("lr-inf", ["--lr", "inf", *T1], "user", "learning rate must be a positive number, got inf"),
    ("lr-not-number", ["--lr", "abc", *T1], "usage", "'--lr'"),
    # --optimizer, --schedule
    ("optimizer-unknown", ["--optimizer", "rmsprop", *T1], "usage", "'--optimizer'"),
    ("schedule-unknown", ["--schedule", "linear", *T1], "usage", "'--schedule'"),
    # --final-steps
    ("final-steps-zero", ["--final-steps", "0", *T1], "user", "steps must be a positive integer"),
    ("final-steps-negative", ["--final-steps", "-5", *T1], "user", "steps must be a positive integer"),
    ("final-steps-not-int", ["--final-steps", "abc", *T1], "usage", "'--final-steps'"),
    # --top-k, --final-seeds
    ("top-k-negative", ["--top-k", "-1", *T1], "user", "--top-k must be a non-negative integer, got -1"),
    ("top-k-not-int", ["--top-k", "abc", *T1], "usage", "'--top-k'"),
    ("final-seeds-negative", ["--final-seeds", "-1", *T1], "user", "--final-seeds must be a non-negative integer, got -1"),
    ("final-seeds-not-int", ["--final-seeds", "abc", *T1], "usage", "'--final-seeds'"),
    # --population-size, --sample-size
    ("population-size-one", ["--population-size", "1", *T1], "user", "population_size must be an integer >= 2, got 1"),
    ("population-size-not-int", ["--population-size", "abc", *T1], "usage", "'--population-size'"),
    ("population-size-with-random", ["--strategy", "random", "--population-size", "5", *T1], "user",
     "has no option(s) population_size"),
    ("sample-size-zero", ["--sample-size", "0", *T1], "user", "sample_size (at most population_size) must be an integer in [1, 20], got 0"),
    ("sample-size-above-population", ["--sample-size", "30", *T1], "user", "sample_size (at most population_size) must be an integer in [1, 20], got 30"),
    ("sample-size-with-random", ["--strategy", "random", "--sample-size", "3", *T1], "user",
     "has no option(s) sample_size"),
    # --evaluator
    ("evaluator-unknown", ["--evaluator", "magic", *T1], "user", "unknown evaluator 'magic'"),
    ("evaluator-empty", ["--evaluator", "", *T1], "user", "unknown evaluator"),
    ("evaluator-train-with-options", ["--evaluator", "train:x", *T1], "user", "takes no options"),
    ("evaluator-option-not-number", ["--evaluator", "synthetic:delay=abc", *T1], "user", "is not a number"),
    ("evaluator-option-unknown", ["--evaluator", "synthetic:foo=1", *T1], "user", "cannot read option 'foo=1'"),
    ("evaluator-fraction-above-one", ["--evaluator", "synthetic:fail=2", *T1], "user", "fail must be a number in [0, 1], got 2.0"),
    ("evaluator-delay-negative", ["--evaluator", "synthetic:delay=-1", *T1], "user", "delay (seconds) must be a non-negative number"),
    # an endless delay is refused before any trial; --trial-timeout only keeps a regression from hanging the test
    ("evaluator-delay-inf", ["--evaluator", "synthetic:delay=inf", "--trial-timeout", "1s", *T1], "user", "delay"),
    # --workers, --executor, --address
    ("workers-zero", ["--workers", "0", *T1], "user", "workers must be a positive integer"),
    ("workers-not-int", ["--workers", "abc", *T1], "usage", "'--workers'"),
    ("workers-two-on-local", ["--workers", "2", "--executor", "local", *T1], "user",
     "local executor runs one trial at a time"),
    ("executor-unknown", ["--executor", "spark", *T1], "usage", "'--executor'"),
    ("address-without-ray", ["--address", "1.2.3.4:6379", *T1], "user", "use it with --executor ray"),
    pytest.param("address-not-host-port", ["--executor", "ray", "--address", "nohost", *T1], "user",
                 "expected HOST:PORT", marks=pytest.mark.skipif(not HAS_RAY, reason="ray not installed"),
                 id="address-not-host-port"),
    pytest.param("address-unreachable", ["--executor", "ray", "--address", "127.0.0.1:1", *T1], "user",
                 "cannot reach the Ray cluster", marks=pytest.mark.skipif(not HAS_RAY, reason="ray not installed"),
                 id="address-unreachable"),
    # --trial-timeout, --trial-memory
    ("trial-timeout-words", ["--trial-timeout", "soon", *T1], "user", "cannot read per-trial time limit"),
    ("trial-timeout-zero", ["--trial-timeout", "0", *T1], "user", "per-trial time limit '0' must be a positive number"),
    ("trial-memory-zero", ["--trial-memory", "0", *T1], "user", "memory limit in MB must be a positive number"),
    ("trial-memory-nan", ["--trial-memory", "nan", *T1], "user", "memory limit in MB must be a positive number"),
    ("trial-memory-not-number", ["--trial-memory", "abc", *T1], "usage", "'--trial-memory'"),
    # --max-failures, --on-interrupted
    ("max-failures-negative", ["--max-failures", "-1", *T1], "user", "--max-failures must be a non-negative integer, got -1"),
    ("max-failures-not-int", ["--max-failures", "abc", *T1], "usage", "'--max-failures'"),
    ("on-interrupted-unknown", ["--on-interrupted", "retry", *T1], "usage", "'--on-interrupted'"),
]


def _params(rows):
    return [pytest.param(*r, id=r[0]) if type(r) is tuple else r for r in rows]


@pytest.mark.parametrize("case,args,kind,phrase", _params(SEARCH_OPTIONS))
@pytest.mark.slow
def test_search_option(capsys, seeded, case, args, kind, phrase):
    before = dump(seeded)
    code, _, err = cli(capsys, "search", *SYN, "--storage", url(seeded), *args)
    check(kind, code, err, phrase)
    assert set(before) <= set(dump(seeded)), "a refused search changed what was stored"


def test_constraint_on_bare_size_bytes_is_not_silently_ignored(capsys, seeded):
    """'size_bytes' is a cost metric, but trials store 'size_bytes@fp32': the bare name must either be
    applied (as fp32) or be refused; a bound no network meets must not let trials complete."""
    code, _, err = cli(capsys, "search", *SYN, "--storage", url(seeded), "--trials", "2", "--study", "sb",
                       "--constraint", "size_bytes <= 10")
    if code == 2:  # refused (1: it ran, and no trial completed)
        assert_user_error(code, err, "size_bytes")
        return
    con = sqlite3.connect(seeded)
    statuses = [s for (s,) in con.execute("SELECT t.status FROM trials t JOIN studies s ON s.id = t.study_id "
                                          "WHERE s.name = 'sb'")]
    con.close()
    assert statuses and set(statuses) == {"infeasible"}, f"size_bytes <= 10 was not applied: {statuses}"


# -- 2. --config FILE -------------------------------------------------------------------------------

CONFIGS = [
    ("missing", None, "user", "does not exist"),
    ("a-folder", "FOLDER", "usage", "is a directory"),
    ("not-toml", ("c.toml", "trials = = 3\n"), "user", "is not valid TOML"),
    ("not-json", ("c.json", "{trials: 3"), "user", "is not valid JSON"),
    ("not-utf8", ("c.toml", b"\xff\xfe\x00trials"), "user", "cannot read config file"),
    ("json-not-a-table", ("c.json", "[1, 2]"), "user", "must hold a table of settings"),
    ("unknown-key", ("c.toml", "trails = 3\n"), "user", "unknown setting 'trails'. Did you mean 'trials'"),
    ("key-config", ("c.toml", 'config = "other.toml"\n'), "user", "unknown setting 'config'"),
    ("table-under-unknown-key", ("c.toml", "trials = 1\n[train]\nsteps = 3\n"), "user", "unknown setting 'train'"),
    ("table-value", ("c.toml", "trials = 1\n[steps]\nx = 3\n"), "user", "steps must be a single value, not a table"),
    ("search-table-and-another", ("c.toml", "[search]\ntrials = 1\n[other]\nx = 1\n"), "user",
     "unknown setting 'search'"),
    ("wrong-type-string-for-int", ("c.toml", 'trials = "many"\n'), "user", "trials must be a whole number"),
    ("wrong-type-string-for-float", ("c.toml", 'trials = 1\nlr = "fast"\n'), "user", "lr must be a number"),
    ("wrong-type-int-for-list", ("c.toml", "trials = 1\nconstraint = 5\n"), "user",
     "constraints must be a list of strings"),
    ("wrong-type-bool-option", ("c.toml", 'trials = 1\nprogress = "maybe"\n'), "user",
     "progress must be true or false"),
    ("wrong-type-list-for-string", ("c.toml", 'trials = 1\ntask = ["iris", "wine"]\n'), "user", "task"),
    ("wrong-type-date", ("c.toml", "trials = 1\ntime_budget = 1979-05-27\n"), "user", "time-budget must be a string"),
    ("bad-value", ("c.toml", "trials = -4\n"), "user", "positive integer"),
    # values click would convert silently (2.5 trials to 2, true to 1 trial): type-checked first, refused
    ("wrong-type-float-for-int", ("c.toml", "trials = 2.5\n"), "any", "trials"),
    ("wrong-type-bool-for-int", ("c.toml", "trials = true\n"), "any", "trials"),
]


@pytest.mark.parametrize("case,content,kind,phrase", _params(CONFIGS))
def test_config_file(capsys, tmp_path, seeded, case, content, kind, phrase):
    if content is None:
        path = tmp_path / "missing.toml"
    elif content == "FOLDER":
        path = tmp_path / "conf.toml"
        path.mkdir()
    else:
        name, text = content
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = dump(seeded)
    extra = [] if case == "wrong-type-bool-option" else ["--no-progress"]
    code, _, err = cli(capsys, "search", "--config", path, "--evaluator", "synthetic", *extra,
                       "--storage", url(seeded))
    check(kind, code, err, phrase)
    assert set(before) <= set(dump(seeded))


# -- 3. data files (--task FILE.npz / FILE.csv) --------------------------------------------------------

def _xy(n=60, classes=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), np.arange(n) % classes


def _npz(**arrays):
    def make(path):
        np.savez(path, **arrays)
    return make


def _text(text):
    def make(path):
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return make


X, Y = _xy()
X_NAN = X.copy()
X_NAN[3, 1] = np.nan
X_INF = X.copy()
X_INF[5, 0] = np.inf
CSV_ROWS = "".join(f"{i},{i * 2 % 7},{i % 2}\n" for i in range(40))

DATA_FILES = [
    ("npz-missing", "missing.npz", None, "does not exist"),
    ("csv-missing", "missing.csv", None, "does not exist"),
    ("wrong-extension", "data.txt", _text("1,2,0\n3,4,1\n"), "unsupported data file"),
    ("npz-corrupt", "data.npz", _text(b"PK\x03\x04garbage" * 10), "not a readable .npz file"),
    ("npz-is-a-folder", "data.npz", lambda p: p.mkdir(), "not a readable .npz file"),
    ("npz-object-arrays", "data.npz", _npz(X=np.array([{"a": 1}] * 60, dtype=object), y=Y),
     "array 'X' holds Python objects (dtype object)"),
    ("npz-text", "data.npz", _text("hello\n"), "not a valid .npz file (it is not a zip archive); a .npz is a zip"),
    ("npz-no-y", "data.npz", _npz(X=X), "needs arrays 'X' and 'y'"),
    ("npz-x-test-without-y-test", "data.npz", _npz(X=X, y=Y, X_test=X), "has 'X_test' but no 'y_test'"),
    ("npz-mismatched-lengths", "data.npz", _npz(X=X, y=Y[:50]), "60 samples but 50 labels"),
    ("npz-nan-features", "data.npz", _npz(X=X_NAN, y=Y), "contain NaN or infinite values"),
    ("npz-inf-features", "data.npz", _npz(X=X_INF, y=Y), "contain NaN or infinite values"),
    ("npz-nan-labels", "data.npz", _npz(X=X, y=np.where(np.arange(60) == 5, np.nan, Y.astype(float))),
     "labels contain NaN"),
    ("npz-2d-labels", "data.npz", _npz(X=X, y=np.stack([Y, Y], 1)), "labels must be one value per sample"),
    ("npz-single-class", "data.npz", _npz(X=X, y=np.zeros(60, int)), "at least two classes"),
    ("npz-empty", "data.npz", _npz(X=np.zeros((0, 4)), y=np.zeros(0)), "the dataset is empty"),
    ("npz-too-few-samples", "data.npz", _npz(X=X[:2], y=np.array([0, 1])), "too few for a validation split"),
    ("npz-test-shape-differs", "data.npz", _npz(X=X, y=Y, X_test=X[:, :3], y_test=Y), "test inputs are shaped"),
    ("npz-text-features", "data.npz", _npz(X=np.array([["a"] * 4] * 60), y=Y), "features must be numbers"),
    ("csv-non-numeric", "data.csv", _text("a,b,label\n1,2,0\n3,oops,1\n"), "'oops' is not a number"),
    ("csv-empty", "data.csv", _text(""), "the dataset is empty"),
    ("csv-header-only", "data.csv", _text("a,b,label\n"), "a header and no rows"),
    ("csv-ragged", "data.csv", _text("a,b,label\n1,2,0\n3,1\n"), "line 3 has 2 columns, expected 3"),
    ("csv-one-column", "data.csv", _text("label\n0\n1\n"), "needs at least one feature column"),
    ("csv-not-utf8", "data.csv", _text(bytes(range(256)) * 4), "cannot read CSV"),
    ("csv-empty-cell", "data.csv", _text("a,b,label\n" + CSV_ROWS + "7,,1\n"),
     "data row 41 (not counting the header), column 'b': the cell is empty"),
    ("csv-nan-cell", "data.csv", _text("a,b,label\n" + CSV_ROWS + "7,nan,1\n"),
     "data row 41 (not counting the header), column 'b': 'nan' is not a finite number"),
    ("csv-single-class", "data.csv", _text("a,b,label\n" + "".join(f"{i},{i},0\n" for i in range(40))),
     "at least two classes"),
    # an empty label cell is refused (it must not become a class named '')
    ("csv-missing-label", "data.csv", _text("a,b,label\n" + CSV_ROWS + "7,3,\n"), "label"),
]


@pytest.mark.parametrize("case,name,make,phrase", _params(DATA_FILES))
def test_data_file(capsys, tmp_path, seeded, case, name, make, phrase):
    path = tmp_path / "data" / name
    path.parent.mkdir()
    if make is not None:
        make(path)
    before = dump(seeded)
    code, _, err = cli(capsys, "search", "--task", path, *TINY, "--storage", url(seeded))
    assert_user_error(code, err, phrase)
    assert set(before) <= set(dump(seeded))


def test_data_file_name_without_a_path_is_not_taken_for_a_task(capsys, seeded):
    """'data.txt' with no folder and no such file: neither a built-in task nor a data file."""
    code, _, err = cli(capsys, "search", "--task", "data.txt", *TINY, "--storage", url(seeded))
    assert_user_error(code, err, "unknown task 'data.txt'")


# -- 4. storage URLs ----------------------------------------------------------------------------------

def _foreign(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.execute("INSERT INTO users VALUES (1, 'ada')")
    con.commit()
    con.close()


def _archscout_db(sql):
    def make(path):
        from archscout.storage import Storage
        Storage(url(path)).dispose()
        con = sqlite3.connect(path)
        con.execute(sql)
        con.commit()
        con.close()
    return make


STORAGE = [
    # (id, url or file name, how to make the file, phrase)
    ("garbage", "not a url", None, "cannot read storage URL"),
    ("empty", "", None, "cannot read storage URL"),
    ("unknown-scheme", "foo://x", None, "is a 'foo' database, which archscout does not support; use SQLite"),
    ("other-database", "mysql://u@h/db", None, "is a 'mysql' database, which archscout does not support"),
    ("driver-not-installed", "postgresql+nodriver://x", None, "cannot open storage"),
    # sqlite:/// names no file: SQLite keeps everything in memory and the study is lost at exit
    ("sqlite-without-file-name", "sqlite:///", None, "storage"),
    ("folder-missing", "FILE:nofolder/runs.db", None, "does not exist"),
    ("a-folder", "FILE:folder.db", lambda p: p.mkdir(), "is a folder, not a database file"),
    ("foreign-sqlite", "FILE:other.db", _foreign, "tables that archscout did not create (users)"),
    ("not-a-database", "FILE:notes.db", lambda p: p.write_text("hello, not a database\n" * 100),
     "is not a readable database"),
    ("garbled-header", "FILE:bad.db", lambda p: p.write_bytes(bytes((i * 31 + 7) % 256 for i in range(8192))),
     "is not a readable database"),
    ("garbled-trials-pages", "FILE:bad.db", "GARBLED:trials", "storage"),
    ("garbled-studies-pages", "FILE:bad.db", "GARBLED:studies", "storage"),
    ("newer-schema", "FILE:new.db", _archscout_db("UPDATE archscout_meta SET value = '99' WHERE key = "
                                                  "'schema_version'"), "written by a newer archscout"),
    ("schema-version-not-a-number", "FILE:v.db", _archscout_db("UPDATE archscout_meta SET value = 'abc' WHERE "
                                                               "key = 'schema_version'"), "is damaged"),
    ("schema-version-missing", "FILE:v.db", _archscout_db("DELETE FROM archscout_meta"), "is damaged"),
    ("missing-tables", "FILE:m.db", _archscout_db("DROP TABLE finals"), "missing tables ['finals']"),
]


def _make_storage(tmp_path, target, make, damaged):
    if not target.startswith("FILE:"):
        return target, None
    path = tmp_path / target[5:]
    if make is not None:
        if isinstance(make, str):
            shutil.copyfile(damaged[make.split(":")[1]], path)
        else:
            make(path)
    return url(path), path


def _state(path):
    if path is None or not os.path.exists(path):
        return None
    if os.path.isdir(path):
        return sorted(os.listdir(path))
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("case,target,make,phrase", _params(STORAGE))
def test_storage(capsys, tmp_path, _damaged_template, case, target, make, phrase):
    u, path = _make_storage(tmp_path, target, make, _damaged_template)
    before = _state(path)
    code, _, err = cli(capsys, "search", *SYN, *T1, "--storage", u)
    assert_user_error(code, err, phrase)
    assert _state(path) == before, "the refused storage was modified"
    if case == "folder-missing":
        assert not (tmp_path / "nofolder").exists()


def test_storage_unreachable_postgresql(capsys):
    t0 = time.monotonic()
    code, _, err = cli(capsys, "search", *SYN, *T1, "--storage", "postgresql://u@127.0.0.1:1/x")
    assert time.monotonic() - t0 < 5
    assert_user_error(code, err, "storage")
    assert "cannot connect to storage" in err or "cannot open storage" in err


OTHER_COMMAND_STORAGE = [
    (f"{cmd}-{case}", cmd, case)
    for case in ("garbage", "foreign-sqlite", "garbled-trials-pages")
    for cmd in ("list", "show", "best", "export")
]


@pytest.mark.parametrize("case,command,storage_case", _params(OTHER_COMMAND_STORAGE))
def test_storage_other_commands(capsys, tmp_path, _damaged_template, case, command, storage_case):
    _, target, make, phrase = next(r for r in STORAGE if r[0] == storage_case)
    u, path = _make_storage(tmp_path, target, make, _damaged_template)
    before = _state(path)
    args = [command] + ([] if command == "list" else ["kept"]) + ["--storage", u]
    if command == "export":
        args += ["--out", str(tmp_path / "out")]
    code, _, err = cli(capsys, *args)
    assert_user_error(code, err, phrase)
    assert _state(path) == before


# -- 5. study names ----------------------------------------------------------------------------------

STUDY_NAMES = [
    ("space-in-name", "has space", "study name 'has space'"),
    ("path-in-name", "../x", "study name '../x'"),
    ("slash-in-name", "a/b", "study name 'a/b'"),
    ("leading-underscore", "_x", "starting with a letter or digit"),
    ("too-long", "a" * 201, "up to 200"),
    # an empty name is refused, not replaced by the default name (which could resume another study)
    ("empty", "", "study name"),
]


@pytest.mark.parametrize("case,name,phrase", _params(STUDY_NAMES))
def test_study_name(capsys, seeded, case, name, phrase):
    before = dump(seeded)
    code, _, err = cli(capsys, "search", *SYN, *T1, "--study", name, "--storage", url(seeded))
    assert_user_error(code, err, phrase)
    assert dump(seeded) == before


@pytest.mark.parametrize("case,args", [
    pytest.param("other-seed", ["--seed", "1"], id="existing-other-seed"),
    pytest.param("other-strategy", ["--strategy", "random"], id="existing-other-strategy"),
    pytest.param("other-space", ["--space", "mlp"], id="existing-other-space"),
    pytest.param("other-evaluator", ["--evaluator", "synthetic:delay=0.01"], id="existing-other-evaluator"),
])
def test_existing_study_with_other_settings(capsys, seeded, case, args):
    before = dump(seeded)
    kept = study_rows(seeded, "kept")
    code, _, err = cli(capsys, "search", *SYN, "--trials", "5", "--study", "kept", "--storage", url(seeded), *args)
    assert_user_error(code, err, "already exists with other settings")
    assert study_rows(seeded, "kept") == kept
    assert dump(seeded) == before


@pytest.mark.slow
def test_existing_study_with_other_data(capsys, tmp_path):
    data = tmp_path / "mydata.csv"
    data.write_text("a,b,label\n" + CSV_ROWS)
    db = tmp_path / "runs.db"
    code, _, err = cli(capsys, "search", "--task", data, *TINY, "--storage", url(db))
    assert code == 0, err
    before = dump(db)
    data.write_text("a,b,label\n" + CSV_ROWS.replace(",0\n", ",1\n", 3))
    code, _, err = cli(capsys, "search", "--task", data, *TINY, "--trials", "2", "--storage", url(db))
    assert_user_error(code, err, "was searched on different data")
    assert dump(db) == before


@pytest.mark.parametrize("command", ["show", "best", "export"])
def test_study_that_does_not_exist(capsys, tmp_path, seeded, command):
    before = dump(seeded)
    code, _, err = cli(capsys, command, "kep", "--storage", url(seeded), *(["--out", tmp_path / "o"]
                                                                            if command == "export" else []))
    assert_user_error(code, err, "unknown study 'kep'. Did you mean 'kept'")
    assert dump(seeded) == before


def test_study_in_a_database_without_studies(capsys, tmp_path):
    from archscout.storage import Storage
    db = tmp_path / "empty.db"
    Storage(url(db)).dispose()
    code, _, err = cli(capsys, "show", "anything", "--storage", url(db))
    assert_user_error(code, err, "no study named 'anything'")


# -- 6. the other commands' arguments -------------------------------------------------------------------

OTHER_COMMANDS = [
    ("show-top-not-int", ["show", "tr", "--top", "abc"], "usage", "'--top'"),
    ("show-top-negative", ["show", "tr", "--top", "-1"], "user", "--top must be a positive integer, got -1"),
    ("best-no-completed-trial", ["best", "allfail"], "user", "has no completed trial yet"),
    ("export-no-completed-trial", ["export", "allfail", "--out", "OUT"], "user", "has no completed trial yet"),
    ("export-trial-missing", ["export", "tr", "--trial", "99", "--out", "OUT"], "user", "has no trial #99"),
    ("export-trial-negative", ["export", "tr", "--trial", "-1", "--out", "OUT"], "user", "has no trial #-1"),
    ("export-trial-not-int", ["export", "tr", "--trial", "abc"], "usage", "'--trial'"),
    ("export-trial-failed", ["export", "allfail", "--trial", "0", "--out", "OUT"], "user",
     "did not complete (infeasible)"),
    ("export-seed-not-int", ["export", "tr", "--seed", "abc"], "usage", "'--seed'"),
    ("export-seed-negative", ["export", "tr", "--seed", "-1", "--out", "OUT"], "user", "--seed must be a non-negative integer, got -1"),
    ("export-out-is-a-file", ["export", "tr", "--out", "FILE"], "user", "cannot create export folder"),
    # a synthetic-evaluator study has no trained network: refused with a user error, not an internal error
    ("export-synthetic-study", ["export", "syn", "--out", "OUT"], "user", "synthetic"),
]


@pytest.mark.parametrize("case,args,kind,phrase", _params(OTHER_COMMANDS))
@pytest.mark.slow
def test_other_command(capsys, tmp_path, trained, case, args, kind, phrase):
    out_file = tmp_path / "a-file"
    out_file.write_text("not a folder")
    args = [str(tmp_path / "out") if a == "OUT" else str(out_file) if a == "FILE" else a for a in args]
    before = {name: study_rows(trained, name)[:2] for name in ("tr", "allfail", "syn")}
    code, _, err = cli(capsys, *args, "--storage", url(trained))
    check(kind, code, err, phrase)
    # an export may store a retraining it needed; nothing that was stored may change
    assert {name: study_rows(trained, name)[:2] for name in ("tr", "allfail", "syn")} == before
    assert out_file.read_text() == "not a folder"


def test_export_seed_option_is_used(capsys, tmp_path, trained):
    """`export --seed 1` exports the model retrained with seed 1 (the option is passed on, not dropped for seed 0)."""
    code, _, err = cli(capsys, "export", "tr", "--seed", "1", "--out", tmp_path / "out", "--storage", url(trained))
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["seed"] == 1


@pytest.mark.parametrize("command", ["list", "show", "best", "export"])
def test_read_command_on_a_missing_database_file(capsys, tmp_path, command):
    """A mistyped --storage path for a command that only reads: an error, and no new file."""
    db = tmp_path / "typo.db"
    args = [command] + ([] if command == "list" else ["kept"]) + ["--storage", url(db)]
    code, _, err = cli(capsys, *args)
    assert_user_error(code, err, "typo.db")
    assert not db.exists(), f"`archscout {command}` created {db}"


# -- 7. a refused search leaves the database as it was -------------------------------------------------

REFUSED_LATE = [
    ("data-file-corrupt", lambda d: ["--task", _corrupt_npz(d), *TINY], "not a readable .npz file"),
    ("space-does-not-fit-task", lambda d: ["--task", "iris", "--space", "conv2d", "--steps", "5", "--trials", "1",
                                           "--top-k", "0", "--no-progress"], "does not fit task"),
    ("workers-zero", lambda d: [*SYN, *T1, "--workers", "0"], "workers"),
    ("trial-timeout-words", lambda d: [*SYN, *T1, "--trial-timeout", "soon"], "per-trial time limit"),
    ("trial-memory-zero", lambda d: [*SYN, *T1, "--trial-memory", "0"], "memory limit"),
    ("address-without-ray", lambda d: [*SYN, *T1, "--address", "1.2.3.4:6379"], "--executor ray"),
    ("ray-address-nobody-listens", lambda d: [*SYN, *T1, "--executor", "ray", "--address", "127.0.0.1:1"],
     "cannot reach the Ray cluster"),
    ("ray-address-unknown-host", lambda d: [*SYN, *T1, "--executor", "ray", "--address", "nohost.invalid:6379"],
     "cannot reach the Ray cluster"),
]


def _corrupt_npz(folder):
    path = folder / "data.npz"
    path.write_bytes(b"PK\x03\x04garbage" * 10)
    return str(path)


@pytest.mark.parametrize("case,args,phrase", _params(REFUSED_LATE))
def test_refused_search_stores_nothing(capsys, tmp_path, seeded, case, args, phrase):
    """Bad input found only once the search starts must not leave a new, empty study behind."""
    before = dump(seeded)
    code, _, err = cli(capsys, "search", "--storage", url(seeded), *args(tmp_path))
    assert_user_error(code, err, phrase)
    assert dump(seeded) == before, "the refused search stored a study"


def test_search_on_a_damaged_database_changes_nothing(tmp_path, _damaged_template):
    """Run as its own process (so SQLite's write-ahead log is folded back into the file): a search on a
    database with a damaged table is refused before it writes anything."""
    import subprocess
    import sys

    bad = tmp_path / "bad.db"
    shutil.copy(_damaged_template["trials"], bad)
    before = bad.read_bytes()
    res = subprocess.run([sys.executable, "-m", "archscout.cli", "search", *SYN, *T1, "--study", "kept",
                          "--storage", url(bad)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error:") and "damaged" in res.stderr, res.stderr
    assert bad.read_bytes() == before and not os.path.exists(str(bad) + "-wal")


def test_refused_data_file_does_not_block_the_corrected_search(capsys, tmp_path):
    """data.npz is corrupt; the user switches to data.csv: the default study name is the same, and a study
    left behind by the refused command must not refuse the new one."""
    db = tmp_path / "runs.db"
    code, _, err = cli(capsys, "search", "--task", _corrupt_npz(tmp_path), *TINY, "--storage", url(db))
    assert_user_error(code, err, "not a readable .npz file")
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,label\n" + CSV_ROWS)
    code, _, err = cli(capsys, "search", "--task", csv, *TINY, "--storage", url(db))
    assert code == 0, err
