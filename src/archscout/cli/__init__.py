"""The archscout command line: the click group and its commands, one module per command group; the group and
the entry point (``archscout.cli:main``) are in :mod:`.app`."""
from .app import cli, main, short_openmp_spin

__all__ = ["cli", "main", "short_openmp_spin"]
