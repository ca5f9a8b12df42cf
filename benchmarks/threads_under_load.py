"""A small real-training search alone and next to a CPU-bound process, with the old and the new thread settings.

Issue #17: one local trial with PyTorch's default threads slowed down 10-170x while another CPU-bound process
ran. This runs the same 15-trial search (task wine, space mlp, the train evaluator, 300 steps, random search,
no final retraining) in a fresh process for each case:

- ``before``: what the code before issue #17 did: PyTorch's own default thread count (every core here), and
  OpenMP's default wait (libgomp: an idle thread spins about 300,000 times, a few milliseconds, then sleeps);
- ``after``: the new defaults of ``archscout search``: ``default_threads(1)`` threads (the usable cores, or
  OMP_NUM_THREADS when set) and ``GOMP_SPINCOUNT=1000`` (set by the command line before torch is imported);
- ``passive``: the default threads with ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep at once), the
  alternative the short spin was chosen over;
- ``one-thread``: ``--threads 1`` with the new defaults otherwise, for reference;

each (a) alone and (b) next to a load: one pure-Python busy loop per usable core (``--load spin``), or a second
torch process multiplying matrices with PyTorch's default threads (``--load torch``). A case that has not
finished after ``--cap`` seconds is stopped and reported as "> cap". Writes
``benchmarks/results/threads_under_load.json``.

    .venv/bin/python benchmarks/threads_under_load.py [--trials 15] [--steps 300] [--cap 180] [--load spin]
        [--task wine --space mlp] [--settings before,after,passive,one-thread] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import RESULTS, ROOT, machine

PYTHON = sys.executable
SETTINGS = ("before", "after", "passive", "one-thread")
OUT = os.path.join(RESULTS, "threads_under_load.json")

CHILD = r"""
import json, os, sys, time
t0 = time.monotonic()
setting, db, trials, steps, task, space = sys.argv[1:7]
trials, steps = int(trials), int(steps)
if setting == "passive":
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
elif setting != "before":
    from archscout.cli import short_openmp_spin
    short_openmp_spin()  # exactly what `archscout search` does before anything imports torch
import torch
default = torch.get_num_threads()  # PyTorch's own choice, before archscout sets anything
from archscout import Study
from archscout.execute import default_threads
threads = {"before": default, "after": None, "passive": None, "one-thread": 1}[setting]
study = Study("s", space=space, task=task, strategy="random", storage=f"sqlite:///{db}", seed=0,
              train={"steps": steps})
seen = []
study.run(trials=trials, final_top_k=0, threads=threads,
          progress=lambda event, **d: seen.append(torch.get_num_threads()) if event == "trial" else None)
done = study.trials()
print(json.dumps({"wall_s": time.monotonic() - t0, "torch_default_threads": default,
                  "threads_during_trials": sorted(set(seen)),
                  "threads_rule": default_threads(1), "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                  "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
                  "complete": sum(t.status == "complete" for t in done), "trials": len(done),
                  "trial_seconds": [round(t.duration, 3) for t in done],
                  "best_accuracy": max((t.metrics.get("accuracy", 0) for t in done), default=None)}))
"""

SPIN = "while True:\n    pass\n"
TORCH_LOAD = ("import torch\nx = torch.randn(256, 256)\nwhile True:\n    for _ in range(100):\n"
              "        x = torch.tanh(x @ x)\n")


def start_load(kind: str) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if kind == "spin":
        n = len(os.sched_getaffinity(0))
        return [subprocess.Popen([PYTHON, "-c", SPIN], env=env) for _ in range(n)]
    return [subprocess.Popen([PYTHON, "-c", TORCH_LOAD], env=env)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def run_case(setting: str, busy: bool, args, folder: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    env["PYTHONPATH"] = os.path.join(ROOT, "src")
    db = os.path.join(folder, f"{setting}-{'busy' if busy else 'alone'}.db")
    load = start_load(args.load) if busy else []
    try:
        if busy:
            time.sleep(1.0)  # the load is running before the search starts
        la = os.getloadavg()[0]
        t0 = time.monotonic()
        try:
            out = subprocess.run([PYTHON, "-c", CHILD, setting, db, str(args.trials), str(args.steps), args.task,
                                  args.space], env=env,
                                 capture_output=True, text=True, timeout=args.cap, cwd=folder)
        except subprocess.TimeoutExpired:
            return {"wall_s": None, "timed_out": True, "cap_s": args.cap, "loadavg_1min_at_start": la}
        wall = time.monotonic() - t0
    finally:
        stop_load(load)
    if out.returncode != 0:
        raise SystemExit(f"{setting} busy={busy} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update({"wall_s": round(wall, 2), "timed_out": False, "loadavg_1min_at_start": la,
                   "max_trial_s": max(result["trial_seconds"])})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--task", default="wine")
    ap.add_argument("--space", default="mlp")
    ap.add_argument("--cap", type=float, default=180.0, help="seconds after which a case is stopped")
    ap.add_argument("--load", choices=("spin", "torch"), default="spin")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    settings = [s for s in args.settings.split(",") if s]
    start = machine()
    cases: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for setting in settings:
            cases[setting] = {}
            for busy in (False, True):
                r = run_case(setting, busy, args, folder)
                cases[setting]["busy" if busy else "alone"] = r
                shown = f"> {args.cap:g} s (stopped)" if r["timed_out"] else \
                    f"{r['wall_s']:.1f} s (slowest trial {r['max_trial_s']:.1f} s)"
                print(f"{setting:10} {'busy' if busy else 'alone':5} {shown}", flush=True)
            alone, busy_r = cases[setting]["alone"], cases[setting]["busy"]
            if alone["wall_s"]:
                ratio = args.cap / alone["wall_s"] if busy_r["timed_out"] else busy_r["wall_s"] / alone["wall_s"]
                cases[setting]["busy_over_alone"] = round(ratio, 2)
                cases[setting]["busy_over_alone_is_lower_bound"] = busy_r["timed_out"]
    doc = {"benchmark": "threads_under_load", "issue": 17,
           "command": "python benchmarks/threads_under_load.py " + " ".join(sys.argv[1:]),
           "search": {"task": args.task, "space": args.space, "evaluator": "train", "steps": args.steps,
                      "strategy": "random", "trials": args.trials, "final_top_k": 0, "seed": 0},
           "load": {"spin": f"{len(os.sched_getaffinity(0))} pure-Python busy loops (one per usable core)",
                    "torch": "one torch process multiplying 256x256 matrices with PyTorch's default threads"}
           [args.load],
           "settings": {"before": "PyTorch's default threads, OpenMP's default wait (the code before issue #17)",
                        "after": "the new defaults: default_threads(1) threads and GOMP_SPINCOUNT=1000",
                        "passive": "default_threads(1) threads and OMP_WAIT_POLICY=PASSIVE",
                        "one-thread": "--threads 1 and GOMP_SPINCOUNT=1000"},
           "cap_s": args.cap, "machine": start, "loadavg_at_end": os.getloadavg(), "cases": cases}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    for setting, c in cases.items():
        if "busy_over_alone" in c:
            print(f"{setting:10} busy/alone {'> ' if c['busy_over_alone_is_lower_bound'] else ''}"
                  f"{c['busy_over_alone']:.2f}x")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
