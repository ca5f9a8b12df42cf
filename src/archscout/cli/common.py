"""What the command modules share: common options, --config files, KEY=VALUE items, printing and error handling."""
from __future__ import annotations

import json
import os

import click

from ..errors import ArchscoutError

STORAGE_HELP = "Database URL: sqlite:///FILE (default sqlite:///archscout.db here) or postgresql://..."


def storage_option(f):
    return click.option("--storage", default="sqlite:///archscout.db", show_default=True, help=STORAGE_HELP)(f)


# -- KEY=VALUE items ------------------------------------------------------------------------------

KEY_VALUE_HINT = "write KEY=VALUE, e.g. population_size=50"


def split_item(item: str) -> tuple | None:
    """``KEY=VALUE`` as (key, value), or None when there is no KEY=. KEY may use - for _ (population-size), as
    config keys may; VALUE is JSON when it parses (numbers, true/false, null, lists), else the text itself."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = text.strip()
    return key.strip().replace("-", "_"), value


class KeyValue(click.ParamType):
    """A repeatable KEY=VALUE option whose items become (key, value) pairs; a config file may give a table."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):  # a pair already read from a config file
            return value
        pair = split_item(value)
        if pair is None:
            raise ArchscoutError(f"cannot read {param.opts[0]} {value!r}; {KEY_VALUE_HINT}")
        return pair

    @staticmethod
    def from_config(path: str, key: str, value) -> list[tuple]:
        """A table ({key: value}), or a list of KEY=VALUE strings as on the command line, as pairs."""
        if isinstance(value, dict):
            for k, v in value.items():
                try:
                    json.dumps(v)
                except TypeError:  # a TOML date: the study stores its options as JSON
                    raise ArchscoutError(f"config file {path!r}: {key}: {k} must be a number, string, true or "
                                         f"false, or a list, got {v!r}") from None
            return [(str(k).replace("-", "_"), v) for k, v in value.items()]
        if isinstance(value, str):
            value = [value]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ArchscoutError(f"config file {path!r}: {key} must be a table (KEY = VALUE) or a list of "
                                 f"'KEY=VALUE' strings, got {value!r}")
        pairs = []
        for item in value:
            pair = split_item(item)
            if pair is None:
                raise ArchscoutError(f"config file {path!r}: {key}: cannot read {item!r}; {KEY_VALUE_HINT}")
            pairs.append(pair)
        return pairs


# -- --config FILE --------------------------------------------------------------------------------

def load_config(ctx, param, path):
    """--config FILE: a TOML or JSON file whose keys are the command's options (e.g. time_budget = "30m");
    options given on the command line win."""
    if path is None:
        return None
    from .config import read_search_config

    params = {p.name: p for p in ctx.command.params if p.name not in ("config",)}
    values = read_search_config(path, set(params))
    for name, value in values.items():
        if isinstance(params[name].type, KeyValue):
            values[name] = KeyValue.from_config(path, name.replace("_", "-"), value)
        else:
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


# -- comma-separated lists and output files ---------------------------------------------------------

def csv_list(kind: str, text: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise ArchscoutError(f"--{kind}: give a comma-separated list")
    return items


def int_list(kind: str, text: str) -> list[int]:
    out = []
    for p in csv_list(kind, text):
        try:
            out.append(int(p))
        except ValueError:
            raise ArchscoutError(f"--{kind}: {p!r} is not a whole number") from None
    return out


def check_writable(option: str, path: str) -> None:
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


# -- storage and printing -------------------------------------------------------------------------

def existing(url: str):
    """Storage that must exist already (read commands never create a database)."""
    from ..storage import Storage

    return Storage(url, create=False)


def console():
    from rich.console import Console
    out = Console(highlight=False)
    if not out.is_terminal:  # a log file or a pipe: wide enough for the leaderboard
        out = Console(highlight=False, width=160)
    return out


def echo(text: str) -> None:
    click.echo(text)


def print_board(study, n):
    from ..report.tables import leaderboard_table

    if not study.leaderboard(1):
        echo(f"study {study.name} has no completed trial yet")
        return
    console().print(leaderboard_table(study, n))


def print_front(study, plots: str | None = "") -> None:
    """The front table, the hypervolume, and (unless ``plots`` is None) the plots written next to the study."""
    from ..report.front import front_table, write_plots

    if not study.leaderboard(1):
        echo(f"study {study.name} has no completed trial yet")
        return
    console().print(front_table(study))
    history = [f for f in study.fronts() if f["hypervolume"] is not None]
    if history:
        ref = ", ".join(f"{k} {v:.4g}" for k, v in (study.reference_point or {}).items())
        echo(f"hypervolume {history[-1]['hypervolume']:.6g} after {history[-1]['finished']} trials "
             f"(reference point: {ref})")
        note = study.reference_note()
        if note:
            echo(f"note: {note}")
    if plots is not None and study.multi_objective:
        echo(f"plots: {', '.join(write_plots(study, plots or None))}")


# -- errors ---------------------------------------------------------------------------------------

def run_guarded(group: click.Group, argv) -> int:
    """Run the command line: user errors print one line and exit 2; nothing prints a traceback unless
    ARCHSCOUT_DEBUG=1."""
    try:
        group.main(args=argv, prog_name="archscout", standalone_mode=False)
    except ArchscoutError as e:
        click.echo(f"error: {e}", err=True)
        return getattr(e, "exit_code", 2)  # 1: a search that ran and completed no trial
    except (click.exceptions.Abort, KeyboardInterrupt):
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
