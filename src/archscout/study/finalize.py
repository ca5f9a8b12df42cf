"""Final retraining: the chosen trials retrained on all training data with several seeds, scored on the test part."""
from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable

from ..errors import ArchscoutError
from ..evaluate import release_memory
from .fronts import spread


def final_summary(study) -> dict[int, dict]:
    """Per trial id: each test metric's mean / std over its retrained seeds (``test_accuracy_mean``, ``test_r2_mean``,
    ...; and INT8's, where measured)."""
    by_trial: dict[int, list] = {}
    for f in study.storage.finals(study.id):
        if f.budget == study.final_train.budget_key():
            by_trial.setdefault(f.trial_id, []).append(f)
    out = {}
    for tid, rows in by_trial.items():
        entry: dict = {"seeds": len(rows)}
        out[tid] = entry
        names = [k for k in rows[0].metrics if k.startswith("test_") and "@" not in k
                 and all(isinstance(r.metrics.get(k), (int, float)) for r in rows)]
        for name in names:  # test_accuracy (test_r2, test_f1_macro, ...): mean and spread over the seeds
            values = [r.metrics[name] for r in rows]
            out[tid][f"{name}_mean"] = statistics.fmean(values)
            out[tid][f"{name}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        if "test_accuracy" in names:
            out[tid]["test_accuracies"] = [r.metrics["test_accuracy"] for r in rows]
        int8 = [r.metrics["test_accuracy@int8"] for r in rows if "test_accuracy@int8" in r.metrics]
        if len(int8) == len(rows):  # the retrained networks quantized to INT8, scored on the same test data
            out[tid].update({"test_accuracy_int8_mean": statistics.fmean(int8),
                             "test_accuracy_int8_std": statistics.pstdev(int8) if len(int8) > 1 else 0.0,
                             "size_bytes_int8": rows[0].metrics["size_bytes@int8"]})
    return out


def contenders(study, k: int) -> list:
    """The ``k`` trials that revalidation and final retraining take: the leaderboard's first ``k``, or with several
    objectives ``k`` spread along the front."""
    return spread(study.front(), k) if study.multi_objective else study.leaderboard(k)


def finalize(study, top_k: int = 3, seeds: int = 3, progress: bool | Callable | None = None,
             trials: Iterable[int] | None = None) -> list:
    """See :meth:`Study.finalize`."""
    if top_k < 1 or seeds < 1:
        raise ArchscoutError("final retraining needs top_k >= 1 and seeds >= 1")
    if not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"final retraining needs a task to train on; study {study.name!r} uses the lookup "
                             f"evaluator {study.evaluator_spec.text!r}")
    if trials is not None:
        wanted = list(trials)
        by_number = {t.number: t for t in study.trials("complete")}
        missing = [n for n in wanted if n not in by_number]
        if missing:
            raise ArchscoutError(f"study {study.name!r} has no completed trial #{missing[0]} to retrain")
        top = [by_number[n] for n in wanted]
    else:
        top = contenders(study, top_k)
    if not top:
        n = len(study.trials())
        raise ArchscoutError(f"study {study.name!r} has no completed trial to retrain ({n} trials failed or "
                             f"broke a constraint); see `archscout show {study.name} --failed` for the reasons")
    evaluator = study.evaluator()
    budget = study.final_train.budget_key()
    done = {(f.trial_id, f.seed) for f in study.storage.finals(study.id) if f.budget == budget}
    todo = [(t, s) for t in top for s in range(seeds) if (t.id, s) not in done]
    shown = reporter(progress, len(todo), None)
    shown.start_final(len(todo))
    for i, (t, s) in enumerate(todo):
        metrics, _ = retrain(study, t, s, evaluator)
        shown.final(t, s, metrics, i + 1, len(todo))
    shown.stop()
    ids = {t.id for t in top}
    return [t for t in study.trials() if t.id in ids]


def retrain(study, trial, seed: int, evaluator=None) -> tuple[dict, bytes]:
    """Train ``trial`` on all training data with ``seed`` at the final budget and store the result."""
    ev, weights = (evaluator or study.evaluator()).final(trial.arch, seed=seed, train_config=study.final_train)
    release_memory()
    study.storage.add_final(study.id, trial.id, seed, study.final_train.budget_key(), ev.metrics, ev.details,
                            weights)
    return ev.metrics, weights


def stored_final(study, trial, seed: int) -> tuple[dict, bytes] | None:
    """The stored retraining of ``trial`` with ``seed`` at the final budget: metrics and weights."""
    budget = study.final_train.budget_key()
    for f in study.storage.finals(study.id, with_weights=True):
        if f.trial_id == trial.id and f.seed == seed and f.budget == budget and f.weights is not None:
            return f.metrics, f.weights
    return None


def reporter(progress, trials, seconds):
    from .progress import make_reporter
    return make_reporter(progress, trials, seconds)


def final_run(study, trial, seed: int) -> tuple[dict, bytes]:
    """The stored final retraining of ``trial`` with ``seed``, run and stored first when there is none."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ArchscoutError(f"a retraining seed is a non-negative integer, got {seed!r}")
    return stored_final(study, trial, seed) or retrain(study, trial, seed)
