"""The commands that read studies back: `list`, `show` (a leaderboard), `front` (the Pareto front), `best`."""
from __future__ import annotations

import json

import click

from ..checks import positive_int
from ..errors import ArchscoutError
from .common import console, echo, existing, print_board, print_front, storage_option

SPACE_HELP = ("The study's custom space, as module:attr or path/to/file.py:attr (a Space, or a function that "
              "returns one); built-in spaces need none.")


def space_option(f):
    """--space for the commands that open a stored study (a custom space cannot be found by its name)."""
    return click.option("--space", "space", default=None, metavar="MODULE:ATTR", help=SPACE_HELP)(f)


def resolve_space(text: str | None, option: str = "--space"):
    """The Space that ``text`` names: ``module:attr`` / ``path/to/file.py:attr`` (a Space, or a callable that
    returns one when called with no arguments) or a built-in space's name; None for None."""
    if text is None:
        return None
    from ..space import Space, get_space

    if ":" not in text:
        return get_space(text.strip())
    from ..registry import load_reference

    obj = load_reference(text, option)
    if not isinstance(obj, Space) and callable(obj):
        try:
            made = obj()
        except Exception as e:  # noqa: BLE001 - the user's function: one line with what it raised
            raise ArchscoutError(f"{option} {text!r}: calling it raised {type(e).__name__}: {e}") from None
        if isinstance(made, Space):
            return made
        obj = made
    if not isinstance(obj, Space):
        kind = type(obj).__name__
        raise ArchscoutError(f"{option} {text!r} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a space: name "
                             f"an archscout.Space or a function that returns one")
    return obj


def load_study(name: str, storage: str, space: str | None = None, check_task: bool = False):
    """A stored study opened for reading (``space``: its custom space, see :func:`resolve_space`)."""
    from ..study import Study

    return Study.load(name, existing(storage), space=resolve_space(space), check_task=check_task)


@click.command("list")
@storage_option
def list_studies(storage):
    """List the studies in the database with their trial counts."""
    from ..report.tables import studies_table

    rows = existing(storage).list_studies()
    if not rows:
        echo(f"no studies in {storage}")
        return
    console().print(studies_table(rows))


@click.command()
@click.argument("study")
@storage_option
@click.option("--top", type=int, default=10, show_default=True, help="How many trials to show.")
@click.option("--failed", is_flag=True, help="Also list failed, infeasible, interrupted and early-stopped trials "
              "with reasons.")
@space_option
def show(study, storage, top, failed, space):
    """Show a study's leaderboard (by validation accuracy; test accuracy of retrained trials)."""
    positive_int(top, "--top")
    from ..report.fidelity import count_lines

    s = load_study(study, storage, space)
    with s.snapshot() as trials:  # the table and the counts below it from one read while a search goes on
        print_board(s, top)
        unranked = s.unranked()
        if unranked:
            echo(f"ranked at fidelity {s.ranked_fidelity():g}: {len(unranked)} complete trial(s) at lower "
                 f"fidelities are not ranked")
        for line in count_lines(s, trials):
            echo(line)
        if failed:
            for t in trials:
                if t.status not in ("complete", "running"):
                    echo(f"#{t.number:<4} {t.status}: {t.error}")


@click.command()
@click.argument("study")
@storage_option
@click.option("--plots", "plots", default=None, help="Folder for the plots (default: next to the SQLite file).")
@click.option("--no-plots", is_flag=True, help="Print the front only.")
@click.option("--json", "as_json", is_flag=True, help="Print the front (trials, objectives, metrics) as JSON.")
@space_option
def front(study, storage, plots, no_plots, as_json, space):
    """Show a study's Pareto-optimal trials and write plots of the front and of hypervolume vs trials."""
    s = load_study(study, storage, space)
    if as_json:
        history = s.fronts()
        doc = {"study": s.name, "objectives": [list(o) for o in s.objectives], "reference_point": s.reference_point,
               "hypervolume": history[-1]["hypervolume"] if history else None,
               "front": [{"trial": t.number, "architecture": t.arch.to_dict(), "metrics": t.metrics,
                          "final": t.final or None} for t in s.front()]}
        click.echo(json.dumps(doc, indent=2, default=float))
        return
    print_front(s, None if no_plots else (plots or ""))


@click.command()
@click.argument("study")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print the architecture and metrics as JSON.")
@space_option
def best(study, storage, as_json, space):
    """Show the best trial of a study: architecture, validation metrics, final test accuracy."""
    s = load_study(study, storage, space)
    t = s.best()
    doc = {"study": s.name, "trial": t.number, "architecture": t.arch.to_dict(), "metrics": t.metrics,
           "final": t.final or None}
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=float))
        return
    echo(f"best trial #{t.number} of {s.name}: {t.arch.describe()}")
    m = t.metrics
    from ..metrics import final_headline
    from ..report.front import fmt_metric

    parts = [f"id {t.arch.id}"]
    if "accuracy" in m:
        parts.append(f"validation accuracy {100 * m['accuracy']:.2f} %")
    parts += [f"{metric} {fmt_metric(metric, m[metric])}" for metric, _ in s.objectives
              if metric != "accuracy" and metric in m and metric not in ("params", "flops", "latency_ms")]
    if "test_accuracy" in m:
        parts.append(f"test accuracy {100 * m['test_accuracy']:.2f} % (the benchmark's)")
    parts += [f"params {m['params']:,}"] if "params" in m else []
    parts += [f"{m['flops'] / 1e6:.3f} MFLOPs"] if "flops" in m else []
    parts += [f"latency {m['latency_ms']:.3f} ms"] if "latency_ms" in m else []
    echo("  " + " · ".join(parts))
    if t.final and "test_accuracy_mean" in t.final:
        echo(f"  test accuracy {100 * t.final['test_accuracy_mean']:.2f} ± {100 * t.final['test_accuracy_std']:.2f} % "
             f"over {t.final['seeds']} seeds (retrained on all training data)")
    elif t.final and "test_r2_mean" in t.final:
        f = t.final
        echo(f"  test R² {f['test_r2_mean']:.4f} ± {f['test_r2_std']:.4f}, MSE {f['test_mse_mean']:.4g}, MAE "
             f"{f['test_mae_mean']:.4g} over {f['seeds']} seeds (retrained on all training data)")
    elif t.final and final_headline(t.final):  # a user evaluator's own test metrics (test_f1_macro, ...)
        f = t.final
        said = [f"{name[:-5]} {fmt_metric(name[:-5], f[name])} ± {fmt_metric(name[:-5], f[name[:-5] + '_std'])}"
                for name in f if name.startswith("test_") and name.endswith("_mean")]
        echo(f"  {', '.join(said)} over {f['seeds']} seeds (retrained on all training data)")
    elif s.evaluator_spec.needs_task:
        echo("  not retrained yet (archscout search ... with --top-k >= 1, or archscout export)")


@click.command()
@click.argument("study")
@storage_option
@click.option("--revalidate", "revalidate_k", type=int, default=0, show_default=True,
              help="Train the top K trials again at the search's own budget with more seeds first (stored; shown "
                   "beside the choice, which it leaves alone).")
@click.option("--seeds", type=int, default=2, show_default=True, help="More seeds per trial with --revalidate.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as JSON.")
@space_option
def diagnose(study, storage, revalidate_k, seeds, as_json, space):
    """How far a real-training search's ranking can be trusted: the validation split's resolution, the rank
    agreement between the search budget and the final retraining, and (with --revalidate) the spread of the
    top trials' validation scores over seeds."""
    from ..study.diagnostics import diagnostics, lines, revalidate

    s = load_study(study, storage, space, check_task=revalidate_k > 0)
    if revalidate_k:
        def shown(done, total, trial, seed, metrics):
            echo(f"  {done}/{total}: trial #{trial.number} seed {seed}")
        # a diagnostic looks and leaves the choice alone: best and export pick what they picked before
        revalidate(s, revalidate_k, seeds, progress=None if as_json else shown, choose=False)
    diag = diagnostics(s)
    if as_json:
        click.echo(json.dumps({"study": s.name, **diag}, indent=2, default=float))
        return
    said = lines(s, diag)
    echo(f"diagnostics of {s.name}:")
    for line in said or ["nothing to diagnose: no task, no final retraining and no repeated-seed validation"]:
        echo(f"  {line}")
    if not diag["revalidation"] and s.evaluator_spec.trains:
        echo(f"  (archscout diagnose {s.name} --revalidate 3 trains the top 3 again with {seeds} more seeds)")
