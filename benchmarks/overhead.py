"""Framework overhead per trial: propose + claim + evaluate (a tabular lookup) + store + bookkeeping.

    .venv/bin/python benchmarks/overhead.py                      # 1,000 trials, random and evolution, SQLite
    ARCHSCOUT_TEST_POSTGRES=postgresql+psycopg://... .venv/bin/python benchmarks/overhead.py   # + PostgreSQL

The synthetic evaluator with no delay (``synthetic``) returns a fixed function of the
architecture, so the wall time between two consecutive finished trials is the framework's own
cost per trial. Each configuration runs in a fresh Python process (in-process trials: one worker,
the local executor) on a fresh database: a new SQLite file in a temporary folder, and, when ``ARCHSCOUT_TEST_POSTGRES``
is set, a uniquely named study on that PostgreSQL server (its tables are left in place).

Two measurements of the same thing:

- ``callback``: the gaps between consecutive "trial" progress events (``time.perf_counter``);
  the first trial (search start-up) is excluded and reported separately.
- ``stored``: the gaps between consecutive ``finished_at`` of the stored trials.

A breakdown (the same run, timed by thin wrappers that only read the clock) splits each trial into
the claim (``Storage.claim_trial``), the store (``Storage.finish_trial``), the evaluation call
(``TrialRunner.__call__``, of which ``evaluator.evaluate`` and, when the evaluator calls it,
``archscout.evaluate.release_memory`` are parts) and the rest (strategy ask/tell, loop bookkeeping).

Writes benchmarks/results/overhead.json. Target: median <= 5 ms per trial.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import archscout as asc
import archscout.evaluate as asc_evaluate
from _common import RESULTS, code_version, machine  # noqa: E402 (benchmarks/ is on sys.path)
from archscout.execute import LocalExecutor

TARGET_MS = 5.0


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(seconds: list[float]) -> dict:
    ms = [x * 1000 for x in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "median": round(statistics.median(ms), 3), "p90": round(pct(ms, 90), 3),
            "p99": round(pct(ms, 99), 3), "mean": round(statistics.fmean(ms), 3), "min": round(min(ms), 3),
            "max": round(max(ms), 3)}


class Timer:
    """Accumulates the wall time of calls to a wrapped function, per trial (reset by the caller)."""

    def __init__(self):
        self.total = 0.0
        self.calls = 0
        self.per_call: list[float] = []

    def wrap(self, fn):
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t
                self.total += dt
                self.calls += 1
                self.per_call.append(dt)
        return timed


class TimedLocalExecutor(LocalExecutor):
    """The local executor, with the runner call and the evaluator's own evaluate() timed."""

    def __init__(self, timers: dict):
        super().__init__()
        self.timers = timers

    def start(self, runner) -> None:
        runner.evaluator.evaluate = self.timers["evaluate"].wrap(runner.evaluator.evaluate)
        super().start(runner)
        self.runner = self.timers["runner_call"].wrap(self.runner)


def run_one(strategy: str, storage_url: str, trials: int, seed: int, backend: str,
            evaluator: str = "synthetic") -> dict:
    name = f"overhead-{strategy}-{backend}-{uuid.uuid4().hex[:8]}"
    study = asc.Study(name, space="conv1d", evaluator=evaluator, strategy=strategy, storage=storage_url,
                      seed=seed)
    timers = {k: Timer() for k in ("claim", "finish", "runner_call", "evaluate", "release_memory")}
    study.storage.claim_trial = timers["claim"].wrap(study.storage.claim_trial)
    study.storage.finish_trial = timers["finish"].wrap(study.storage.finish_trial)
    original_release = asc_evaluate.release_memory
    asc_evaluate.release_memory = timers["release_memory"].wrap(original_release)
    events: list[float] = []
    numbers: list[int] = []

    def progress(event, **data):
        if event == "trial":
            events.append(time.perf_counter())
            numbers.append(data["trial"].number)

    import psutil

    sys0, me0 = psutil.cpu_times(), os.times()
    try:
        t0 = time.perf_counter()
        study.search(trials=trials, progress=progress, executor=TimedLocalExecutor(timers), max_failures=None)
        t_end = time.perf_counter()
        sys1, me1 = psutil.cpu_times(), os.times()
    finally:
        asc_evaluate.release_memory = original_release
    rows = study.storage.trials(study.id)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    finished = sorted(r.finished_at for r in rows if r.finished_at is not None)
    gaps_cb = [b - a for a, b in itertools.pairwise(events)]
    gaps_db = [b - a for a, b in itertools.pairwise(finished)]
    n = len(events)
    # breakdown per trial (means over the whole run; the first trial included)
    per = {k: (v.total / n * 1000 if n else float("nan")) for k, v in timers.items()}
    wall_per = (t_end - t0) / n * 1000 if n else float("nan")
    breakdown = {
        "wall_ms_per_trial_incl_startup": round(wall_per, 3),
        "claim_trial_ms": round(per["claim"], 3),
        "finish_trial_ms": round(per["finish"], 3),
        "runner_call_ms": round(per["runner_call"], 3),
        "of_which_evaluate_ms": round(per["evaluate"], 3),
        "of_which_release_memory_ms": round(per["release_memory"], 3),
        "release_memory_calls": timers["release_memory"].calls,
        "rest_ms (ask, tell, sync, loop)": round(wall_per - per["claim"] - per["finish"] - per["runner_call"], 3),
        "claim_calls": timers["claim"].calls, "finish_calls": timers["finish"].calls,
    }
    tenth = max(1, len(gaps_cb) // 10)
    result = {
        "study": name, "strategy": strategy, "backend": backend, "trials_stored": len(rows),
        "statuses": statuses, "trials_reported": n,
        "startup_ms": round((events[0] - t0) * 1000, 1) if events else None,
        "wall_seconds": round(t_end - t0, 3),
        "per_trial_ms": summary_ms(gaps_cb),
        "per_trial_ms_from_stored_finished_at": summary_ms(gaps_db),
        "first_10pct_median_ms": round(statistics.median(gaps_cb[:tenth]) * 1000, 3) if gaps_cb else None,
        "last_10pct_median_ms": round(statistics.median(gaps_cb[-tenth:]) * 1000, 3) if gaps_cb else None,
        "breakdown_mean_per_trial": breakdown,
        "release_memory_per_call_ms": summary_ms(timers["release_memory"].per_call),
        "claim_per_call_ms": summary_ms(timers["claim"].per_call),
        "finish_per_call_ms": summary_ms(timers["finish"].per_call),
    }
    mine = (me1.user + me1.system) - (me0.user + me0.system)
    other = max(0.0, busy(sys1) - busy(sys0) - mine)
    result["other_processes_cpu_fraction"] = round(other / ((t_end - t0) * (os.cpu_count() or 1)), 3)
    study.storage.dispose()
    return result


def line(r: dict) -> str:
    p = r["per_trial_ms"]
    b = r["breakdown_mean_per_trial"]
    return (f"{r['strategy']:<10} {r['backend']:<10} trials {r['trials_reported']:>5}  median {p['median']:7.2f}  "
            f"p90 {p['p90']:7.2f}  p99 {p['p99']:7.2f}  mean {p['mean']:7.2f} ms  "
            f"(claim {b['claim_trial_ms']:.2f}, store {b['finish_trial_ms']:.2f}, runner {b['runner_call_ms']:.2f}"
            f" of which release_memory {b['of_which_release_memory_ms']}, rest "
            f"{b['rest_ms (ask, tell, sync, loop)']:.2f})  start-up {r['startup_ms']} ms; "
            f"other processes' CPU {r['other_processes_cpu_fraction']:.0%}")


def child(spec: str) -> int:
    """One configuration, in a fresh interpreter (so the runs do not share caches or a grown heap)."""
    cfg = json.loads(spec)
    r = run_one(cfg["strategy"], cfg["storage"], cfg["trials"], cfg["seed"], cfg["backend"], cfg["evaluator"])
    print("RESULT " + json.dumps(r, default=float))
    return 0


def busy(t) -> float:
    """Busy CPU seconds in a psutil.cpu_times() record."""
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--strategies", default="random,evolution")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--postgres", default=os.environ.get("ARCHSCOUT_TEST_POSTGRES"),
                    help="PostgreSQL URL to measure too (default: $ARCHSCOUT_TEST_POSTGRES)")
    ap.add_argument("--evaluator", default="synthetic",
                    help="the evaluator to time, e.g. benchmarks/_instant_evaluator.py:instant (a user's function "
                         "that returns at once); default: synthetic")
    ap.add_argument("--out", default=None, help="default: results/overhead.json (synthetic), "
                                                "results/overhead-user-evaluator.json (any other)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.out is None:
        args.out = os.path.join(RESULTS, "overhead.json" if args.evaluator == "synthetic"
                                else "overhead-user-evaluator.json")
    if args.child:
        return child(args.child)
    os.makedirs(RESULTS, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    info = machine()
    runs = []
    with tempfile.TemporaryDirectory(prefix="archscout-overhead-") as tmp:
        backends = [("sqlite", None)] + ([("postgresql", args.postgres)] if args.postgres else [])
        configs = []
        for backend, url in backends:
            for strategy in args.strategies.split(","):
                configs.append({"strategy": strategy, "backend": backend,
                                "storage": url or f"sqlite:///{os.path.join(tmp, f'{strategy}.db')}"})
        for cfg in configs:
            cfg.update(trials=args.trials, seed=args.seed, evaluator=args.evaluator)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(cfg)],
                                 capture_output=True, text=True, check=False)
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"configuration {cfg['strategy']}/{cfg['backend']} failed")
            r = json.loads(lines[-1][len("RESULT "):])
            runs.append(r)
            print(line(r), flush=True)
    met = all(r["per_trial_ms"]["median"] <= TARGET_MS for r in runs)
    info["loadavg_at_end"] = os.getloadavg()
    info["code_at_end"] = code_version()
    result = {"benchmark": "overhead", "target": f"median per-trial overhead <= {TARGET_MS} ms",
              "target_met": met, "trials_per_run": args.trials, "evaluator": "synthetic (delay 0)" if args.evaluator == "synthetic" else args.evaluator,
              "space": "conv1d", "executor": "local (in-process), 1 worker; each configuration in a fresh process",
              "runs": runs,
              "command": " ".join([".venv/bin/python", "benchmarks/overhead.py"] + sys.argv[1:]),
              "postgres": bool(args.postgres), "started": started, "machine": info}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=float)
    print(f"target median <= {TARGET_MS} ms: {'met' if met else 'NOT met'}; wrote {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
