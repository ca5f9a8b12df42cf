"""The differentiable-search part of a study's report: the architecture weights per edge over the search.

For every trial recorded by a differentiable method (``details["differentiable"]``): one panel per edge of
the cell with the weight of each operation (the softmax of ``alpha``; for PC-DARTS times the edge's
normalised ``beta``) at every check, the dominant Hessian eigenvalue beside them, and what the search
flagged (collapse, an early stop).
"""
from __future__ import annotations

from ..oneshot.differentiable.run import duration
from . import plots


def searched(trials) -> list:
    return [t for t in trials if isinstance((t.details or {}).get("differentiable"), dict)]


def search_time(study, trials) -> str:
    """The study's search time, seconds under a minute in seconds. A one-shot search counts its own session; one
    recorded before it did (search time 0) counts the time its search took."""
    seconds = study.search_seconds or sum(
        (t.details or {})[key].get("seconds") or 0.0 for t in trials for key in ("differentiable", "graph_precision")
        if isinstance((t.details or {}).get(key), dict))
    return duration(seconds)


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
    _finish(axes[6], "dominant Hessian eigenvalue")
    fig.tight_layout()
    return fig


def _finish(ax, title: str, legend: bool = False) -> None:
    ax.set_title(title, fontsize=8)
    if legend:
        ax.legend(fontsize=6)
    ax.tick_params(labelsize=6)
    ax.grid(alpha=0.3)


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
        if d["stopped_early_at"] and d.get("stop_reason") == "parameter-free":
            said.append(f"stopped early at step {d['stopped_early_at']} (the derived cell turned mostly "
                        f"parameter-free); the latest cell that was not was kept")
        elif d["stopped_early_at"]:
            window = (d.get("config") or {}).get("window", 2)
            said.append(f"stopped early at step {d['stopped_early_at']} (the Hessian's dominant eigenvalue grew); "
                        f"the cell derived {window} checks earlier was kept")
        parts.append(f'<p class="muted">{esc("; ".join(said))}.</p>'
                     + figure(weights_figure(t), "The weight of each operation on each edge during the search, and "
                              "the dominant eigenvalue of the validation loss's Hessian with respect to the "
                              "architecture parameters.", f"differentiable-{t.number}", sink))
    return f'<section id="differentiable"><h2>Differentiable search</h2>{"".join(parts)}</section>'


def precision_searched(trials) -> list:
    return [t for t in trials if isinstance((t.details or {}).get("graph_precision"), dict)]


def precision_figure(trial):
    """Per node the operator weights, per layer the expected weight bits, over the search."""
    d = trial.details["graph_precision"]
    history, ops, bits = d["history"], d["operation_names"], d["bits"]
    fig, axes = plots._figure(2.6, 2.4, panels=5)
    steps = [h["step"] for h in history]
    for k, ax in enumerate(axes[:4]):
        for i, op in enumerate(ops):
            ax.plot(steps, [h["operations"][k][i] for h in history], label=op, lw=1.2)
        ax.set_title(f"node op{k + 1}", fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("operator weight", fontsize=7)
    axes[0].legend(fontsize=6, loc="upper left")
    layers = list(d["weight_bits"])
    for j, layer in enumerate(layers):
        axes[4].plot(steps, [sum(p * b for p, b in zip(h["weight_bits"][j], bits)) for h in history], label=layer,
                     lw=1.2)
    _finish(axes[4], "expected weight bits per layer", legend=True)
    fig.tight_layout()
    return fig


def precision_section(study, trials, figure, esc, sink: dict | None = None) -> str:
    found = precision_searched(trials)
    if not found:
        return ""
    parts = []
    for t in found:
        d, m = t.details["graph_precision"], t.metrics or {}
        layers = [f"{k}: {d['operations'][k]}" if k in d["operations"] else k for k in d["weight_bits"]]
        bits = ", ".join(f"{name} (weights {'-' if w is None else w}, outputs {d['activation_bits'].get(k, 32)})"
                         for name, (k, w) in zip(layers, d["weight_bits"].items()))
        said = [f"#{t.number}: lpgnas-lite, {d['config']['steps']:,} steps ({d['seconds']:.0f} s, peak memory "
                f"{d['peak_rss_mb']:.0f} MB), derived on the tree {d['link']}: {bits}; as an architecture of the "
                f"space {t.arch.describe()}"]
        if d.get("collapsed"):
            said.append("flagged: every node's strongest operator was skip (one node kept its next best)")
        if "accuracy@mixed" in m:
            said.append(f"validation accuracy {100 * m['accuracy']:.2f} % in fp32 "
                        f"({m['size_bytes@fp32'] / 1024:.1f} KiB), {100 * m['accuracy@mixed']:.2f} % quantised "
                        f"({m['size_bytes@mixed'] / 1024:.1f} KiB, simulated quantisation)")
        parts.append(f'<p class="muted">{esc("; ".join(said))}.</p>'
                     + figure(precision_figure(t), "The weight of each operator on each node during the search, "
                              "and each layer's expected weight bits.", f"precision-{t.number}", sink))
    return f'<section id="precision"><h2>Graph and precision search</h2>{"".join(parts)}</section>'
