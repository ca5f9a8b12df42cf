"""The archscout command line: the click group and its commands, one module per command group."""
from __future__ import annotations

import click

from . import bench, catalog, export, proxies, report, results, search
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
                report.dashboard, export.export, bench.bench, proxies.proxies, catalog.spaces, catalog.tasks,
                catalog.strategies, catalog.evaluators):
    cli.add_command(command)


def main(argv=None) -> int:
    """Entry point: user errors print one line and exit 2; nothing prints a traceback unless ARCHSCOUT_DEBUG=1."""
    return run_guarded(cli, argv)
