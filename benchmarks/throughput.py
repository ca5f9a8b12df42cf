"""Trial throughput with real training: 2 pool workers against 1, on the same architectures.

    .venv/bin/python benchmarks/throughput.py                       # 90 trials x 200 steps per configuration
    .venv/bin/python benchmarks/throughput.py --trials 80 --steps 200 --configs pool:2,pool:1,local:1

Each configuration is a fresh study in a fresh SQLite file (temp folder): MNIST-1D, the
``conv1d`` space, random search with seed ``--seed`` (so every configuration is proposed the same
architectures in the same order), ``--steps`` training steps a trial, ``--trials`` trials, run with
``Study.search(workers=W, executor=E)``. Configurations:

- ``pool:2``: two worker processes, 1 torch thread each (the pool gives each ``cpus // workers``);
- ``pool:1``: one worker process with 2 threads;
- ``local:1``: in the search process (reference; no worker start-up);
- ``pool:1:1``: one worker process with 1 thread (isolates the scaling of workers from that of threads).

Steady-state throughput counts the trials finished after the first one, over the time from the
first trial's finish to the last one's (worker start-up and data loading are excluded); the overall
rate (trials / search wall time) is reported too. The sum of ``train_seconds`` (time inside the
training loop, per trial, as each worker measured it) shows how much slower each trial trains
when two share the 2 cores. The CPU time used by other processes during each configuration is
recorded (``other_cpu_fraction``): a timed run is only valid when that is near 0.

Writes benchmarks/results/throughput.json. Target: steady-state ratio pool:2 / pool:1 >= 1.8.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time

import psutil
import torch

import archscout as asc
from _common import RESULTS, code_version, machine  # noqa: E402 (benchmarks/ is on sys.path)
from archscout.execute.pool import PoolExecutor, cpu_count

TARGET_RATIO = 1.8


def busy_others(seconds: float = 2.0) -> list[dict]:
    """Processes other than this one using more than 10 % of a core over ``seconds``."""
    me = os.getpid()
    procs = [p for p in psutil.process_iter(["pid", "name"]) if p.pid != me]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    out = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
            if pct > 10:
                out.append({"pid": p.pid, "cpu_percent": round(pct, 1), "cmd": " ".join(p.cmdline())[:120]})
        except psutil.Error:
            pass
    return out


class CpuAccount:
    """CPU seconds used on the machine during a block, split into this process (and its reaped children)
    and everything else."""

    def __enter__(self):
        self.t0 = time.monotonic()
        self.sys0 = psutil.cpu_times()
        self.me0 = os.times()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        s1, m1 = psutil.cpu_times(), os.times()
        total = busy(s1) - busy(self.sys0)
        mine = (m1.user + m1.system + m1.children_user + m1.children_system) - \
            (self.me0.user + self.me0.system + self.me0.children_user + self.me0.children_system)
        cores = os.cpu_count() or 1
        self.result = {"wall_s": round(wall, 1), "machine_cpu_s": round(total, 1), "own_cpu_s": round(mine, 1),
                       "other_cpu_s": round(max(0.0, total - mine), 1),
                       "other_cpu_fraction": round(max(0.0, total - mine) / (wall * cores), 3),
                       "own_cpu_fraction": round(mine / (wall * cores), 3)}
        return False


def run_config(executor: str, workers: int, threads: int | None, args, tmp: str) -> dict:
    label = f"{executor}:{workers}" + (f":{threads}" if threads else "")
    name = f"throughput-{label.replace(':', '-')}-s{args.seed}"
    storage = f"sqlite:///{os.path.join(tmp, name + '.db')}"
    study = asc.Study(name, space="conv1d", task="mnist1d", strategy="random", train={"steps": args.steps},
                      storage=storage, seed=args.seed)
    _ = study.task  # load (generate) the data before the clock starts; each worker still loads its own copy
    events: list[float] = []

    def progress(event, **data):
        if event == "trial":
            events.append(time.perf_counter())

    with CpuAccount() as cpu:
        t0 = time.perf_counter()
        ex = PoolExecutor(workers, threads=threads) if threads else executor
        study.search(trials=args.trials, workers=workers, executor=ex, progress=progress)
        wall = time.perf_counter() - t0
    rows = study.storage.trials(study.id)
    done = [r for r in rows if r.status in ("complete", "failed", "infeasible")]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    train_s = [r.metrics.get("train_seconds", 0.0) or 0.0 for r in done]
    steady = (len(events) - 1) / (events[-1] - events[0]) * 60 if len(events) > 1 else float("nan")
    result = {
        "config": label, "executor": executor, "workers": workers,
        "threads_per_worker": threads or (max(1, cpu_count() // workers) if executor == "pool"
                                          else torch.get_num_threads()),
        "trials": len(done), "statuses": statuses,
        "wall_s": round(wall, 1), "startup_s": round(events[0] - t0, 1) if events else None,
        "steady_window_s": round(events[-1] - events[0], 1) if len(events) > 1 else None,
        "steady_trials_per_min": round(steady, 2),
        "overall_trials_per_min": round(len(events) / wall * 60, 2),
        "sum_train_seconds": round(sum(train_s), 1),
        "median_train_seconds": round(statistics.median(train_s), 3) if train_s else None,
        "arch_sequence_hash": _hash([r.arch_id for r in sorted(rows, key=lambda r: r.number)]),
        "arch_set": sorted(r.arch_id for r in done),
        "latency_ms_by_arch": {r.arch_id: r.metrics.get("latency_ms") for r in done},
        "latency_threads": sorted({(r.details.get("latency") or {}).get("threads") for r in done} - {None}),
        "accuracy_by_arch": {r.arch_id: r.metrics.get("accuracy") for r in done},
        "cpu": cpu.result,
    }
    study.storage.dispose()
    return result


def _hash(items: list[str]) -> str:
    import hashlib
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def busy(t) -> float:
    """Busy CPU seconds in a psutil.cpu_times() record."""
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=90)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default="pool:2,pool:1,local:1,pool:1:1",
                    help="EXECUTOR:WORKERS[:THREADS_PER_WORKER], comma separated (default threads: cpus // workers)")
    ap.add_argument("--out", default=os.path.join(RESULTS, "throughput.json"))
    args = ap.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    info = machine(torch_threads=torch.get_num_threads())
    others = busy_others()
    if others:
        print(f"warning: other processes are using the CPU: {others}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="archscout-throughput-") as tmp:
        for spec in args.configs.split(","):
            parts = spec.split(":")
            executor, w, t = parts[0], (parts[1:2] or ["1"])[0], (parts[2:3] or [""])[0]
            if t and executor != "pool":
                raise SystemExit(f"{spec}: a thread count applies to the pool executor only")
            r = run_config(executor, int(w or 1), int(t) if t else None, args, tmp)
            results.append(r)
            print(f"{r['config']:<8} {r['trials']} trials in {r['wall_s']} s (start-up {r['startup_s']} s): "
                  f"steady {r['steady_trials_per_min']} trials/min, overall {r['overall_trials_per_min']} "
                  f"trials/min; sum train_seconds {r['sum_train_seconds']} s; other processes' CPU "
                  f"{r['cpu']['other_cpu_fraction']:.1%}", flush=True)
    by = {r["config"]: r for r in results}
    ratios = {}
    if "pool:2" in by and "pool:1" in by:
        ratios["steady pool:2 / pool:1"] = round(by["pool:2"]["steady_trials_per_min"]
                                                 / by["pool:1"]["steady_trials_per_min"], 3)
        ratios["overall pool:2 / pool:1"] = round(by["pool:2"]["overall_trials_per_min"]
                                                  / by["pool:1"]["overall_trials_per_min"], 3)
        ratios["sum_train_seconds pool:2 / pool:1"] = round(by["pool:2"]["sum_train_seconds"]
                                                            / by["pool:1"]["sum_train_seconds"], 3)
    if "pool:2" in by and "pool:1:1" in by:
        ratios["steady pool:2 / pool:1:1 (1 thread per worker in both)"] = round(
            by["pool:2"]["steady_trials_per_min"] / by["pool:1:1"]["steady_trials_per_min"], 3)
    if "pool:1:1" in by and "pool:1" in by:
        ratios["median train_seconds pool:1:1 / pool:1 (1 vs 2 threads, one trial at a time)"] = round(
            by["pool:1:1"]["median_train_seconds"] / by["pool:1"]["median_train_seconds"], 3)
    if "pool:2" in by and "local:1" in by:
        ratios["steady pool:2 / local:1"] = round(by["pool:2"]["steady_trials_per_min"]
                                                  / by["local:1"]["steady_trials_per_min"], 3)
    same_archs = len({tuple(r["arch_set"]) for r in results}) == 1
    # the same architecture's latency as measured under each configuration (thread count differs)
    lat_ratio = None
    if "pool:2" in by and "pool:1" in by:
        common = set(by["pool:2"]["latency_ms_by_arch"]) & set(by["pool:1"]["latency_ms_by_arch"])
        pairs = [(by["pool:2"]["latency_ms_by_arch"][a], by["pool:1"]["latency_ms_by_arch"][a]) for a in common]
        pairs = [(a, b) for a, b in pairs if a and b]
        if pairs:
            lat_ratio = round(statistics.median(a / b for a, b in pairs), 3)
    met = ratios.get("steady pool:2 / pool:1", 0) >= TARGET_RATIO
    for r in results:
        r.pop("arch_set")
    result = {"benchmark": "throughput", "task": "mnist1d", "space": "conv1d", "strategy": "random",
              "seed": args.seed, "steps_per_trial": args.steps, "trials_per_config": args.trials,
              "target": f"steady-state trials/min ratio pool:2 / pool:1 >= {TARGET_RATIO}", "target_met": met,
              "ratios": ratios, "same_architectures_in_every_config": same_archs,
              "median_latency_ratio_same_arch pool:2 / pool:1": lat_ratio,
              "busy_processes_before": others, "configs": results,
              "command": " ".join([".venv/bin/python", "benchmarks/throughput.py"] + sys.argv[1:]),
              "started": started, "machine": {**info, "loadavg_at_end": os.getloadavg(), "code_at_end": code_version()}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=float)
    print(json.dumps({"ratios": ratios, "target_met": met, "same_architectures": same_archs,
                      "median latency ratio (same arch, pool:2 / pool:1)": lat_ratio}, indent=2))
    print(f"wrote {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
