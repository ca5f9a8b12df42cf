"""Multi-fidelity reporting (issue 18, part 5): the report's section on fidelities and learning curves (trials per
rung, what each rung cost, early-stopped and continued trials, the curves), the fidelity column of the
leaderboards, the per-fidelity counts of `archscout show`, and the same on the dashboard.

No training: trials are stored with ``Study.record`` at several fidelities, with learning curves in their details,
and their durations set in the database so the shares of time are known."""
from __future__ import annotations

import dataclasses
import html
import json
import random
import re

import pytest
import sqlalchemy as sa

import archscout.storage
from archscout import Study
from archscout.cli import main
from archscout.report import fidelity as F
from archscout.report import html as H
from archscout.report import plots
from archscout.report.dashboard import Dashboard
from archscout.storage.schema import trials as TRIALS

# rung -> (trials, seconds each): 6 x 10 s + 3 x 20 s + 2 x 40 s = 200 s, so 30 %, 30 % and 40 % of the time
RUNGS = {30: (6, 10.0), 90: (3, 20.0), 270: (2, 40.0)}
STEPS = {30: [0, 10, 20, 30], 90: [0, 10, 20, 30, 60, 90], 270: [0, 10, 20, 30, 60, 90, 180, 270]}


def _archs(study, n: int, seed: int = 0) -> list:
    rng, out, seen = random.Random(seed), [], set()
    while len(out) < n:
        a = study.space.sample(rng)
        if a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out


def _curve(i: int, steps: list[int]) -> list[float]:
    """A rising accuracy curve; a higher ``i`` learns faster."""
    return [round(0.5 + (0.3 + 0.01 * i) * (1 - 0.97 ** s), 6) for s in steps]


def _set_seconds(study, seconds: dict[int, float]) -> None:
    """Trial number -> its duration, written into the database (record() stores about none)."""
    with study.storage.engine.begin() as c:
        for number, s in seconds.items():
            c.execute(sa.update(TRIALS).where((TRIALS.c.study_id == study.id) & (TRIALS.c.number == number))
                      .values(finished_at=TRIALS.c.started_at + s))


def _multi_fidelity(db: str, name: str = "mf") -> Study:
    """Successive halving by hand: 6 architectures at 30 steps, the best 3 continued to 90, the best 2 to 270;
    every trial with a learning curve of accuracy and loss from step 0."""
    study = Study(name, space="conv1d", evaluator="synthetic", objectives="accuracy:max", storage=db)
    archs = _archs(study, RUNGS[30][0])
    seconds, below = {}, {}
    for steps in (30, 90, 270):
        n, each = RUNGS[steps]
        for i, arch in enumerate(archs[-n:] if steps > 30 else archs):  # the later archs learn faster
            i += len(archs) - n if steps > 30 else 0
            acc = _curve(i, STEPS[steps])
            details = {"learning_curve": {"step": STEPS[steps], "accuracy": acc, "loss": [1 - a for a in acc]},
                       "fidelity": {"steps": steps}, "rung": [30, 90, 270].index(steps)}
            if steps > 30:
                details["continued_from"] = {"trial": below[arch.id], "step": steps // 3}
            t = study.record(arch, {"accuracy": acc[-1], "loss": 1 - acc[-1]}, details=details,
                             fidelity={"steps": steps}, parent=below.get(arch.id))
            below[arch.id] = t.number
            seconds[t.number] = each
    _set_seconds(study, seconds)
    return study


@pytest.fixture
def mf(db):
    return _multi_fidelity(db)


def _section(text: str, name: str) -> str | None:
    m = re.search(rf'<section id="{name}">.*?</section>', text, re.S)
    return m.group(0) if m else None


def _rung_rows(section: str) -> dict[str, list[str]]:
    """The rung table: fidelity label -> its cells (trials, complete, stopped, failed, promoted, best, seconds, %)."""
    table = re.search(r'<table id="rungs">.*?</table>', section, re.S).group(0)
    rows = {}
    for row in re.findall(r"<tr[^>]*>(<td.*?)</tr>", table, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def _without_figures(text: str) -> str:
    return re.sub(r'<div class="figure">.*?</svg></div>', "[figure]", text, flags=re.S)


# -- the report ---------------------------------------------------------------------------------------------

def test_the_report_has_a_section_with_the_trials_and_time_of_each_fidelity(mf, tmp_path):
    written = H.write_report(mf, str(tmp_path / "r.html"))
    text = (tmp_path / "r.html").read_text()
    section = _section(text, "fidelity")
    assert section and "Fidelities and learning curves" in section
    assert '<a href="#fidelity">' in text  # in the navigation
    rows = _rung_rows(section)
    assert list(rows) == ["steps=30", "steps=90", "steps=270 (ranked)"]  # lowest first, the ranked one marked
    #                       trials, complete, stopped, failed, promoted, best, seconds, % of time
    assert rows["steps=30"][:5] == ["6", "6", "0", "0", "0"]
    assert rows["steps=90"][:5] == ["3", "3", "0", "0", "3"]
    assert rows["steps=270 (ranked)"][:5] == ["2", "2", "0", "0", "2"]
    assert [r[6:] for r in rows.values()] == [["60.0", "30.0"], ["60.0", "30.0"], ["80.0", "40.0"]]
    best = {label: float(r[5]) for label, r in rows.items()}  # accuracy in %
    by_rung = {s: max(t.metrics["accuracy"] for t in mf.trials() if t.fidelity == {"steps": s}) for s in RUNGS}
    assert best == pytest.approx({"steps=30": 100 * by_rung[30], "steps=90": 100 * by_rung[90],
                                  "steps=270 (ranked)": 100 * by_rung[270]}, abs=0.006)
    said = html.unescape(_without_figures(section))
    assert "3 fidelities" in said and "60.0 % of all trial time went to the fidelities below it" in said
    assert "0 trials were stopped early; 5 continued training from a checkpoint." in said
    assert "All 11 trials with a learning curve are drawn." in said
    assert section.count("<svg") == 1  # the learning curves, inline like every figure of the report
    assert "learning-curves.png" in {p.rsplit("/", 1)[-1] for p in written["png"]}


@pytest.mark.slow
def test_the_leaderboard_has_a_fidelity_column_only_with_several_fidelities(mf, db, tmp_path):
    board = _section(H.report(mf), "leaderboard")
    assert "<th>fidelity</th>" in board
    assert board.count('<td class="nw">steps=270</td>') == 2  # only the top rung is ranked
    trials = _section(H.report(mf), "trials")
    assert "<th>fidelity</th>" in trials and trials.count(">steps=30<") == 6

    one = Study("one", space="conv1d", evaluator="synthetic", storage=db.replace("runs.db", "one.db"))
    for arch in _archs(one, 3, seed=1):
        one.record(arch, {"accuracy": 0.8, "loss": 0.2})
    text = H.report(one)
    assert "<th>fidelity</th>" not in text
    assert _section(text, "fidelity") is None and 'href="#fidelity"' not in text  # no curves, one fidelity


def test_the_section_counts_stopped_trials_and_draws_them_apart(mf):
    trials = mf.trials()
    low = sorted((t for t in trials if t.fidelity == {"steps": 30}), key=lambda t: t.metrics["accuracy"])[:2]
    stopped = {t.number for t in low}
    trials = [dataclasses.replace(t, status="stopped", error="stopped early: below the median at step 20",
                                  details={**t.details, "stopped": {"step": 20, "rule": "median", "threshold": 0.7}})
              if t.number in stopped else t for t in trials]
    board = mf.leaderboard()
    section = H.fidelities(mf, trials, top=5, board_n=10)
    rows = _rung_rows(section)
    assert rows["steps=30"][:5] == ["6", "4", "2", "0", "0"]
    assert "2 trials were stopped early (2 by the median rule); 5 continued" in html.unescape(section)
    fig = plots.learning_curves(mf, trials, board=board, highlight=board[:2])
    ax = fig.axes[0]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--" and len(ln.get_xdata())]
    assert len(dashed) == 2  # one dashed line per stopped trial
    assert all(ln.get_color() == plots.STOPPED for ln in dashed)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == [f"#{t.number}" for t in board[:2]]  # the leaderboard's best, in rank order
    assert "stopped early (2)" in labels
    # a summary counts them by status, the trials table colours their rows
    assert "2 stopped" in html.unescape(H.summary(mf, trials))
    assert '<tr class="stopped"' in H.trials_table(mf, trials, None, expand=False)


def test_the_plot_draws_at_most_the_cap_and_says_so(mf, monkeypatch):
    monkeypatch.setattr(F, "CAP", 3)
    trials = mf.trials()
    board = mf.leaderboard()
    chosen, total = F.select(mf, trials, board)
    assert total == 11 and len(chosen) == 3  # the board's two are among the three best
    assert {t.number for t in board} <= {t.number for t in chosen}
    section = html.unescape(H.fidelities(mf, trials, board_n=10))
    assert "Drawn: 3 of the 11 trials with a learning curve (the 3 best by accuracy" in section
    fig = plots.learning_curves(mf, trials)
    assert "3 of 11 drawn" in fig.axes[0].get_title()


def test_stopped_trials_as_stored_are_reported(mf, capsys):
    if "stopped" not in archscout.storage.FINISHED:
        pytest.skip("stopped status not yet stored")
    arch = _archs(mf, 7)[-1]  # a seventh architecture, stopped at its first rung
    fidelity = {"steps": 30}
    claim = mf.storage.claim_trial(mf.id, arch.id, arch.to_json(), mf.evaluator().fidelity_key(fidelity), mf.seed,
                                   fidelity=fidelity)
    mf.storage.finish_trial(claim.trial.id, "stopped", {"accuracy": 0.55, "loss": 0.45},
                            {"learning_curve": {"step": [0, 10], "accuracy": [0.5, 0.55]},
                             "stopped": {"step": 10, "rule": "median", "threshold": 0.6}},
                            "stopped early: accuracy 0.55 at step 10 is below the median 0.6")
    text = H.report(mf)
    rows = _rung_rows(_section(text, "fidelity"))
    assert rows["steps=30"][:3] == ["7", "6", "1"]
    assert "1 trial was stopped early (1 by the median rule)" in html.unescape(_section(text, "fidelity"))
    assert main(["show", "mf", "--storage", mf.storage.url, "--failed"]) == 0
    out = capsys.readouterr().out
    assert "steps=30: 7 trials (6 complete, 1 stopped)" in out and "stopped early: accuracy 0.55" in out
    assert main(["list", "--storage", mf.storage.url]) == 0
    assert "stopped" in capsys.readouterr().out


# -- learning curves of other kinds ----------------------------------------------------------------------

def test_curves_of_a_user_evaluator_with_its_own_metric_names(tmp_path, monkeypatch):
    (tmp_path / "fid_evals.py").write_text(
        "import archscout\n\n"
        "@archscout.evaluator(measures={'fid_val_error': 'min'}, model=False, fidelities=('steps',))\n"
        "def loop(arch, ctx):\n"
        "    return {'fid_val_error': 0.5}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    study = Study("user", space="mlp", evaluator="fid_evals:loop", objectives="fid_val_error:min",
                  storage=f"sqlite:///{tmp_path / 'u.db'}")
    archs = _archs(study, 4)
    for i, arch in enumerate(archs):
        err = [0.9 - 0.1 * k - 0.02 * i for k in range(4)]
        study.record(arch, {"fid_val_error": err[-1]}, fidelity={"steps": 40},
                     details={"learning_curve": {"step": [10, 20, 30, 40], "fid_val_error": err,
                                                 "my_score": [1 - e for e in err]}})
    study.record(archs[0], {"fid_val_error": 0.1}, parent=0,
                 details={"learning_curve": {"step": [10, 20, 30, 40, 80], "fid_val_error": [0.9, 0.8, 0.7, 0.6, 0.1],
                                             "my_score": [0.1, 0.2, 0.3, 0.4, 0.9]}})
    trials = study.trials()
    assert F.curve_metric(study, trials) == "fid_val_error"  # the objective, when the curves hold it
    fig = plots.learning_curves(study, trials)
    drawn = [ln for ln in fig.axes[0].lines if len(ln.get_xdata())]
    assert len(drawn) == 5 and "fid_val_error" in fig.axes[0].get_ylabel()
    plots.png_bytes(fig)
    # "the study's own" fidelity (a user evaluator without a default) ranks above steps=40
    rows = _rung_rows(_section(H.report(study), "fidelity"))
    assert list(rows) == ["steps=40", "study's own (ranked)"]
    assert rows["steps=40"][5] == f"{0.9 - 0.3 - 0.06:.4g}"  # the lowest error: min is best
    page = H.trial_detail(study, study.trial(4))
    assert 'id="curve"' in page and "promoted from" in page and "#0" in page


def test_metric_names_from_a_curve_are_escaped_and_plotted_as_text(db):
    study = Study("odd", space="conv1d", evaluator="synthetic", storage=db)
    name = "<i>odd</i> & $x_1$"
    for i, arch in enumerate(_archs(study, 3)):
        study.record(arch, {"accuracy": 0.7 + 0.01 * i, "loss": 0.3},
                     details={"learning_curve": {"step": [1, 2, 3], name: [0.1 * i, 0.2, float("nan")]}})
    trials = study.trials()
    assert F.curve_metric(study, trials) == name  # no accuracy in the curves: the first metric they hold
    section = _section(H.report(study), "fidelity")
    assert section is not None and name not in section
    assert html.escape(name) in section
    fig = plots.learning_curves(study, trials)
    plots.svg_text(fig)  # "$x_1$" is text, not mathtext
    assert r"\$x_1\$" in fig.axes[0].get_ylabel()
    assert F.curve(trials[0], name) == ([1.0, 2.0], [0.0, 0.2])  # the NaN (stored as null) left out


def test_a_damaged_curve_is_read_as_far_as_it_goes(mf):
    t = mf.trials()[0]
    for curve in ("not a dict", {"step": [1, 2]}, {"step": "x", "accuracy": [1]}, {"step": [1, None, 3],
                                                                                    "accuracy": [0.1, 0.2, True]}):
        broken = dataclasses.replace(t, details={"learning_curve": curve})
        xs, ys = F.curve(broken, "accuracy")
        assert len(xs) == len(ys) <= 1
        plots.learning_curves(mf, [broken])  # draws or says there is nothing to draw; never raises


# -- archscout show ---------------------------------------------------------------------------------------

def test_show_has_a_fidelity_column_and_counts_the_trials_at_each_fidelity(mf, db, capsys):
    assert main(["show", "mf", "--storage", mf.storage.url]) == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if "rank" in line)
    assert "fidelity" in head
    assert out.count("steps=270") >= 3  # two rows and the counts
    assert ("trials per fidelity: steps=30: 6 trials (6 complete); steps=90: 3 trials (3 complete, 3 promoted); "
            "steps=270 (ranked): 2 trials (2 complete, 2 promoted)") in out
    assert "0 trials stopped early, 5 continued from a checkpoint" in out
    assert "60.0 % of the trial time went to fidelities below the ranked one" in out

    one = Study("one", space="conv1d", evaluator="synthetic", storage=mf.storage.url)
    for arch in _archs(one, 2, seed=3):
        one.record(arch, {"accuracy": 0.8, "loss": 0.2})
    assert main(["show", "one", "--storage", mf.storage.url]) == 0
    out = capsys.readouterr().out
    assert "fidelity" not in out


# -- the dashboard ----------------------------------------------------------------------------------------

def test_the_dashboard_shows_the_rungs_and_curves_and_serves_them_as_json(mf):
    board = Dashboard(mf.storage)
    code, _, text, *_ = board.route("/study/mf/content")
    assert code == 200
    section = _section(text, "fidelity")
    assert section and "<svg" in section
    rows = _rung_rows(section)
    assert rows["steps=90"][:5] == ["3", "3", "0", "0", "3"]
    code, _, body = board.route("/api/study/mf")
    doc = json.loads(body)
    assert [(r["label"], r["trials"], r["promoted"], r["ranked"]) for r in doc["fidelities"]] == [
        ("steps=30", 6, 0, False), ("steps=90", 3, 3, False), ("steps=270", 2, 2, True)]
    assert [r["share"] for r in doc["fidelities"]] == pytest.approx([0.3, 0.3, 0.4])
    promoted = next(t for t in doc["trials"] if t["parent"] is not None)
    assert promoted["fidelity"]["steps"] in (90, 270) and promoted["learning_curve"]["step"][0] == 0
    code, _, page = board.route(f"/study/mf/trial/{promoted['number']}")
    assert code == 200 and 'id="curve"' in page
    assert f"trial #{promoted['parent']} at step" in html.unescape(page)  # continued from
    code, _, body = board.route(f"/api/study/mf/trial/{promoted['number']}")
    assert json.loads(body)["parent"] == promoted["parent"]


def test_a_fidelity_reads_as_its_budget():
    assert F.fidelity_text({"steps": 1_000_000}) == "steps=1000000"  # not 1e+06
    assert F.fidelity_text({"epochs": 2.5}) == "epochs=2.5"
    assert F.fidelity_text({"steps": 30, "width": 8.0}) == "steps=30,width=8"
    assert F.fidelity_text(None) == "study's own"
