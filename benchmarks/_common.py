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


def cpu_mhz() -> float | None:
    """The first core's clock as /proc/cpuinfo reports it (None elsewhere): two VMs of one CPU model can differ."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def calibration(steps: int = 60) -> float:
    """Milliseconds per training step of one fixed small 1-D CNN (3 conv layers of 64, batch 64, length 40, Adam,
    one thread), the median of ``steps`` after 10 warm-up steps: runs on different days compare only where this
    agrees (the same VM type has measured 2.5x apart between sessions). Restores the thread count."""
    import statistics
    import time

    import torch
    from torch import nn

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        net = nn.Sequential(nn.Conv1d(1, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
                            nn.Conv1d(64, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
                            nn.Conv1d(64, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
                            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        x, y = torch.randn(64, 1, 40, generator=gen), torch.randint(0, 10, (64,), generator=gen)
        times = []
        for i in range(steps + 10):
            t = time.perf_counter()
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            if i >= 10:
                times.append(time.perf_counter() - t)
        return round(1000 * statistics.median(times), 3)
    finally:
        torch.set_num_threads(previous)


def machine(**extra) -> dict:
    return {"cpu_model": cpu_model(), "cpu_mhz": cpu_mhz(), "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(), "torch": version("torch"),
            "sqlalchemy": version("sqlalchemy"), "archscout": version("archscout"),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "loadavg_at_start": os.getloadavg(),
            "code": code_version(), **extra}
