"""`archscout search`: options (command line, config file, the strategy's own) in, a study run, results out."""
from __future__ import annotations

import json

import click
from click.core import ParameterSource

from ..checks import non_negative_int, positive_int
from ..errors import ArchscoutError
from ..study.progress import print_lines
from .common import KeyValue, echo, load_config, print_board, print_front, storage_option


@click.command()
@click.option("--config", type=click.Path(dir_okay=False), default=None, is_eager=True, expose_value=False,
              callback=load_config, help="TOML or JSON file of search options (command-line options win).")
@click.option("--task", default=None,
              help="Built-in task name (see `archscout tasks`) or a .npz / .csv data file. Default: mnist1d "
                   "(the train evaluator; the synthetic one takes no task).")
@click.option("--label", default=None,
              help="The label column of a CSV task (or write --task FILE.csv:COLUMN); the column used is always "
                   "printed.")
@click.option("--task-kind", type=click.Choice(["classification", "regression"]), default=None,
              help="What the target is; default: inferred from it (continuous targets are a regression) and "
                   "printed.")
@click.option("--val-fraction", type=float, default=None,
              help="Fraction of the training data held out for validation (default 0.1).")
@click.option("--folds", type=int, default=None,
              help="Select by k-fold cross-validation over training and validation data (K >= 2; for small data): "
                   "every candidate trains K times and its validation metrics are averaged.")
@click.option("--device", default=None,
              help="Where candidates and final retrainings train: auto, cpu, cuda, cuda:N or mps (default cpu). A "
                   "pool's workers are spread over the GPUs.")
@click.option("--amp", is_flag=True, default=False,
              help="Automatic mixed precision (float16 on CUDA, bfloat16 on the CPU); part of the training budget.")
@click.option("--space", default=None,
              help="Search space (see `archscout spaces`), or your own as module:attr or path/to/file.py:attr (a "
                   "Space, or a function that returns one). Default: with the default search, the task's (conv1d-recipe, "
                   "conv2d-recipe, mlp-recipe or gnn by its inputs); else conv1d, or the space of a tabular benchmark.")
@click.option("--strategy", default=None,
              help="Search strategy (see `archscout strategies`). Default: the default search, auto (docs/default-search.md: "
                   "asha-kde from the space's priors, with the task's default space, workers and fidelities; mo-asha for "
                   "several objectives, evolution for an evaluator that does not train).")
@click.option("--strategy-option", "strategy_options", type=KeyValue(), multiple=True,
              help="An option of the strategy, KEY=VALUE (repeatable), e.g. surrogate=forest for bo or hidden_size=64 "
                   "for rl; VALUE is read as JSON when it parses (numbers, true/false, null, lists), else as a "
                   "string. An unknown KEY lists the strategy's options.")
@click.option("--trials", type=int, default=None,
              help="Stop after this many evaluated trials in the study (all runs together).")
@click.option("--time-budget", default=None,
              help="Time for the whole command, e.g. 90s, 30m, 1.5h: the search stops starting trials once the time left "
                   "is what revalidating and retraining the best is estimated to take (from the trials' own speed); "
                   "those steps drop seeds to fit what is left, and say so.")
@click.option("--study", "study_name", default=None,
              help="Study name; default TASK-SPACE. The same name and settings resume the study.")
@storage_option
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
                   "than 25 % over a latency bound.")
@click.option("--guide", type=click.Choice(["proxies", "predictor", "screen"]), default=None,
              help="Proxy-guided search: rank a pool of the strategy's proposals by zero-cost proxies (a vote) or by a "
                   "predictor fitted to the trained ones, and train only the best of each pool; screen: the vote, on "
                   "only while its measured Kendall tau with the first results is >= 0.3 (works with schedulers).")
@click.option("--guide-pool", type=int, default=None,
              help="--guide: proposals ranked per trained candidate (10; screen: 5).")
@click.option("--guide-proxies", default=None,
              help="--guide: comma-separated proxies to rank by (default nwot,jacov,flops for proxies and screen; all "
                   "but grad_sign for predictor).")
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
@click.option("--revalidate", type=int, default=3, show_default=True,
              help="Before choosing, train the K best again with --revalidate-seeds more seeds each (scored on "
                   "validation, never on test); they rank by their mean (0: choose on the search's single seed).")
@click.option("--revalidate-seeds", type=int, default=2, show_default=True,
              help="More seeds per trial with --revalidate.")
@click.option("--revalidate-on", type=click.Choice(["seeds", "splits"]), default="seeds", show_default=True,
              help="What the repeated runs change: the seed, or the seed and the split (each run trains and "
                   "validates on another part of the training and validation data, of the validation's size).")
@click.option("--early-stop", default=None,
              help="Stop a trial early from its learning curve: median (its best so far below the median of "
                   "completed trials at that step) or percentile:P (not in the top P %); see docs/multi-fidelity.md.")
@click.option("--fidelity-mode", type=click.Choice(["continue", "restart"]), default="continue", show_default=True,
              help="A scheduler's low fidelities: stop the full schedule early and continue it from a checkpoint when "
                   "promoted, or train each fidelity with a schedule of its own from the start.")
@click.option("--checkpoint-dir", default=None,
              help="Where training checkpoints live (default: beside the SQLite file, DB-checkpoints/STUDY). With Ray on "
                   "several machines, give a folder they share.")
@click.option("--population-size", type=int, default=None, help="evolution: population size (default 20).")
@click.option("--sample-size", type=int, default=None, help="evolution: tournament size (default 5).")
@click.option("--evaluator", default="train", show_default=True,
              help="How candidates are measured: train (budgeted training on the task), zero-cost (proxies of the "
                   "untrained network; objective proxy@nwot unless given), predictor:FILE (a predictor written by "
                   "`archscout proxies --save-predictor`), supernet:FILE (sub-networks scored with the weights they "
                   "inherit from a supernet written by `archscout supernet train`), nas-bench-graph:DATASET or "
                   "nas-bench-201:DATASET (lookups in NAS-Bench-Graph's tables, space gnn, or NAS-Bench-201's, "
                   "space cell), your own function as module:attr or path/to/file.py:attr (declared with "
                   "@archscout.evaluator; docs/own-problem.md) or synthetic[:OPTS] (a no-training stand-in for "
                   "testing). `archscout evaluators` lists them.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Trials evaluated at once (a local process pool when > 1).")
@click.option("--threads", type=int, default=None,
              help="PyTorch intra-op threads per trial. Default: the usable cores shared among the workers "
                   "(cores // workers; 1 per Ray task), capped by OMP_NUM_THREADS when set.")
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
def search(task, label, task_kind, val_fraction, folds, device, amp, space, strategy, strategy_options, trials,
           time_budget, study_name, storage, seed, objectives,
           reference, measure, prescreen_latency, guide, guide_pool, guide_proxies, constraints, steps, epochs,
           batch_size, lr, optimizer, schedule, final_steps, top_k, final_seeds, population_size, sample_size,
           evaluator, workers, executor, address, trial_timeout, trial_memory, max_failures, on_interrupted,
           progress, threads, revalidate, revalidate_seeds, revalidate_on, early_stop, fidelity_mode, checkpoint_dir):
    """Search for an architecture, retrain the best, and print the leaderboard.

    Every trial is stored as it finishes; running the same command again resumes the
    study and never trains an architecture twice at the same budget.
    """
    from ..strategy import STRATEGIES
    from ..study import Study, check_budget, check_search_options
    from ..study import default_search as default
    ctx = click.get_current_context()
    strategy = default.strategy_for(strategy, evaluator, len(_objective_names(objectives)))
    # a differentiable method (darts, gdas, ...) runs its own steps: it needs no trial or time budget
    if not (strategy in STRATEGIES and getattr(STRATEGIES.get(strategy), "oneshot", False)
            and trials is None and time_budget is None):
        check_budget(trials, time_budget)
    check_search_options(workers, executor, address, trial_timeout, trial_memory, max_failures or None,
                         on_interrupted)  # refuse bad settings before anything is stored
    from ..execute import check_threads, default_threads
    check_threads(threads)
    from .results import resolve_space
    space_ref = space if space is not None and ":" in space else None
    if space_ref:
        space = resolve_space(space_ref)  # your own Space, imported before anything is stored
    _check_finish(top_k, final_seeds, revalidate, revalidate_seeds, revalidate_on, folds)
    auto = None
    if default.is_default(strategy) and evaluator == "train":
        auto = _default_settings(ctx, task, {"label": label, "kind": task_kind, "val_fraction": val_fraction,
                                             "folds": folds}, space, time_budget, workers, threads, fidelity_mode)
        space, workers, threads, fidelity_mode = auto["space"], auto["workers"], auto["threads"], auto["fidelity_mode"]
        top_k = top_k if ctx.get_parameter_source("top_k") in (ParameterSource.COMMANDLINE,
                                                                 ParameterSource.DEFAULT_MAP) else default.TOP_K
    options = _strategy_options(ctx, strategy_options,
                                {"population_size": population_size, "sample_size": sample_size})
    train = {"steps": steps, "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
             "schedule": schedule, **({"amp": True} if amp else {}),
             **({"fidelity_mode": fidelity_mode} if fidelity_mode != "continue" else {})}
    task_options = {"label": label, "kind": task_kind, "val_fraction": val_fraction, "folds": folds}
    if device is not None:
        from ..evaluate.training import resolve_device
        resolve_device(device)  # one clear line for a device this machine lacks, before anything is stored
    final_train = None
    if final_steps is not None:
        final_train = {**train, "steps": final_steps, "epochs": None}
    non_negative_int(max_failures, "--max-failures")
    if guide is None and (guide_pool is not None or guide_proxies is not None):
        raise ArchscoutError("--guide-pool and --guide-proxies set up a guide: add --guide proxies or "
                             "--guide predictor")
    guide_options = None if guide is None else {"by": guide, **({"pool": guide_pool} if guide_pool is not None else {}),
                                                 **({"proxies": guide_proxies} if guide_proxies else {})}
    study = Study(study_name, space=space, task=task, strategy=strategy, strategy_options=options,
                  storage=storage, seed=seed, objectives=objectives, constraints=constraints, train=train,
                  final_train=final_train, evaluator=evaluator, measure=measure,
                  prescreen_latency=prescreen_latency, reference_point=_reference(reference), guide=guide_options,
                  task_options=task_options, device=device, early_stopping=early_stop, checkpoint_dir=checkpoint_dir)
    what = study.task.summary() if study.evaluator_spec.needs_task else f"evaluator {study.evaluator_spec}"
    echo(f"study {study.name} · {what}")
    for note in getattr(study.task, "notes", ()) if study.evaluator_spec.needs_task else ():
        echo(note)
    n = threads or (1 if executor == "ray" else default_threads(workers))
    where = (f"{workers} worker{'s' if workers > 1 else ''}" + (f" on {executor}" if executor else "")
             + f" × {n} thread{'s' if n > 1 else ''}")
    if auto is not None:
        echo(auto["line"])
    echo(f"space {study.space.name} · strategy {study.strategy_name} · budget "
         f"{trials if trials else '∞'} trials / {time_budget or 'no time limit'} · {where} · storage "
         f"{study.storage.shown_url}")
    oneshot = getattr(STRATEGIES.get(study.strategy_name), "oneshot", False)
    study.run(trials=trials, time_budget=time_budget, final_top_k=top_k, final_seeds=final_seeds,
              progress=oneshot_lines if oneshot else progress or print_lines, workers=workers, executor=executor, address=address,
              trial_timeout=trial_timeout, trial_memory_mb=trial_memory, max_failures=max_failures or None,
              on_interrupted=on_interrupted, threads=threads,  # --no-progress: the trial lines, without the bar
              revalidate=revalidate if top_k > 0 else 0, revalidate_seeds=revalidate_seeds, revalidate_on=revalidate_on,
              whole_budget=True)
    if not study.leaderboard(1):  # nothing to show or export: say so, and exit 1
        from ..study.loop import NoTrialCompleted
        raise NoTrialCompleted.of(study)
    print_board(study, 10)
    if study.multi_objective:
        print_front(study)
    if study.evaluator_spec.trains:
        from ..study.diagnostics import lines
        for line in lines(study):
            echo(line)
    echo(f"\nresults: study {study.name!r} in {study.storage.shown_url}")
    exportable = study.evaluator_spec.needs_task  # a lookup evaluator trained nothing that could be exported
    extra = ("" if storage == "sqlite:///archscout.db" else f" --storage {storage}") \
        + (f" --space {space_ref}" if space_ref else "")
    echo(f"next: archscout show {study.name}"
         + (f"   ·   archscout export {study.name} --out model/" if exportable else "")
         + (f"   (add{extra})" if extra else ""))


def _objective_names(objectives: str | None) -> list:
    from ..metrics import parse_objectives
    return parse_objectives(objectives) if objectives else ["accuracy"]


def _check_finish(top_k, final_seeds, revalidate, revalidate_seeds, revalidate_on, folds) -> None:
    """The options of what follows the search, each refused with one clear line."""
    non_negative_int(top_k, "--top-k")
    non_negative_int(final_seeds, "--final-seeds")
    if top_k > 0 and final_seeds == 0:
        raise ArchscoutError(f"--final-seeds 0 retrains nothing, so --top-k {top_k} would have no effect: give "
                             f"--final-seeds 1 or more, or --top-k 0 to skip the final retraining")
    non_negative_int(revalidate, "--revalidate")
    positive_int(revalidate_seeds, "--revalidate-seeds")
    if revalidate_on == "splits" and folds:
        raise ArchscoutError(f"--revalidate-on splits trains on other splits of the validation's size, but --folds "
                             f"{folds} already validates on every sample: leave out one of the two")


def _default_settings(ctx, task, task_options: dict, space, time_budget, workers, threads, fidelity_mode) -> dict:
    """The default search's settings (:mod:`archscout.study.default_search`) for what the command line and the
    config file leave out: the task's default space, the workers, how low fidelities train."""
    from ..execute import usable_cores
    from ..study import check_budget
    from ..study import default_search as default
    from ..tasks import get_task

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.DEFAULT_MAP)

    loaded = get_task(task or "mnist1d", {k: v for k, v in task_options.items() if v is not None})
    notes = []
    if space is None:
        space = default.space_for(loaded)
        notes.append(f"space {space} for inputs {getattr(loaded, 'input_shape', 'graphs')}")
    if not given("workers") and not given("executor"):
        seconds = check_budget(None, time_budget) if time_budget is not None else None
        workers, auto_threads = default.parallelism(loaded, seconds, usable_cores())
        threads = threads if given("threads") else auto_threads
        notes.append(f"{workers} worker{'s' if workers > 1 else ''}")
    if not given("fidelity_mode"):
        fidelity_mode = default.FIDELITY_MODE
    line = "default search (auto): " + ", ".join(notes + [f"low fidelities {fidelity_mode}"]) \
        + " · see docs/default-search.md"
    return {"space": space, "workers": workers, "threads": threads, "fidelity_mode": fidelity_mode, "line": line}


def oneshot_lines(event: str, **data) -> None:
    """The progress of a one-shot method (darts, gdas, ..., lpgnas-lite), with or without --progress: its checks
    and what it derived (the "searched" event: the cell, its parameter-free edges, collapse, the search time),
    then the lines of the final retraining."""
    if event == "searched":
        echo(data["text"])
    else:
        print_lines(event, **data)


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


def _strategy_options(ctx, items: tuple, shorthands: dict) -> dict:
    """The strategy's options from --strategy-option pairs and their shorthands (--population-size, ...), on the
    command line and in the config file: the command line wins key by key, as it does for every option; within
    one of them a key given twice must have one value. make_strategy checks the keys against the strategy."""
    file_items = ctx.lookup_default("strategy_options") or []
    command_line = ctx.get_parameter_source("strategy_options") is ParameterSource.COMMANDLINE
    layers = {"on the command line": [(k, v, "--strategy-option") for k, v in (items if command_line else ())],
              "in the config file": [(k, v, "strategy-options") for k, v in file_items]}
    for name, value in shorthands.items():
        if value is not None:
            from_cli = ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
            layers["on the command line" if from_cli else "in the config file"].append(
                (name, value, f"--{name.replace('_', '-')}" if from_cli else name.replace("_", "-")))
    out: dict = {}
    for where in ("in the config file", "on the command line"):
        seen: dict = {}
        for key, value, how in layers[where]:
            if key in seen and seen[key][0] != value:
                raise ArchscoutError(f"strategy option {key} is given twice {where} with different values: "
                                     f"{json.dumps(seen[key][0])} ({seen[key][1]}) and {json.dumps(value)} ({how}); "
                                     f"give it once")
            seen[key] = (value, how)
        out.update((k, v) for k, (v, _) in seen.items())
    return out
