"""The Pareto front of a multi-objective study: a table, 2-D front plots and hypervolume over trials."""
from __future__ import annotations

import os
from urllib.parse import unquote

from rich.table import Table

from ..metrics import PERCENT, base_name, final_headline


def unit(metric: str) -> str:
    return " %" if base_name(metric) in PERCENT else ""


def final_label(study_or_final) -> str:
    """How the headline test metric is headed in a table: "test acc %" or "test R²"."""
    final = study_or_final if isinstance(study_or_final, dict) else next(
        (t.final for t in study_or_final.trials("complete") if t.final), {})
    metric = final_headline(final)
    if metric is None or metric == "test_accuracy":
        return "test acc %"
    return "test R²" if metric == "test_r2" else metric


def final_text(final: dict) -> str:
    """A final retraining summary: the headline test metric's mean ± std (accuracy in %, R² as it is) and the
    number of seeds."""
    metric = final_headline(final)
    if metric is None:
        return ""
    scale = 100 if metric == "test_accuracy" else 1
    digits = 2 if scale == 100 else 4
    return (f"{scale * final[metric + '_mean']:.{digits}f} ± {scale * final[metric + '_std']:.{digits}f} "
            f"({final['seeds']})")


def fmt_metric(metric: str, value) -> str:
    """A metric value as people read it: accuracies in %, counts with separators, the rest to 4 figures."""
    if value is None:
        return ""
    base = base_name(metric)
    if base in PERCENT:
        return f"{100 * value:.2f}"
    if base in ("params", "flops", "size_bytes"):
        return f"{int(value):,}"
    return f"{value:.4g}"


def heading(metric: str, way: str) -> str:
    return f"{metric}{unit(metric)} ({way})"


def front_table(study) -> Table:
    """One row per trial on the front, best first objective first, with every objective and the final test
    accuracy of retrained trials."""
    front = study.front()
    names = ", ".join(f"{m} {w}" for m, w in study.objectives)
    table = Table(title=f"study {study.name}: Pareto front of {len(front)} trials ({names})")
    finals = any(t.final for t in front)
    for col in ["trial"] + [heading(m, w) for m, w in study.objectives] + ([f"{final_label(study)} (seeds)"] if finals else []):
        table.add_column(col, justify="right", overflow="fold")
    table.add_column("architecture", justify="left", overflow="fold")
    for t in front:
        cells = [f"#{t.number}"] + [fmt_metric(m, t.metrics.get(m)) for m, _ in study.objectives]
        if finals:
            cells.append(final_text(t.final))
        table.add_row(*cells, t.arch.describe())
    return table


def plots_dir(storage_url: str) -> str:
    """Where a study's plots go: next to its SQLite file, else the current folder."""
    if storage_url.startswith("sqlite:///"):
        path = unquote(storage_url[len("sqlite:///"):].split("?", 1)[0])
        if path and path != ":memory:":
            return os.path.dirname(os.path.abspath(path))
    return os.getcwd()


def write_plots(study, folder: str | None = None) -> list[str]:
    """``STUDY-front.png`` (every complete trial, the front highlighted; one panel per pair of the first
    objective with another) and ``STUDY-hypervolume.png`` (hypervolume after each trial). Returns the paths."""
    from . import plots

    folder = folder or plots_dir(study.storage.url)
    os.makedirs(folder, exist_ok=True)
    figures = [("front", plots.front(study))]
    if any(f["hypervolume"] is not None for f in study.fronts()):
        figures.append(("hypervolume", plots.hypervolume(study)))
    paths = []
    for name, fig in figures:
        paths.append(os.path.join(folder, f"{study.name}-{name}.png"))
        fig.savefig(paths[-1], dpi=110)
    return paths
