"""The storage suite: runs against SQLite and PostgreSQL (any_db), plus SQLite-file specifics."""
import multiprocessing as mp
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from archscout import ArchscoutError
from archscout.storage import SCHEMA_VERSION, Storage, claim_key
from legacy_schema import V1_TABLES  # tests/ is on sys.path (its conftest.py)


def test_round_trip_of_studies_trials_and_finals(any_db):
    s = Storage(any_db)
    st = s.create_study("demo", {"task": "digits", "space": "mlp", "strategy": "random"})
    t = s.start_trial(st.id, "abc", '{"space": "mlp", "values": {}}', "steps=10", seed=3)
    assert t.number == 0 and t.status == "running"
    assert s.finish_trial(t.id, "complete", {"accuracy": 0.9, "loss": float("nan")}, {"x": [1, 2]})
    t2 = s.start_trial(st.id, "def", "{}", "steps=10", seed=3)
    s.finish_trial(t2.id, "failed", error="boom")
    s.add_final(st.id, t.id, 0, "steps=30", {"test_accuracy": 0.8}, {}, b"weights")
    again = Storage(any_db)  # a new connection sees everything
    rows = again.trials(again.get_study("demo").id)
    assert [r.status for r in rows] == ["complete", "failed"]
    assert rows[0].metrics == {"accuracy": 0.9, "loss": None} and rows[0].details == {"x": [1, 2]}
    assert rows[1].error == "boom" and rows[0].duration >= 0
    f = again.finals(st.id, with_weights=True)
    assert f[0].weights == b"weights" and f[0].metrics["test_accuracy"] == 0.8
    listed = again.list_studies()
    assert listed[0]["name"] == "demo" and listed[0]["counts"] == {"complete": 1, "failed": 1}


def test_a_finished_trial_is_never_overwritten(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    t = s.start_trial(st.id, "a", "{}", "b", 0)
    assert s.finish_trial(t.id, "complete", {"accuracy": 0.5})
    assert not s.finish_trial(t.id, "failed", error="late duplicate")
    assert s.interrupt_trials([t.id], "too late") == []
    assert s.trials(st.id)[0].status == "complete" and s.trials(st.id)[0].metrics == {"accuracy": 0.5}


def test_claims_are_exclusive_and_budgets_are_respected(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    first = s.claim_trial(st.id, "arch", "{}", "b1", 0)
    assert first.trial is not None
    assert s.claim_trial(st.id, "arch", "{}", "b1", 0).taken  # held while running
    assert s.claim_trial(st.id, "arch", "{}", "b2", 0).trial is not None  # another budget is another claim
    s.finish_trial(first.trial.id, "failed", error="x")
    assert s.claim_trial(st.id, "arch", "{}", "b1", 0).taken  # failed: never retried
    assert s.claim_trial(st.id, "other", "{}", "b1", 0, max_trials=2).full
    assert s.claim_trial(st.id, "other", "{}", "b1", 0, max_trials=3).trial.number == 2


def test_interrupted_trials_release_their_claim_and_keep_their_row(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    t = s.start_trial(st.id, "a", "{}", "b", 0)  # no session: a process that is gone
    assert s.mark_interrupted(st.id) == 1
    row = s.trials(st.id)[0]
    assert row.status == "interrupted" and row.id == t.id and row.finished_at is not None
    assert "stopped" in row.error
    again = s.claim_trial(st.id, "a", "{}", "b", 0)
    assert again.trial is not None and again.trial.number == 1
    assert s.count_interrupted(st.id, "a", "b") == 1


def test_running_trials_of_live_sessions_are_not_stale(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    me = s.open_session(st.id, {"executor": "local"})
    t = s.start_trial(st.id, "a", "{}", "b", 0, session_id=me)
    assert s.stale_trials(st.id) == []
    s.close_session(me)
    assert s.stale_trials(st.id) == [t.id]


def test_a_process_that_starts_during_the_stale_check_is_not_declared_dead(any_db, monkeypatch):
    store = Storage(any_db)
    sid = store.create_study("s", {}).id
    real_sessions = store.sessions
    started = []

    def sessions_while_another_process_starts(study_id):
        seen = real_sessions(study_id)
        if not started:  # right after the sessions are read, a new process opens its session and claims a trial
            session = store.open_session(sid)
            started.append(store.claim_trial(sid, "a", "{}", "b", 0, session).trial.id)
        return seen

    monkeypatch.setattr(store, "sessions", sessions_while_another_process_starts)
    assert store.stale_trials(sid) == []
    assert started and store.stale_trials(sid) == []  # and once both reads see it, it is alive


def test_a_silent_session_on_another_host_goes_stale(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    sid = s.open_session(st.id)
    t = s.start_trial(st.id, "a", "{}", "b", 0, session_id=sid)
    with s.engine.begin() as c:
        c.execute(sa.text("UPDATE sessions SET host = 'elsewhere', heartbeat_at = :t WHERE id = :i"),
                  {"t": time.time() - 30, "i": sid})
    assert s.stale_trials(st.id, stale_after=60) == []
    assert s.stale_trials(st.id, stale_after=10) == [t.id]


def test_search_time_counts_concurrent_sessions_once(any_db):
    s = Storage(any_db)
    st = s.create_study("x", {})
    now = time.time()
    spans = [(now - 100, now - 40), (now - 70, now - 30), (now - 20, now - 10)]  # 70 s + 10 s of wall time
    with s.engine.begin() as c:
        for a, b in spans:
            c.execute(sa.text("INSERT INTO sessions (study_id, host, pid, started_at, heartbeat_at, stopped_at, info) "
                              "VALUES (:s, 'h', 1, :a, :b, :b, '{}')"), {"s": st.id, "a": a, "b": b})
    assert s.search_seconds(st.id) == pytest.approx(80, abs=0.01)


def _claim_many(url, name, out, n):
    s = Storage(url)
    sid = s.get_study(name).id
    won = [a for a in range(n) if s.claim_trial(sid, f"arch{a}", "{}", "b", 0).trial is not None]
    out.put(won)


@pytest.mark.slow
def test_concurrent_processes_never_claim_the_same_architecture(any_db):
    s = Storage(any_db)
    st = s.create_study("race", {})
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claim_many, args=(any_db, "race", q, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    wins = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    flat = [a for w in wins for a in w]
    assert sorted(flat) == list(range(40))  # each architecture claimed by exactly one process
    numbers = [r.number for r in s.trials(st.id)]
    assert sorted(numbers) == list(range(40))


def test_concurrent_threads_respect_the_trial_budget(any_db):
    s = Storage(any_db)
    st = s.create_study("budget", {})
    got = []

    def worker(k):
        for a in range(30):
            c = s.claim_trial(st.id, f"{k}-{a}", "{}", "b", 0, max_trials=25)
            if c.trial:
                got.append(c.trial.id)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 25 and len(s.trials(st.id)) == 25


def test_newer_schema_is_refused(any_db):
    Storage(any_db)
    with sa.create_engine(Storage(any_db).engine.url).begin() as c:
        c.execute(sa.text("UPDATE archscout_meta SET value = :v WHERE key = 'schema_version'"),
                  {"v": str(SCHEMA_VERSION + 1)})
    with pytest.raises(ArchscoutError, match="newer archscout"):
        Storage(any_db)


def test_foreign_tables_are_refused(any_db):
    engine = sa.create_engine(_url(any_db))
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE customers (id INTEGER)"))
    with pytest.raises(ArchscoutError, match="did not create"):
        Storage(any_db)
    assert sa.inspect(engine).get_table_names() == ["customers"]


def _url(url):
    from archscout.storage import _normalise_url
    return _normalise_url(url)


@pytest.mark.parametrize("url", ["nonsense", "sqlite:////no/such/folder/x.db", "nosuchdb://x"])
def test_bad_urls_are_clear_errors(url):
    with pytest.raises(ArchscoutError):
        Storage(url)


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(ArchscoutError, match="cannot connect"):
        Storage("postgresql://nobody@127.0.0.1:1/nothing")


def _sqlite(path, statement):
    con = sqlite3.connect(path)
    con.execute(statement)
    con.commit()
    con.close()


def _refused_and_untouched(path, match):
    before = path.read_bytes()
    with pytest.raises(ArchscoutError, match=match):
        Storage(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_foreign_sqlite_file_is_not_touched(tmp_path):
    path = tmp_path / "other.db"
    _sqlite(path, "create table customers (id integer)")
    _refused_and_untouched(path, "did not create")


def test_corrupt_file_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    _refused_and_untouched(path, "not a readable database")


def test_damaged_database_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "damaged.db"
    Storage(f"sqlite:///{path}")
    _sqlite(path, "drop table finals")
    _refused_and_untouched(path, "damaged")



V1_SCHEMA = V1_TABLES + """INSERT INTO studies VALUES (1, 'old', '{}', 1.0, 123.5);
INSERT INTO trials VALUES (1, 1, 0, 'a1', '{}', 'steps=10', 'complete', '{"accuracy": 0.9}', '{}', NULL, 0, 1.0, 2.0);
INSERT INTO trials VALUES (2, 1, 1, 'a2', '{}', 'steps=10', 'failed', '{}', '{}', 'boom', 0, 2.0, 3.0);
INSERT INTO trials VALUES (3, 1, 2, 'a3', '{}', 'steps=10', 'running', '{}', '{}', NULL, 0, 3.0, NULL);
INSERT INTO finals VALUES (1, 1, 1, 0, 'steps=30', '{"test_accuracy": 0.8}', '{}', X'00', 4.0);
"""


def test_a_schema_1_database_is_migrated_in_place(tmp_path):
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    con.close()
    s = Storage(f"sqlite:///{path}")
    assert s.schema_version() == SCHEMA_VERSION
    sid = s.get_study("old").id
    rows = s.trials(sid)
    assert [(r.arch_id, r.status) for r in rows] == [("a1", "complete"), ("a2", "failed"), ("a3", "running")]
    assert rows[0].metrics == {"accuracy": 0.9} and s.finals(sid)[0].metrics == {"test_accuracy": 0.8}
    assert s.fronts(sid) == []  # schema 3: the fronts table exists, empty for an old study
    assert s.search_seconds(sid) == pytest.approx(123.5)  # the time of schema-1 runs is kept
    assert s.claim_trial(sid, "a1", "{}", "steps=10", 0).taken  # finished schema-1 trials hold their claims
    assert s.stale_trials(sid) == [3]  # a schema-1 'running' trial belongs to no live process
    with sqlite3.connect(path) as c:
        claims = dict(c.execute("select id, claim from trials").fetchall())
    assert claims[1] == claim_key("a1", "steps=10") and claims[3] is None
    Storage(f"sqlite:///{path}")  # opening again is a no-op


def _open_storage(url, barrier, results):
    barrier.wait()
    try:
        Storage(url)
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - reported to the test
        results.put(f"{type(e).__name__}: {e}")


@pytest.mark.parametrize("round_", range(4))
def test_processes_creating_the_schema_at_once_all_succeed(any_db, round_):
    """Six processes open an empty database at the same moment: one creates the schema, the others find it
    (PostgreSQL reports their CREATE TABLE as a duplicate table, which must not surface as an error)."""
    ctx = mp.get_context("fork")  # started in a few milliseconds, so that they really meet at the barrier
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_open_storage, args=(any_db, barrier, results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [results.get(timeout=5) for _ in procs] == ["ok"] * 6
    assert Storage(any_db).schema_version() == SCHEMA_VERSION
