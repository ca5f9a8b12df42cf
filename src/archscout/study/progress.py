"""Progress reporting for the search loop: a rich progress bar with a line per trial, a callback (such as
:func:`print_lines`, the lines without the bar, what ``--no-progress`` prints), or nothing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SilentReporter:
    def start(self, done, used, best, study): ...
    def trial(self, trial, done, used, best): ...
    def note(self, text): ...
    def start_final(self, total): ...
    def final(self, trial, seed, metrics, done, total): ...
    def stop(self): ...


class CallbackReporter(SilentReporter):
    """Calls ``fn(event, **data)`` for each event: "trial", "note", "final"."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def trial(self, trial, done, used, best):
        self.fn("trial", trial=trial, done=done, seconds=used, best=best)

    def note(self, text):
        self.fn("note", text=text)

    def final(self, trial, seed, metrics, done, total):
        self.fn("final", trial=trial, seed=seed, metrics=metrics, done=done, total=total)


def _number(metric: str, value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–" if value is None else str(value)
    return f"{value:.4f}" if metric.split("@")[0] in ("accuracy", "r2") or abs(value) < 10 else f"{value:.4g}"


def _objective(trial) -> str:
    """The metric a trial's line leads with: its study's first objective (accuracy without a study)."""
    study = trial._study
    return study.objectives[0][0] if study is not None and study.objectives else "accuracy"


def _rung(trial) -> str:
    """Where a multi-fidelity trial ran: ``  [rung 1 steps=250, from #3]`` (nothing at the study's own budget)."""
    if not trial.fidelity:
        return ""
    rung = (trial.details or {}).get("rung")
    fidelity = ",".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                        for k, v in sorted(trial.fidelity.items()))
    return (f"  [{'' if rung is None else f'rung {rung} '}{fidelity}"
            + ("" if trial.parent is None else f", from #{trial.parent}") + "]")


def trial_line(trial) -> str:
    """One trial as the search prints it: the first objective by name, params, latency, the trial's wall time
    (building, measuring and training), and for a multi-fidelity trial its rung and fidelity."""
    m = trial.metrics
    if trial.status == "complete":
        metric = _objective(trial)
        label = "acc" if metric == "accuracy" else metric
        seconds = trial.duration if trial.duration is not None else m.get("train_seconds", 0)
        core = (f"{label} {_number(metric, m.get(metric))}  params {m.get('params', 0):>8,}  "
                f"lat {m.get('latency_ms', float('nan')):6.3f} ms  {seconds:5.1f} s")
    else:
        core = f"{trial.status}: {trial.error}"
    return f"#{trial.number:<4} {core}{_rung(trial)}  {trial.arch.describe()}"


def final_line(trial, seed, metrics) -> str:
    """One final retraining: the test metric of the study's first objective (test accuracy, test R², a user
    metric such as test f1_macro), else the first test metric it has."""
    metric = _objective(trial)
    names = [f"test_{metric}", "test_accuracy", "test_r2"] + [k for k in metrics if k.startswith("test_")]
    name = next((n for n in names if n in metrics), None)
    label = {"test_accuracy": "test acc", "test_r2": "test R²"}.get(name or "", (name or "").replace("_", " ", 1))
    score = f"{label} {_number(name[5:], metrics[name])}" if name else "no test metric"
    took = f"  ({metrics['train_seconds']:.1f} s)" if isinstance(metrics.get("train_seconds"), (int, float)) else ""
    return f"final  #{trial.number:<4} seed {seed}  {score}{took}"


def print_lines(event: str, **data) -> None:
    """A progress callback (``progress=print_lines``) that prints one line per trial, note and final retraining,
    without a progress bar: what ``archscout search --no-progress`` shows (the bar hidden, never the results)."""
    import click

    if event == "trial":
        click.echo(trial_line(data["trial"]))
    elif event == "note":
        click.echo(data["text"])
    elif event == "final":
        click.echo(final_line(data["trial"], data["seed"], data["metrics"]))


class RichReporter(SilentReporter):
    """A progress bar (trials done, elapsed / remaining, best so far) with one line per trial above it."""

    def __init__(self, trials: int | None, seconds: float | None):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.trials, self.seconds = trials, seconds
        self.console = Console(highlight=False)
        if not self.console.is_terminal:
            self.console = Console(highlight=False, width=160)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[best]}"), console=self.console)
        self.task_id: Any = None  # rich's TaskID, set by start and start_final

    def _fields(self, done, used, best):
        count = f"{done}/{self.trials} trials" if self.trials else f"{done} trials"
        if self.seconds:
            count += f", {used / 60:.1f}/{self.seconds / 60:.1f} min"
        completed = done if self.trials else used
        if self.trials and self.seconds:
            completed = max(done / self.trials, used / self.seconds) * 100
        return {"count": count, "best": f"best {best:.4f}" if best is not None else "", "completed": completed}

    def _total(self):
        if self.trials and self.seconds:
            return 100
        return self.trials or self.seconds

    def start(self, done, used, best, study):
        self.progress.start()
        f = self._fields(done, used, best)
        self.task_id = self.progress.add_task(f"search {study.name}", total=self._total(),
                                              completed=f.pop("completed"), **f)

    def trial(self, trial, done, used, best):
        self.progress.console.print(trial_line(trial), markup=False)  # an error may hold [brackets]
        f = self._fields(done, used, best)
        self.progress.update(self.task_id, completed=f.pop("completed"), **f)

    def note(self, text):
        self.progress.console.print(text, style="yellow", markup=False)

    def start_final(self, total):
        if total:
            self.progress.start()
            self.task_id = self.progress.add_task("final retraining", total=total, count=f"0/{total} runs", best="")

    def final(self, trial, seed, metrics, done, total):
        self.progress.console.print(final_line(trial, seed, metrics), markup=False)
        self.progress.update(self.task_id, completed=done, count=f"{done}/{total} runs")

    def stop(self):
        self.progress.stop()


def make_reporter(progress, trials, seconds):
    """``True``: a progress bar with a line per trial; a callable: called for each event (``print_lines``: the
    lines only); anything else (False, None): nothing."""
    if progress is True:
        return RichReporter(trials, seconds)
    if callable(progress):
        return CallbackReporter(progress)
    return SilentReporter()
