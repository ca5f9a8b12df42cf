"""`archscout proxies`: how well zero-cost proxies rank trained architectures, and fitting a predictor on them."""
from __future__ import annotations

import json

import click

from ..errors import ArchscoutError
from .common import check_writable, console, csv_list, echo, existing, storage_option


@click.command()
@click.option("--study", "study_name", default=None,
              help="Correlate against this study's trained trials (proxies it stored are reused); with --samples, "
                   "train more in it first.")
@storage_option
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
    from ..evaluate.proxies import PROXIES, describe_proxy
    from ..report import proxies as rp

    if list_only:
        for name in PROXIES:
            echo(f"{name:10} {describe_proxy(name)}")
        return
    chosen = _check_options(names, samples, ground_truth, predictor_out, predictor_name, json_out, plots)
    records, source, space_obj, info = _records(ground_truth, study_name, storage, samples, space, task, steps, seed,
                                                chosen)
    rows = rp.correlations(records, chosen)
    console().print(rp.correlation_table(rows, f"zero-cost proxies against validation accuracy · {source}"))
    totals = rp.total_seconds(records, chosen)
    if totals:
        echo(f"all {len(chosen)} proxies of one architecture: median {totals['median']:.3f} s, mean "
             f"{totals['mean']:.3f} s, max {totals['max']:.3f} s")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"source": source, "architectures": len(records), "proxies": rows, "total_seconds": totals},
                      f, indent=1)
        echo(f"wrote {json_out}")
    if plots:
        echo(f"wrote {rp.write_scatter(records, chosen, plots, source)}")
    if predictor_out:
        if ground_truth is not None:
            info["task"] = records[0].get("task")
        header = rp.fit_predictor(records, predictor_name, space_obj, chosen, predictor_out, seed=seed, **info)
        echo(f"wrote predictor {predictor_out} ({predictor_name}, fitted on {header['fitted_on']} architectures); "
             f"search with it: archscout search --evaluator predictor:{predictor_out}")


def _check_options(names, samples, ground_truth, predictor_out, predictor_name, json_out, plots) -> list[str]:
    """The chosen proxies, with every option checked before anything is trained."""
    from ..evaluate.predictors import PREDICTORS
    from ..evaluate.proxies import PROXIES, check_proxy

    chosen = csv_list("proxies", names) if names is not None else list(PROXIES)
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
        from ..errors import unknown_name
        raise unknown_name("predictor", predictor_name, PREDICTORS)
    if samples is not None and samples < 3:
        raise ArchscoutError(f"--samples must be at least 3 to correlate anything, got {samples}")
    if samples is not None and samples < 4 and predictor_out is not None:
        raise ArchscoutError(f"--save-predictor fits on at least 4 trained architectures; --samples is {samples}")
    for option, path in (("--json", json_out), ("--plots", plots), ("--save-predictor", predictor_out)):
        if path is not None:  # before any training: an unwritable output is known now, not after it
            check_writable(option, path)
    return chosen


def _records(ground_truth, study_name, storage, samples, space, task, steps, seed, chosen) -> tuple:
    """The trained architectures to correlate (from the ground-truth file, the study, or trained now in it), a
    line naming their source, their Space and what a saved predictor records of them."""
    from ..report import proxies as rp

    info = {}
    if ground_truth is not None:
        if study_name is not None or samples is not None:
            raise ArchscoutError("--ground-truth reads trained architectures from the file: leave out --study and "
                                 "--samples")
        records = rp.records_from_file(ground_truth)
        source, space_obj = f"ground truth {ground_truth}", records[0]["arch"].space
        info["source"] = ground_truth
    else:
        from ..study import Study

        if samples is None:
            if study_name is None:
                raise ArchscoutError("say which trained architectures to use: --study NAME (a study's trials), "
                                     "--samples N (train N now) or --ground-truth FILE")
            study = Study.load(study_name, existing(storage))
        else:
            name = study_name or f"proxies-{task}-{space}"
            study = Study(name, space=space, task=task, strategy="random", seed=seed, storage=storage,
                          train={"steps": steps}, measure=[f"proxy@{p}" for p in chosen])
            echo(f"training up to {samples} sampled architectures in study {name} ({steps} steps each)")
            study.search(trials=samples, progress=True)
        records = rp.records_from_study(study, chosen)
        source, space_obj = f"study {study.name} ({len(records)} trained)", study.space
        info.update(source=f"study {study.name}", task=study.task.name)
    return records, source, space_obj, info
