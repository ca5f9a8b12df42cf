"""The commands that list what is built in: `spaces`, `tasks`, `strategies` and `evaluators`."""
from __future__ import annotations

import click

from .common import echo


@click.command()
def spaces():
    """List the built-in search spaces."""
    from ..space import get_space, list_spaces

    for name in list_spaces():
        sp = get_space(name)
        echo(f"{name:13} {sp.description}  (~{sp.size():.2e} architectures)")


@click.command()
def tasks():
    """List the built-in tasks (a .npz or .csv path works too)."""
    from ..tasks import describe_task, list_tasks

    for name in list_tasks():
        echo(f"{name:14} {describe_task(name)}")
    echo(f"{'FILE.npz':14} your data: arrays X, y (optional X_test, y_test)")
    echo(f"{'FILE.csv':14} your data: numeric columns; the label column named by --label (or FILE.csv:COLUMN), else "
         f"one called label/target/y/class/outcome; no header: the last")
    echo(f"{'module:attr':14} your Task, PyTorch Dataset(s), or a function returning them (also path/file.py:attr)")


@click.command()
def strategies():
    """List the built-in search strategies."""
    from ..strategy import describe_strategy, list_strategies

    for name in list_strategies():
        echo(f"{name:14} {describe_strategy(name)}")


@click.command()
def evaluators():
    """List the evaluators (--evaluator NAME[:OPTIONS]) and what each measures."""
    from ..evaluate import EVALUATORS

    for name, cls in EVALUATORS.items():
        if name == "python":
            echo(f"{'module:attr':16} your function declared with @archscout.evaluator (also path/file.py:attr; "
                 f"docs/own-problem.md)")
            echo(f"{'':16} measures what it declares, and the costs of the network it is given; builds networks for "
                 f"the task unless model=False")
            continue
        needs = "builds networks for the task" if cls.needs_task else "no task"
        measures = ", ".join(cls.measures) + (f" (a regression: {', '.join(cls.regression_measures)} instead of "
                                              f"the classification metrics)" if hasattr(cls, "regression_measures")
                                              else "")
        echo(f"{name:16} {EVALUATORS.describe(name)}")
        echo(f"{'':16} measures {measures}; {needs}")
