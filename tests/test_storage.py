import sqlite3

import pytest

from archscout import ArchscoutError
from archscout.storage import SCHEMA_VERSION, Storage


def test_round_trip_of_studies_trials_and_finals(db):
    s = Storage(db)
    st = s.create_study("demo", {"task": "digits", "space": "mlp", "strategy": "random"})
    t = s.start_trial(st.id, "abc", '{"space": "mlp", "values": {}}', "steps=10", seed=3)
    assert t.number == 0 and t.status == "running"
    s.finish_trial(t.id, "complete", {"accuracy": 0.9, "loss": float("nan")}, {"x": [1, 2]})
    t2 = s.start_trial(st.id, "def", "{}", "steps=10", seed=3)
    s.finish_trial(t2.id, "failed", error="boom")
    s.add_final(st.id, t.id, 0, "steps=30", {"test_accuracy": 0.8}, {}, b"weights")
    again = Storage(db)  # a new connection sees everything
    rows = again.trials(again.get_study("demo").id)
    assert [r.status for r in rows] == ["complete", "failed"]
    assert rows[0].metrics == {"accuracy": 0.9, "loss": None} and rows[0].details == {"x": [1, 2]}
    assert rows[1].error == "boom" and rows[0].duration >= 0
    f = again.finals(st.id, with_weights=True)
    assert f[0].weights == b"weights" and f[0].metrics["test_accuracy"] == 0.8
    listed = again.list_studies()
    assert listed[0]["name"] == "demo" and listed[0]["counts"] == {"complete": 1, "failed": 1}


def test_running_trials_of_a_dead_process_become_interrupted(db):
    s = Storage(db)
    st = s.create_study("x", {})
    t = s.start_trial(st.id, "a", "{}", "b", 0)
    assert s.mark_interrupted(st.id) == 1
    assert s.trials(st.id)[0].status == "interrupted"
    assert s.trials(st.id)[0].id == t.id


@pytest.mark.parametrize("url", ["nonsense", "sqlite:////no/such/folder/x.db", "nosuchdb://x"])
def test_bad_urls_are_clear_errors(url):
    with pytest.raises(ArchscoutError):
        Storage(url)


def test_foreign_database_is_not_touched(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("create table customers (id integer)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(ArchscoutError, match="did not create"):
        Storage(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_corrupt_file_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(ArchscoutError, match="not a readable database"):
        Storage(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Storage(f"sqlite:///{path}")
    con = sqlite3.connect(path)
    con.execute("update archscout_meta set value = ? where key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(ArchscoutError, match="newer archscout"):
        Storage(f"sqlite:///{path}")
