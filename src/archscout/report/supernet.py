"""The supernet part of a study's report: how the supernet was trained, its training curve, and its check.

Shown for a study searched with ``--evaluator supernet:FILE``: the file's method, steps and time, the
validation accuracy of its largest and smallest sub-networks during training, and, when ``archscout
supernet check`` wrote ``FILE.check.json``, Kendall τ / Spearman ρ between inherited and stand-alone
accuracy (on the size-spanning sample, on the uniform sample and within parameter bins, with their bootstrap
intervals, when the check has them) with the gaps and a scatter of the two.
"""
from __future__ import annotations

import json
import os

from . import plots


def supernet_file(study) -> str | None:
    spec = study.evaluator_spec
    if spec.name != "supernet":
        return None
    return spec.options.rsplit(",final=", 1)[0]


def header_of(path: str) -> dict | None:
    from ..errors import ArchscoutError
    from ..oneshot.supernet.store import load_supernet
    try:
        return load_supernet(path)[1]
    except ArchscoutError:
        return None


def check_of(path: str) -> dict | None:
    try:
        with open(f"{path}.check.json") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "kendall_tau" in data else None


def training_curve(header: dict):
    fig, (ax,) = plots._figure(6.0, 3.4)
    curve = header.get("curve") or []
    if not curve:
        return plots._empty(fig, ax, "no training curve stored")
    steps = [p["step"] for p in curve]
    for key, style in (("largest", "-o"), ("smallest", "--s")):
        if all(key in p for p in curve):
            ax.plot(steps, [100 * p[key] for p in curve], style, ms=3, label=f"{key} sub-network")
    ax.set_xlabel("supernet training step")
    ax.set_ylabel("validation accuracy % (inherited)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def check_scatter(check: dict):
    fig, (ax,) = plots._figure(4.6, 4.0)
    rows = check.get("rows") or []
    x = [100 * r["inherited"] for r in rows]
    y = [100 * r["alone"] for r in rows]
    ax.scatter(x, y, s=14, c=[r["params"] for r in rows], cmap="viridis")
    lo, hi = min(x + y), max(x + y)
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
    ax.set_xlabel("inherited validation accuracy %")
    ax.set_ylabel("stand-alone validation accuracy %")
    uniform = (check.get("rankings") or {}).get("uniform")
    title = f"Kendall τ {_fig(check['kendall_tau'])} size-spanning"
    if uniform:
        title += f" · {_fig(uniform['kendall_tau'])} uniform"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _fig(value, interval=None) -> str:
    text = "n/a" if value is None else f"{value:.3f}"
    return text + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def ranking_table(check: dict) -> str:
    """τ and ρ on the size-spanning and uniform samples and within parameter bins, or "" for an older check."""
    r = check.get("rankings")
    if not r:
        return ("<p class='muted'>This check predates the uniform and binned rankings: run `archscout supernet "
                "check` again to see them.</p>")
    rows = []
    for name, label in (("spanning", "size-spanning sample"), ("uniform", "uniform sample of the elastic space")):
        if name in r:
            g = r[name]
            rows.append(f"<tr><td class='l'>{label}</td><td>{g['samples']}</td><td>"
                        f"{_fig(g['kendall_tau'], g['kendall_tau_interval'])}</td><td>"
                        f"{_fig(g['spearman_rho'], g['spearman_rho_interval'])}</td></tr>")
    b = r["binned"]
    rows.append(f"<tr><td class='l'>within {len(b['bins'])} parameter bins (weighted mean)</td><td>{b['samples']}"
                f"</td><td>{_fig(b['kendall_tau_weighted'], b['kendall_tau_weighted_interval'])}</td><td></td></tr>")
    for g in b["bins"]:
        rows.append(f"<tr><td class='l'>&nbsp;&nbsp;{g['params'][0]:,}–{g['params'][1]:,} params</td>"
                    f"<td>{g['samples']}</td><td>{_fig(g['kendall_tau'], g['kendall_tau_interval'])}</td>"
                    f"<td>{_fig(g['spearman_rho'])}</td></tr>")
    return ("<table><tr><th class='l'>ranking of</th><th>sub-networks</th><th>Kendall τ [95 % interval]</th>"
            f"<th>Spearman ρ</th></tr>{''.join(rows)}</table><p class='muted'>A size-spanning sample flatters a "
            "supernet (accuracy tracks size); the uniform sample is how the literature measures it, and the bins are "
            "the ranking a search needs among candidates of similar size. Intervals: bootstrap over "
            "sub-networks.</p>")


def section(study, figure, esc, sink: dict | None = None) -> str:
    """The report section (``figure`` and ``esc`` are the HTML report's helpers), or "" for other studies."""
    path = supernet_file(study)
    if path is None:
        return ""
    header = header_of(path)
    if header is None:
        return (f'<section id="supernet"><h2>Supernet</h2><p class="muted">The supernet file {esc(path)} is not '
                f'readable here, so its training is not shown.</p></section>')
    t = header["training"]
    text = (f"{esc(os.path.basename(path))}: {esc(header['spec']['base'])} elastic supernet for task "
            f"{esc(header['task'])}, trained with {esc(t['method'])} for {t['steps']:,} steps "
            f"({header['train_seconds']:.0f} s, seed {header['seed']}). Every trial was scored with the weights it "
            f"inherits from it, batch norms recalibrated; no trial was trained.")
    out = f'<p class="muted">{text}</p>' + figure(training_curve(header), "Validation accuracy of the largest and "
                                                  "smallest sub-networks during supernet training.",
                                                  "supernet-training", sink)
    check = check_of(path)
    if check is None:
        out += ('<p class="muted">No ranking check yet: `archscout supernet check FILE` trains sub-networks alone '
                'and says how far the inherited scores can be trusted.</p>')
    else:
        rows = "".join(f"<tr><td class='l'>{esc(name)}</td><td>{g['params']:,}</td><td>{100 * g['inherited']:.2f}"
                       f"</td><td>{100 * g['alone']:.2f}</td><td>{100 * g['gap']:+.2f}</td></tr>"
                       for name, g in check["gaps"].items())
        if check.get("rankings"):
            intro = (f"Sub-networks trained alone ({check['train'].get('steps')} steps) and scored with inherited "
                     f"weights; Kendall τ and Spearman ρ between inherited and stand-alone validation accuracy:")
        else:
            intro = (f"{check['samples']} sub-networks spanning the size range, trained alone "
                     f"({check['train'].get('steps')} steps): Kendall τ {_fig(check['kendall_tau'])}, Spearman ρ "
                     f"{_fig(check['spearman_rho'])} between inherited and stand-alone validation accuracy.")
        out += (f"<h3>How far the inherited scores can be trusted</h3><p class='muted'>{intro}</p>"
                f"{ranking_table(check)}<table><tr><th class='l'>"
                f"sub-network</th><th>params</th><th>inherited %</th><th>alone %</th><th>gap (points)</th></tr>{rows}"
                f"</table>" + figure(check_scatter(check), "Each point a sub-network, coloured by its parameters.",
                         "supernet-check", sink))
    return f'<section id="supernet"><h2>Supernet</h2>{out}</section>'
