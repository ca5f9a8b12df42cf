"""The HTML report, the plot functions, the trials data frame and the dashboard's pages (over HTTP)."""
import html
import json
import os
import re
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from archscout import Study
from archscout.cli import main
from archscout.report import plots
from archscout.report.dashboard import make_server


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real two-objective search: iris, mlp, NSGA-II, a params bound some candidates break, one retraining."""
    folder = tmp_path_factory.mktemp("trained")
    db = f"sqlite:///{folder / 'runs.db'}"
    study = Study("iris-mo", space="mlp", task="iris", strategy="nsga2", objectives="accuracy:max,params:min",
                  constraints=["params <= 2000"], train={"steps": 15, "batch_size": 32},
                  final_train={"steps": 15, "batch_size": 32}, storage=db)
    study.search(trials=10)
    study.finalize(top_k=1, seeds=2)
    return study


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A lookup study with failures and infeasible candidates: fast, and every status but running."""
    folder = tmp_path_factory.mktemp("synthetic")
    db = f"sqlite:///{folder / 'runs.db'}"
    study = Study("syn", space="mlp", evaluator="synthetic:fail=0.2", objectives="accuracy:max,latency_ms:min",
                  constraints=["params <= 20000"], strategy="nsga2", storage=db)
    study.search(trials=30, max_failures=0)
    return study


def _statuses(study):
    return {t.status for t in study.trials()}


@pytest.mark.slow
def test_the_report_is_one_self_contained_file_with_every_part(trained, tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    assert main(["report", "iris-mo", "--storage", trained.storage.url, "--out", str(out)]) == 0
    assert "self-contained" in capsys.readouterr().out
    text = out.read_text()
    # nothing to fetch: no scripts, stylesheets or images from elsewhere (SVG's namespace is not a fetch)
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", text)
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    for section in ("summary", "leaderboard", "final", "progress", "front", "hypervolume", "architectures", "trials"):
        assert f'id="{section}"' in text, section
    for t in trained.trials():
        assert f'id="trial-{t.number}"' in text
    infeasible = [t for t in trained.trials() if t.status == "infeasible"]
    assert infeasible, "the fixture should produce infeasible candidates"
    assert all(html.escape(t.error) in text for t in infeasible)  # e.g. "params = 2,307 violates params <= 2000"
    best = trained.front()[0]
    assert f"{100 * best.final['test_accuracy_mean']:.2f} ± " in text  # the final retrained test accuracy
    # the leaderboard lists the Pareto-optimal trials first, each marked with a star kept beside its number
    board = re.search(r'<section id="leaderboard">.*?</section>', text, re.S).group(0)
    listed = [(int(n), star) for n, star in re.findall(r'<td class="nw"><a [^>]*>#(\d+)</a>( ★)?</td>', board)]
    front = {t.number for t in trained.front()}
    assert [n for n, star in listed if star] == [n for n, _ in listed[:len(front)]]
    assert {n for n, star in listed if star} == front
    assert text.count("<svg") >= 5  # 2 progress, front, hypervolume, at least one architecture
    pngs = sorted(p.name for p in (tmp_path / "r" / "report-plots").iterdir())
    assert {"best-vs-trials.png", "best-vs-time.png", "front.png", "hypervolume.png"} <= set(pngs)
    assert any(p.startswith("architecture-") for p in pngs)
    assert all((tmp_path / "r" / "report-plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.slow
def test_the_report_of_a_study_with_failures_lists_each_reason(synthetic, tmp_path):
    from archscout.report.html import write_report

    written = write_report(synthetic, str(tmp_path / "syn.html"), top=2)
    text = open(written["html"]).read()
    failed = [t for t in synthetic.trials() if t.status == "failed"]
    assert failed and all("injected failure" in t.error for t in failed)
    assert text.count('class="failed"') == len(failed)
    assert text.count('class="infeasible"') == sum(t.status == "infeasible" for t in synthetic.trials())
    assert "injected failure" in text
    assert len([p for p in written["png"] if "architecture-" in p]) == 2
    # each row opens to exactly what storage holds for the trial
    for t in synthetic.trials():
        row = re.search(rf'<tr class="[a-z]+" id="trial-{t.number}">.*?<pre>(.*?)</pre>', text, re.S).group(1)
        assert json.loads(html.unescape(row)) == json.loads(json.dumps({"metrics": t.metrics, "details": t.details}))


@pytest.mark.slow
def test_a_report_replaces_its_own_figures_and_leaves_other_files(synthetic, tmp_path):
    from archscout.report.html import write_report

    folder = tmp_path / "r-plots"
    folder.mkdir()
    (folder / "my-photo.png").write_bytes(b"\x89PNG mine")
    (folder / "architecture-999.png").write_bytes(b"an earlier report's drawing of another trial")
    written = write_report(synthetic, str(tmp_path / "r.html"), top=1)
    names = sorted(os.listdir(folder))
    assert "my-photo.png" in names and "architecture-999.png" not in names
    assert sorted(os.path.basename(p) for p in written["png"]) == [n for n in names if n != "my-photo.png"]


@pytest.mark.slow
def test_a_report_defaults_to_the_database_folder(synthetic, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "syn", "--storage", synthetic.storage.url]) == 0
    folder = synthetic.storage.url[len("sqlite:///"):].rsplit("/", 1)[0]
    assert f"{folder}/syn-report.html" in capsys.readouterr().out
    assert os.path.getsize(f"{folder}/syn-report.html") > 10_000 and os.path.isdir(f"{folder}/syn-report-plots")
    assert not os.listdir(tmp_path)


def test_report_bad_input_is_one_line(synthetic, tmp_path, capsys):
    db = synthetic.storage.url
    assert main(["report", "sin", "--storage", db]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown study 'sin'" in err[0] and "syn" in err[0]
    assert main(["report", "syn", "--storage", db, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    for out, phrase in ((tmp_path / "afile" / "r.html", "afile' is not a writable folder"),
                        (f"{tmp_path}/new/", "it names a folder")):
        assert main(["report", "syn", "--storage", db, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and phrase in err, err
    assert sorted(os.listdir(tmp_path)) == ["afile"]  # refused before drawing: nothing created
    assert main(["report", "syn", "--storage", db, "--top", "0"]) == 2
    assert "--top must be a positive integer" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["report", "syn", "--storage", db, "--out", str(tmp_path / "afile" / "r.html")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_the_front_plot_greys_the_dominated_and_colours_the_front(trained):
    fig = plots.front(trained)
    ax = fig.axes[0]
    board, front = trained.leaderboard(), trained.front()
    grey = ax.collections[0]
    assert len(grey.get_offsets()) == len(board) - len(front)
    assert np.allclose(grey.get_facecolor()[0][:3], [0.72] * 3)
    line = ax.lines[0]
    assert sorted(line.get_xdata()) == sorted(t.metrics["params"] for t in front)
    assert ax.get_xlabel().startswith("params") and "accuracy" in ax.get_ylabel()


def test_a_single_objective_front_plot_shows_the_trade_off_with_measured_costs(tmp_path):
    study = Study("one", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/s.db")
    study.search(trials=15)
    fig = plots.front(study)
    assert [a.get_xlabel().split(" ")[0] for a in fig.axes] == ["params", "latency_ms"]
    hv = plots.hypervolume(study)
    assert "no hypervolume" in hv.axes[0].texts[0].get_text()


def test_best_so_far_never_gets_worse_and_time_leaves_out_pauses(synthetic):
    fig = plots.history(synthetic, "trials")
    acc = fig.axes[0].lines[0].get_ydata()
    assert len(acc) > 0 and np.all(np.diff(acc) >= 0)
    lat = fig.axes[1].lines[0].get_ydata()
    assert np.all(np.diff(lat) <= 0)
    assert fig.axes[0].get_xlabel() == "finished trials"
    timed = plots.history(synthetic, "time")
    assert timed.axes[0].get_xlabel() == "search wall time (min)"
    with pytest.raises(ValueError, match="'trials' or 'time'"):
        plots.history(synthetic, "steps")
    # two sessions an hour apart: the hour is not search time
    assert plots.busy_seconds([(0, 10), (5, 12), (3600, 3610)], [6, 12, 3605, 3610]) == [6, 12, 17, 22]


def test_an_architecture_is_drawn_as_its_graph_of_operators(trained):
    arch = trained.best().arch
    graph = arch.to_graph()
    fig = plots.architecture(arch)
    ax = fig.axes[0]
    assert len(ax.texts) == len(graph["nodes"])
    assert len(ax.patches) == len(graph["edges"])
    assert {t.get_text().split("\n")[0] for t in ax.texts} == {n["op"] for n in graph["nodes"]}


def test_a_graph_network_is_drawn_with_its_branches():
    import random

    from archscout.spaces import get

    space = get("gnn")
    arch = next(a for a in (space.sample(random.Random(i)) for i in range(50))
                if len({e[0] for e in a.to_graph()["edges"]}) < len(a.to_graph()["edges"]))
    fig = plots.architecture(arch)
    ax = fig.axes[0]
    depth = plots.layers(arch.to_graph())
    assert len(ax.texts) == 6 and max(depth.values()) < 5  # branches share a layer
    assert plots.node_label({"op": "conv", "attrs": {"width": 32, "kernel": 5, "dilation": 1, "norm": "none"}}) \
        == "conv\nw32 k5"


def test_trials_dataframe_has_a_row_per_trial_with_metrics_and_reasons(synthetic):
    df = synthetic.trials_dataframe()
    trials = synthetic.trials()
    assert list(df["number"]) == [t.number for t in trials]
    assert list(df.columns[:13]) == ["number", "status", "architecture", "arch_id", "arch_json", "started",
                                     "finished", "duration_s", "budget", "seed", "error", "feasible", "on_front"]
    assert list(df.columns[13:15]) == ["accuracy", "latency_ms"]  # objectives first
    assert set(df[df.on_front].number) == {t.number for t in synthetic.front()}
    failed = df[df.status == "failed"]
    assert len(failed) and failed.error.str.contains("injected failure").all() and failed.accuracy.isna().all()
    ok = df[df.status == "complete"].iloc[0]
    t = next(t for t in trials if t.number == ok.number)
    assert ok.accuracy == t.metrics["accuracy"] and ok.arch_json == t.arch.to_json()
    assert str(df.started.dt.tz) == "UTC"
    assert len(synthetic.trials_dataframe(status="failed")) == len(failed)


@pytest.mark.slow
def test_the_notebook_example_in_the_docs_runs(tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    blocks = re.findall(r"```python\n(.*?)```", (root / "docs" / "reporting.md").read_text(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"reporting.md block {i + 1}", "exec"), scope)
    assert len(scope["df"]) == 12 and scope["fig"].axes
    assert (tmp_path / "front.png").exists()


# -- the dashboard over HTTP --------------------------------------------------------------

@pytest.fixture
def dashboard(synthetic):
    server = make_server(synthetic.storage.url, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str, method: str = "GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_dashboard_lists_studies_and_shows_trials(dashboard, synthetic):
    code, text = _get(dashboard + "/")
    assert code == 200 and 'href="/study/syn"' in text
    code, text = _get(dashboard + "/study/syn")
    assert code == 200
    for t in synthetic.trials():
        assert f'href="/study/syn/trial/{t.number}"' in text
    assert 'id="front"' in text and "<svg" in text and 'id="live"' in text
    number = synthetic.best().number
    code, text = _get(f"{dashboard}/study/syn/trial/{number}")
    assert code == 200 and f"Trial #{number}" in text and "<svg" in text
    code, text = _get(f"{dashboard}/api/study/syn")
    doc = json.loads(text)
    assert code == 200 and len(doc["trials"]) == len(synthetic.trials())
    assert {t["number"] for t in doc["trials"] if t["on_front"]} == {t.number for t in synthetic.front()}
    code, text = _get(f"{dashboard}/api/study/syn/trial/{number}")
    assert json.loads(text)["graph"]["nodes"]


def test_unknown_studies_trials_and_pages_are_404_pages(dashboard):
    code, text = _get(dashboard + "/study/nope")
    assert code == 404 and "no study named &#x27;nope&#x27;" in text and 'href="/study/syn"' in text
    code, text = _get(dashboard + "/study/syn/trial/9999")
    assert code == 404 and "has no trial #9999" in text
    code, text = _get(dashboard + "/study/syn/trial/abc")
    assert code == 404
    code, text = _get(dashboard + "/favicon.ico")
    assert code == 404 and "not found" in text
    code, text = _get(dashboard + "/api/study/nope/version")
    assert code == 404 and json.loads(text) == {"error": "no study named 'nope'"}


def _dump(url: str) -> list[str]:
    import sqlite3

    with sqlite3.connect(url[len("sqlite:///"):]) as c:
        return list(c.iterdump())


def test_the_dashboard_is_read_only(dashboard, synthetic):
    before = _dump(synthetic.storage.url)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert _get(dashboard + "/study/syn", method)[0] == 405
    for path in ("/", "/study/syn", "/study/syn/content", "/api/study/syn", "/study/nope", "/study/syn/trial/3"):
        _get(dashboard + path)
    assert _dump(synthetic.storage.url) == before  # every row of every table as it was


def test_the_dashboard_answers_only_requests_for_a_loopback_host(dashboard):
    """A page elsewhere that makes its own DNS name resolve to 127.0.0.1 cannot read the dashboard."""
    request = urllib.request.Request(dashboard + "/api/studies", headers={"Host": "evil.example:8050"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=30)
    assert e.value.code == 403
    for host in ("localhost:8050", "127.0.0.1"):
        request = urllib.request.Request(dashboard + "/api/studies", headers={"Host": host})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200


def test_the_dashboard_listens_on_ipv6_loopback(synthetic):
    server = make_server(synthetic.storage.url, host="::1", port=0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://[::1]:{port}/api/studies", timeout=30) as r:
            assert "syn" in json.loads(r.read())["studies"]
        request = urllib.request.Request(f"http://[::1]:{port}/api/studies", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=30)
        assert e.value.code == 403
    finally:
        server.shutdown()
        server.server_close()


def test_the_version_changes_when_a_trial_finishes(dashboard, synthetic):
    first = json.loads(_get(dashboard + "/api/study/syn/version")[1])["version"]
    again = json.loads(_get(dashboard + "/api/study/syn/version")[1])["version"]
    assert first == again
    synthetic.search(trials=31, max_failures=0)  # one more
    assert json.loads(_get(dashboard + "/api/study/syn/version")[1])["version"] != first


def test_dashboard_bad_input(tmp_path, capsys, synthetic):
    assert main(["dashboard", "--storage", f"sqlite:///{tmp_path}/none.db"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert main(["dashboard", "--storage", synthetic.storage.url, "--port", "70000"]) == 2
    assert "--port must be an integer in [0, 65535], got 70000" in capsys.readouterr().err
    for bad in ("0", "0.1", "nan", "inf"):
        assert main(["dashboard", "--storage", synthetic.storage.url, "--refresh", bad]) == 2
        assert "--refresh must be a number of seconds, at least 0.5" in capsys.readouterr().err
    busy = make_server(synthetic.storage.url, port=0)
    try:
        port = busy.server_address[1]
        assert main(["dashboard", "--storage", synthetic.storage.url, "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    finally:
        busy.server_close()


def test_a_large_study_page_lists_the_newest_trials_and_redraws_at_most_so_often(synthetic, monkeypatch):
    from archscout.report import dashboard as D
    from archscout.storage import Storage

    monkeypatch.setattr(D, "TRIAL_ROWS", 5)
    board = D.Dashboard(Storage(synthetic.storage.url, create=False))
    study = board.study("syn")
    version = board.version(study)
    text, shown = board.content(study, version)
    assert shown == version and f"The newest 5 of {len(synthetic.trials())} trials" in text
    assert text.count('href="/study/syn/trial/') >= 5
    # the last drawing took "long": a newer version gets the cached content, labelled with its own version
    name, (v, cached, drawn_at, _) = "syn", board._cache["syn"]
    board._cache[name] = (v, cached, drawn_at, 1000.0)
    assert board.content(study, "newer") == (cached, version)
    # the page's check is told the version it would get, so it does not fetch the same content again
    board._cache[name] = (v[:-1] + "x", cached, drawn_at, 1000.0)  # the study has moved on since the drawing
    assert board.next_version("syn") == {"version": version, "next": v[:-1] + "x"}
    board._cache[name] = (v, cached, drawn_at, 1000.0)
    assert board.next_version("syn") == {"version": version, "next": version}
    board._cache[name] = (v, cached, drawn_at - 10.0, 0.1)  # drawn quickly, long ago: drawn again,
    assert board.content(study, "newer")[1] == version  # labelled with the version of what it drew
    assert board._cache[name][2] > drawn_at


def test_the_version_of_one_query_is_the_version_of_the_trials_read(synthetic):
    from archscout.report.dashboard import Dashboard

    board = Dashboard(synthetic.storage)
    assert board.version(synthetic) == board.version(synthetic, synthetic.trials())
    n, running, finals, _ = board.version(synthetic).split("-", 3)
    assert (int(n), int(running), int(finals)) == (len(synthetic.trials()), 0, len(synthetic.storage.finals(
        synthetic.id)))


def test_the_content_says_which_version_it_shows(dashboard):
    with urllib.request.urlopen(dashboard + "/study/syn/content", timeout=30) as r:
        shown = r.headers["X-Archscout-Version"]
    assert shown == json.loads(_get(dashboard + "/api/study/syn/version")[1])["version"]


def test_a_tabular_benchmark_report_shows_the_table_test_accuracy_and_no_retraining(tmp_path):
    from archscout.report.html import write_report

    study = Study("nbg", evaluator="nas-bench-graph:cora", strategy="nsga2", storage=f"sqlite:///{tmp_path}/s.db",
                  objectives="accuracy:max,latency_ms:min")
    study.search(trials=12)
    text = open(write_report(study, str(tmp_path / "nbg.html"))["html"]).read()
    assert 'id="final"' not in text and "test acc % (seeds)" not in text
    assert "<th>test_accuracy %</th>" in text and text.count("<svg") >= 5  # graph drawings of the top GNNs


@pytest.mark.slow
def test_studies_without_results_running_or_minimising_only_are_shown(tmp_path):
    """No complete trial; a trial still running; one objective that is minimised; a task given as arrays
    in Python (not findable by name later); a custom space (only its Python code can open it)."""
    from archscout import Choice, Space, tasks
    from archscout.report.dashboard import Dashboard
    from archscout.report.html import write_report
    from archscout.storage import Storage

    db = f"sqlite:///{tmp_path}/s.db"
    failing = Study("allfail", space="mlp", evaluator="synthetic:fail=1", storage=db)
    failing.search(trials=3, max_failures=0)
    fast = Study("fastest", space="mlp", evaluator="synthetic", objectives="latency_ms:min", storage=db)
    fast.search(trials=6)
    arch = fast.space.sample(99)
    fast.storage.start_trial(fast.id, arch.id, arch.to_json(), fast.trials()[0].budget, 0)
    rng = np.random.default_rng(0)
    mine = tasks.from_arrays(rng.normal(size=(60, 4)).astype(np.float32), rng.integers(0, 2, 60), name="mine")
    Study("arrays", space="mlp", task=mine, storage=db, train={"steps": 5}).search(trials=2)
    custom = Space("tiny", width=Choice([4, 8]))
    Study("custom", space=custom, evaluator="synthetic", storage=db).search(trials=2)

    text = open(write_report(failing, str(tmp_path / "a.html"))["html"]).read()
    assert "no completed trial yet" in text and 'href="#front"' not in text and text.count('class="failed"') == 3
    text = open(write_report(fast, str(tmp_path / "f.html"))["html"]).read()
    assert 'class="running"' in text and "<!-- best so far (min) -->" in text  # SVG keeps text as comments
    assert [a.get_xlabel() for a in plots.front(fast).axes] == ["params (min)"]  # latency against its cost

    board = Dashboard(Storage(db, create=False))
    for name in ("allfail", "fastest", "arrays"):
        status, _, page = board.route(f"/study/{name}")[:3]
        assert status == 200, (name, page)
    status, _, page = board.route("/study/custom")[:3]
    assert status == 409 and "custom space" in page and "archscout.write_report(study)" in page
    assert board.route("/study/fastest/trial/6")[0] == 200  # the running one


def test_the_plot_functions_import_as_a_module():
    import archscout as asc
    import archscout.plots
    from archscout.plots import architecture, front, history, hypervolume

    assert asc.plots is archscout.plots
    assert (history, front, hypervolume, architecture) == (plots.history, plots.front, plots.hypervolume,
                                                           plots.architecture)


def test_a_snapshot_reads_the_trials_once(tmp_path):
    study = Study("snap", space="mlp", evaluator="synthetic", storage=f"sqlite:///{tmp_path}/s.db")
    study.search(trials=4)
    other = Study.load("snap", study.storage)  # another process, say, that goes on searching
    with study.snapshot() as trials:
        other.search(trials=6)
        assert len(trials) == len(study.trials()) == 4 and len(study.leaderboard()) == 4
        with study.snapshot() as inner:  # a report drawn inside: the same snapshot, kept after it
            assert len(inner) == 4
        assert len(study.trials()) == 4 and len(study.trials_dataframe()) == 4
    assert len(study.trials()) == 6
