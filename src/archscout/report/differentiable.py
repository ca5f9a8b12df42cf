"""The differentiable-search part of a study's report: the architecture weights per edge over the search.

For every trial recorded by a differentiable method (``details["differentiable"]``): one panel per edge of
the cell with the weight of each operation (the softmax of ``alpha``; for PC-DARTS times the edge's
normalised ``beta``) at every check, the dominant Hessian eigenvalue beside them, and what the search
flagged (collapse, an early stop).
"""
from __future__ import annotations

from . import plots


def searched(trials) -> list:
    return [t for t in trials if isinstance((t.details or {}).get("differentiable"), dict)]


def weights_figure(trial):
    d = trial.details["differentiable"]
    history, ops = d["history"], d["operations"]
    fig, axes = plots._figure(2.6, 2.4, panels=7)
    steps = [h["step"] for h in history]
    for k, ax in enumerate(axes[:6]):
        for i, op in enumerate(ops):
            ax.plot(steps, [h["probabilities"][k][i] for h in history], label=op, lw=1.2)
        ax.set_title(f"edge e{k}", fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("operation weight", fontsize=7)
    axes[0].legend(fontsize=6, loc="upper left")
    axes[6].plot(steps, [h["eigenvalue"] for h in history], "k-o", ms=2)
    axes[6].set_title("dominant Hessian eigenvalue", fontsize=8)
    axes[6].tick_params(labelsize=6)
    axes[6].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def section(study, trials, figure, esc, sink: dict | None = None) -> str:
    found = searched(trials)
    if not found:
        return ""
    parts = []
    for t in found:
        d = t.details["differentiable"]
        said = [f"#{t.number}: {d['method']}, {d['steps_run']:,} steps ({d['seconds']:.0f} s, "
                f"{1000 * d['seconds_per_step']:.0f} ms a step, peak memory {d['peak_rss_mb']:.0f} MB), derived "
                f"{t.arch.describe()}, {d['parameter_free_edges']} of 6 edges parameter-free"]
        if d["collapsed"]:
            said.append("flagged: collapsed (mostly parameter-free operations)")
        if d["stopped_early_at"]:
            said.append(f"stopped early at step {d['stopped_early_at']} (the Hessian's dominant eigenvalue grew); "
                        f"the cell derived two checks earlier was kept")
        parts.append(f'<p class="muted">{esc("; ".join(said))}.</p>'
                     + figure(weights_figure(t), "The weight of each operation on each edge during the search, and "
                              "the dominant eigenvalue of the validation loss's Hessian with respect to the "
                              "architecture parameters.", f"differentiable-{t.number}", sink))
    return f'<section id="differentiable"><h2>Differentiable search</h2>{"".join(parts)}</section>'
