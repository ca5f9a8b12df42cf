"""A study's trials as a pandas DataFrame (see :meth:`Study.trials_dataframe
<archscout.study.Study.trials_dataframe>`); pandas loads only when one is asked for."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .study import Study

FIRST_COLUMNS = ["number", "status", "architecture", "arch_id", "arch_json", "started", "finished", "duration_s",
                 "budget", "seed", "error", "feasible", "on_front"]
FINAL_COLUMNS = ["test_accuracy_mean", "test_accuracy_std", "final_seeds"]


def trials_dataframe(study: Study, status: str | None = None):
    """One row per trial in number order: the columns above, one per stored metric (objectives first) between
    them, and the final retraining's summary last."""
    import pandas as pd

    with study.snapshot():  # rows, feasibility and the front from one read while a search goes on
        trials = study.trials(status)
        feasible = {t.number for t in study.leaderboard()}
        on_front = {t.number for t in study.front()}
    first = [m for m, _ in study.objectives]
    metrics = first + sorted({k for t in trials for k in t.metrics} - set(first))

    def stamp(v):
        return None if v is None else pd.Timestamp(v, unit="s", tz="UTC")

    rows = []
    for t in trials:
        row = {"number": t.number, "status": t.status, "architecture": t.arch.describe(), "arch_id": t.arch.id,
               "arch_json": t.arch.to_json(), "started": stamp(t.started_at), "finished": stamp(t.finished_at),
               "duration_s": t.duration, "budget": t.budget, "seed": t.seed, "error": t.error,
               "feasible": t.number in feasible, "on_front": t.number in on_front}
        row.update({m: t.metrics.get(m) for m in metrics})
        row.update({"test_accuracy_mean": t.final.get("test_accuracy_mean"),
                    "test_accuracy_std": t.final.get("test_accuracy_std"), "final_seeds": t.final.get("seeds", 0)})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*FIRST_COLUMNS, *metrics, *FINAL_COLUMNS])
