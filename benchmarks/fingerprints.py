"""Sampled networks' fingerprints: evidence that a refactor changed no behaviour of the spaces.

    .venv/bin/python benchmarks/fingerprints.py                 # write benchmarks/results/fingerprints.json
    .venv/bin/python benchmarks/fingerprints.py --check         # compare against the stored file; exit 1 on a change

For 275 architectures sampled round-robin over every built-in space with fixed seeds, records the
architecture's id and JSON, its ordinal encoding, a mutation's id, and the built network's parameter
names, shapes and weights (built under ``torch.manual_seed(0)``), each hashed. Two runs of the same
code give the same file; a change in sampling, canonical form, encoding, mutation or building shows
up as a changed fingerprint.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys

import numpy as np
import torch

import archscout as asc
from _common import RESULTS  # noqa: E402 (benchmarks/ is on sys.path)

N = 275
SHAPES = {"conv1d": ((1, 40), 10), "conv2d": ((1, 8, 8), 10), "mlp": ((13,), 3), "gnn": ((40,), 10),
          "cell": ((1, 40), 10)}


def shape_for(space_name: str):
    for prefix, shape in SHAPES.items():
        if space_name.startswith(prefix):
            return shape
    raise SystemExit(f"no input shape for space {space_name}")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def fingerprint(space, index: int) -> dict:
    rng = random.Random(index)
    arch = space.sample(rng)
    row = {"space": space.name, "index": index, "id": arch.id, "json": digest(arch.to_json().encode())}
    row["encoding"] = digest(np.asarray(space.encode(arch), dtype=np.float64).tobytes())
    row["mutation"] = space.mutate(arch, random.Random(index + 10_000)).id
    input_shape, classes = shape_for(space.name)
    torch.manual_seed(0)
    model = space.build(arch, input_shape, classes)
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().to(torch.float64).contiguous().numpy().tobytes())
    row["weights"] = h.hexdigest()[:16]
    row["params"] = int(sum(p.numel() for p in model.parameters()))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    ap.add_argument("--out", default=os.path.join(RESULTS, "fingerprints.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    names = asc.spaces.list()
    spaces = [asc.spaces.get(n) for n in names]
    rows = [fingerprint(spaces[i % len(spaces)], i) for i in range(N)]
    if not args.check:
        with open(args.out, "w") as f:
            json.dump({"n": N, "spaces": names, "rows": rows}, f, indent=1)
        print(f"wrote {len(rows)} fingerprints over {len(names)} spaces to {args.out}")
        return 0
    with open(args.out) as f:
        stored = json.load(f)["rows"]
    changed = [(a, b) for a, b in zip(stored, rows) if a != b]
    print(f"{len(rows) - len(changed)} of {len(rows)} fingerprints unchanged")
    for a, b in changed[:10]:
        print("changed:", a, "->", b)
    return 1 if changed or len(stored) != len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
