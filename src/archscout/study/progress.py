"""Progress reporting for the search loop: a rich progress bar with a line per trial, a callback (such as
:func:`print_lines`, the lines without the bar, what ``--no-progress`` prints), or nothing."""
from __future__ import annotations

from typing import Any, Callable


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


def trial_line(trial) -> str:
    m = trial.metrics
    if trial.status == "complete":
        core = (f"acc {m.get('accuracy', float('nan')):.4f}  params {m.get('params', 0):>8,}  "
                f"lat {m.get('latency_ms', float('nan')):6.3f} ms  {m.get('train_seconds', 0):5.1f} s")
    else:
        core = f"{trial.status}: {trial.error}"
    return f"#{trial.number:<4} {core}  {trial.arch.describe()}"


def final_line(trial, seed, metrics) -> str:
    score = (f"test acc {metrics['test_accuracy']:.4f}" if "test_accuracy" in metrics
             else f"test R² {metrics.get('test_r2', float('nan')):.4f}")
    return f"final  #{trial.number:<4} seed {seed}  {score}  ({metrics.get('train_seconds', 0):.1f} s)"


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
