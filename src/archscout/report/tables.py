"""Leaderboards and summaries as rich tables."""
from __future__ import annotations

from rich.table import Table


def _fmt_final(final: dict) -> str:
    if not final:
        return ""
    return f"{100 * final['test_accuracy_mean']:.2f} ± {100 * final['test_accuracy_std']:.2f} ({final['seeds']})"


def leaderboard_table(study, n: int = 10) -> Table:
    board = study.leaderboard(n)
    table = Table(title=f"study {study.name}: top {len(board)} by validation {study.objective}")
    for col, just in [("rank", "right"), ("trial", "right"), ("val acc %", "right"), ("test acc % (seeds)", "right"),
                      ("params", "right"), ("MFLOPs", "right"), ("latency ms", "right"), ("train s", "right"),
                      ("architecture", "left")]:
        table.add_column(col, justify=just, overflow="fold")
    for i, t in enumerate(board, 1):
        m = t.metrics
        table.add_row(str(i), f"#{t.number}", f"{100 * m['accuracy']:.2f}", _fmt_final(t.final),
                      f"{m['params']:,}", f"{m['flops'] / 1e6:.3f}", f"{m['latency_ms']:.3f}",
                      f"{m['train_seconds']:.1f}", t.arch.describe())
    return table


def studies_table(rows: list[dict]) -> Table:
    table = Table(title="studies")
    for col in ("study", "task", "space", "strategy", "complete", "failed", "infeasible", "interrupted",
                "search min"):
        table.add_column(col)
    for r in rows:
        c, counts = r["config"], r["counts"]
        table.add_row(r["name"], c["task"], c["space"], c["strategy"],
                      *(str(counts.get(k, 0)) for k in ("complete", "failed", "infeasible", "interrupted")),
                      f"{r['search_seconds'] / 60:.1f}")
    return table
