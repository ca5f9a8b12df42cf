"""Messages that misled (issue 29, part 1, item 10), and resuming a finished search without starting workers.

Each message test runs the command line in-process and checks one ``error:`` line, exit 2, the words that
tell the user what is wrong and what to do, and that nothing was stored (docs/bad-input.md holds the rows).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

# the command line in-process, each test in its own folder (test_bad_input's autouse fixture)
from test_bad_input import SYN, TINY, _isolated, cli  # noqa: F401

from archscout.errors import ArchscoutError
from archscout.execute.pool import PoolExecutor


def one_error(code, err, *phrases):
    """exit 2, one line on stderr starting with 'error:', holding every phrase, none of numpy's or a driver's."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), (code, err)
    assert "Traceback" not in err and "allow_pickle" not in err and "No module named" not in err, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)


# -- (a) a file named .npz or .npy that is none ----------------------------------------------------

@pytest.mark.parametrize("content, what", [
    (b"hello\n", "it is not a zip archive"),
    (b"", "it is empty"),
    ("npy", "it holds a single .npy array"),
], ids=["text", "empty", "npy-named-npz"])
def test_a_file_named_npz_that_is_not_one_says_what_a_npz_is(capsys, tmp_path, content, what):
    path = tmp_path / "bad.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros((3, 2)))
    else:
        path.write_bytes(content)
    code, _, err = cli(capsys, "search", "--task", path, *TINY, "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, f"{path}: not a valid .npz file ({what}); a .npz is a zip archive of .npy arrays, "
                         f"as numpy.savez('bad.npz', X=X, y=y) writes it")
    assert not (tmp_path / "r.db").exists()


def test_a_npz_with_object_arrays_names_the_array_not_numpys_pickle_advice(capsys, tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, X=np.array([{"a": 1}] * 60, dtype=object), y=np.arange(60) % 2)
    code, _, err = cli(capsys, "search", "--task", path, *TINY, "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, "array 'X' holds Python objects (dtype object), which archscout does not load; save "
                         "numbers instead (e.g. X.astype(np.float32))")


@pytest.mark.parametrize("content, what", [
    (b"hello\n", "it does not start with the .npy header"),
    ("npz", "it is a zip archive such as a .npz"),
], ids=["text", "npz-named-npy"])
def test_a_graph_folders_npy_that_is_not_one_says_what_a_npy_is(capsys, tmp_path, content, what):
    folder = tmp_path / "g"
    folder.mkdir()
    path = folder / "features.npy"
    if content == "npz":
        with open(path, "wb") as f:
            np.savez(f, X=np.zeros((20, 2)))
    else:
        path.write_bytes(content)
    (folder / "edges.csv").write_text("".join(f"{i},{(i + 1) % 20}\n" for i in range(20)))
    (folder / "labels.csv").write_text("".join(f"{i % 2}\n" for i in range(20)))
    code, _, err = cli(capsys, "search", "--task", folder, "--space", "gnn", "--steps", "5", "--trials", "1",
                       "--top-k", "0", "--no-progress", "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, f"{path}: not a valid .npy file ({what}); a .npy holds one array, as "
                         f"numpy.save('features.npy', array) writes it")


# -- (b) a database archscout does not support -----------------------------------------------------

@pytest.mark.parametrize("url, backend, shown", [
    ("mysql://me:secret@db.example/nas", "mysql", "mysql://me:***@db.example/nas"),
    ("mysql+pymysql://me@db/nas", "mysql", "mysql+pymysql://me@db/nas"),
    ("postgres://me@db/nas", "postgres", "postgres://me@db/nas"),  # SQLAlchemy's name is postgresql
    ("foo://x", "foo", "foo://x"),
], ids=["mysql", "mysql-with-driver", "postgres-alias", "unknown"])
@pytest.mark.parametrize("command", ["search", "show"])
def test_a_database_other_than_sqlite_or_postgresql_is_refused_naming_both(capsys, tmp_path, url, backend, shown,
                                                                           command):
    args = ["search", *SYN, "--trials", "1"] if command == "search" else ["show", "anything"]
    code, _, err = cli(capsys, *args, "--storage", url)
    one_error(code, err, f"error: storage {shown!r} is a {backend!r} database, which archscout does not support; "
                         f"use SQLite (sqlite:///PATH) or PostgreSQL (postgresql://user@host/db, with or without "
                         f"+DRIVER)")
    assert "secret" not in err and list(tmp_path.iterdir()) == []  # the password is hidden, nothing is written


def test_sqlite_and_postgresql_with_a_driver_are_still_accepted(capsys, tmp_path):
    code, _, err = cli(capsys, "search", *SYN, "--trials", "1", "--storage", f"sqlite+pysqlite:///{tmp_path}/r.db")
    assert code == 0, err
    code, _, err = cli(capsys, "search", *SYN, "--trials", "1", "--storage", "postgresql+nodriver://x")
    one_error(code, err, "cannot open storage 'postgresql+nodriver://x'")  # its own message: a missing driver


# -- (c) a supernet used with another task ------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_supernet(tmp_path_factory):
    """A conv2d supernet of task digits, as `archscout supernet train --task digits --space conv2d` writes it
    (untrained: only its header matters here)."""
    from archscout.oneshot.supernet import elastic_spec
    from archscout.oneshot.supernet.net import SuperNet
    from archscout.oneshot.supernet.store import save_supernet
    from archscout.oneshot.supernet.train import SupernetTraining
    from archscout.tasks import get_task

    task = get_task("digits")
    torch.manual_seed(0)
    net = SuperNet(elastic_spec("conv2d", widths=(8,), kernels=(3,), max_depth=1), task.input_shape,
                   task.num_classes)
    path = str(tmp_path_factory.mktemp("supernet") / "digits.supernet")
    save_supernet(net, path, task=task, training=SupernetTraining(steps=1), seed=0, train_seconds=0.0, curve=[])
    return path


@pytest.mark.parametrize("space", ["conv2d", "mlp", None], ids=["its-space", "another-space", "no-space"])
def test_a_supernet_of_another_task_names_its_own_task(capsys, tmp_path, digits_supernet, space):
    """Before: `space 'conv2d-elastic' does not fit task 'iris'` (conv2d), or `use --space conv2d` (mlp), which
    then fails the same way; the supernet's task was never named."""
    code, _, err = cli(capsys, "search", "--task", "iris", *(["--space", space] if space else []),
                       "--evaluator", f"supernet:{digits_supernet}", "--trials", "1", "--no-progress",
                       "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, f"error: the supernet in {digits_supernet!r} was trained on task 'digits', not 'iris': "
                         f"search task 'digits' with it (--task digits), or train a supernet on task 'iris' first "
                         f"(`archscout supernet train --task iris --space ... --out FILE`)")
    assert not (tmp_path / "r.db").exists()


def test_a_supernet_of_another_task_is_refused_for_a_data_file_and_without_a_task(capsys, tmp_path,
                                                                                  digits_supernet):
    data = tmp_path / "iris.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(40)))
    code, _, err = cli(capsys, "search", "--task", data, "--evaluator", f"supernet:{digits_supernet}",
                       "--trials", "1", "--no-progress", "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, "was trained on task 'digits', not 'iris': search task 'digits' with it (--task digits)",
              f"supernet train --task {data} ")
    code, _, err = cli(capsys, "search", "--evaluator", f"supernet:{digits_supernet}", "--trials", "1",
                       "--no-progress", "--storage", f"sqlite:///{tmp_path}/r.db")  # the default task, mnist1d
    one_error(code, err, "was trained on task 'digits', not 'mnist1d'")
    assert not (tmp_path / "r.db").exists()


def test_the_supernets_own_task_still_gets_the_space_message(capsys, tmp_path, digits_supernet):
    code, _, err = cli(capsys, "search", "--task", "digits", "--space", "mlp", "--evaluator",
                       f"supernet:{digits_supernet}", "--trials", "1", "--no-progress",
                       "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, "holds sub-networks of the 'conv2d' space, not 'mlp'; use --space conv2d")


# -- (d) an empty or non-finite CSV cell ------------------------------------------------------------

ROWS = "".join(f"{i},{i * 2 % 7},{i % 2}\n" for i in range(40))


@pytest.mark.parametrize("text, message", [
    ("a,b,label\n" + ROWS + "7,,1\n",
     "data.csv: data row 41 (not counting the header), column 'b': the cell is empty; every feature cell needs a "
     "number (fill it in, or remove the row)"),
    (ROWS + ",3,1\n",
     "data.csv: data row 41, column 1: the cell is empty; every feature cell needs a number"),
    ("a,b,label\n" + "".join(ROWS.splitlines(keepends=True)[:4]) + "7,nan,1\n" + ROWS,
     "data.csv: data row 5 (not counting the header), column 'b': 'nan' is not a finite number"),
    ("a;b;label\n" + ROWS.replace(",", ";") + "7;-inf;1\n",
     "data.csv: data row 41 (not counting the header), column 'b': '-inf' is not a finite number"),
], ids=["empty-with-header", "empty-without-header", "nan", "inf-semicolons"])
def test_an_empty_or_non_finite_csv_cell_names_its_row_and_column(capsys, tmp_path, text, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    code, _, err = cli(capsys, "search", "--task", path, *TINY, "--storage", f"sqlite:///{tmp_path}/r.db")
    one_error(code, err, message)
    assert not (tmp_path / "r.db").exists()


# -- (e) resuming a finished search starts no worker processes ----------------------------------------

def test_resuming_a_finished_search_starts_no_worker_processes(capsys, tmp_path, monkeypatch):
    """Before: the second run started a pool of 2 workers (each importing torch: seconds) to claim nothing."""
    db = f"sqlite:///{tmp_path}/r.db"
    assert cli(capsys, "search", *SYN, "--trials", "3", "--storage", db)[0] == 0  # in-process, the budget spent
    started = []

    def refuse(self, runner):
        started.append(self.workers)
        raise ArchscoutError("a pool was started")
    monkeypatch.setattr(PoolExecutor, "start", refuse)
    code, out, err = cli(capsys, "search", *SYN, "--trials", "3", "--workers", "2", "--storage", db)
    assert code == 0 and started == [], err
    # budget left: the pool starts (refused here, so the search stops with that message before storing a trial)
    code, _, err = cli(capsys, "search", *SYN, "--trials", "4", "--workers", "2", "--storage", db)
    assert code == 2 and started == [2] and "a pool was started" in err
    from archscout.storage import Storage
    storage = Storage(db)
    assert len(storage.trials(storage.get_study("synthetic-conv1d").id)) == 3
    storage.dispose()


@pytest.mark.slow
def test_resuming_a_finished_search_neither_builds_latency_tables_nor_tries_the_space(capsys, tmp_path,
                                                                                       monkeypatch):
    """Before: every resume measured the latency tables (seconds each) and built a network to see that the space
    fits the task, for a search that runs nothing. The same data is still checked (a changed file is refused)."""
    from archscout.study import preflight
    calls = []
    monkeypatch.setattr(preflight, "attach_latency_tables", lambda study, evaluator: calls.append("tables"))
    fits = preflight.check_space_fits
    monkeypatch.setattr(preflight, "check_space_fits", lambda study, task: calls.append("fits") or fits(study, task))
    data = tmp_path / "data.csv"
    data.write_text("a,b,label\n" + ROWS)
    args = ["search", "--task", data, *TINY, "--prescreen-latency", "--constraint", "latency_ms <= 1000",
            "--storage", f"sqlite:///{tmp_path}/r.db"]
    assert cli(capsys, *args)[0] == 0
    assert calls.count("tables") == 1 and "fits" in calls
    calls.clear()
    code, _, err = cli(capsys, *args)
    assert code == 0 and calls == [], (calls, err)
    data.write_text("a,b,label\n" + ROWS + "1,2,1\n")  # other data: still refused on a spent budget
    code, _, err = cli(capsys, *args)
    one_error(code, err, "was searched on different data")
