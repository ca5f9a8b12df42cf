"""Objects named by reference on the command line: ``package.module:attr`` or ``path/to/file.py:attr``.

``--space mypkg.spaces:tiny`` imports ``mypkg.spaces`` and takes its ``tiny``; ``--space ./spaces.py:tiny``
loads that file. A file is loaded once per process under a module name derived from its absolute path
(``archscout_file_<hash>_<stem>``) and kept in ``sys.modules``, so what it defines pickles by reference
and unpickles in this process; :func:`loaded_files` lists those modules, so that worker processes can
load the same files before they unpickle anything (the pool executor does).

Every problem is one :class:`ArchscoutError` line naming the reference and what was expected (``what``).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys

from ..errors import ArchscoutError

_FILE_PREFIX = "archscout_file_"
_LOADED: dict[str, str] = {}  # module name -> absolute path of the file it was loaded from


def _split(text: str, what: str) -> tuple[str, str]:
    if not isinstance(text, str) or ":" not in text:
        raise ArchscoutError(f"{what} {text!r}: expected module:attr or path/to/file.py:attr, e.g. "
                             f"mypackage.spaces:tiny or ./spaces.py:tiny")
    where, _, attr = text.rpartition(":")  # the last colon: a Windows path keeps its drive letter
    where, attr = where.strip(), attr.strip()
    if not where or not attr:
        raise ArchscoutError(f"{what} {text!r}: expected module:attr or path/to/file.py:attr (both parts)")
    return where, attr


def _is_path(where: str) -> bool:
    return where.endswith(".py") or os.sep in where or "/" in where or where.startswith(".")


def module_name_for(path: str) -> str:
    """The stable module name of a file loaded by reference (the same for the same absolute path)."""
    full = os.path.realpath(os.path.abspath(path))
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(full))[0]) or "module"
    return f"{_FILE_PREFIX}{hashlib.sha256(full.encode()).hexdigest()[:12]}_{stem}"


def load_file(path: str, what: str = "file"):
    """The module of a Python file, loaded once per process under :func:`module_name_for` (cached in
    ``sys.modules``)."""
    full = os.path.realpath(os.path.abspath(path))
    if not os.path.isfile(full):
        raise ArchscoutError(f"{what}: no file {path!r}" + (f" ({full})" if full != path else ""))
    name = module_name_for(full)
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise ArchscoutError(f"{what}: cannot load {path!r} as Python (it should be a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look it up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # noqa: BLE001 - any failure of the user's file is reported in one line
        sys.modules.pop(name, None)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise ArchscoutError(f"{what}: importing {path!r} raised {type(e).__name__}: {_first_line(e)}") from None
    _LOADED[name] = full
    return module


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "(no message)"


def _import(where: str):
    """Import a module as ``python -m`` would: the current folder is searched too (a console script's is not)."""
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as e:
        top = where.split(".")[0]
        here = os.getcwd()
        if getattr(e, "name", None) not in (top, where) or here in sys.path or "" in sys.path:
            raise
        sys.path.append(here)
        return importlib.import_module(where)


def load_reference(text: str, what: str) -> object:
    """The object ``text`` names: ``package.module:attr`` (imported as usual) or ``path/to/file.py:attr``
    (the file loaded by path). ``attr`` may be dotted (``module:Class.attr``). ``what`` names the object in
    errors, e.g. ``"--space"``; every error is one ArchscoutError line."""
    where, attr = _split(text, what)
    if _is_path(where):
        module = load_file(where, f"{what} {text!r}")
    else:
        try:
            module = _import(where)
        except ModuleNotFoundError as e:
            missing = getattr(e, "name", None) or where
            if missing == where or where.startswith(missing + "."):
                raise ArchscoutError(f"{what} {text!r}: no module named {missing!r} (is it installed, or on "
                                     f"PYTHONPATH? a file is named path/to/file.py:attr)") from None
            raise ArchscoutError(f"{what} {text!r}: importing {where!r} raised ModuleNotFoundError: "
                                 f"{_first_line(e)}") from None
        except BaseException as e:  # noqa: BLE001 - any failure of the user's module is reported in one line
            if isinstance(e, KeyboardInterrupt):
                raise
            raise ArchscoutError(f"{what} {text!r}: importing {where!r} raised {type(e).__name__}: "
                                 f"{_first_line(e)}") from None
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = sorted(n for n in vars(module) if not n.startswith("_"))[:12]
            hint = f"; it defines {', '.join(public)}" if public else ""
            raise ArchscoutError(f"{what} {text!r}: {where!r} has no attribute {attr!r}{hint}") from None
    return obj


def reference_of(obj: object) -> str | None:
    """A ``module:attr`` text that :func:`load_reference` turns back into ``obj`` (for an object defined at
    the top level of an importable module, or of a file loaded by reference: then ``path/to/file.py:attr``);
    None for lambdas, local functions and objects that cannot be found again by name."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not module_name or not qualname or "<" in qualname or module_name == "__main__":
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    found: object = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return None
    if found is not obj:
        return None
    where = _LOADED.get(module_name, module_name)
    return f"{where}:{qualname}"


def loaded_files() -> dict[str, str]:
    """The files loaded by reference in this process: {module name: absolute path}."""
    return dict(_LOADED)


def preload(files: dict[str, str]) -> None:
    """Load files under the module names another process gave them (see :func:`loaded_files`), so that what
    that process pickled from them unpickles here."""
    for name, path in files.items():
        if name not in sys.modules and module_name_for(path) == name:
            load_file(path)
