"""The archscout command line: a thin layer that parses options, calls the API and prints."""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import ArchscoutError

STORAGE_HELP = "Database URL: sqlite:///FILE (default sqlite:///archscout.db here) or postgresql://..."


def _storage_option(f):
    return click.option("--storage", default="sqlite:///archscout.db", show_default=True, help=STORAGE_HELP)(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="archscout")
def cli():
    """archscout: hardware-aware neural architecture search that measures every candidate.

    Start with `archscout search` (defaults: MNIST-1D, the conv1d space, regularized
    evolution); list what is built in with `archscout spaces`, `tasks`, `strategies`.
    """


def _load_config(ctx, param, path):
    """--config FILE: a TOML or JSON file whose keys are `search` options (e.g. time_budget = "30m");
    options given on the command line win."""
    if path is None:
        return None
    from .config import read_search_config

    params = {p.name: p for p in ctx.command.params if p.name not in ("config",)}
    values = read_search_config(path, set(params))
    for name, value in values.items():
        _check_config_type(path, params[name], value)
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return path


def _check_config_type(path: str, param, value) -> None:
    """Config values must have the option's type: no silent truncation of 2.5 trials, no true as 1."""
    key = param.name.replace("_", "-")
    t = param.type
    if param.is_flag:
        ok, want = isinstance(value, bool), "true or false"
    elif param.multiple:
        ok, want = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of strings"
    elif isinstance(t, click.types.IntParamType):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(t, click.types.FloatParamType):
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    else:
        ok, want = isinstance(value, (str, int, float)) and not isinstance(value, bool), "a string"
    if not ok:
        raise ArchscoutError(f"config file {path!r}: {key} must be {want}, got {value!r}")


@cli.command()
@click.option("--config", type=click.Path(dir_okay=False), default=None, is_eager=True, expose_value=False,
              callback=_load_config, help="TOML or JSON file of search options (command-line options win).")
@click.option("--task", default=None,
              help="Built-in task name (see `archscout tasks`) or a .npz / .csv data file. Default: mnist1d "
                   "(the train evaluator; the synthetic one takes no task).")
@click.option("--space", default=None,
              help="Search space (see `archscout spaces`). Default: conv1d, or the space of a tabular benchmark.")
@click.option("--strategy", default="evolution", show_default=True,
              help="Search strategy (see `archscout strategies`).")
@click.option("--trials", type=int, default=None,
              help="Stop after this many evaluated trials in the study (all runs together).")
@click.option("--time-budget", default=None,
              help="Stop starting trials after this much search time in the study, e.g. 90s, 30m, 1.5h.")
@click.option("--study", "study_name", default=None,
              help="Study name; default TASK-SPACE. The same name and settings resume the study.")
@_storage_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the strategy and of training.")
@click.option("--objectives", default=None,
              help="Metrics to optimise with directions, e.g. accuracy:max,latency_ms@onnxruntime:b1:min,params:min "
                   "(default accuracy:max). Several objectives need a multi-objective strategy (nsga2, linas, "
                   "random, optuna-*).")
@click.option("--reference", "reference", multiple=True,
              help="Hypervolume reference point of an objective, METRIC=VALUE (repeatable; default: derived, see "
                   "docs/multiobjective.md).")
@click.option("--measure", default="",
              help="More metrics to measure for every trial, e.g. accuracy@int8,size_bytes@int8,memory_mb.")
@click.option("--prescreen-latency", is_flag=True,
              help="Build a per-operator latency lookup table first and reject, unmeasured, candidates it puts more "
                   "than 25 %% over a latency bound.")
@click.option("--guide", type=click.Choice(["proxies", "predictor"]), default=None,
              help="Proxy-guided search: rank a pool of the strategy's proposals by zero-cost proxies (a vote) or by a "
                   "predictor fitted to the trained ones, and train only the best of each pool.")
@click.option("--guide-pool", type=int, default=None, help="--guide: proposals ranked per trained candidate (10).")
@click.option("--guide-proxies", default=None,
              help="--guide: comma-separated proxies to rank by (default nwot,jacov,flops for proxies; all but "
                   "grad_sign for predictor).")
@click.option("--constraint", "constraints", multiple=True,
              help="A bound on a metric, e.g. 'params <= 20000' or 'latency_ms <= 2' (repeatable). Bounds on "
                   "costs (params, flops, size_bytes, latency_ms, memory_mb) are checked before training.")
@click.option("--steps", type=int, default=1000, show_default=True, help="Training steps per candidate.")
@click.option("--epochs", type=float, default=None, help="Training epochs per candidate (instead of --steps).")
@click.option("--batch-size", type=int, default=100, show_default=True, help="Training batch size.")
@click.option("--lr", type=float, default=1e-2, show_default=True, help="Peak learning rate.")
@click.option("--optimizer", type=click.Choice(["adamw", "adam", "sgd"]), default="adamw", show_default=True)
@click.option("--schedule", type=click.Choice(["onecycle", "cosine", "constant"]), default="onecycle",
              show_default=True, help="Learning-rate schedule.")
@click.option("--final-steps", type=int, default=None,
              help="Training steps of the final retraining (default: 3x --steps).")
@click.option("--top-k", type=int, default=3, show_default=True,
              help="How many of the best trials to retrain on all training data at the end (0: none).")
@click.option("--final-seeds", type=int, default=3, show_default=True, help="Seeds per final retraining.")
@click.option("--population-size", type=int, default=None, help="evolution: population size (default 20).")
@click.option("--sample-size", type=int, default=None, help="evolution: tournament size (default 5).")
@click.option("--evaluator", default="train", show_default=True,
              help="How candidates are measured: train (budgeted training on the task), zero-cost (proxies of the "
                   "untrained network; objective proxy@nwot unless given), predictor:FILE (a predictor written by "
                   "`archscout proxies --save-predictor`), nas-bench-graph:DATASET (a lookup in NAS-Bench-Graph's "
                   "tables; space gnn) or synthetic[:OPTS] (a no-training stand-in for testing; see the docs).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Trials evaluated at once (a local process pool when > 1).")
@click.option("--executor", type=click.Choice(["local", "pool", "ray"]), default=None,
              help="Where trials run: local (in this process), pool (worker processes), ray (a Ray cluster). "
                   "Default: local for 1 worker, pool for more.")
@click.option("--address", default=None, help="ray: address of the Ray cluster (default: start a local one).")
@click.option("--trial-timeout", default=None, help="Per-trial time limit, e.g. 90s, 10m; over it the trial fails.")
@click.option("--trial-memory", "trial_memory", type=float, default=None,
              help="Per-trial memory limit in MB (resident memory of the evaluating process).")
@click.option("--max-failures", type=int, default=20, show_default=True,
              help="Stop the study after this many failed trials in a row (0: never).")
@click.option("--on-interrupted", type=click.Choice(["requeue", "fail"]), default="requeue", show_default=True,
              help="Trials running when their process died: evaluate again, or store as failed.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show the progress bar.")
def search(task, space, strategy, trials, time_budget, study_name, storage, seed, objectives, reference, measure,
           prescreen_latency, guide, guide_pool, guide_proxies, constraints, steps, epochs,
           batch_size, lr, optimizer, schedule, final_steps, top_k, final_seeds, population_size, sample_size,
           evaluator, workers, executor, address, trial_timeout, trial_memory, max_failures, on_interrupted,
           progress):
    """Search for an architecture, retrain the best, and print the leaderboard.

    Every trial is stored as it finishes; running the same command again resumes the
    study and never trains an architecture twice at the same budget.
    """
    from .evaluate import uses_task
    from .study import Study, check_budget, check_search_options

    check_budget(trials, time_budget)
    check_search_options(workers, executor, address, trial_timeout, trial_memory, max_failures or None,
                         on_interrupted)  # refuse bad settings before anything is stored
    if top_k < 0 or final_seeds < 0:
        raise ArchscoutError("--top-k and --final-seeds must be >= 0")
    options = {k: v for k, v in (("population_size", population_size), ("sample_size", sample_size))
               if v is not None}
    train = {"steps": steps, "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
             "schedule": schedule}
    final_train = None
    if final_steps is not None:
        final_train = {**train, "steps": final_steps, "epochs": None}
    if max_failures < 0:
        raise ArchscoutError(f"--max-failures must be >= 0, got {max_failures}")
    if guide is None and (guide_pool is not None or guide_proxies is not None):
        raise ArchscoutError("--guide-pool and --guide-proxies set up a guide: add --guide proxies or "
                             "--guide predictor")
    guide_options = None if guide is None else {"by": guide, **({"pool": guide_pool} if guide_pool is not None else {}),
                                                 **({"proxies": guide_proxies} if guide_proxies else {})}
    study = Study(study_name, space=space, task=task, strategy=strategy, strategy_options=options,
                  storage=storage, seed=seed, objectives=objectives, constraints=constraints, train=train,
                  final_train=final_train, evaluator=evaluator, measure=measure,
                  prescreen_latency=prescreen_latency, reference_point=_reference(reference), guide=guide_options)
    what = study.task.summary() if uses_task(study.evaluator_spec) else f"evaluator {study.evaluator_spec}"
    _echo(f"study {study.name} · {what}")
    where = f"{workers} worker{'s' if workers > 1 else ''}" + (f" on {executor}" if executor else "")
    _echo(f"space {study.space.name} · strategy {study.strategy_name} · budget "
          f"{trials if trials else '∞'} trials / {time_budget or 'no time limit'} · {where} · storage "
          f"{study.storage.shown_url}")
    study.run(trials=trials, time_budget=time_budget, final_top_k=top_k, final_seeds=final_seeds,
              progress=progress, workers=workers, executor=executor, address=address, trial_timeout=trial_timeout,
              trial_memory_mb=trial_memory, max_failures=max_failures or None, on_interrupted=on_interrupted)
    _print_board(study, 10)
    if study.multi_objective:
        _print_front(study)
    _echo(f"\nresults: study {study.name!r} in {study.storage.shown_url}")
    exportable = uses_task(study.evaluator_spec)  # a lookup evaluator trained nothing that could be exported
    _echo(f"next: archscout show {study.name}"
          + (f"   ·   archscout export {study.name} --out model/" if exportable else "")
          + ("" if storage == "sqlite:///archscout.db" else f"   (add --storage {storage})"))


@cli.command("list")
@_storage_option
def list_studies(storage):
    """List the studies in the database with their trial counts."""
    from .report.tables import studies_table

    rows = _existing(storage).list_studies()
    if not rows:
        _echo(f"no studies in {storage}")
        return
    _console().print(studies_table(rows))


@cli.command()
@click.argument("study")
@_storage_option
@click.option("--top", type=int, default=10, show_default=True, help="How many trials to show.")
@click.option("--failed", is_flag=True, help="Also list failed, infeasible and interrupted trials with reasons.")
def show(study, storage, top, failed):
    """Show a study's leaderboard (by validation accuracy; test accuracy of retrained trials)."""
    from .study import Study

    if top < 1:
        raise ArchscoutError(f"--top must be >= 1, got {top}")
    s = Study.load(study, _existing(storage), check_task=False)
    _print_board(s, top)
    if failed:
        for t in s.trials():
            if t.status not in ("complete", "running"):
                _echo(f"#{t.number:<4} {t.status}: {t.error}")


@cli.command()
@click.argument("study")
@_storage_option
@click.option("--plots", "plots", default=None, help="Folder for the plots (default: next to the SQLite file).")
@click.option("--no-plots", is_flag=True, help="Print the front only.")
@click.option("--json", "as_json", is_flag=True, help="Print the front (trials, objectives, metrics) as JSON.")
def front(study, storage, plots, no_plots, as_json):
    """Show a study's Pareto-optimal trials and write plots of the front and of hypervolume vs trials."""
    from .study import Study

    s = Study.load(study, _existing(storage), check_task=False)
    if as_json:
        history = s.fronts()
        doc = {"study": s.name, "objectives": [list(o) for o in s.objectives], "reference_point": s.reference_point,
               "hypervolume": history[-1]["hypervolume"] if history else None,
               "front": [{"trial": t.number, "architecture": t.arch.to_dict(), "metrics": t.metrics,
                          "final": t.final or None} for t in s.front()]}
        click.echo(json.dumps(doc, indent=2, default=float))
        return
    _print_front(s, None if no_plots else (plots or ""))


@cli.command()
@click.argument("study")
@_storage_option
@click.option("--out", default=None, help="HTML file to write (default: STUDY-report.html next to the SQLite file).")
@click.option("--top", type=int, default=5, show_default=True, help="How many top architectures to draw.")
def report(study, storage, out, top):
    """Write a study's report: one self-contained HTML file (opens offline) and its plots as PNG files."""
    from .report.html import write_report
    from .study import Study

    if top < 1:
        raise ArchscoutError(f"--top must be >= 1, got {top}")
    if out is not None and (os.path.isdir(out) or not out.strip()):
        raise ArchscoutError(f"--out {out!r} is a folder; give the report's file name, e.g. report.html")
    s = Study.load(study, _existing(storage), check_task=False)
    written = write_report(s, out, top)
    _echo(f"report: {written['html']} ({written['bytes'] / 1e6:.2f} MB, self-contained)")
    if written["png"]:
        _echo(f"plots: {os.path.dirname(written['png'][0])}/ ({len(written['png'])} PNG files)")


@cli.command()
@_storage_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=int, default=8050, show_default=True, help="Port (0: any free port).")
@click.option("--refresh", type=float, default=2.0, show_default=True,
              help="Seconds between a study page's checks for new trials.")
def dashboard(storage, host, port, refresh):
    """Serve a live, read-only dashboard of the studies in the database (Ctrl-C stops it)."""
    from .report.dashboard import serve

    if not 0 <= port <= 65535:
        raise ArchscoutError(f"--port must be between 0 and 65535, got {port}")

    def ready(server):
        h, p = server.server_address[:2]
        _echo(f"archscout dashboard of {storage} on http://{h}:{p}/ (read-only; Ctrl-C stops it)")
        if h not in ("127.0.0.1", "localhost", "::1"):
            _echo("note: it is reachable from other machines and has no login")

    try:
        serve(_existing(storage), host, port, refresh, ready)
    except KeyboardInterrupt:
        _echo("dashboard stopped")


def _print_front(study, plots: str | None = "") -> None:
    """The front table, the hypervolume, and (unless ``plots`` is None) the plots written next to the study."""
    from .report.front import front_table, write_plots

    if not study.leaderboard(1):
        _echo(f"study {study.name} has no completed trial yet")
        return
    _console().print(front_table(study))
    history = [f for f in study.fronts() if f["hypervolume"] is not None]
    if history:
        ref = ", ".join(f"{k} {v:.4g}" for k, v in (study.reference_point or {}).items())
        _echo(f"hypervolume {history[-1]['hypervolume']:.6g} after {history[-1]['finished']} trials "
              f"(reference point: {ref})")
    if plots is not None and study.multi_objective:
        _echo(f"plots: {', '.join(write_plots(study, plots or None))}")


@cli.command()
@click.argument("study")
@_storage_option
@click.option("--json", "as_json", is_flag=True, help="Print the architecture and metrics as JSON.")
def best(study, storage, as_json):
    """Show the best trial of a study: architecture, validation metrics, final test accuracy."""
    from .study import Study

    s = Study.load(study, _existing(storage), check_task=False)
    t = s.best()
    doc = {"study": s.name, "trial": t.number, "architecture": t.arch.to_dict(), "metrics": t.metrics,
           "final": t.final or None}
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=float))
        return
    _echo(f"best trial #{t.number} of {s.name}: {t.arch.describe()}")
    m = t.metrics
    from .evaluate import uses_task
    from .report.front import fmt_metric

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
    _echo("  " + " · ".join(parts))
    if t.final:
        _echo(f"  test accuracy {100 * t.final['test_accuracy_mean']:.2f} ± {100 * t.final['test_accuracy_std']:.2f} % "
              f"over {t.final['seeds']} seeds (retrained on all training data)")
    elif uses_task(s.evaluator_spec):
        _echo("  not retrained yet (archscout search ... with --top-k >= 1, or archscout export)")


@cli.command()
@click.argument("study")
@_storage_option
@click.option("--out", default=None, help="Folder to write to (default: export-STUDY).")
@click.option("--trial", "number", type=int, default=None, help="Trial number (default: the best).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which final retraining seed to export.")
@click.option("--format", "formats", default="onnx,state", show_default=True,
              help="Comma-separated formats: onnx (model.onnx), torchscript (model.ts), state (model.pt, the "
                   "state dict).")
@click.option("--int8", is_flag=True, default=False,
              help="Also write model.int8.onnx, quantized as the study measured INT8 (needs a study that did: "
                   "--measure accuracy@int8 or a -quant space).")
def export(study, storage, out, number, seed, formats, int8):
    """Write a trained model with its architecture JSON and metrics.json, each file checked against PyTorch.

    Reload it with archscout.load(FOLDER) (needs the state or torchscript format); see docs/export.md.
    """
    from .export import check_formats
    from .study import Study

    formats = check_formats(formats)
    if seed < 0:
        raise ArchscoutError(f"--seed must be >= 0, got {seed}")
    s = Study.load(study, _existing(storage))
    if number is None:
        t = s.best()
    else:
        match = [t for t in s.trials() if t.number == number]
        if not match:
            raise ArchscoutError(f"study {study!r} has no trial #{number}")
        t = match[0]
    out = out or f"export-{s.name}"
    info = t.export(out, seed=seed, formats=formats, int8=int8)  # refuses what cannot be exported, with why
    _echo(f"exported trial #{t.number} ({t.arch.describe()}) to {out}/: {', '.join(info['files'])}")
    test = info["retrained"].get("test_accuracy")
    if test is not None:
        _echo(f"the model of its final retraining with seed {seed}: test accuracy {100 * test:.2f} %")
    if "onnx" in formats:
        if info["onnx_max_abs_diff"] is None:  # an operator ONNX cannot express: the other formats are exported
            _echo(f"no ONNX file: {info['onnx_error']}")
        else:
            _echo(f"ONNX Runtime matches PyTorch within {info['onnx_max_abs_diff']:.2e} (max abs logit difference)")
    if "torchscript" in formats:
        if info["torchscript_max_abs_diff"] is None:
            _echo(f"no TorchScript file: {info['torchscript_error']}")
        else:
            _echo(f"TorchScript reloaded matches PyTorch within {info['torchscript_max_abs_diff']:.2e} "
                  f"(max abs logit difference)")
    if int8:
        q = info["int8"]
        if q is None:
            _echo(f"no INT8 file: {info['int8_error']}")
        else:
            test = f", {100 * q['test_accuracy_int8']:.2f} % vs {100 * q['test_accuracy_fp32']:.2f} % on test " \
                f"data" if "test_accuracy_int8" in q else ""
            _echo(f"INT8 ({q['file']}) in ONNX Runtime: accuracy {100 * q['accuracy_int8']:.2f} % vs "
                  f"{100 * q['accuracy_fp32']:.2f} % fp32 on validation data{test}; weights "
                  f"{q['size_bytes_int8']:,} B vs {q['size_bytes_fp32']:,} B fp32")
    if not {"state", "torchscript"} & set(formats):
        _echo("note: archscout.load rebuilds a PyTorch module from the state or torchscript format only; "
              "this folder runs with ONNX Runtime")


def _reference(items: tuple) -> dict | None:
    """--reference METRIC=VALUE options as a dict (None when none is given)."""
    out = {}
    for item in items:
        metric, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not metric.strip() or number is None:
            raise ArchscoutError(f"cannot read --reference {item!r}; write METRIC=NUMBER, e.g. latency_ms=2")
        out[metric.strip()] = number
    return out or None


def _csv(kind: str, text: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise ArchscoutError(f"--{kind}: give a comma-separated list")
    return items


def _int_list(kind: str, text: str) -> list[int]:
    out = []
    for p in _csv(kind, text):
        try:
            out.append(int(p))
        except ValueError:
            raise ArchscoutError(f"--{kind}: {p!r} is not a whole number") from None
    return out


@cli.command()
@click.argument("benchmark")
@click.option("--datasets", default=None, help="Comma-separated datasets (default: all nine of NAS-Bench-Graph).")
@click.option("--strategies", default=None,
              help="Comma-separated strategies (default random,evolution,bo,rl,optuna-tpe; with --objectives "
                   "random,nsga2,linas,optuna-nsga2,optuna-tpe). Peers: random and the Optuna samplers.")
@click.option("--budgets", default="50,100,500", show_default=True,
              help="Comma-separated numbers of distinct architectures queried at which runs are scored.")
@click.option("--seeds", type=int, default=20, show_default=True, help="Runs per dataset and strategy (seeds 0..N-1).")
@click.option("--out", default="bench-results", show_default=True,
              help="Directory for results.json, results.md and one PNG per dataset.")
@click.option("--workers", type=int, default=1, show_default=True, help="Runs in parallel (processes).")
@click.option("--objectives", default=None,
              help="Several objectives, e.g. accuracy:max,latency_ms:min: runs are scored by the hypervolume of "
                   "their front over the true front's (from the whole table).")
def bench(benchmark, datasets, strategies, budgets, seeds, out, workers, objectives):
    """Compare strategies on a tabular benchmark: valid regret, picked test accuracy and hit rate (with
    --objectives: the hypervolume ratio of the found Pareto front).

    Example: archscout bench nas-bench-graph --datasets cora,citeseer --strategies random,evolution,bo,rl,optuna-tpe
    --budgets 50,100,500 --seeds 20 --out results/
    """
    from .bench import markdown, run_bench, write_results
    from .evaluate.tabular import DATASETS

    names = _csv("datasets", datasets) if datasets is not None else list(DATASETS)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArchscoutError(f"--out {out!r} is a file; give a directory")

    def progress(done, total, run):
        if done == total or done % max(1, total // 20) == 0:
            click.echo(f"  {done}/{total} runs ({run['dataset']} {run['strategy']} seed {run['seed']}: "
                       f"{run['seconds']:.2f} s)", err=True)

    result = run_bench(benchmark, names, _csv("strategies", strategies) if strategies is not None else None,
                       _int_list("budgets", budgets), seeds, workers, progress, objectives=objectives)
    paths = write_results(result, out)
    click.echo(markdown(result))
    _echo(f"wrote {', '.join(paths)}")


@cli.command()
@click.option("--study", "study_name", default=None,
              help="Correlate against this study's trained trials (proxies it stored are reused); with --samples, "
                   "train more in it first.")
@_storage_option
@click.option("--ground-truth", "ground_truth", default=None,
              help="A ground-truth file (JSON lines with architectures, val_accuracy and proxies), e.g. "
                   "benchmarks/data/mnist1d-conv1d.jsonl: nothing is trained or scored.")
@click.option("--space", default="conv1d", show_default=True, help="Space to sample (new study).")
@click.option("--task", default="mnist1d", show_default=True, help="Task to train on (new study).")
@click.option("--samples", type=int, default=None,
              help="Sample and train this many architectures (random search; stored in the study, default name "
                   "proxies-TASK-SPACE).")
@click.option("--steps", type=int, default=1000, show_default=True, help="Training steps per sampled architecture.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--proxies", "names", default=None, help="Comma-separated proxies (default: all; see --list).")
@click.option("--json", "json_out", default=None, help="Write the correlations and timings to this JSON file.")
@click.option("--plots", default=None, help="Write the scatter plots (one panel per proxy) to this PNG file.")
@click.option("--save-predictor", "predictor_out", default=None,
              help="Fit a predictor on these architectures and write it here (use it with --evaluator predictor:FILE).")
@click.option("--predictor", "predictor_name", default="ensemble", show_default=True,
              help="Which predictor --save-predictor fits: ensemble, gbt, forest, gbt-encoding, gbt-proxies, "
                   "combination.")
@click.option("--list", "list_only", is_flag=True, help="List the proxies with their papers and exit.")
def proxies(study_name, storage, ground_truth, space, task, samples, steps, seed, names, json_out, plots,
            predictor_out, predictor_name, list_only):
    """How well each zero-cost proxy ranks trained architectures: Spearman ρ and Kendall τ against validation
    accuracy, and the time per proxy per architecture.

    Examples: archscout proxies --samples 50 --steps 500   ·   archscout proxies --study mnist1d-conv1d   ·
    archscout proxies --ground-truth benchmarks/data/mnist1d-conv1d.jsonl --plots proxies.png
    """
    from .evaluate.predictors import PREDICTORS
    from .evaluate.proxies import PROXIES, check_proxy, describe_proxy
    from .report import proxies as rp

    if list_only:
        for name in PROXIES:
            _echo(f"{name:10} {describe_proxy(name)}")
        return
    chosen = _csv("proxies", names) if names is not None else list(PROXIES)
    for name in chosen:
        check_proxy(name)
    given = {n for n in ("space", "task", "steps", "predictor_name")
             if click.get_current_context().get_parameter_source(n) != click.core.ParameterSource.DEFAULT}
    if "predictor_name" in given and predictor_out is None:
        raise ArchscoutError("--predictor chooses the predictor that --save-predictor fits: add --save-predictor FILE")
    unused = sorted({"space", "task", "steps"} & given)
    if unused and samples is None:
        raise ArchscoutError(f"{', '.join('--' + u for u in unused)} set up the study that --samples trains; "
                             f"{'the ground-truth file' if ground_truth else 'a study'} already has its own")
    if predictor_out is not None and predictor_name not in PREDICTORS:
        from .errors import unknown_name
        raise unknown_name("predictor", predictor_name, PREDICTORS)
    if samples is not None and samples < 3:
        raise ArchscoutError(f"--samples must be at least 3 to correlate anything, got {samples}")
    if samples is not None and samples < 4 and predictor_out is not None:
        raise ArchscoutError(f"--save-predictor fits on at least 4 trained architectures; --samples is {samples}")
    for option, path in (("--json", json_out), ("--plots", plots), ("--save-predictor", predictor_out)):
        if path is not None:  # before any training: an unwritable output is known now, not after it
            _check_writable(option, path)
    info = {}
    if ground_truth is not None:
        if study_name is not None or samples is not None:
            raise ArchscoutError("--ground-truth reads trained architectures from the file: leave out --study and "
                                 "--samples")
        records = rp.records_from_file(ground_truth)
        source, space_obj = f"ground truth {ground_truth}", records[0]["arch"].space
        info["source"] = ground_truth
    else:
        from .study import Study

        if samples is None:
            if study_name is None:
                raise ArchscoutError("say which trained architectures to use: --study NAME (a study's trials), "
                                     "--samples N (train N now) or --ground-truth FILE")
            study = Study.load(study_name, _existing(storage))
        else:
            name = study_name or f"proxies-{task}-{space}"
            study = Study(name, space=space, task=task, strategy="random", seed=seed, storage=storage,
                          train={"steps": steps}, measure=[f"proxy@{p}" for p in chosen])
            _echo(f"training up to {samples} sampled architectures in study {name} ({steps} steps each)")
            study.search(trials=samples, progress=True)
        records = rp.records_from_study(study, chosen)
        source, space_obj = f"study {study.name} ({len(records)} trained)", study.space
        info.update(source=f"study {study.name}", task=study.task.name)
    rows = rp.correlations(records, chosen)
    _console().print(rp.correlation_table(rows, f"zero-cost proxies against validation accuracy · {source}"))
    totals = rp.total_seconds(records, chosen)
    if totals:
        _echo(f"all {len(chosen)} proxies of one architecture: median {totals['median']:.3f} s, mean "
              f"{totals['mean']:.3f} s, max {totals['max']:.3f} s")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"source": source, "architectures": len(records), "proxies": rows, "total_seconds": totals},
                      f, indent=1)
        _echo(f"wrote {json_out}")
    if plots:
        _echo(f"wrote {rp.write_scatter(records, chosen, plots, source)}")
    if predictor_out:
        if ground_truth is not None:
            info["task"] = records[0].get("task")
        header = rp.fit_predictor(records, predictor_name, space_obj, chosen, predictor_out, seed=seed, **info)
        _echo(f"wrote predictor {predictor_out} ({predictor_name}, fitted on {header['fitted_on']} architectures); "
              f"search with it: archscout search --evaluator predictor:{predictor_out}")


def _check_writable(option: str, path: str) -> None:
    """An output file can be created: its folder exists (or is created) and is writable, and it is not a folder."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ArchscoutError(f"{option} {path!r}: cannot create the folder {folder!r} ({e.strerror})") from None
    if os.path.isdir(path):
        raise ArchscoutError(f"{option} {path!r} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise ArchscoutError(f"{option} {path!r}: the folder {folder!r} is not writable")


@cli.command()
def spaces():
    """List the built-in search spaces."""
    from .space import get_space, list_spaces

    for name in list_spaces():
        sp = get_space(name)
        _echo(f"{name:13} {sp.description}  (~{sp.size():.2e} architectures)")


@cli.command()
def tasks():
    """List the built-in tasks (a .npz or .csv path works too)."""
    from .tasks import describe_task, list_tasks

    for name in list_tasks():
        _echo(f"{name:14} {describe_task(name)}")
    _echo(f"{'FILE.npz':14} your data: arrays X, y (optional X_test, y_test)")
    _echo(f"{'FILE.csv':14} your data: numeric columns; label column named label/target/y/class, else the last")


@cli.command()
def strategies():
    """List the built-in search strategies."""
    from .strategy import describe_strategy, list_strategies

    for name in list_strategies():
        _echo(f"{name:14} {describe_strategy(name)}")


def _existing(url: str):
    """Storage that must exist already (read commands never create a database)."""
    from .storage import Storage

    return Storage(url, create=False)


def _console():
    from rich.console import Console
    console = Console(highlight=False)
    if not console.is_terminal:  # a log file or a pipe: wide enough for the leaderboard
        console = Console(highlight=False, width=160)
    return console


def _echo(text: str) -> None:
    click.echo(text)


def _print_board(study, n):
    from .report.tables import leaderboard_table

    if not study.leaderboard(1):
        _echo(f"study {study.name} has no completed trial yet")
        return
    _console().print(leaderboard_table(study, n))


def main(argv=None) -> int:
    """Entry point: user errors print one line and exit 2; nothing prints a traceback unless ARCHSCOUT_DEBUG=1."""
    try:
        cli.main(args=argv, prog_name="archscout", standalone_mode=False)
    except ArchscoutError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("interrupted: finished trials are stored; run the same command again to resume", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted: finished trials are stored; run the same command again to resume", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except Exception as e:  # a bug: say so in one line, keep the traceback for those who ask
        if os.environ.get("ARCHSCOUT_DEBUG"):
            raise
        from sqlalchemy.exc import DatabaseError, IntegrityError

        if isinstance(e, DatabaseError) and not isinstance(e, IntegrityError):  # a database that breaks mid-way
            orig = str(getattr(e, "orig", e)).strip().splitlines()
            click.echo(f"error: the storage failed: {orig[0] if orig else type(e).__name__} (the database may be "
                       f"damaged or unreachable)", err=True)
            return 2
        click.echo(f"internal error: {type(e).__name__}: {e} (set ARCHSCOUT_DEBUG=1 for the traceback)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
