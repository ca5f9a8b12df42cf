"""Figures of a study — best so far, Pareto fronts, hypervolume, architecture drawings — as matplotlib figures.

Each function returns a ``matplotlib.figure.Figure`` (shown inline in a notebook; ``fig.savefig`` writes a
PNG or SVG) and draws nothing itself. The HTML report, the dashboard and ``archscout front`` use them.
"""
from __future__ import annotations

import functools
import math
import threading

from ..metrics import PERCENT, base_name
from ..pareto import nondominated, to_minimise

_LOG = ("params", "flops", "size_bytes")
GREY, FRONT, LINE = "0.72", "C3", "C0"
STOPPED, HIGHLIGHT = "C1", ("C0", "C2", "C4", "C6", "C9", "C5", "C8", "C3")  # orange is for stopped trials only


_SVG_LOCK = threading.Lock()  # svg_text changes matplotlib's global rcParams for the length of a save


@functools.cache
def _figure_class():
    from matplotlib.figure import Figure  # not pyplot: no global list of figures to leak in a web server

    class StudyFigure(Figure):
        """A matplotlib Figure that a notebook shows as a PNG without pyplot's inline backend."""

        def _repr_png_(self):
            return png_bytes(self)

    return StudyFigure


def _figure(width: float, height: float, panels: int = 1):
    fig = _figure_class()(figsize=(width * panels, height))
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    return fig, axes


def _scale(metric: str) -> tuple[float, str]:
    """Accuracies in %, everything else as stored."""
    return (100.0, f"{metric} (%)") if base_name(metric) in PERCENT else (1.0, metric)


def _empty(fig, ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()
    return fig


def busy_seconds(intervals: list[tuple[float, float]], times: list[float]) -> list[float]:
    """For each of ``times``, the seconds before it during which at least one of the (start, end) intervals
    ran: the search's wall time with the idle gaps between sessions left out."""
    import bisect

    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [m[0] for m in merged]
    before = [0.0]  # busy seconds in the merged intervals before each one
    for start, end in merged:
        before.append(before[-1] + end - start)
    out = []
    for t in times:
        i = bisect.bisect_right(starts, t)  # intervals that started by t
        out.append(0.0 if i == 0 else before[i - 1] + min(t, merged[i - 1][1]) - merged[i - 1][0])
    return out


def finish_order(study) -> list:
    """The study's finished trials (any status) in the order they finished."""
    return sorted((t for t in study.trials() if t.finished_at is not None), key=lambda t: (t.finished_at, t.number))


def busy_intervals(study, finished: list) -> list[tuple[float, float]]:
    """When the study's search ran: its sessions (from start to stop, or to the last heartbeat of a process
    that died) and the trials that ran to an end. A trial interrupted by a crash is left out: its end is
    when a later session noticed, so its span covers the idle time in between."""
    spans = [(s.started_at, s.stopped_at or s.heartbeat_at) for s in study.storage.sessions(study.id)]
    spans += [(t.started_at, t.finished_at) for t in finished if t.status in ("complete", "infeasible", "stopped")]
    return spans


def history(study, x: str = "trials"):
    """Best validation objective so far after each finished trial (``x="trials"``) or against the search's
    wall time in minutes (``x="time"``, idle gaps between sessions removed); one panel per objective, each
    complete trial a grey dot, failures counted on the trial axis."""
    if x not in ("trials", "time"):
        raise ValueError(f"x must be 'trials' or 'time', got {x!r}")
    objectives = study.objectives[:3]
    fig, axes = _figure(5.0, 3.6, len(objectives))
    finished = finish_order(study)
    feasible = {t.number for t in study.leaderboard()}
    minutes = [b / 60 for b in busy_seconds(busy_intervals(study, finished), [t.finished_at for t in finished])]
    for ax, (metric, way) in zip(axes, objectives):
        factor, label = _scale(metric)
        xs, ys, best_x, best_y = [], [], [], []
        best = None
        for i, t in enumerate(finished, 1):
            pos = i if x == "trials" else minutes[i - 1]
            value = t.metrics.get(metric) if t.number in feasible else None
            if value is not None and math.isfinite(value):
                xs.append(pos)
                ys.append(value * factor)
                if best is None or (value > best if way == "max" else value < best):
                    best = value
            if best is not None:
                best_x.append(pos)
                best_y.append(best * factor)
        if not best_x:
            _empty(fig, ax, "no completed trial yet")
            continue
        ax.scatter(xs, ys, s=10, c=GREY, label="complete trials", zorder=2)
        ax.step(best_x, best_y, where="post", c=LINE, lw=1.8, label=f"best so far ({way})", zorder=3)
        ax.set_xlabel("finished trials" if x == "trials" else "search wall time (min)")
        ax.set_ylabel(f"validation {label}" if base_name(metric) in PERCENT + ("loss",) else label)
        if base_name(metric) in _LOG and min(ys) > 0:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if way == "max" else "upper right")
    fig.suptitle(f"{study.name}: best so far vs {'trials' if x == 'trials' else 'wall time'}", fontsize=10)
    fig.tight_layout()
    return fig


def front_pairs(study) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The (x, y) objective pairs a front plot shows: the first objective against each other one; a study
    with one objective against the costs its trials measured (params, latency)."""
    (m0, w0), others = study.objectives[0], list(study.objectives[1:])
    if not others:
        measured = {k for t in study.leaderboard() for k in t.metrics}
        others = [(m, "min") for m in ("params", "latency_ms") if m in measured and m != m0]
    return [((m, w), (m0, w0)) for m, w in others[:3]]


def front(study):
    """Every complete feasible trial in the plane of the first objective and each other objective (or each
    measured cost, for one objective): the Pareto-optimal trials in colour and numbered, dominated ones in
    grey. With more than two objectives a panel is a projection of the whole front."""
    pairs = front_pairs(study)
    fig, axes = _figure(5.2, 4.2, max(1, len(pairs)))
    board = study.leaderboard()
    if not pairs or not board:
        return _empty(fig, axes[0], "no completed trial yet" if not board else
                      "one objective and no measured cost: no front to draw")
    if study.multi_objective:
        on_front = {board[i].number for i in nondominated(study.minimised(board))}
    for panel, (ax, ((mx, wx), (my, wy))) in enumerate(zip(axes, pairs)):
        rows = [t for t in board if t.metrics.get(mx) is not None and t.metrics.get(my) is not None]
        if not study.multi_objective:  # the 2-D front of this pair
            F = to_minimise([[t.metrics[mx], t.metrics[my]] for t in rows], [wx, wy])
            on_front = {rows[i].number for i in nondominated(F)} if rows else set()
        fx, x_label = _scale(mx)
        fy, y_label = _scale(my)
        dominated = [t for t in rows if t.number not in on_front]
        best = sorted((t for t in rows if t.number in on_front), key=lambda t: t.metrics[mx])
        # the gids name the points' groups in an SVG (the dashboard's browser test counts them)
        ax.scatter([t.metrics[mx] * fx for t in dominated], [t.metrics[my] * fy for t in dominated], s=12, c=GREY,
                   label=f"dominated ({len(dominated)})", zorder=2, gid=f"archscout-dominated-{panel}")
        style = "o-" if len(study.objectives) <= 2 else "o"
        ax.plot([t.metrics[mx] * fx for t in best], [t.metrics[my] * fy for t in best], style, c=FRONT, ms=5,
                drawstyle="steps-post" if wx == "min" and wy == "max" and style == "o-" else "default",
                label=f"Pareto-optimal ({len(best)})", zorder=3, gid=f"archscout-front-{panel}")
        top = sorted(best, key=lambda t: t.metrics[my], reverse=wy == "max")[:8]  # more would overlap
        for t in top:
            ax.annotate(f"#{t.number}", (t.metrics[mx] * fx, t.metrics[my] * fy), fontsize=6, xytext=(3, 3),
                        textcoords="offset points", color="0.25")
        ax.set_xlabel(f"{x_label} ({wx})")
        ax.set_ylabel(f"{'validation ' if base_name(my) in PERCENT else ''}{y_label} ({wy})")
        if base_name(mx) in _LOG:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    kind = "Pareto front" if study.multi_objective else "trade-offs (one objective; fronts of each pair)"
    fig.suptitle(f"{study.name}: {kind}, {len(board)} complete trials", fontsize=10)
    fig.tight_layout()
    return fig


def hypervolume(study):
    """The stored hypervolume after each finished trial (studies with several objectives)."""
    fig, (ax,) = _figure(5.6, 3.8)
    history = [(f["finished"], f["hypervolume"]) for f in study.fronts() if f["hypervolume"] is not None]
    if not study.multi_objective:
        return _empty(fig, ax, "one objective: no hypervolume")
    if not history:
        return _empty(fig, ax, "no hypervolume yet (the reference point is fixed after the first results)")
    ax.step([h[0] for h in history], [h[1] for h in history], where="post", c=LINE)
    ax.set_xlabel("finished trials")
    ax.set_ylabel("hypervolume")
    ref = study.reference_point or {}
    ax.set_title(f"{study.name}: hypervolume\nreference point {', '.join(f'{k}={v:.4g}' for k, v in ref.items())}",
                 fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _plain(text: str) -> str:
    """Text matplotlib draws as it is: a ``$`` in a user's metric name would start mathtext."""
    return str(text).replace("$", r"\$")


def learning_curves(study, trials: list | None = None, metric: str | None = None, highlight: list | None = None,
                    board: list | None = None, cap: int | None = None):
    """The validation ``metric`` (default: the first objective when the curves hold it, else the task's own)
    against the training step, one line per trial that stored a learning curve (``details["learning_curve"]``):
    complete trials grey, trials stopped early dashed in orange and ending in a cross, the ``highlight`` trials
    (default: the leaderboard's best five) in colour with their numbers. At most the ``cap`` best by the first
    objective are drawn, plus every trial of ``board`` (default: the leaderboard). Dotted vertical lines mark
    the fidelities (in steps) the trials ran at."""
    from . import fidelity as F

    trials = study.trials() if trials is None else trials
    metric = metric or F.curve_metric(study, trials)
    fig, (ax,) = _figure(7.0, 4.2)
    if metric is None:
        return _empty(fig, ax, "no trial stored a learning curve")
    if board is None:
        board = study.leaderboard()
    if highlight is None:
        highlight = board[:5]
    chosen, total = F.select(study, trials, board, cap)
    factor, label = _scale(metric)
    marked = {t.number: i for i, t in enumerate(highlight)}
    drawn = {"complete": 0, "stopped": 0, "marked": 0}
    # the highlighted trials last and best first, so they lie on top and the legend lists them in rank order
    for t in sorted(chosen, key=lambda t: (t.number in marked, marked.get(t.number, 0))):
        xs, ys = F.curve(t, metric)
        if not xs:
            continue
        ys = [y * factor for y in ys]
        if t.number in marked:
            drawn["marked"] += 1
            i = marked[t.number]
            ax.plot(xs, ys, "-", c=HIGHLIGHT[i % len(HIGHLIGHT)], lw=1.8, zorder=10 - i / 100, marker="o", ms=2.5,
                    label=f"#{t.number}" + (" (stopped)" if t.status == "stopped" else ""))
        elif t.status == "stopped":
            drawn["stopped"] += 1
            ax.plot(xs, ys, "--", c=STOPPED, lw=0.9, alpha=0.7, zorder=3)
            ax.plot(xs[-1:], ys[-1:], "x", c=STOPPED, ms=5, zorder=3)
        else:
            drawn["complete"] += 1
            ax.plot(xs, ys, "-", c=GREY, lw=0.8, alpha=0.8, zorder=2)
    if not any(drawn.values()):
        return _empty(fig, ax, f"no learning curve holds {_plain(metric)}")
    # legend entries for the unlabelled groups
    if drawn["complete"]:
        ax.plot([], [], "-", c=GREY, lw=0.8, label=f"other trials ({drawn['complete']})")
    if drawn["stopped"]:
        ax.plot([], [], "--x", c=STOPPED, lw=0.9, ms=5, label=f"stopped early ({drawn['stopped']})")
    steps = sorted({float(f["steps"]) for f in (F.effective(study, t) for t in trials)
                    if f and isinstance(f.get("steps"), (int, float))})
    if len(steps) > 1:
        for s in steps:
            ax.axvline(s, c="0.55", lw=0.7, ls=":", zorder=1)
    ax.set_xlabel("training step")
    ax.set_ylabel(_plain(F.curve_label(metric, label)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    capped = f", {len(chosen)} of {total} drawn" if len(chosen) < total else ""
    ax.set_title(_plain(f"{study.name}: learning curves ({total} trials{capped})"), fontsize=9)
    fig.tight_layout()
    return fig


def trial_curves(trial, metrics: list[str] | None = None):
    """One trial's learning curve: a panel per metric (up to three; default the first ones it holds)."""
    from . import fidelity as F

    names = metrics or F.curve_metrics([trial])
    names = [m for m in names if F.curve(trial, m)[0]][:3]
    fig, axes = _figure(4.2, 3.0, max(1, len(names)))
    if not names:
        return _empty(fig, axes[0], "no learning curve stored")
    stop = (trial.details or {}).get("stopped")
    for ax, metric in zip(axes, names):
        xs, ys = F.curve(trial, metric)
        factor, label = _scale(metric)
        ax.plot(xs, [y * factor for y in ys], "o-", c=LINE, ms=3, lw=1.4)
        if isinstance(stop, dict) and isinstance(stop.get("step"), (int, float)):
            ax.axvline(stop["step"], c=STOPPED, ls="--", lw=0.9, label=f"stopped ({_plain(stop.get('rule', '?'))})")
            ax.legend(fontsize=7)
        ax.set_xlabel("training step")
        ax.set_ylabel(_plain(F.curve_label(metric, label)))
        ax.grid(alpha=0.3)
    fig.suptitle(f"trial #{trial.number}: learning curve", fontsize=9)
    fig.tight_layout()
    return fig


_SHORT = {"width": "w", "kernel": "k", "dilation": "d", "dropout": "p"}
_ORDER = ["width", "kernel", "dilation", "downsample", "norm", "act", "dropout", "precision"]


def node_label(node: dict) -> str:
    """An operator and its settings in two short lines: ``conv`` / ``w32 k5 d2 batch relu``."""
    parts = []
    attrs = node.get("attrs", {})
    for key, value in sorted(attrs.items(), key=lambda kv: (_ORDER.index(kv[0]) if kv[0] in _ORDER else 99, kv[0])):
        if key == "role" or value in ("none", None, False) or (key in ("dilation", "dropout") and value in (0, 1)):
            continue
        if value is True:
            parts.append(key)
        elif key in _SHORT:
            parts.append(f"{_SHORT[key]}{value}")
        else:
            parts.append(str(value))
    lines = [str(node["op"])]
    text = " ".join(parts)
    while text:
        cut = text.rfind(" ", 0, 22) if len(text) > 22 else len(text)
        cut = cut if cut > 0 else len(text)
        lines.append(text[:cut])
        text = text[cut:].strip()
    return "\n".join(lines)


def layers(graph: dict) -> dict[int, int]:
    """Each node's depth: the longest path to it from a node without inputs."""
    parents: dict[int, list[int]] = {n["id"]: [] for n in graph["nodes"]}
    for a, b in graph["edges"]:
        parents[b].append(a)
    depth: dict[int, int] = {}

    def visit(n: int) -> int:
        if n not in depth:
            depth[n] = 0  # guards against a cycle in a malformed graph
            depth[n] = 1 + max((visit(p) for p in parents[n]), default=-1)
        return depth[n]

    for n in parents:
        visit(n)
    return depth


def architecture(arch, title: str | None = None):
    """A drawing of the architecture as a graph of its operators (``arch.to_graph()``), top to bottom:
    one box per operator with its settings, an arrow per edge; edges that skip layers are curved."""
    from matplotlib.patches import FancyArrowPatch

    graph = arch.to_graph()
    depth = layers(graph)
    by_layer: dict[int, list[int]] = {}
    for n in sorted(depth):
        by_layer.setdefault(depth[n], []).append(n)
    widest = max(len(v) for v in by_layer.values())
    pos = {n: (i - (len(ids) - 1) / 2, -d) for d, ids in by_layer.items() for i, n in enumerate(ids)}
    fig, (ax,) = _figure(max(3.2, 1.9 * widest), 0.62 * len(by_layer) + 0.6)
    labels = {n["id"]: node_label(n) for n in graph["nodes"]}
    ops = sorted({n["op"] for n in graph["nodes"]})
    colours = {op: f"C{i % 10}" for i, op in enumerate(ops)}
    for a, b in graph["edges"]:
        skip = depth[b] - depth[a] > 1 and pos[a][0] == pos[b][0]
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-|>", mutation_scale=9, lw=0.9, color="0.35",
                                     shrinkA=11, shrinkB=11, connectionstyle=f"arc3,rad={0.55 if skip else 0}",
                                     zorder=1))
    for node in graph["nodes"]:
        x, y = pos[node["id"]]
        ax.text(x, y, labels[node["id"]], ha="center", va="center", fontsize=7, zorder=2,
                bbox=dict(boxstyle="round,pad=0.3", fc=colours[node["op"]], alpha=0.25, ec=colours[node["op"]]))
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(-max(by_layer) - 0.6, 0.6)
    ax.set_axis_off()
    ax.set_title(title or arch.describe(), fontsize=8, wrap=True)
    fig.tight_layout()
    return fig


def png_bytes(fig, dpi: int = 110) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def svg_text(fig) -> str:
    """The figure as an inline ``<svg>`` element (text drawn as paths, so no font is needed)."""
    import io

    import matplotlib

    buf = io.StringIO()
    with _SVG_LOCK, matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "archscout"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


__all__ = ["history", "front", "hypervolume", "architecture", "learning_curves", "trial_curves", "busy_seconds",
           "node_label", "png_bytes", "svg_text", "front_pairs"]
