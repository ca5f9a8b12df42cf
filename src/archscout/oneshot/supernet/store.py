"""A trained supernet on disk: its elastic spec, the task it was trained for, how, and the shared weights.

A supernet file (``archscout supernet train ... --out FILE``) is one ``torch.save`` of a dict with
``magic`` (``archscout-supernet``), ``version``, ``spec`` (:meth:`ElasticSpec.as_dict`), ``task`` (name)
and ``task_fingerprint`` (the data it was trained on), ``input_shape``, ``num_classes``, ``training``
(:meth:`SupernetTraining.as_dict`), ``seed``, ``train_seconds``, ``curve`` (the training curve) and
``state_dict``. :func:`fingerprint` of the file is what a study stores, so a changed file is refused on
resume.
"""
from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import torch

from ...errors import ArchscoutError
from .elastic import ElasticSpec
from .net import SuperNet
from .train import SupernetTraining

MAGIC, VERSION = "archscout-supernet", 1


def save_supernet(net: SuperNet, path: str, *, task, training: SupernetTraining, seed: int, train_seconds: float,
                  curve: list) -> dict:
    """Write ``net`` to ``path`` (atomically); returns the header (everything but the weights)."""
    header = {"magic": MAGIC, "version": VERSION, "spec": net.spec.as_dict(), "task": task.name,
              "task_fingerprint": task.fingerprint(), "input_shape": list(net.input_shape),
              "num_classes": net.num_classes, "training": training.as_dict(), "seed": seed,
              "train_seconds": round(float(train_seconds), 2), "curve": curve}
    buf = io.BytesIO()
    torch.save({**header, "state_dict": net.state_dict()}, buf)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)
    return header


def load_supernet(path: str) -> tuple[SuperNet, dict]:
    """The supernet in ``path`` and its header (cached per path and modification time); ArchscoutError names
    what is wrong with a missing or foreign file."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        raise ArchscoutError(f"no supernet file at {path!r}; train one with `archscout supernet train --task ... "
                             f"--space ... --out FILE`") from None
    key = (os.path.abspath(path), stamp)
    if key not in _LOADED:
        try:
            data: Any = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets one message
            raise ArchscoutError(f"{path!r} is not a supernet file archscout can read ({type(e).__name__})") from None
        if not isinstance(data, dict) or data.get("magic") != MAGIC:
            raise ArchscoutError(f"{path!r} is not an archscout supernet file")
        if data.get("version") != VERSION:
            raise ArchscoutError(f"{path!r} is a supernet file of version {data.get('version')!r}; this archscout "
                                 f"reads version {VERSION}")
        spec = ElasticSpec.from_dict(data["spec"])
        net = SuperNet(spec, tuple(data["input_shape"]), int(data["num_classes"]))
        net.load_state_dict(data.pop("state_dict"))
        net.eval()
        data["fingerprint"] = fingerprint(path)
        _LOADED[key] = (net, data)
    return _LOADED[key]


def fingerprint(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


_LOADED: dict = {}
