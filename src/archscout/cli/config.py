"""Search settings from a file (``archscout search --config FILE``): TOML or JSON, keys are option names."""
from __future__ import annotations

import difflib
import json
import os
import tomllib

from ..errors import ArchscoutError

_ALIASES = {"study": "study_name", "constraint": "constraints", "strategy_option": "strategy_options"}
_TABLES = {"strategy_options"}  # settings that are themselves key = value tables


def read_search_config(path: str, options: set[str]) -> dict:
    """The settings in ``path`` as ``{option name: value}``; keys may use - or _ (``time-budget``)."""
    if not os.path.isfile(path):
        raise ArchscoutError(f"config file {path!r} does not exist")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ArchscoutError(f"cannot read config file {path!r}: {e}") from None
    try:
        if path.endswith(".json"):
            doc = json.loads(text)
        else:
            doc = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        kind = "JSON" if path.endswith(".json") else "TOML"
        raise ArchscoutError(f"config file {path!r} is not valid {kind}: {e}") from None
    if not isinstance(doc, dict):
        raise ArchscoutError(f"config file {path!r} must hold a table of settings (key = value)")
    if isinstance(doc.get("search"), dict) and len(doc) == 1:  # a [search] table is fine too
        doc = doc["search"]
    out = {}
    for key, value in doc.items():
        name = str(key).replace("-", "_")
        name = _ALIASES.get(name, name)
        if name not in options:
            valid = sorted(o.replace("_", "-") for o in options)
            close = difflib.get_close_matches(str(key).replace("_", "-"), valid, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ArchscoutError(f"config file {path!r}: unknown setting {key!r}.{hint} "
                                 f"Valid settings: {', '.join(valid)}.")
        if isinstance(value, dict) and name not in _TABLES:
            raise ArchscoutError(f"config file {path!r}: {key} must be a single value, not a table")
        if name == "constraints" and isinstance(value, str):
            value = [value]
        out[name] = value
    return out
