"""What the command line prints and how it exits (issue #17): a search in which no trial completed (exit 1, no
export hint), --no-progress (the bar hidden, never the trial lines), databases on read-only media (read by
show, list, best, front, report; refused for writes), studies of custom spaces opened with --space
module:attr or path/to/file.py:attr, and the import-by-reference helper (archscout.registry.references).

Commands run in-process (archscout.cli.main), as tests/cli/test_bad_input.py does; the new error messages are
the rows of docs/bad-input.md that name this file."""
from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest
from test_bad_input import cli  # the command line in-process: (exit code, stdout, stderr)

from archscout import ArchscoutError
from archscout.registry import load_reference, module_name_for, reference_of
from archscout.storage import Storage, read_only_reason
from legacy_schema import V1_TABLES as V1_SCHEMA  # the schema as version 1 wrote it

SYN = ["--evaluator", "synthetic", "--no-progress"]
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

SPACES = '''
from archscout import Choice, Space

tiny = Space("tiny", width=Choice([4, 8, 16]), depth=Choice([1, 2, 3]))


def make():
    return Space("tiny", width=Choice([4, 8, 16]), depth=Choice([1, 2, 3]))


number = 3


def top_level():
    return 1


inner = lambda: 2  # noqa: E731 - a lambda has no name to find it by
'''


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)




def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


def dump(path, immutable: bool = False) -> list[str]:
    """The content of a SQLite file; ``immutable``: read without creating -wal / -shm files (for a file with no
    write-ahead log beside it)."""
    with sqlite3.connect(f"file:{path}?mode=ro{'&immutable=1' if immutable else ''}", uri=True) as c:
        return list(c.iterdump())


@pytest.fixture
def spaces_file(tmp_path):
    path = tmp_path / "myspaces.py"
    path.write_text(SPACES)
    return path


# -- a search in which no trial completed -----------------------------------------------------------

def test_a_search_where_every_trial_fails_exits_1_without_an_export_hint(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/r.db"
    code, out, err = cli(capsys, "search", "--evaluator", "synthetic:fail=1", "--space", "mlp", "--trials", "3",
                         "--no-progress", "--storage", db, "--study", "allfail")
    assert code == 1
    line = one_error(err)
    assert line == (f"error: no trial completed (3 failed); see `archscout show allfail --storage {db} --failed` "
                    f"for the reasons")
    assert "export" not in out and "next:" not in out
    # the per-trial lines (with the reasons) were printed even with --no-progress
    assert out.count("failed: RuntimeError: injected failure (synthetic evaluator)") == 3
    code, out, err = cli(capsys, "show", "allfail", "--storage", db, "--failed")
    assert code == 0 and "has no completed trial yet" in out
    assert out.count("failed: RuntimeError: injected failure") == 3


def test_a_training_search_with_final_retraining_where_every_trial_fails_exits_1(capsys, tmp_path):
    """The retraining step is not reached: the same one line, not the retraining's own error."""
    code, out, err = cli(capsys, "search", "--task", "iris", "--space", "mlp", "--steps", "5", "--trials", "2",
                         "--top-k", "1", "--final-seeds", "1", "--trial-memory", "1", "--no-progress",
                         "--study", "mem")
    assert code == 1
    assert one_error(err) == ("error: no trial completed (2 failed); see `archscout show mem --failed` for the "
                              "reasons")
    assert out.count("exceeded the per-trial memory limit of 1 MB") == 2 and "export" not in out


def test_a_study_whose_trials_are_all_infeasible_exits_1(capsys, tmp_path):
    code, out, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "4", "--constraint",
                         "params <= 1", "--study", "tight", "--max-failures", "0")
    assert code == 1 and "no trial completed (4 infeasible)" in one_error(err)
    assert out.count("infeasible: ") == 4


def test_a_search_with_results_still_suggests_export_only_when_something_was_trained(capsys):
    code, out, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "2", "--study", "ok")
    assert code == 0 and "next: archscout show ok" in out and "export" not in out  # synthetic trains nothing
    assert out.count("#0 ") + out.count("#1 ") >= 2  # the trial lines above the leaderboard


def test_max_failures_keeps_its_own_message_and_exit_code(capsys):
    code, out, err = cli(capsys, "search", "--evaluator", "synthetic:fail=1", "--space", "mlp", "--trials", "50",
                         "--max-failures", "3", "--no-progress")
    assert code == 2 and "the last 3 trials all failed" in one_error(err)


# -- --no-progress hides the bar only ---------------------------------------------------------------

def test_no_progress_prints_every_trial_line(capsys):
    code, out, err = cli(capsys, "search", "--evaluator", "synthetic:fail=0.5", "--space", "mlp", "--trials", "6",
                         "--no-progress", "--max-failures", "0", "--study", "half")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("#")]
    assert [int(line.split()[0][1:]) for line in lines] == list(range(6))
    assert any("failed: RuntimeError: injected failure" in line for line in lines)
    assert any(" acc " in line for line in lines)
    assert "━" not in "".join(lines) and "ETA" not in out  # no bar


@pytest.mark.slow
def test_no_progress_prints_the_final_retraining_lines(capsys):
    code, out, err = cli(capsys, "search", "--task", "iris", "--space", "mlp", "--steps", "5", "--trials", "2",
                         "--top-k", "1", "--final-seeds", "2", "--no-progress", "--study", "fin")
    assert code == 0, err
    assert sum(line.startswith("final  #") for line in out.splitlines()) == 2


def test_the_progress_callback_prints_lines(capsys):
    from archscout.study.progress import make_reporter, print_lines

    reporter = make_reporter(print_lines, 3, None)
    reporter.note("a note [with brackets]")
    assert capsys.readouterr().out == "a note [with brackets]\n"
    assert type(make_reporter(False, 3, None)).__name__ == "SilentReporter"


# -- read-only databases -----------------------------------------------------------------------------

@pytest.fixture
def stored(tmp_path, capsys):
    """A database (write-ahead-logged, as archscout writes them) with a finished synthetic study, copied alone into
    a folder of its own, as it would lie on a read-only medium: no -wal or -shm file beside it."""
    made = tmp_path / "made.db"
    code, _, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "4", "--storage", f"sqlite:///{made}",
                       "--study", "syn", "--objectives", "accuracy:max,latency_ms:min", "--strategy", "random")
    assert code == 0, err
    folder = tmp_path / "media"
    folder.mkdir()
    db = folder / "r.db"
    with sqlite3.connect(made) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    copy.close()
    assert sorted(os.listdir(folder)) == ["r.db"]
    with open(db, "rb") as f:
        assert f.read(20)[18:20] == b"\x02\x02"  # the header says write-ahead log
    return db


def _read_commands(capsys, url, tmp_path):
    for args, phrase in [(["list"], "syn"), (["show", "syn", "--failed"], "syn"), (["best", "syn"], "best trial"),
                         (["front", "syn", "--no-plots"], "Pareto front"),
                         (["report", "syn", "--out", str(tmp_path / "out" / "r.html")], "report:")]:
        code, out, err = cli(capsys, *args, "--storage", url)
        assert code == 0 and phrase in out, (args, out, err)


@pytest.mark.parametrize("params", ["mode=ro", "immutable=1"])
def test_read_commands_read_a_database_opened_read_only(capsys, tmp_path, stored, params):
    """What a read-only medium gets (see Storage): the same reads through SQLite's read-only URIs, which need no
    write permission. Nothing is written, not even a -wal or -shm file with immutable=1."""
    before = dump(stored, immutable=True)
    url = f"sqlite:///file:{stored}?{params}&uri=true"
    _read_commands(capsys, url, tmp_path)
    assert dump(stored, immutable=True) == before
    if params == "immutable=1":
        assert sorted(os.listdir(stored.parent)) == ["r.db"]
    code, out, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "6", "--storage", url,
                         "--study", "syn", "--objectives", "accuracy:max,latency_ms:min", "--strategy", "random")
    assert code == 2 and "is read-only" in one_error(err) and "copy the file somewhere writable" in err
    assert dump(stored, immutable=True) == before


def test_an_unwritable_file_or_folder_is_opened_read_only(capsys, tmp_path, stored, monkeypatch):
    """Emulates read-only media whoever runs the test (root ignores permissions): os.access says no."""
    real = os.access
    denied: set[str] = set()
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (mode & os.W_OK and os.path.abspath(p)
                                                                      in denied) else real(p, mode, **kw))
    assert read_only_reason(str(stored)) is None
    denied.add(str(stored))
    assert read_only_reason(str(stored)) == ("the file is not writable", {"mode": "ro"})
    denied.add(str(stored.parent))
    assert read_only_reason(str(stored)) == ("neither the file nor its folder is writable",
                                             {"mode": "ro", "immutable": "1"})
    store = Storage(f"sqlite:///{stored}", create=False)
    assert store.read_only == "neither the file nor its folder is writable" and store.list_studies()
    store.dispose()
    before = dump(stored, immutable=True)
    _read_commands(capsys, f"sqlite:///{stored}", tmp_path)
    assert dump(stored, immutable=True) == before and sorted(os.listdir(stored.parent)) == ["r.db"]


def test_a_folder_that_is_not_writable_reads_a_write_ahead_log_that_holds_content(tmp_path, monkeypatch):
    """Not immutable when a -wal with content lies next to the file: immutable would not see what it holds."""
    folder = tmp_path / "wal"
    folder.mkdir()
    for name in ("a.db", "a.db-wal", "a.db-shm"):
        (folder / name).write_bytes(b"x")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real(p, mode, **kw))
    assert read_only_reason(str(folder / "a.db"))[1] == {"mode": "ro"}


def _nobody_can_import_archscout(setpriv: str) -> bool:
    """Whether the user nobody can run this Python and import archscout (not when the clone is in a 0700 folder)."""
    probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            "import archscout"], capture_output=True, text=True, cwd="/", timeout=300)
    return probe.returncode == 0


@pytest.mark.slow
def test_read_commands_read_a_database_without_write_permission(capsys, stored):
    """Real permissions: the file 0444 in a folder 0555. Root ignores permissions, so as root the commands run as
    the user nobody (setpriv), in processes of their own; otherwise in-process."""
    setpriv = shutil.which("setpriv")
    if ROOT and setpriv is None:  # pragma: no cover - util-linux is part of Debian's base system
        pytest.skip("runs as root and setpriv is missing, so no user without write permission can be used; "
                    "test_an_unwritable_file_or_folder_is_opened_read_only emulates it")
    if ROOT and not _nobody_can_import_archscout(setpriv):
        pytest.skip("environment: the user nobody cannot import archscout from this clone (a folder above it, such as "
                    "root's home or a fresh temporary folder, is mode 0700), so no user without write permission can "
                    "run the commands; test_an_unwritable_file_or_folder_is_opened_read_only emulates it")
    media = tempfile.mkdtemp(prefix="archscout-ro-")  # outside pytest's folder, which only its owner can enter
    out = tempfile.mkdtemp(prefix="archscout-out-")
    db = os.path.join(media, "r.db")
    try:
        shutil.copyfile(stored, db)
        before = dump(db, immutable=True)
        os.chmod(out, 0o777)
        os.chmod(db, 0o444)
        os.chmod(media, 0o555)
        url = f"sqlite:///{db}"
        if not ROOT:
            _read_commands(capsys, url, tmp_path=type(stored)(out))
        else:
            env = {**os.environ, "HOME": out, "MPLCONFIGDIR": out}
            for args, phrase in [(["list"], "syn"), (["show", "syn", "--failed"], "syn"),
                                 (["report", "syn", "--out", os.path.join(out, "r.html")], "report:")]:
                done = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                                       "-m", "archscout.cli", *args, "--storage", url], capture_output=True,
                                      text=True, env=env, cwd=out, timeout=300)
                assert done.returncode == 0 and phrase in done.stdout, (args, done.stdout, done.stderr)
            done = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                                   "archscout.cli", "search", *SYN, "--space", "mlp", "--trials", "9", "--storage",
                                   url, "--study", "syn", "--objectives", "accuracy:max,latency_ms:min", "--strategy",
                                   "random"], capture_output=True, text=True, env=env, cwd=out, timeout=300)
            assert done.returncode == 2 and "is read-only (neither the file nor its folder is writable)" in done.stderr
        assert dump(db, immutable=True) == before and sorted(os.listdir(media)) == ["r.db"]
    finally:
        os.chmod(media, 0o755)
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def test_a_read_only_database_without_archscout_tables_is_not_touched(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(ArchscoutError, match="holds no archscout studies"):
        Storage(f"sqlite:///file:{path}?mode=ro&uri=true", create=False)
    with pytest.raises(ArchscoutError, match="is read-only .* cannot create its tables"):
        Storage(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert path.stat().st_size == 0





def test_a_read_only_database_of_an_older_schema_is_not_migrated(capsys, tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as c:
        c.executescript(V1_SCHEMA)
    c.close()
    before = dump(path, immutable=True)
    code, out, err = cli(capsys, "list", "--storage", f"sqlite:///file:{path}?mode=ro&uri=true")
    assert code == 2 and "was written by an older archscout (schema 1) and is read-only" in one_error(err)
    assert dump(path, immutable=True) == before


# -- custom spaces by reference ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_custom_space_study_opens_with_space_from_a_file_or_a_module(capsys, tmp_path, spaces_file,
                                                                      monkeypatch):
    code, out, err = cli(capsys, "search", *SYN, "--space", f"{spaces_file}:tiny", "--trials", "4",
                         "--study", "cs", "--workers", "2")  # pool workers unpickle the file's space
    assert code == 0, err
    assert f"--space {spaces_file}:tiny" in out  # the next: hint names it
    code, out, err = cli(capsys, "show", "cs")
    assert code == 2 and "--space module:attr" in one_error(err)
    for ref in (f"{spaces_file}:tiny", "myspaces.py:make"):
        code, out, err = cli(capsys, "show", "cs", "--space", ref, "--failed")
        assert code == 0 and "top 4" in out, err
    monkeypatch.syspath_prepend(str(tmp_path))
    for args in (["best", "cs"], ["front", "cs", "--no-plots"], ["diagnose", "cs"],
                 ["report", "cs", "--out", str(tmp_path / "cs.html")]):
        code, out, err = cli(capsys, *args, "--space", "myspaces:tiny")
        assert code == 0, (args, err)
    code, out, err = cli(capsys, "export", "cs", "--space", "myspaces:tiny")  # opened; a lookup trains nothing
    assert code == 2 and "custom space" not in err
    code, out, err = cli(capsys, "search", *SYN, "--space", "myspaces:make", "--trials", "6", "--study", "cs")
    assert code == 0, err  # resumed with the same space
    code, out, err = cli(capsys, "show", "cs", "--space", "mlp")
    assert code == 2 and "already exists with other settings" in one_error(err)


BAD_SPACES = [
    ("no-colon-and-no-space", "nocolon", "unknown space 'nocolon'"),
    ("module-not-found", "nosuch.mod:tiny", "--space 'nosuch.mod:tiny': no module named 'nosuch'"),
    ("file-not-found", "missing.py:tiny", "--space 'missing.py:tiny': no file 'missing.py'"),
    ("attribute-missing", "myspaces.py:nope", "'myspaces.py' has no attribute 'nope'; it defines"),
    ("import-raises", "broken.py:tiny", "importing 'broken.py' raised ZeroDivisionError: division by zero"),
    ("not-a-space", "myspaces.py:number", "--space 'myspaces.py:number' is an int, not a space"),
    ("function-not-returning-a-space", "myspaces.py:top_level", "is an int, not a space"),
    ("empty-attribute", "myspaces.py:", "expected module:attr or path/to/file.py:attr"),
]


@pytest.mark.parametrize("case,ref,phrase", BAD_SPACES, ids=[c[0] for c in BAD_SPACES])
@pytest.mark.parametrize("command", ["search", "show"])
def test_bad_space_references_are_one_line(capsys, tmp_path, spaces_file, case, ref, phrase, command):
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "1", "--study", "kept")
    before = dump(tmp_path / "archscout.db")
    args = ["search", *SYN, "--trials", "1", "--space", ref] if command == "search" else \
        ["show", "kept", "--space", ref]
    code, out, err = cli(capsys, *args)
    assert code == 2 and phrase in one_error(err), err
    assert dump(tmp_path / "archscout.db") == before


def test_threads_option_refuses_a_bad_count_before_anything_is_stored(capsys, tmp_path):
    code, out, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "1", "--threads", "0")
    assert code == 2 and one_error(err) == ("error: --threads (intra-op threads per trial) must be a positive "
                                            "integer, got 0")
    assert not os.path.exists(tmp_path / "archscout.db")
    code, out, err = cli(capsys, "search", *SYN, "--space", "mlp", "--trials", "1", "--threads", "abc")
    assert code == 2 and "Invalid value for '--threads'" in err and "Traceback" not in err


# -- archscout.registry.references -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,phrase", [
    ("nocolon", "expected module:attr or path/to/file.py:attr"),
    (":attr", "both parts"),
    ("nosuch_module_xyz:attr", "no module named 'nosuch_module_xyz'"),
    ("no/such/file.py:attr", "no file 'no/such/file.py'"),
    ("os:no_such_attribute", "'os' has no attribute 'no_such_attribute'"),
])
def test_load_reference_errors_are_one_clear_line(text, phrase):
    with pytest.raises(ArchscoutError) as e:
        load_reference(text, "--thing")
    assert phrase in str(e.value) and str(e.value).startswith(f"--thing {text!r}: ") and "\n" not in str(e.value)


def test_load_reference_names_what_an_import_raised(tmp_path, monkeypatch):
    (tmp_path / "raises.py").write_text("raise ValueError('bad config\\nsecond line')\n")
    (tmp_path / "needs_missing.py").write_text("import nosuch_dependency_xyz\n")
    with pytest.raises(ArchscoutError, match=r"importing '.*raises.py' raised ValueError: bad config$"):
        load_reference(f"{tmp_path}/raises.py:x", "--space")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ArchscoutError, match="importing 'needs_missing' raised ModuleNotFoundError: No module named "
                                             "'nosuch_dependency_xyz'"):
        load_reference("needs_missing:x", "--space")
    assert module_name_for(f"{tmp_path}/raises.py") not in sys.modules  # a failed load leaves nothing behind


def test_load_reference_of_modules_and_files(tmp_path, spaces_file, monkeypatch):
    import os.path as osp

    assert load_reference("os.path:join", "x") is osp.join
    assert load_reference("archscout:Study.load", "x").__name__ == "load"  # a dotted attribute
    tiny = load_reference(f"{spaces_file}:tiny", "x")
    again = load_reference(f"{os.path.relpath(spaces_file)}:tiny", "x")  # the same file, another spelling
    assert tiny is again and type(tiny).__name__ == "Space"
    module = sys.modules[module_name_for(str(spaces_file))]
    assert module.__file__ == str(spaces_file)
    # what a file defines pickles by reference in this process
    assert pickle.loads(pickle.dumps(module.top_level)) is module.top_level


def test_reference_of_round_trips_importable_top_level_objects(spaces_file):
    from archscout.registry import load_file

    assert reference_of(shutil.copyfile) == "shutil:copyfile"
    assert load_reference(reference_of(shutil.copyfile), "x") is shutil.copyfile
    assert reference_of(Storage) == "archscout.storage.storage:Storage"
    assert load_reference(reference_of(Storage), "x") is Storage
    assert reference_of(Storage.dispose) == "archscout.storage.storage:Storage.dispose"
    module = load_file(str(spaces_file))
    ref = reference_of(module.top_level)
    assert ref == f"{os.path.realpath(spaces_file)}:top_level" and load_reference(ref, "x") is module.top_level

    def local():
        pass
    assert reference_of(local) is None and reference_of(lambda: 1) is None and reference_of(module.inner) is None
    assert reference_of(3) is None and reference_of(module.tiny) is None  # an instance has no name of its own
