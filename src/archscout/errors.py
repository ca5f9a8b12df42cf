"""Errors a user can cause (bad names, files, budgets) and errors a trial can raise."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ArchscoutError(Exception):
    """A problem with the user's input: reported as one message, never as a traceback."""


class TrialFailed(Exception):
    """An evaluation that could not produce valid metrics (diverged, raised, impossible shape)."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> ArchscoutError:
    """An error naming the valid choices and the closest matches for a misspelt name."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return ArchscoutError(f"unknown {kind} {name!r}.{hint} Valid {plural}: {', '.join(valid)}.")
