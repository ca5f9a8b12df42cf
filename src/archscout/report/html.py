"""A study as HTML: the fragments shared by the self-contained report file and the dashboard's pages.

Every fragment takes a study (and trials already read) and returns a string; figures are inline SVG,
so a page needs no network, no script library and no other file.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Callable, Sequence

from ..metrics import final_key
from . import fidelity as F
from . import plots
from .differentiable import precision_searched, precision_section, search_time, searched
from .differentiable import section as differentiable_section
from .front import final_label, final_text, fmt_metric, unit
from .supernet import section as supernet_section

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:14px 28px}header a{color:#cfe3ff}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.85}
nav{padding:6px 28px;background:#e9eef5;font-size:13px}nav a{margin-right:14px}
main{padding:10px 28px 40px;max-width:1500px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 18px;margin:14px 0}
h2{font-size:16px;margin:4px 0 10px}h3{font-size:14px;margin:10px 0 4px}
table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 9px;border-bottom:1px solid #e6e9ee;text-align:right}
th{background:#f0f3f7;position:sticky;top:0}td.l,th.l{text-align:left}td.nw{white-space:nowrap}
tr.failed td,tr.infeasible td,tr.interrupted td{color:#8a2a2a}tr.running td{color:#6b5b00}
tr.stopped td{color:#8a5300}tr.ranked td{font-weight:600}
.status{font-weight:600}.muted{color:#6a737d}.figure svg{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #e1e5ea;border-radius:5px;padding:6px}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px;max-height:360px}
details summary{cursor:pointer}.kv td{text-align:left}.kv td:first-child{color:#57606a;padding-right:18px}
"""

STATUSES = ("complete", "stopped", "failed", "infeasible", "interrupted", "running")


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def pre(data) -> str:
    """``data`` as indented JSON in a <pre>: element text, so quotes stay as they are (a third of the size)."""
    return f"<pre>{html.escape(json.dumps(data, indent=1, default=str), quote=False)}</pre>"


def when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def value_text(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "" if value is None else str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt_metric(metric, value)
    return esc(value)


def figure(fig, caption: str = "", name: str | None = None, sink: dict | None = None) -> str:
    """The figure inline as SVG; with a ``sink``, its PNG is also kept there under ``name``."""
    if sink is not None and name:
        sink[name] = plots.png_bytes(fig)
    return f'<div class="figure">{plots.svg_text(fig)}</div>' + (f'<p class="muted">{esc(caption)}</p>'
                                                                   if caption else "")


def page(title: str, subtitle: str, body: str, nav: Sequence[tuple[str, str]] = (), script: str = "") -> str:
    links = "".join(f'<a href="{esc(href)}">{esc(text)}</a>' for href, text in nav)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f'<body><header><h1>{esc(title)}</h1><p>{subtitle}</p></header>'
            + (f"<nav>{links}</nav>" if links else "") + f"<main>{body}</main>{script}</body></html>")


def counts(trials) -> dict[str, int]:
    out = {s: 0 for s in STATUSES}
    for t in trials:
        out[t.status] = out.get(t.status, 0) + 1
    return out


def summary(study, trials) -> str:
    """What the study searched, how, and how far it got."""
    n = counts(trials)
    fronts = [f for f in study.fronts() if f["hypervolume"] is not None] if study.multi_objective else []
    task = study.task_name
    rows = [("task", task or "— (a lookup evaluator trains nothing)"),
            ("space", study.space.name), ("strategy", study.strategy_name), ("evaluator", study.evaluator_spec.text),
            ("objectives", ", ".join(f"{m} ({w})" for m, w in study.objectives)),
            ("constraints", ", ".join(str(c) for c in study.constraints) or "none"),
            ("training budget per trial", _budget_text(study)),
            ("trials", ", ".join(f"{v} {k}" for k, v in n.items() if v) or "none yet"),
            ("search time", search_time(study, trials)),
            ("first trial started", when(min((t.started_at for t in trials if t.started_at), default=None))),
            ("last trial finished", when(max((t.finished_at for t in trials if t.finished_at), default=None)))]
    if fronts:
        ref = ", ".join(f"{k}={v:.4g}" for k, v in (study.reference_point or {}).items())
        rows.append(("hypervolume", f"{fronts[-1]['hypervolume']:.6g} after {fronts[-1]['finished']} trials "
                                    f"(reference point {ref})"))
        note = study.reference_note()
        if note:
            rows.append(("hypervolume reference", note))
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<section id="summary"><h2>Study</h2><table class="kv">{body}</table></section>'


def _metric_columns(study, trials) -> list[str]:
    """The objectives, then the usual costs the trials measured."""
    names = [m for m, _ in study.objectives]
    present = {k for t in trials for k in t.metrics}
    for m in ("accuracy", "test_accuracy", "r2", "params", "flops", "latency_ms", "train_seconds"):
        if m in present and m not in names:
            names.append(m)
    return names


def board_shown(study, n: int) -> list:
    """The leaderboard as the report shows it: the front first with several objectives, at most ``n``."""
    board = study.leaderboard()
    front = {t.number for t in study.front()} if study.multi_objective else set()
    return sorted(board, key=lambda t: t.number not in front)[:n]  # stable: the front first, each in board order


def leaderboard(study, n: int, link: Callable[[int], str], retrains: bool = True) -> str:
    """The best ``n`` complete trials that meet every constraint (the front first with several objectives);
    a fidelity column when the study's trials ran at several fidelities."""
    board = study.leaderboard()
    front = {t.number for t in study.front()} if study.multi_objective else set()
    shown = board_shown(study, n)
    if not shown:
        return '<section id="leaderboard"><h2>Leaderboard</h2><p class="muted">no completed trial yet</p></section>'
    cols = _metric_columns(study, shown)
    head = "".join(f"<th>{esc(m + unit(m))}</th>" for m in cols)
    several = F.several(study, study.trials())
    rows = []
    for i, t in enumerate(shown, 1):
        cells = "".join(f"<td>{value_text(m, t.metrics.get(m))}</td>" for m in cols)
        mark = " ★" if t.number in front else ""
        final = f"<td>{final_text(t.final)}</td>" if retrains else ""
        fid = f'<td class="nw">{esc(F.fidelity_text(F.effective(study, t)))}</td>' if several else ""
        rows.append(f'<tr><td>{i}</td><td class="nw"><a href="{esc(link(t.number))}">#{t.number}</a>{mark}</td>{fid}'
                    f'{cells}{final}<td class="l">{esc(t.arch.describe())}</td></tr>')
    what = ("Pareto-optimal trials (★) first, then the rest by " if study.multi_objective else "by ") \
        + f"validation {study.objectives[0][0]}"
    ranked = (" Trials ran at several fidelities; only those at the highest a complete trial reached are ranked "
              "(the others are in the section on fidelities)." if several else "")
    return (f'<section id="leaderboard"><h2>Leaderboard</h2><p class="muted">Top {len(shown)} of {len(board)} '
            f'complete trials that meet every constraint, {esc(what)}.{ranked}</p><table><tr><th>rank</th>'
            f'<th>trial</th>{"<th>fidelity</th>" if several else ""}'
            f'{head}{f"<th>{esc(final_label(study))} (seeds)</th>" if retrains else ""}<th class="l">architecture</th></tr>'
            f'{"".join(rows)}</table></section>')


def fidelities(study, trials, top: int = 5, board_n: int = 10, sink: dict | None = None) -> str:
    """Fidelities and learning curves: a table of the trials per fidelity (rung) with their time, the number
    stopped early and continued from a checkpoint, and the learning curves; nothing for a study whose trials
    ran at one fidelity, stored no learning curve and had none stopped."""
    if not F.shown(study, trials):
        return ""
    metric, way = study.objectives[0]
    rows = F.rungs(study, trials)
    cells = []
    for r in rows:
        share = "" if r["share"] is None else f"{100 * r['share']:.1f}"
        cells.append(f'<tr class="{"ranked" if r["ranked"] else ""}"><td class="l nw">{esc(r["label"])}'
                     f'{" (ranked)" if r["ranked"] else ""}</td><td>{r["trials"]}</td><td>{r["complete"]}</td>'
                     f'<td>{r["stopped"]}</td><td>{r["failed"]}</td><td>{r["promoted"]}</td>'
                     f'<td>{value_text(metric, r["best"])}</td><td>{r["seconds"]:.1f}</td><td>{share}</td></tr>')
    table = (f'<table id="rungs"><tr><th class="l">fidelity</th><th>trials</th><th>complete</th><th>stopped</th>'
             f'<th>failed / infeasible</th><th>promoted</th><th>best {esc(metric + unit(metric))} ({esc(way)})</th>'
             f'<th>seconds</th><th>% of trial time</th></tr>{"".join(cells)}</table>')
    said = []
    if len(rows) > 1:
        ranked = next((r["label"] for r in rows if r["ranked"]), None)
        below = F.below_top_share(rows)
        said.append(f"The trials ran at {len(rows)} fidelities; the leaderboard and the front rank only those at "
                    f"{ranked or 'the top one'}" + (f", and {100 * below:.1f} % of all trial time went to the "
                                                   f"fidelities below it" if below is not None else "") + ".")
        said.append("Promoted: trials that continued a trial of a lower fidelity (they have a parent).")
    rules = F.stopped_rules(trials)
    stopped = sum(rules.values())
    how = ", ".join(f"{n} by the {rule} rule" if rule != "?" else f"{n} by an unnamed rule"
                    for rule, n in sorted(rules.items()))
    said.append(f"{stopped} trial{'s were' if stopped != 1 else ' was'} stopped early" + (f" ({how})" if how else "")
                + f"; {F.continued(trials)} continued training from a checkpoint.")
    text = f'<p class="muted">{" ".join(esc(x) for x in said)}</p>'
    curves = F.with_curves(trials)
    if curves:
        board = board_shown(study, board_n)
        chosen, total = F.select(study, trials, board)
        shown_metric = F.curve_metric(study, trials) or ""
        named = F.curve_label(shown_metric)
        caption = (f"{named[:1].upper()}{named[1:]} at each evaluation during training, one line per trial; stopped "
                   f"trials dashed and ending in a cross"
                   + (f", the leaderboard's top {min(top, len(board))} in colour. " if board else ". ")
                   + (f"Drawn: {len(chosen)} of the {total} trials with a learning curve (the {F.CAP} best by "
                      f"{metric} and every trial on the leaderboard)." if len(chosen) < total
                      else f"All {total} trials with a learning curve are drawn.")
                   + " A trial continued from a checkpoint shows the points of the run it continued.")
        fig = plots.learning_curves(study, trials, shown_metric, highlight=board[:top], board=board)
        text += figure(fig, caption, "learning-curves", sink)
    else:
        text += '<p class="muted">No trial stored a learning curve.</p>'
    return f'<section id="fidelity"><h2>Fidelities and learning curves</h2>{table}{text}</section>'


def _budget_text(study) -> str:
    """The training budget per trial as the study knows it: archscout's own training, or what a user's evaluator
    was offered (its loop decides what it trains; archscout never sees it)."""
    if not study.evaluator_spec.trains:
        return "—"
    if study.evaluator_spec.name == "python":
        return (f"set by the evaluator's own loop (ctx.train offered "
                f"{study.train_config.budget_key()}, which it may ignore)")
    return study.train_config.budget_key()


def finals(study, link: Callable[[int], str]) -> str:
    """The final retrainings: test accuracy per seed, mean ± std, and INT8 where it was measured."""
    retrained = sorted((t for t in study.trials("complete") if t.final),
                       key=lambda t: -final_key(t.final))
    if not retrained:
        return ('<section id="final"><h2>Final test accuracy</h2><p class="muted">no trial retrained yet (a search '
                'retrains its best at the end; `archscout export` retrains one on demand)</p></section>')
    int8 = any("test_accuracy_int8_mean" in t.final for t in retrained)
    inherited = any("test_accuracy_inherited_mean" in t.final for t in retrained)
    rows = []
    for t in retrained:
        f = t.final
        seeds = ", ".join(f"{100 * a:.2f}" for a in f.get("test_accuracies", []))
        q = (f"<td>{100 * f['test_accuracy_int8_mean']:.2f} ± {100 * f['test_accuracy_int8_std']:.2f}</td>"
             if "test_accuracy_int8_mean" in f else "<td></td>") if int8 else ""
        h = (f"<td>{100 * f['test_accuracy_inherited_mean']:.2f}</td>" if "test_accuracy_inherited_mean" in f
             else "<td></td>") if inherited else ""
        rows.append(f'<tr><td><a href="{esc(link(t.number))}">#{t.number}</a></td><td>{final_text(f)}</td>'
                    f'<td class="l">{seeds}</td>{h}{q}<td class="l">{esc(t.arch.describe())}</td></tr>')
    head = ("<th>test acc % with inherited weights (before fine-tuning)</th>" if inherited else "") \
        + ("<th>INT8 test acc %</th>" if int8 else "")
    how = ("by the evaluator's own loop" if study.evaluator_spec.name == "python"
           else f"with {esc(study.final_train.budget_key())}")
    label = final_label(study)
    title = "Final test accuracy" if label == "test acc %" else "Final test scores"
    return (f'<section id="final"><h2>{title}</h2><p class="muted">Retrained on the training and '
            f'validation data {how}, scored once on the test split (never '
            f'used for selection).</p><table><tr><th>trial</th><th>{esc(label)} (seeds)</th>'
            f'<th class="l">per seed</th>{head}<th class="l">architecture</th></tr>{"".join(rows)}</table>'
            f'{diagnosis(study)}</section>')


def diagnosis(study) -> str:
    """The diagnostics of a real-training search (validation resolution, search-vs-final rank agreement,
    repeated-seed validation) as a list, or nothing."""
    from ..study.diagnostics import lines

    said = lines(study)
    if not said:
        return ""
    return "<h3>How far the ranking can be trusted</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in said) + "</ul>"


def progress_figures(study, sink: dict | None = None) -> str:
    """Best so far against trials and against wall time; the front; hypervolume with several objectives."""
    parts = [figure(plots.history(study, "trials"), name="best-vs-trials", sink=sink),
             figure(plots.history(study, "time"), "Wall time counts the time the search ran (its sessions), so "
                    "pauses between sessions are left out.", "best-vs-time", sink)]
    out = f'<section id="progress"><h2>Search progress</h2>{"".join(parts)}</section>'
    front_caption = ("Every complete trial within the constraints; Pareto-optimal ones in red and numbered, "
                     "dominated ones grey." + (" With more than two objectives each panel is a projection."
                                               if len(study.objectives) > 2 else ""))
    out += (f'<section id="front"><h2>Pareto front</h2>'
            f'{figure(plots.front(study), front_caption, "front", sink)}</section>')
    if study.multi_objective:
        out += (f'<section id="hypervolume"><h2>Hypervolume</h2>'
                f'{figure(plots.hypervolume(study), name="hypervolume", sink=sink)}</section>')
    return out


def top_architectures(study, n: int, link: Callable[[int], str], sink: dict | None = None) -> str:
    shown = (study.front() if study.multi_objective else study.leaderboard())[:n]
    if not shown:
        return ""
    cards = "".join(f'<div class="card"><a href="{esc(link(t.number))}">#{t.number}</a>'
                    f'{figure(plots.architecture(t.arch, _arch_title(study, t)), "", f"architecture-{t.number}", sink)}'
                    f'</div>' for t in shown)
    return f'<section id="architectures"><h2>Top architectures</h2><div class="grid">{cards}</div></section>'


def _arch_title(study, t) -> str:
    m0 = study.objectives[0][0]
    head = f"#{t.number}"
    if t.metrics.get(m0) is not None:
        head += f"  {m0} {value_text(m0, t.metrics[m0])}{unit(m0)}"
    if "params" in t.metrics and m0 != "params":
        head += f"  params {t.metrics['params']:,}"
    return head if t.status == "complete" else f"{head}  ({t.status})"


def trials_table(study, trials, link: Callable[[int], str] | None, expand: bool, limit: int | None = None) -> str:
    """Every trial, newest first: status, objectives, duration, the reason of a failure; ``expand`` adds
    each trial's stored metrics and details (the report), else rows link to trial pages (the dashboard).
    ``limit``: show only the newest that many."""
    cols = [m for m, _ in study.objectives]
    head = "".join(f"<th>{esc(m + unit(m))}</th>" for m in cols)
    several = F.several(study, trials)
    rows = []
    newest = sorted(trials, key=lambda t: -t.number)
    shown = newest[:limit] if limit else newest
    note = (f'<p class="muted">The newest {len(shown)} of {len(trials)} trials; the report '
            f'(archscout report) lists them all.</p>' if len(shown) < len(trials) else "")
    for t in shown:
        cells = "".join(f"<td>{value_text(m, t.metrics.get(m))}</td>" for m in cols)
        name = f'<a href="{esc(link(t.number))}">#{t.number}</a>' if link else f"#{t.number}"
        reason = esc(t.error or "")
        extra = ""
        if expand:
            stored = pre({"metrics": t.metrics, "details": t.details})
            extra = f'<details><summary>metrics and details</summary>{stored}</details>'
        fid = f'<td class="nw">{esc(F.fidelity_text(F.effective(study, t)))}</td>' if several else ""
        rows.append(f'<tr class="{esc(t.status)}" id="trial-{t.number}"><td>{name}</td>'
                    f'<td class="status l">{esc(t.status)}</td>{fid}{cells}'
                    f'<td>{"" if t.duration is None else f"{t.duration:.1f}"}</td>'
                    f'<td class="l">{esc(t.arch.describe())}</td><td class="l">{reason}{extra}</td></tr>')
    return (f'<section id="trials"><h2>All trials ({len(trials)})</h2>{note}<table><tr><th>trial</th>'
            f'<th class="l">status</th>{"<th>fidelity</th>" if several else ""}{head}<th>seconds</th><th class="l">architecture</th>'
            f'<th class="l">reason / details</th></tr>{"".join(rows)}</table></section>')


def trial_detail(study, trial) -> str:
    """One trial: status and reason, every metric, the final retrainings, details, the drawing and the JSON."""
    rows = [("status", trial.status), ("reason", trial.error or ""), ("architecture", trial.arch.describe()),
            ("architecture id", trial.arch.id), ("budget", trial.budget), ("seed", trial.seed),
            ("started", when(trial.started_at)), ("finished", when(trial.finished_at)),
            ("seconds", "" if trial.duration is None else f"{trial.duration:.2f}")]
    rows += _fidelity_rows(study, trial)
    if trial.final:
        rows.append((f"final {final_label(trial.final)} (seeds)", final_text(trial.final)))
    info = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows if v != "")
    metrics = "".join(f"<tr><td>{esc(k)}</td><td>{value_text(k, v)}{unit(k)}</td></tr>"
                      for k, v in sorted(trial.metrics.items()))
    drawing = figure(plots.architecture(trial.arch, _arch_title(study, trial)))
    curve = (f'<section id="curve"><h2>Learning curve</h2>{figure(plots.trial_curves(trial, _curve_order(study, trial)))}'
             f'</section>' if F.with_curves([trial]) else "")
    return (f'<section id="trial"><h2>Trial #{trial.number}</h2><table class="kv">{info}</table></section>'
            f'<section id="metrics"><h2>Metrics</h2>'
            + (f'<table class="kv">{metrics}</table>' if metrics else '<p class="muted">none stored</p>')
            + f'</section>{curve}<section id="drawing"><h2>Architecture</h2>{drawing}'
            f'{pre(trial.arch.to_dict())}</section><section id="details"><h2>Details</h2>{pre(trial.details)}'
            f'</section>')


def _fidelity_rows(study, trial) -> list[tuple[str, str]]:
    """A trial's fidelity, what it continued from, its rung and bracket, and why it was stopped early."""
    d = trial.details or {}
    rows = []
    if trial.fidelity or study.top_fidelity:
        rows.append(("fidelity", F.fidelity_text(F.effective(study, trial))))
    if trial.parent is not None:
        rows.append(("promoted from", f"#{trial.parent}"))
    went_on = d.get("continued_from")
    if isinstance(went_on, dict):
        source = f"trial #{went_on['trial']}" if went_on.get("trial") is not None else "a checkpoint"
        rows.append(("continued from", f"{source} at step {went_on.get('step', '?')}"))
    for key in ("rung", "bracket"):
        if d.get(key) is not None:
            rows.append((key, str(d[key])))
    stop = d.get("stopped")
    if isinstance(stop, dict):
        threshold = stop.get("threshold")
        rows.append(("stopped early", f"at step {stop.get('step', '?')} by the {stop.get('rule', '?')} rule"
                     + (f" (threshold {threshold:.4g})" if isinstance(threshold, (int, float)) else "")))
    return rows


def _curve_order(study, trial) -> list[str]:
    """The metrics of a trial's learning curve, the one the study's plot shows first."""
    names = F.curve_metrics([trial])
    first = F.curve_metric(study, [trial])
    return sorted(names, key=lambda m: m != first)


def report(study, top: int = 5, sink: dict | None = None) -> str:
    """The whole report as one HTML document; with a ``sink`` (a dict), each figure's PNG is put there too."""
    with study.snapshot() as trials:
        return _report(study, trials, top, sink)


def _report(study, trials, top: int, sink: dict | None) -> str:
    anchor = lambda n: f"#trial-{n}"  # noqa: E731
    retrains = study.evaluator_spec.needs_task  # lookup evaluators have no network to retrain
    body = (summary(study, trials) + leaderboard(study, max(top, 10), anchor, retrains)
            + (finals(study, anchor) if retrains else "")
            + (progress_figures(study, sink) if study.leaderboard(1) else "")
            + fidelities(study, trials, top, max(top, 10), sink)
            + supernet_section(study, figure, esc, sink)
            + differentiable_section(study, trials, figure, esc, sink)
            + precision_section(study, trials, figure, esc, sink)
            + top_architectures(study, top, anchor, sink) + trials_table(study, trials, None, expand=True))
    done = bool(study.leaderboard(1))  # the figures and drawings need a completed trial
    nav = [("#summary", "study"), ("#leaderboard", "leaderboard")] \
        + ([("#final", "final test accuracy")] if retrains else []) \
        + ([("#progress", "progress"), ("#front", "Pareto front")] if done else []) \
        + ([("#hypervolume", "hypervolume")] if done and study.multi_objective else []) \
        + ([("#fidelity", "fidelities and learning curves")] if F.shown(study, trials) else []) \
        + ([("#supernet", "supernet")] if study.evaluator_spec.name == "supernet" else []) \
        + ([("#differentiable", "differentiable search")] if searched(trials) else []) \
        + ([("#precision", "graph and precision search")] if precision_searched(trials) else []) \
        + ([("#architectures", "top architectures")] if done else []) + [("#trials", "all trials")]
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return page(f"archscout report: {study.name}", f"written {made} from {esc(study.storage.shown_url)}", body, nav)


# the PNG files a report writes: an earlier report's are replaced, any other file in the folder is left alone
REPORT_PNG = re.compile(r"(best-vs-trials|best-vs-time|front|hypervolume|learning-curves|supernet-training|"
                        r"supernet-check|differentiable-\d+|precision-\d+|architecture-\d+)\.png")


def write_report(study, path: str | None = None, top: int = 5) -> dict:
    """Write the report to ``path`` (default ``STUDY-report.html`` next to the SQLite file) and each figure
    as a PNG in the folder ``STUDY-report-plots`` beside it. Returns the paths written."""
    import os

    from ..errors import ArchscoutError
    from .front import plots_dir

    path = path or os.path.join(plots_dir(study.storage.url), f"{study.name}-report.html")
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise ArchscoutError(f"cannot write the report {path!r}: it names a folder; give the report's file name, "
                             f"e.g. report.html")
    folder = os.path.splitext(path)[0] + "-plots"
    parent = os.path.dirname(os.path.abspath(path))
    existing = parent  # checked before the figures are drawn, which takes seconds
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise ArchscoutError(f"cannot write the report {path!r}: {existing!r} is not a writable folder")
    sink: dict[str, bytes] = {}
    text = report(study, top, sink)
    try:
        os.makedirs(parent, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):  # the figures of an earlier report (other top trials) would linger
            if REPORT_PNG.fullmatch(old):
                os.remove(os.path.join(folder, old))
        pngs = []
        for name, data in sink.items():
            pngs.append(os.path.join(folder, f"{name}.png"))
            with open(pngs[-1], "wb") as f:
                f.write(data)
    except OSError as e:
        raise ArchscoutError(f"cannot write the report {path!r}: {e.strerror or e}") from None
    return {"html": path, "png": pngs, "bytes": len(text.encode())}
