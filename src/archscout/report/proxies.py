"""How well zero-cost proxies rank architectures: Spearman rho and Kendall tau against validation accuracy,
time per proxy, a table, scatter plots, and a predictor fitted on the same records.

A record is one trained architecture: ``{"arch", "accuracy", "proxies": {name: value or None},
"seconds": {name: s}, "errors": {name: reason}}``. Records come from a study's completed trials
(:func:`records_from_study`: stored ``proxy@NAME`` metrics are reused, the rest computed on the
network as the study initialised it) or from a ground-truth file (:func:`records_from_file`).
"""
from __future__ import annotations

import json
import math
import os
import statistics

from ..errors import ArchscoutError

# Where the published NAS-Bench-201 figures come from (tag: source), each on CIFAR-10
NB201_SOURCES = {
    "A": "Abdelfattah et al., ICLR 2021: all 15,625 architectures, |Spearman rho| against test accuracy "
         "(the paper's companion notebook)",
    "S": "NAS-Bench-Suite-Zero, Krishnakumar et al., NeurIPS 2022 Datasets and Benchmarks: 1,000 architectures",
}

# Spearman rho on NAS-Bench-201 CIFAR-10 of the same form of each proxy as archscout computes, with its source's
# tag. Both sources ran the same code for fisher (0.360 here, 0.50 in S) and for the Abdelfattah proxies; S has
# the only figures for the others. No figure for zen: S's 0.35 is NASLib's zen, which keeps the residual links and
# takes the BatchNorm term from running_var, where archscout follows Zen-NAS's paper. grad_sign has none either.
PUBLISHED_NB201: dict[str, tuple[float, str]] = {
    "synflow": (0.737, "A"), "jacov": (0.731, "A"), "snip": (0.596, "A"), "grad_norm": (0.594, "A"),
    "grasp": (0.514, "A"), "fisher": (0.360, "A"), "nwot": (0.77, "S"), "epe_nas": (0.70, "S"),
    "params": (0.72, "S"), "flops": (0.69, "S"), "l2_norm": (0.68, "S"), "plain": (-0.26, "S"),
}


def records_from_study(study, proxies, progress=None) -> list[dict]:
    """One record per completed trial of ``study`` (accuracy: the validation accuracy it stored)."""
    from ..evaluate.proxies import score_all

    if not study.evaluator_spec.trains:
        what = "trains nothing" if study.evaluator_spec.needs_task else "looks results up and builds no network"
        raise ArchscoutError(f"study {study.name!r} uses the {study.evaluator_spec.name} evaluator, which "
                             f"{what}: proxies are correlated with trained accuracy")
    trials = [t for t in study.trials("complete") if t.metrics.get("accuracy") is not None]
    if not trials:
        raise ArchscoutError(f"study {study.name!r} has no completed trial with a validation accuracy to "
                             f"correlate proxies with")
    evaluator = None
    out = []
    for i, t in enumerate(trials):
        stored = {p: t.metrics.get(f"proxy@{p}") for p in proxies}
        missing = [p for p in proxies if stored[p] is None]
        seconds = dict(t.details.get("proxy_seconds", {}))
        errors = {p: e for p, e in t.details.get("proxy_errors", {}).items() if p in proxies}
        missing = [p for p in missing if p not in errors]
        if missing:
            if evaluator is None:
                evaluator = study.evaluator()
            inputs, targets, mask = evaluator.proxy_inputs()
            res = score_all(evaluator.build(t.arch, t.seed), inputs, targets, missing, mask=mask)
            for p, r in res.items():
                stored[p], seconds[p] = r["value"], r["seconds"]
                if r["error"]:
                    errors[p] = r["error"]
        out.append({"arch": t.arch, "accuracy": t.metrics["accuracy"], "proxies": stored,
                    "seconds": {p: seconds.get(p) for p in proxies}, "errors": errors, "trial": t.number})
        if progress is not None:
            progress(i + 1, len(trials))
    return out


def records_from_file(path: str, space=None) -> list[dict]:
    """Records of a ground-truth file (JSON lines as benchmarks/ground_truth.py writes them)."""
    from ..space import Architecture, get_space

    try:
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        raise ArchscoutError(f"no ground-truth file at {path!r}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArchscoutError(f"cannot read the ground-truth file {path!r}: {e}") from None
    out = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or row.get("status") != "complete":
            continue
        if "proxies" not in row or "val_accuracy" not in row or "architecture" not in row:
            raise ArchscoutError(f"{path}: line {n} has no proxies, val_accuracy or architecture; regenerate it "
                                 f"with benchmarks/ground_truth.py")
        arch_space = space or get_space(row["architecture"]["space"])
        out.append({"arch": Architecture.from_json(row["architecture"], arch_space), "accuracy": row["val_accuracy"],
                    "proxies": row["proxies"], "seconds": row.get("proxy_seconds", {}),
                    "errors": row.get("proxy_errors", {}), "test_accuracy": row.get("test_accuracy"),
                    "task": row.get("task")})
    if len(out) < 3:
        raise ArchscoutError(f"{path}: fewer than 3 completed architectures to correlate")
    return out


def correlations(records: list[dict], proxies) -> list[dict]:
    """Per proxy: architectures scored, failures, Spearman rho and Kendall tau against the accuracy (over the
    architectures it scored), median and 95th-percentile seconds per architecture, the published NB201 rho of the same
    form of the proxy and its source (None for both where there is none)."""
    from scipy.stats import kendalltau, spearmanr

    rows = []
    for p in proxies:
        pairs = [(r["proxies"].get(p), r["accuracy"]) for r in records]
        pairs = [(v, a) for v, a in pairs if v is not None and math.isfinite(v)]
        secs = sorted(s for s in (r["seconds"].get(p) for r in records) if s is not None)
        rho = tau = None
        if len(pairs) >= 3 and len({v for v, _ in pairs}) > 1:
            x, y = zip(*pairs)
            rho, tau = float(spearmanr(x, y)[0]), float(kendalltau(x, y)[0])
        reasons = [r["errors"][p] for r in records if p in r.get("errors", {})]
        published, tag = PUBLISHED_NB201.get(p, (None, ""))
        rows.append({"proxy": p, "scored": len(pairs), "failed": len(records) - len(pairs), "spearman": rho,
                     "kendall": tau, "seconds_median": statistics.median(secs) if secs else None,
                     "seconds_p95": secs[min(len(secs) - 1, int(0.95 * len(secs)))] if secs else None,
                     "published_nb201_spearman": published, "published_nb201_source": NB201_SOURCES.get(tag),
                     "first_failure": reasons[0] if reasons else None})
    return rows


def total_seconds(records: list[dict], proxies) -> dict:
    """Seconds for every proxy of one architecture: median, mean and max over the records."""
    totals = [sum(r["seconds"].get(p) or 0.0 for p in proxies) for r in records if r["seconds"]]
    if not totals:
        return {}
    return {"median": statistics.median(totals), "mean": statistics.fmean(totals), "max": max(totals)}


def correlation_table(rows: list[dict], title: str):
    from rich.table import Table

    caption = "NB201 ρ: published on NAS-Bench-201 CIFAR-10 for the same form of the proxy; " + "; ".join(
        f"{tag}: {source}" for tag, source in NB201_SOURCES.items()) + "; –: none for this form"
    table = Table(title=title, caption=caption)
    for col in ("proxy", "scored", "failed", "Spearman ρ", "Kendall τ", "ms / arch (median)", "NB201 ρ (published)"):
        table.add_column(col, justify="right" if col != "proxy" else "left")
    for r in rows:
        published = PUBLISHED_NB201.get(r["proxy"])
        table.add_row(r["proxy"], str(r["scored"]), str(r["failed"]), _num(r["spearman"]), _num(r["kendall"]),
                      "" if r["seconds_median"] is None else f"{1000 * r['seconds_median']:.1f}",
                      "–" if published is None else f"{_num(published[0])} ({published[1]})")
    return table


def _num(v) -> str:
    return "–" if v is None else f"{v:+.3f}"


def write_scatter(records: list[dict], proxies, path: str, title: str = "") -> str:
    """One panel per proxy: its score (log scale when it spans orders of magnitude; its rank when it takes
    both signs) against the validation accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 4
    rows = math.ceil(len(proxies) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    stats = {r["proxy"]: r for r in correlations(records, proxies)}
    for ax, p in zip(axes.flat, proxies):
        pts = [(r["proxies"].get(p), r["accuracy"]) for r in records if r["proxies"].get(p) is not None]
        xs = [v for v, _ in pts]
        if xs and min(xs) <= 0:  # scores of both signs: plot ranks, which is what rho and tau compare
            from scipy.stats import rankdata
            xs = list(rankdata(xs))
            ax.set_xlabel("rank of the score", fontsize=8)
        elif xs and max(xs) / min(xs) > 100:
            ax.set_xscale("log")
        ax.scatter(xs, [100 * a for _, a in pts], s=6, alpha=0.6)
        s = stats[p]
        ax.set_title(f"{p}  ρ={_num(s['spearman'])}  τ={_num(s['kendall'])}", fontsize=9)
        ax.set_ylabel("val. accuracy %", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(proxies):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fit_predictor(records: list[dict], name: str, space, proxies, path: str, seed: int = 0, **info) -> dict:
    """Fit the predictor ``name`` on every record and save it to ``path``; returns the file's header."""
    from ..evaluate.predictors import make_predictor, save

    predictor = make_predictor(name, space, list(proxies), seed=seed)
    predictor.fit([r["arch"] for r in records], [r["accuracy"] for r in records], [r["proxies"] for r in records])
    return save(predictor, path, kind=name, **info)
