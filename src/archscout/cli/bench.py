"""`archscout bench`: strategies compared over seeds and budgets on a tabular benchmark."""
from __future__ import annotations

import os

import click

from ..errors import ArchscoutError
from .common import csv_list, echo, int_list


@click.command()
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
    from ..bench import markdown, run_bench, write_results
    from ..evaluate.tabular import DATASETS

    names = csv_list("datasets", datasets) if datasets is not None else list(DATASETS)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArchscoutError(f"--out {out!r} is a file; give a directory")

    def progress(done, total, run):
        if done == total or done % max(1, total // 20) == 0:
            click.echo(f"  {done}/{total} runs ({run['dataset']} {run['strategy']} seed {run['seed']}: "
                       f"{run['seconds']:.2f} s)", err=True)

    result = run_bench(benchmark, names, csv_list("strategies", strategies) if strategies is not None else None,
                       int_list("budgets", budgets), seeds, workers, progress, objectives=objectives)
    paths = write_results(result, out)
    click.echo(markdown(result))
    echo(f"wrote {', '.join(paths)}")
