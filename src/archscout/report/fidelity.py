"""A multi-fidelity study in numbers: its trials per fidelity (rung), the time each rung took, and the
learning curves its trials stored. The report, the dashboard and ``archscout show`` use these.

A trial's fidelity is what it ran at (``Trial.fidelity``; None is the study's own, ``study.top_fidelity``).
A learning curve is ``details["learning_curve"]`` in column form: ``{"step": [...], "<metric>": [...]}``.
"""
from __future__ import annotations

import math

from ..metrics import KIND_METRICS, METRICS, base_name

# the statuses counted apart in a rung; the rest (interrupted, running) only in its total
FAILED = ("failed", "infeasible")
CAP = 60  # a learning-curve plot draws at most this many best trials (and every trial on the leaderboard)


def effective(study, trial) -> dict | None:
    """The fidelity ``trial`` ran at in the evaluator's terms: its own, else the study's (None when the
    evaluator has no such scale)."""
    return trial.fidelity if trial.fidelity else study.top_fidelity


def fidelity_text(fidelity: dict | None) -> str:
    """A fidelity as people read it: ``steps=1000`` (``epochs=5``, ``steps=30,width=8``); "study's own" for an
    evaluator without a fidelity scale."""
    if not fidelity:
        return "study's own"
    return ",".join(f"{k}={_value(v)}" for k, v in sorted(fidelity.items()))


def _value(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return str(int(v)) if math.isfinite(v) and float(v).is_integer() else f"{v:g}"


def level(study, fidelity: dict | None) -> float:
    """Where a fidelity ranks, as the study ranks it (see ``Study.ranked_fidelity``)."""
    return study._fidelity_level(fidelity)


def several(study, trials) -> bool:
    """Whether the trials ran at more than one fidelity."""
    return len({fidelity_text(effective(study, t)) for t in trials}) > 1


def ranked_level(study, trials) -> float:
    """The fidelity the leaderboard compares trials at (the highest a complete scored trial reached)."""
    return study.ranked_fidelity([t for t in trials if t.status == "complete" and study.score(t.metrics) is not None])


def _better(way: str, a: float, b: float | None) -> bool:
    return b is None or (a > b if way == "max" else a < b)


def rungs(study, trials) -> list[dict]:
    """One row per fidelity the trials ran at, lowest first: ``label``, ``fidelity``, ``level``, ``trials``,
    ``complete``, ``stopped``, ``failed`` (failed or infeasible), ``promoted`` (continued from a trial of a
    lower rung: those with a parent), ``best`` (the best value of the first objective among its complete
    trials, None without one), ``seconds`` (its trials' summed duration), ``share`` (of all trials' time,
    None while no trial has a duration) and ``ranked`` (the rung the leaderboard compares)."""
    metric, way = study.objectives[0]
    top = ranked_level(study, trials)
    groups: dict[str, dict] = {}
    for t in trials:
        fid = effective(study, t)
        label = fidelity_text(fid)
        row = groups.get(label)
        if row is None:
            lvl = level(study, fid)
            row = groups[label] = {"label": label, "fidelity": fid, "level": lvl, "trials": 0, "complete": 0,
                                   "stopped": 0, "failed": 0, "promoted": 0, "best": None, "seconds": 0.0,
                                   "share": None, "ranked": lvl == top}
        row["trials"] += 1
        if t.status in ("complete", "stopped"):
            row[t.status] += 1
        elif t.status in FAILED:
            row["failed"] += 1
        if t.parent is not None:
            row["promoted"] += 1
        value = t.metrics.get(metric)
        if t.status == "complete" and isinstance(value, (int, float)) and math.isfinite(value) \
                and _better(way, value, row["best"]):
            row["best"] = value
        if t.duration is not None and t.duration > 0:
            row["seconds"] += t.duration
    total = sum(r["seconds"] for r in groups.values())
    for r in groups.values():
        r["share"] = r["seconds"] / total if total > 0 else None
    return sorted(groups.values(), key=lambda r: (r["level"], r["label"]))


def below_top_share(rows: list[dict]) -> float | None:
    """The share of all trial time that went to trials below the ranked fidelity (None without durations)."""
    if not rows or rows[0]["share"] is None:
        return None
    top = max((r["level"] for r in rows if r["ranked"]), default=math.inf)
    return sum(r["share"] for r in rows if r["level"] < top)


def curve(trial, metric: str) -> tuple[list[float], list[float]]:
    """A trial's learning curve of ``metric``: (steps, values), the points whose step and value are finite
    numbers (a damaged or partial curve gives what can be read; none gives two empty lists)."""
    data = (trial.details or {}).get("learning_curve")
    if not isinstance(data, dict):
        return [], []
    steps, values = data.get("step"), data.get(metric)
    if not isinstance(steps, list) or not isinstance(values, list):
        return [], []
    xs, ys = [], []
    for s, v in zip(steps, values):
        if _number(s) and _number(v):
            xs.append(float(s))
            ys.append(float(v))
    return xs, ys


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def curve_metrics(trials) -> list[str]:
    """The metrics the trials' learning curves hold, in the order first seen."""
    seen: dict[str, None] = {}
    for t in trials:
        data = (t.details or {}).get("learning_curve")
        if isinstance(data, dict):
            for k in data:
                if k != "step" and isinstance(data[k], list):
                    seen.setdefault(str(k), None)
    return list(seen)


def with_curves(trials) -> list:
    """The trials that stored a learning curve with at least one point."""
    out = []
    for t in trials:
        data = (t.details or {}).get("learning_curve")
        if isinstance(data, dict) and isinstance(data.get("step"), list) and data["step"] \
                and any(k != "step" for k in data):
            out.append(t)
    return out


def curve_metric(study, trials) -> str | None:
    """The metric a learning-curve plot shows: the first objective when the curves hold it, else the task's
    own validation metric (accuracy, r2, ...), the loss, or the first the curves hold; None without curves."""
    names = curve_metrics(trials)
    if not names:
        return None
    first = study.objectives[0][0]
    if first in names:
        return first
    preferred = [m for kind in KIND_METRICS.values() for m in kind] + ["loss"]
    return next((m for m in preferred if m in names), names[0])


def curve_label(metric: str, shown: str | None = None) -> str:
    """How a curve's metric is named on an axis or in a caption: "validation accuracy (%)" for a metric of the
    vocabulary (measured on the validation data), a user's own name (``train_loss``) as it is."""
    shown = shown or metric
    known = base_name(metric) in METRICS and not metric.startswith(("train_", "test_"))
    return f"validation {shown}" if known else shown


def select(study, trials, board: list | None = None, cap: int | None = None) -> tuple[list, int]:
    """The trials a learning-curve plot draws: the ``cap`` (default :data:`CAP`) best by the first objective
    (stopped and lower fidelities included, each at what it stored) and every trial of ``board`` (the
    leaderboard shown), and how many trials stored a curve. The order: best first."""
    cap = CAP if cap is None else cap
    metric, way = study.objectives[0]
    have = with_curves(trials)

    def key(t):
        v = t.metrics.get(metric)
        if not _number(v):
            return (1, 0.0, t.number)
        return (0, -v if way == "max" else v, t.number)

    ordered = sorted(have, key=key)
    keep = {t.number for t in ordered[:cap]} | {t.number for t in (board or [])}
    return [t for t in ordered if t.number in keep], len(have)


def stopped_rules(trials) -> dict[str, int]:
    """How many trials each early-stopping rule stopped (``details["stopped"]["rule"]``; "?" when unsaid)."""
    out: dict[str, int] = {}
    for t in trials:
        if t.status == "stopped":
            info = (t.details or {}).get("stopped")
            rule = str(info.get("rule") or "?") if isinstance(info, dict) else "?"
            out[rule] = out.get(rule, 0) + 1
    return out


def continued(trials) -> int:
    """How many trials continued training from a checkpoint (``details["continued_from"]``)."""
    return sum(isinstance((t.details or {}).get("continued_from"), dict) for t in trials)


def shown(study, trials) -> bool:
    """Whether a study has something to say about fidelities: several of them, a learning curve, or a trial
    stopped early."""
    return several(study, trials) or bool(with_curves(trials)) or any(t.status == "stopped" for t in trials)


def count_lines(study, trials) -> list[str]:
    """``archscout show``'s lines on fidelities: how many trials stand at each, how many were stopped early
    and how many continued from a checkpoint; nothing for a study at one fidelity with no trial stopped."""
    if not (several(study, trials) or any(t.status == "stopped" for t in trials)):
        return []
    rows = rungs(study, trials)
    parts = []
    for r in rows:
        said = [f"{r[k]} {k}" for k in ("complete", "stopped") if r[k]]
        said += [f"{r['failed']} failed/infeasible"] if r["failed"] else []
        said += [f"{r['promoted']} promoted"] if r["promoted"] else []
        parts.append(f"{r['label']}{' (ranked)' if r['ranked'] else ''}: {r['trials']} "
                     f"trial{'s' if r['trials'] != 1 else ''}" + (f" ({', '.join(said)})" if said else ""))
    lines = ["trials per fidelity: " + "; ".join(parts)]
    stopped, went_on = sum(stopped_rules(trials).values()), continued(trials)
    if stopped or went_on:
        lines.append(f"{stopped} trial{'s' if stopped != 1 else ''} stopped early, {went_on} continued from a "
                     f"checkpoint")
    share = below_top_share(rows) if len(rows) > 1 else None
    if share is not None:
        lines.append(f"{100 * share:.1f} % of the trial time went to fidelities below the ranked one")
    return lines


__all__ = ["effective", "fidelity_text", "several", "rungs", "below_top_share", "curve", "curve_metric", "select",
           "shown", "count_lines", "with_curves", "continued", "stopped_rules", "curve_label"]
