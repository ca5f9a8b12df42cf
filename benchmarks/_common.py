"""What every benchmark records about the run: the machine, the library versions and the commit measured.

Imported by the scripts in this folder (run as ``python benchmarks/NAME.py``, so this folder is on
``sys.path``). Versions come from package metadata: importing torch here would slow the timed loops.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def code_version() -> dict:
    """The commit measured, and whether src/ had uncommitted changes (their diff's hash)."""
    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    diff = git("diff", "HEAD", "--", "src")
    return {"commit": git("rev-parse", "HEAD").strip() or None, "src_dirty": bool(diff.strip()),
            "src_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff.strip() else None}


def machine(**extra) -> dict:
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(), "torch": version("torch"),
            "sqlalchemy": version("sqlalchemy"), "archscout": version("archscout"),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "loadavg_at_start": os.getloadavg(),
            "code": code_version(), **extra}
