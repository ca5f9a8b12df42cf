"""How far a real-training search's ranking can be trusted.

* **Validation resolution**: one validation sample is worth 100 / n points of accuracy; two
  architectures closer than that differ by one sample.
* **Rank agreement**: the search ranks architectures after its short training budget; the final
  retraining trains them for longer on more data. Spearman rho and Kendall tau between the
  search's validation score and the final test accuracy, over the retrained trials, say whether
  the short budget ranks them as the long one does (with three trials, not much can be said).
* **Repeated-seed validation**: the top trials trained again at the search's own budget with
  other seeds (:func:`revalidate`; stored beside the final retrainings, budget ``revalidate:…``),
  so the spread of the validation score over seeds can be set against the gaps between them. Those runs rank
  the leaderboard by their mean; the ones ``archscout diagnose --revalidate`` asks for (budget ``diagnose:…``)
  are shown but leave the choice alone, so a diagnostic never changes what ``best`` and ``export`` pick.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from ..errors import ArchscoutError
from ..evaluate import release_memory
from ..metrics import final_key
from ..stats import rank_agreement
from .finalize import contenders

REVALIDATE = "revalidate:"  # repeated seeds that the choice follows (a search's --revalidate, study.revalidate)
DIAGNOSE = "diagnose:"  # repeated seeds only looked at (archscout diagnose --revalidate): the choice ignores them
REVALIDATE_ON = ("seeds", "splits")  # what the repeated runs change: the seed, or the seed and the split


def _metric(study) -> str:
    return study.objectives[0][0]


def revalidate(study, top_k: int = 3, seeds: int = 2, progress: Callable | None = None,
               choose: bool = True, on: str = "seeds") -> dict[int, dict]:
    """Train the ``top_k`` trials (with several objectives, k spread along the front) again at the search's own
    budget with ``seeds`` more seeds each (the trial's seed + 1, + 2, ...) and store their metrics; pairs already
    stored are not trained again. ``choose``: the leaderboard then ranks them by their mean (else the runs are
    stored for the diagnostics only, and the choice stays as it was). ``on="splits"``: run i also trains and
    validates on another split of the training and validation data (:func:`other_splits`), so the mean rests on
    more validation samples than the task's own split holds. Returns :func:`revalidation` (with the diagnostic
    runs when ``choose`` is false)."""
    if not study.evaluator_spec.trains:
        raise ArchscoutError(f"study {study.name!r} uses the {study.evaluator_spec.name} evaluator, which trains "
                             f"nothing: its scores do not depend on a training seed")
    for name, value in (("top_k", top_k), ("seeds", seeds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchscoutError(f"repeated-seed validation needs {name} >= 1, got {value!r}")
    top = contenders(study, top_k)
    if not top:
        raise ArchscoutError(f"study {study.name!r} has no completed trial to validate again")
    if on not in REVALIDATE_ON:
        raise ArchscoutError(f"revalidation on {on!r}: choose one of {', '.join(REVALIDATE_ON)}")
    splits = other_splits(study.task, seeds) if on == "splits" else None
    prefix = REVALIDATE if choose else DIAGNOSE  # a run stored either way is not trained again for the other
    done = {(f.trial_id, f.seed) for f in study.storage.finals(study.id)
            if f.budget.startswith(REVALIDATE) or (not choose and f.budget.startswith(DIAGNOSE))}
    todo = [(t, i) for t in top for i in range(1, seeds + 1) if (t.id, t.seed + i) not in done]
    evaluators = [study.evaluator()] if splits is None else [study.evaluator(task) for task, _ in splits]
    for n, (t, i) in enumerate(todo):
        seed = t.seed + i
        ev = (evaluators[0] if splits is None else evaluators[i - 1]).evaluate(t.arch, seed=seed, fidelity=t.fidelity)
        release_memory()
        where = "" if splits is None else splits[i - 1][1]  # "split 2/10:": which part validated it
        study.storage.add_final(study.id, t.id, seed, prefix + where + t.budget, ev.metrics, ev.details, None)
        if progress:
            progress(n + 1, len(todo), t, seed, ev.metrics)
    return revalidation(study, diagnostic=not choose)


def other_splits(task, n: int) -> list[tuple[object, str]]:
    """``n`` copies of ``task`` that each train and validate on another part of its training and validation data
    together, with their labels: k-fold splits (stratified by class; :func:`~archscout.tasks.base.fold_indices`)
    with k such that each validation part is as large as the task's own, and the first ``n`` of them. A task
    that already cross-validates (``folds``), or whose validation is not a split of its own (a graph's mask),
    has no other split: one clear error."""
    from dataclasses import replace

    from ..tasks.base import fold_indices
    if getattr(task, "folds", None) or not hasattr(task, "full_train") or hasattr(task, "valid_mask"):
        raise ArchscoutError("revalidation on other splits needs a task with its own training and validation "
                             "split (not --folds, not a graph task): revalidate on seeds instead")
    pool = task.full_train()
    k = max(2, round(len(pool) / max(1, len(task.valid))))
    if n > k:
        raise ArchscoutError(f"revalidation on {n} other splits, but the data gives {k} of the validation's size: "
                             f"use at most {k} more seeds")
    pairs = fold_indices(pool.y, k, task.kind)
    return [(replace(task, train=pool.subset(tr), valid=pool.subset(va)), f"split {i + 1}/{k}:")
            for i, (tr, va) in enumerate(pairs[:n])]


def revalidation(study, diagnostic: bool = False) -> dict[int, dict]:
    """Per trial number: the first objective's values over the search's seed and every repeated one, their mean,
    standard deviation, the seeds, and ``chooses``: whether the leaderboard ranks it by that mean. Only the runs
    the choice follows, unless ``diagnostic`` (then ``archscout diagnose --revalidate``'s runs too)."""
    metric = _metric(study)
    extra: dict[int, dict] = {}
    chooses: set[int] = set()
    for f in study.storage.finals(study.id):
        counts = f.budget.startswith(REVALIDATE)
        if (counts or (diagnostic and f.budget.startswith(DIAGNOSE))) and f.metrics.get(metric) is not None:
            extra.setdefault(f.trial_id, {}).setdefault(f.seed, float(f.metrics[metric]))
            if counts:
                chooses.add(f.trial_id)
    out = {}
    for t in study.trials("complete"):
        if t.id not in extra or t.metrics.get(metric) is None:
            continue
        pairs = [(t.seed, float(t.metrics[metric]))] + sorted(extra[t.id].items())
        values = [v for _, v in pairs]
        out[t.number] = {"metric": metric, "seeds": [s for s, _ in pairs], "values": values,
                         "mean": statistics.fmean(values), "std": statistics.stdev(values),
                         "chooses": t.id in chooses}
    return out


def validation_resolution(study) -> dict | None:
    """The validation split's size and what one sample is worth in points of accuracy (None without a task)."""
    if not study.evaluator_spec.needs_task:
        return None
    try:
        task = study.task
        if getattr(task, "kind", "classification") != "classification":
            return None  # a regression's scores are not counts of samples
        n = len(task.valid) if not hasattr(task, "valid_mask") else int(task.valid_mask.sum())
        if getattr(task, "folds", None):  # k-fold: every training sample is validated once
            n = len(task.train) + len(task.valid)
    except Exception:  # noqa: BLE001 - a study opened for reading whose data cannot be found here
        return None
    return {"samples": n, "points_per_sample": 100.0 / n if n else math.nan}


def search_final_agreement(study) -> dict | None:
    """Spearman and Kendall between the search's validation score (the first objective) and the mean final
    test accuracy, over the retrained trials; None when no trial was retrained."""
    metric = _metric(study)
    pairs = [(float(t.metrics[metric]), final_key(t.final)) for t in study.trials("complete")
             if t.final and t.metrics.get(metric) is not None and final_key(t.final) != float("-inf")]
    if not pairs:
        return None
    sign = 1.0 if study.objectives[0][1] == "max" else -1.0  # agreement: better in the search, better in the final
    return {"metric": metric, **rank_agreement([sign * a for a, _ in pairs], [b for _, b in pairs])}


def diagnostics(study) -> dict:
    """Every diagnostic of this module as one dict (JSON-ready)."""
    return {"validation_resolution": validation_resolution(study),
            "search_vs_final": search_final_agreement(study),
            "revalidation": {str(k): v for k, v in revalidation(study, diagnostic=True).items()}}


def lines(study, diag: dict | None = None) -> list[str]:
    """The diagnostics as sentences for the terminal and the report."""
    diag = diag or diagnostics(study)
    out = []
    res = diag["validation_resolution"]
    if res:
        out.append(f"validation split: {res['samples']:,} samples, so one sample is {res['points_per_sample']:.2f} "
                   f"points of accuracy")
    agree = diag["search_vs_final"]
    if agree:
        if math.isnan(agree["spearman"]):
            out.append(f"search budget vs final retraining: {agree['n']} retrained trial(s), too few (or tied) for a "
                       f"rank correlation; retrain more (--top-k) to see whether the search budget ranks as the "
                       f"final one does")
        else:
            out.append(f"search budget vs final retraining: Spearman ρ {agree['spearman']:.2f}, Kendall τ "
                       f"{agree['kendall']:.2f} over {agree['n']} retrained trials ({agree['metric']} in the search "
                       f"against mean final test accuracy)" + (" — few trials: a wide uncertainty" if agree["n"] < 10
                                                                else ""))
    reval = diag["revalidation"]
    sign = 1.0 if study.objectives[0][1] == "max" else -1.0
    chosen = {k: r for k, r in reval.items() if r.get("chooses", True)}
    if len(chosen) >= 2 and not study.multi_objective:
        by_mean = max(chosen, key=lambda k: sign * chosen[k]["mean"])
        by_single = max(chosen, key=lambda k: sign * chosen[k]["values"][0])
        out.append(f"choice: trial #{by_mean}, the best mean over seeds of the {len(chosen)} validated again"
                   + ("" if by_mean == by_single else f" (on the search's single seed #{by_single} looked best)"))
    looked = {k: r for k, r in reval.items() if k not in chosen}
    if looked and not study.multi_objective:
        board = study.leaderboard(1)
        by_mean = max(reval, key=lambda k: sign * reval[k]["mean"])
        out.append(f"the choice stays trial #{board[0].number if board else '?'}: `archscout diagnose "
                   f"--revalidate` only looks (by the mean over seeds, trial #{by_mean} would lead); to choose by "
                   f"the mean, search again with --revalidate K or call study.revalidate(K) from Python")
    for number, r in diag["revalidation"].items():
        scale, digits = (100.0, 2) if r["metric"].split("@")[0] == "accuracy" else (1.0, 4)
        unit = " %" if scale == 100.0 else ""
        out.append(f"trial #{number} {r['metric']} over seeds {', '.join(map(str, r['seeds']))}: "
                   f"{scale * r['mean']:.{digits}f} ± {scale * r['std']:.{digits}f}{unit} (the search saw "
                   f"{scale * r['values'][0]:.{digits}f}{unit})")
    return out


def progress_lines(progress):
    """What the search's ``progress`` shows of each repeated-seed validation: one line per run."""
    if progress is False or progress is None:
        return None

    def shown(done, total, trial, seed, metrics):
        metric = next((m for m in ("accuracy", "r2") if m in metrics), None)
        value = f"  {metric} {metrics[metric]:.4f}" if metric else ""
        line = f"revalidate #{trial.number:<4} seed {seed}{value}  ({done}/{total})"
        if callable(progress):
            progress("note", text=line)
        else:
            print(line, flush=True)
    return shown
