"""The commands that present a study: `report` (an offline HTML file) and `dashboard` (a live, read-only web page)."""
from __future__ import annotations

import os

import click

from ..checks import int_in_range, positive_int
from ..errors import ArchscoutError
from .common import echo, existing, storage_option
from .results import load_study, space_option


@click.command()
@click.argument("study")
@storage_option
@click.option("--out", default=None, help="HTML file to write (default: STUDY-report.html next to the SQLite file).")
@click.option("--top", type=int, default=5, show_default=True, help="How many top architectures to draw.")
@space_option
def report(study, storage, out, top, space):
    """Write a study's report: one self-contained HTML file (opens offline) and its plots as PNG files."""
    from ..report.html import write_report

    positive_int(top, "--top")
    if out is not None and (os.path.isdir(out) or not out.strip()):
        raise ArchscoutError(f"--out {out!r} is a folder; give the report's file name, e.g. report.html")
    s = load_study(study, storage, space)
    written = write_report(s, out, top)
    echo(f"report: {written['html']} ({written['bytes'] / 1e6:.2f} MB, self-contained)")
    if written["png"]:
        echo(f"plots: {os.path.dirname(written['png'][0])}/ ({len(written['png'])} PNG files)")


@click.command()
@storage_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=int, default=8050, show_default=True, help="Port (0: any free port).")
@click.option("--refresh", type=float, default=2.0, show_default=True,
              help="Seconds between a study page's checks for new trials.")
def dashboard(storage, host, port, refresh):
    """Serve a live, read-only dashboard of the studies in the database (Ctrl-C stops it)."""
    from ..report.dashboard import serve

    int_in_range(port, "--port", 0, 65535)

    def ready(server):
        h, p = server.server_address[:2]
        echo(f"archscout dashboard of {storage} on http://{h}:{p}/ (read-only; Ctrl-C stops it)")
        if h not in ("127.0.0.1", "localhost", "::1"):
            echo("note: it is reachable from other machines and has no login")

    try:
        serve(existing(storage), host, port, refresh, ready)
    except KeyboardInterrupt:
        echo("dashboard stopped")
