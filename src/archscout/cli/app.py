"""The ``archscout`` click group with every command added, and :func:`main`, the installed script's entry point."""
from __future__ import annotations

import os

import click

from . import bench, catalog, export, proxies, report, results, search, supernet
from .common import run_guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="archscout")
def cli():
    """archscout: hardware-aware neural architecture search that measures every candidate.

    Start with `archscout search` (defaults: MNIST-1D, the conv1d space, regularized
    evolution); list what is built in with `archscout spaces`, `tasks`, `strategies`, `evaluators`.
    """


for command in (search.search, results.list_studies, results.show, results.front, results.best, results.diagnose,
                report.report,
                report.dashboard, export.export, bench.bench, proxies.proxies, supernet.supernet, catalog.spaces, catalog.tasks,
                catalog.strategies, catalog.evaluators):
    cli.add_command(command)


def main(argv=None) -> int:
    """Entry point: user errors print one line and exit 2 (a search that completed no trial: 1); nothing prints
    a traceback unless ARCHSCOUT_DEBUG=1."""
    short_openmp_spin()
    return run_guarded(cli, argv)


def short_openmp_spin() -> None:
    """Make PyTorch's idle OpenMP threads spin only briefly before they sleep (``GOMP_SPINCOUNT=1000``) unless the
    environment says how OpenMP waits (:func:`archscout.execute.openmp_wait_env`). OpenMP reads it once, when
    torch is imported, which the command line does only inside a command, after this. With OpenMP's default,
    threads that wait for a descheduled partner spin for a few milliseconds each time: on a busy machine a search
    stalled (see docs/benchmarks/threads-under-load.md)."""
    from ..execute._base import openmp_wait_env

    os.environ.update(openmp_wait_env())
