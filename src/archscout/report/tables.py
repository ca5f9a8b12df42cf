"""Leaderboards and summaries as rich tables."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.table import Table

# optional columns: (metric, heading, format); shown when the study's trials measure the metric
_COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
            ("test_accuracy", "test acc % (table)", lambda v: f"{100 * v:.2f}"),
            ("params", "params", lambda v: f"{v:,}"),
            ("flops", "MFLOPs", lambda v: f"{v / 1e6:.3f}"),
            ("latency_ms", "latency ms", lambda v: f"{v:.3f}"),
            ("train_seconds", "train s", lambda v: f"{v:.1f}")]


def leaderboard_table(study, n: int = 10) -> Table:
    """The best ``n`` ranked trials; a fidelity column when the study's trials ran at several fidelities."""
    from . import fidelity as F
    from .front import final_label, final_text, fmt_metric

    with study.snapshot() as trials:
        board = study.leaderboard(n)
        several = F.several(study, trials)
    order = study.objective if len(study.objectives) == 1 else ", then ".join(f"{m} ({w})" for m, w in study.objectives)
    # proxies and predictions are not measured on validation data
    scored = "" if any(m.startswith(("proxy@", "predicted")) for m, _ in study.objectives) else "validation "
    table = Table(title=f"study {study.name}: top {len(board)} by {scored}{order}")
    shown = [c for c in _COLUMNS if any(c[0] in t.metrics for t in board)]
    known = {"accuracy"} | {c[0] for c in _COLUMNS}
    shown += [(m, m, partial(fmt_metric, m)) for m, _ in study.objectives if m not in known]
    finals = any(t.final for t in board)
    trained = any("accuracy" in t.metrics for t in board)  # training-free evaluators measure no accuracy
    headings = ["rank", "trial"] + (["fidelity"] if several else []) + (["val acc %"] if trained else []) + ([f"{final_label(study)} (seeds)"] if finals else []) \
        + [c[1] for c in shown]
    for col in headings:
        table.add_column(col, justify="right", overflow="fold")
    table.add_column("architecture", justify="left", overflow="fold")
    for i, t in enumerate(board, 1):
        m = t.metrics
        cells = [str(i), f"#{t.number}"] + ([F.fidelity_text(F.effective(study, t))] if several else [])
        if trained:
            cells.append(f"{100 * m['accuracy']:.2f}" if "accuracy" in m else "")
        cells += [final_text(t.final)] if finals else []
        cells += [fmt(m[key]) if key in m else "" for key, _, fmt in shown]
        table.add_row(*cells, t.arch.describe())
    return table


STATUS_COLUMNS = ("complete", "stopped", "failed", "infeasible", "interrupted")


def status_columns(rows: list[dict]) -> tuple[str, ...]:
    """The status columns of a list of studies: "stopped" (early-stopped trials of a multi-fidelity search) only
    when a study has such trials, the others always."""
    if any(r["counts"].get("stopped") for r in rows):
        return STATUS_COLUMNS
    return tuple(k for k in STATUS_COLUMNS if k != "stopped")


def studies_table(rows: list[dict]) -> Table:
    table = Table(title="studies")
    columns = status_columns(rows)
    for col in ("study", "task", "space", "strategy", *columns, "search min"):
        table.add_column(col)
    for r in rows:
        c, counts = r["config"], r["counts"]
        table.add_row(r["name"], c["task"], c["space"], c["strategy"], *(str(counts.get(k, 0)) for k in columns),
                      f"{r['search_seconds'] / 60:.1f}")
    return table
