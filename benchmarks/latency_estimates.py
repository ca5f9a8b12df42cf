"""How well the latency lookup table and the latency predictor follow measured latency, and what each costs.

    .venv/bin/python benchmarks/latency_estimates.py                          # both runtimes, 200 architectures
    .venv/bin/python benchmarks/latency_estimates.py --runtime pytorch --archs 150

For the conv1d space on MNIST-1D shapes, at batch 1 and 1 thread, per runtime (PyTorch eager, or
ONNX Runtime on the exported model):

1. ``--archs`` random architectures are measured for real (``measure_latency`` /
   ``measure_latency_onnx``), then measured again: the second measurement against the first is
   the noise floor, what no estimate can beat on this machine.
2. A :class:`~archscout.cost.latency_table.LatencyTable` is built from other samples
   (``--table-samples``, seed 1; its overhead is fitted on 30 of them, timed whole).
3. A :class:`~archscout.cost.latency_table.LatencyPredictor` is fitted on the first half of the
   measured architectures.
4. Both estimate the second half (held out from both); :func:`agreement` against the first
   measurement gives Spearman and mean relative error.

Costs are wall times per architecture: a measurement builds (and for ONNX Runtime exports) the
network and times it; a table estimate builds and traces it and, the first time an operator is
seen, measures that operator (``cold``; ``warm`` is a second pass, all operators known); a
prediction encodes one architecture. Writes benchmarks/results/latency_estimates.json (one entry
per runtime; a run for one runtime keeps the other's) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time

import torch

from _common import RESULTS, machine, version  # noqa: E402 (benchmarks/ is on sys.path)
from archscout.cost import measure_latency
from archscout.cost.latency_table import LatencyPredictor, LatencyTable, agreement
from archscout.space import conv1d
from archscout.tasks import get_task

OUT = os.path.join(RESULTS, "latency_estimates.json")


def measure(space, arch, input_shape: tuple, num_classes: int, runtime: str) -> float:
    """Build ``arch`` and measure its median latency (ms) on ``runtime``, as a search would."""
    model = space.build(arch, input_shape, num_classes)
    if runtime == "pytorch":
        return measure_latency(model, input_shape, threads=1).median_ms
    from archscout.cost.runtime import measure_latency_onnx, onnx_bytes
    return measure_latency_onnx(onnx_bytes(model, input_shape), input_shape, threads=1).median_ms


def timed(fn, *args) -> tuple:
    """(fn's result, wall milliseconds)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1000


def cost(ms: list[float]) -> dict:
    return {"median_ms": round(statistics.median(ms), 3), "mean_ms": round(statistics.fmean(ms), 3)}


def rounded(d: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def run(runtime: str, n_archs: int, table_samples: int, input_shape: tuple, num_classes: int) -> dict:
    space = conv1d()
    archs = [space.sample(seed=10_000 + i) for i in range(n_archs)]
    first, measure_ms = [], []
    for a in archs:
        latency, ms = timed(measure, space, a, input_shape, num_classes, runtime)
        first.append(latency)
        measure_ms.append(ms)
    second = [measure(space, a, input_shape, num_classes, runtime) for a in archs]
    half = n_archs // 2
    train, test = archs[:half], archs[half:]
    truth = first[half:]

    table, build_ms = timed(lambda: LatencyTable.build(space, input_shape, num_classes, samples=table_samples,
                                                       runtime=runtime, seed=1))
    entries_built = len(table)
    cold = []  # (estimate, wall ms, operators measured on demand)
    for a in test:
        before = table.added_on_demand
        estimate, ms = timed(table.estimate, a)
        cold.append((estimate, ms, table.added_on_demand - before))
    warm = [timed(table.estimate, a)[1] for a in test]

    predictor, fit_ms = timed(lambda: LatencyPredictor(space).fit(train, first[:half]))
    predicted = predictor.predict(test)
    predict_ms = [timed(predictor.predict, [a])[1] for a in test]

    return {
        "runtime": runtime, "space": "conv1d", "task": "mnist1d", "input_shape": list(input_shape),
        "batch_size": 1, "threads": 1, "archs_measured": n_archs, "held_out": len(test), "predictor_train": half,
        "agreement_held_out": {
            "remeasurement (noise floor)": rounded(agreement(second[half:], truth)),
            "lookup table": rounded(agreement([e for e, _, _ in cold], truth)),
            "predictor": rounded(agreement(predicted, truth)),
        },
        "measured_ms": {"min": round(min(first), 4), "median": round(statistics.median(first), 4),
                        "max": round(max(first), 4)},
        "cost_per_architecture": {
            "measurement": cost(measure_ms),
            "table_estimate_cold": cost([ms for _, ms, _ in cold]),
            "table_estimate_warm": cost(warm),
            "predictor_predict": cost(predict_ms),
        },
        "table": {"samples": table_samples, "calibration_networks": len(table.calibration_),
                  "build_seconds": round(build_ms / 1000, 2), "entries": entries_built,
                  "overhead": [round(c, 6) for c in table.overhead_],
                  "operators_measured_on_demand_for_held_out": table.added_on_demand,
                  "held_out_archs_with_new_operators": sum(new > 0 for _, _, new in cold)},
        "predictor": {"model": type(predictor.model_).__name__, "alpha": float(getattr(predictor.model_, "alpha_", 0)),
                      "encoding": predictor.encoding, "fit_ms": round(fit_ms, 1)},
    }


def markdown(results: dict) -> str:
    lines = ["| runtime | estimate | Spearman | mean rel. error | n | cost per architecture (median ms) |",
             "|---|---|---|---|---|---|"]
    for r in results.values():
        c = r["cost_per_architecture"]
        costs = {"remeasurement (noise floor)": f"{c['measurement']['median_ms']} (a measurement)",
                 "lookup table": f"{c['table_estimate_cold']['median_ms']} cold, "
                                 f"{c['table_estimate_warm']['median_ms']} warm",
                 "predictor": f"{c['predictor_predict']['median_ms']}"}
        for name, a in r["agreement_held_out"].items():
            lines.append(f"| {r['runtime']} | {name} | {a['spearman']:.3f} | {a['mean_relative_error']:.1%} | "
                         f"{a['n']} | {costs[name]} |")
    lines.append("")
    for r in results.values():
        t = r["table"]
        lines.append(f"{r['runtime']}: table of {t['entries']} operators from {t['samples']} architectures built in "
                     f"{t['build_seconds']} s; {t['operators_measured_on_demand_for_held_out']} operators measured on "
                     f"demand for {t['held_out_archs_with_new_operators']} of {r['held_out']} held-out architectures; "
                     f"measured latencies {r['measured_ms']['min']}-{r['measured_ms']['max']} ms "
                     f"(median {r['measured_ms']['median']})")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtime", choices=["pytorch", "onnxruntime", "both"], default="both")
    ap.add_argument("--archs", type=int, default=200, help="architectures measured for real (half train the "
                                                            "predictor, half are held out)")
    ap.add_argument("--table-samples", type=int, default=300, help="architectures the table is built from")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = get_task("mnist1d")
    input_shape = tuple(task.train.X.shape[1:])
    try:
        with open(args.out) as f:
            results = json.load(f)
    except (OSError, ValueError):
        results = {}
    runtimes = ["pytorch", "onnxruntime"] if args.runtime == "both" else [args.runtime]
    command = " ".join([".venv/bin/python", "benchmarks/latency_estimates.py"] + sys.argv[1:])
    for runtime in runtimes:
        info = machine(onnxruntime=version("onnxruntime"))
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        r = run(runtime, args.archs, args.table_samples, input_shape, task.num_classes)
        info["loadavg_at_end"] = os.getloadavg()
        results[runtime] = {**r, "command": command, "started": started, "machine": info}
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    print(markdown({k: results[k] for k in ("pytorch", "onnxruntime") if k in results}))
    print(f"\nwrote {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
