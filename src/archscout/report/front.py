"""The Pareto front of a multi-objective study: a table, 2-D front plots and hypervolume over trials."""
from __future__ import annotations

import os
from urllib.parse import unquote

from rich.table import Table

from ..metrics import base_name


def fmt_metric(metric: str, value) -> str:
    """A metric value as people read it: accuracies in %, counts with separators, the rest to 4 figures."""
    if value is None:
        return ""
    base = base_name(metric)
    if base in ("accuracy", "test_accuracy", "predicted_accuracy"):
        return f"{100 * value:.2f}"
    if base in ("params", "flops", "size_bytes"):
        return f"{int(value):,}"
    return f"{value:.4g}"


def heading(metric: str, way: str) -> str:
    unit = " %" if base_name(metric) in ("accuracy", "test_accuracy", "predicted_accuracy") else ""
    return f"{metric}{unit} ({way})"


def front_table(study) -> Table:
    """One row per trial on the front, best first objective first, with every objective and the final test
    accuracy of retrained trials."""
    front = study.front()
    names = ", ".join(f"{m} {w}" for m, w in study.objectives)
    table = Table(title=f"study {study.name}: Pareto front of {len(front)} trials ({names})")
    finals = any(t.final for t in front)
    for col in ["trial"] + [heading(m, w) for m, w in study.objectives] + (["test acc % (seeds)"] if finals else []):
        table.add_column(col, justify="right", overflow="fold")
    table.add_column("architecture", justify="left", overflow="fold")
    for t in front:
        cells = [f"#{t.number}"] + [fmt_metric(m, t.metrics.get(m)) for m, _ in study.objectives]
        if finals:
            f = t.final
            cells.append(f"{100 * f['test_accuracy_mean']:.2f} ± {100 * f['test_accuracy_std']:.2f} ({f['seeds']})"
                         if f else "")
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = folder or plots_dir(study.storage.url)
    os.makedirs(folder, exist_ok=True)
    paths = []
    board = study.leaderboard()
    front = study.front()
    (m0, w0), others = study.objectives[0], study.objectives[1:]
    fig, axes = plt.subplots(1, len(others), figsize=(5.2 * len(others), 4.2), squeeze=False)
    for ax, (m, w) in zip(axes[0], others):
        ax.scatter([t.metrics[m] for t in board], [t.metrics[m0] for t in board], s=12, c="0.7",
                   label=f"complete trials ({len(board)})")
        pts = sorted((t.metrics[m], t.metrics[m0]) for t in front)
        # two objectives: the front as a staircase; more: this panel is a projection, so points only
        style = "o-" if len(study.objectives) == 2 else "o"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, c="C3", ms=5, drawstyle="steps-post"
                if w == "min" and w0 == "max" else "default", label=f"Pareto front ({len(front)})")
        ax.set_xlabel(f"{m} ({w})")
        ax.set_ylabel(f"{m0} ({w0})")
        if base_name(m) in ("params", "flops", "size_bytes"):
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{study.name}: front after {len(study.trials())} trials")
    fig.tight_layout()
    path = os.path.join(folder, f"{study.name}-front.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    history = [(f["finished"], f["hypervolume"]) for f in study.fronts() if f["hypervolume"] is not None]
    if history:
        fig, ax = plt.subplots(figsize=(5.6, 3.8))
        ax.plot([h[0] for h in history], [h[1] for h in history], c="C0")
        ax.set_xlabel("finished trials")
        ax.set_ylabel("hypervolume")
        ref = study.reference_point or {}
        ax.set_title(f"{study.name}: hypervolume\nreference point {', '.join(f'{k}={v:.4g}' for k, v in ref.items())}",
                     fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = os.path.join(folder, f"{study.name}-hypervolume.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
