"""Fault injection: a 2-worker search of synthetic trials that raise, return NaN and crash their worker,
while the search process itself is killed with SIGKILL at random times and restarted.

    .venv/bin/python benchmarks/fault_injection.py                  # 500 trials, seed 0
    .venv/bin/python benchmarks/fault_injection.py --trials 500 --seed 1 --kill-min 2 --kill-max 6

The search runs as the command line a user would type (``.venv/bin/archscout search --evaluator
synthetic:delay=D,fail=F,nan=N,crash=C --workers 2 ...``) in a subprocess. After a random wait
(``--kill-min``..``--kill-max`` s, from a seeded RNG) the finished trials (id, number, arch_id,
budget, status, error, metrics) are read from the database and the search process (only the
driver, not its workers) is sent SIGKILL; the same command is started again, until a run ends by
itself with the study holding ``--trials`` finished trials. A second snapshot is taken right after
each kill (everything committed by then).

At the end the script checks:

- lost: every trial finished in any snapshot is still stored, with the same status, error and metrics;
- duplicated: no architecture has more than one finished trial at the same budget;
- outcomes: each finished trial's status matches the fault injected for its architecture (the
  synthetic evaluator's faults are a fixed function of the architecture), and each complete
  trial's metrics equal what the evaluator computes for it;
- the trial budget: exactly ``--trials`` finished trials, none left ``running``;
- orphans: child processes of a killed search still alive ``--orphan-grace`` s after the kill (then
  killed here);

and counts interrupted trials, failed trials by reason, and kills. Exit status 1 if any finished
trial was lost or duplicated (2 if the run could not complete).
Writes benchmarks/results/fault_injection.json.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import sqlalchemy as sa

from _common import RESULTS, ROOT, code_version, machine  # noqa: E402 (benchmarks/ is on sys.path)

FINISHED = ("complete", "failed", "infeasible")


def _unit(*parts) -> float:
    """The synthetic evaluator's per-architecture random number (archscout/evaluate/tables/synthetic.py)."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def reason_kind(error: str | None) -> str:
    """A failure reason without numbers, times and pids, for grouping."""
    text = re.sub(r"\(noticed at [^)]*\)", "(noticed at T)", error or "unknown")
    return re.sub(r"\d+(\.\d+)?", "N", text)[:160]


class Db:
    """Plain SQL reads of archscout's tables (never writes)."""

    def __init__(self, url: str, study: str):
        self.engine = sa.create_engine(url)
        self.study = study

    def finished(self) -> dict[int, dict]:
        try:
            with self.engine.connect() as c:
                rows = c.execute(sa.text(
                    "SELECT t.id, t.number, t.arch_id, t.arch, t.budget, t.status, t.error, t.metrics, "
                    "t.started_at, t.finished_at, t.session_id FROM trials t JOIN studies s ON s.id = t.study_id "
                    "WHERE s.name = :n"), {"n": self.study}).mappings().all()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # no tables yet: killed during start-up
            return {}
        return {r["id"]: dict(r) for r in rows}

    def dispose(self):
        self.engine.dispose()


def finished_only(rows: dict[int, dict]) -> dict[int, dict]:
    return {k: v for k, v in rows.items() if v["status"] in FINISHED}


def expected_outcome(arch_id: str, crash: float, fail: float, nan: float) -> str:
    """The fault the synthetic evaluator injects for an architecture, in its order of checks."""
    if crash and _unit(arch_id, "crash") < crash:
        return "crash"
    if fail and _unit(arch_id, "fail") < fail:
        return "fail"
    if nan and _unit(arch_id, "nan") < nan:
        return "nan"
    return "ok"


def check_outcomes(final: dict[int, dict], args, spec: str) -> dict:
    """Each finished trial's status and metrics against what the synthetic evaluator does for its architecture."""
    from archscout.evaluate.tables.synthetic import SyntheticEvaluator
    from archscout.space import Architecture, get_space

    space = get_space("conv1d")
    clean = SyntheticEvaluator(delay=0.0)  # the same metrics, no faults, no delay
    mismatches = []
    by_expected = collections.Counter()
    for r in final.values():
        if r["status"] not in FINISHED:
            continue
        err = r["error"] or ""
        exp = expected_outcome(r["arch_id"], args.crash, args.fail, args.nan)
        if err.startswith("interrupted"):  # interrupted twice by the kills: stored failed, never evaluated
            by_expected[f"stored failed after interruptions (injected fault: {exp})"] += 1
            continue
        by_expected[exp] += 1
        ok = {"crash": r["status"] == "failed" and "worker process" in err,
              "fail": r["status"] == "failed" and "injected failure" in err,
              "nan": r["status"] == "failed" and "non-finite" in err,
              "ok": r["status"] == "complete"}[exp]
        if ok and exp == "ok":
            arch = Architecture.from_json(r["arch"], space)
            want = json.loads(json.dumps(clean.evaluate(arch, seed=args.seed).metrics))
            got = json.loads(r["metrics"])
            want["train_seconds"] = args.delay
            if set(want) != set(got) or any(not math.isclose(want[k], got[k], rel_tol=1e-9, abs_tol=1e-12)
                                            for k in want):
                ok = False
        if not ok:
            mismatches.append({"id": r["id"], "number": r["number"], "expected": exp, "status": r["status"],
                               "error": err[:200]})
    return {"by_injected_fault": dict(by_expected), "mismatches": len(mismatches),
            "mismatch_examples": mismatches[:10]}


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.1,
                    help="seconds per synthetic trial (long enough that a 500-trial study sees many kills)")
    ap.add_argument("--fail", type=float, default=0.05)
    ap.add_argument("--nan", type=float, default=0.05)
    ap.add_argument("--crash", type=float, default=0.02)
    ap.add_argument("--strategy", default="evolution")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times and of the search")
    ap.add_argument("--kill-min", type=float, default=2.0)
    ap.add_argument("--kill-max", type=float, default=6.0)
    ap.add_argument("--orphan-grace", type=float, default=15.0,
                    help="seconds a killed search's worker processes get to exit by themselves")
    ap.add_argument("--max-runs", type=int, default=300, help="give up after this many starts")
    ap.add_argument("--storage", default=None, help="database URL (default: a fresh SQLite file in a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (database and run logs)")
    ap.add_argument("--out", default=os.path.join(RESULTS, "fault_injection.json"))
    return ap.parse_args()


def kill_run(proc, db, args, run: int, t0: float, wait: float) -> tuple[dict, list, bool, float, list]:
    """Kill a search that is still running (its driver only) and watch its workers exit: the run's record, the
    finished trials before and after the kill, whether SIGKILL ended it, the workers' exit delay and the
    orphans left after --orphan-grace."""
    t_snap = time.monotonic()
    before = finished_only(db.finished())
    snap_s = time.monotonic() - t_snap
    workers = children_of(proc.pid)
    t_kill = time.monotonic()
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the driver only: its workers must notice on their own
    except ProcessLookupError:
        pass
    rc = proc.wait()
    after = finished_only(db.finished())
    # a worker should exit once its driver is gone (its pipe closes); one still starting up
    # (importing torch) notices only when it is ready, so allow --orphan-grace seconds
    alive = [w for w in workers if _alive(w)]
    while alive and time.monotonic() < t_kill + args.orphan_grace:
        time.sleep(0.1)
        alive = [w for w in workers if _alive(w)]
    exit_delay = round(time.monotonic() - t_kill, 2) if workers else 0.0
    orphans = []
    for w in alive:
        orphans.append({"run": run, "pid": w.pid, "cmdline": " ".join(w.cmdline())[:200]})
        try:
            w.kill()  # started (indirectly) by this script: ours to stop
        except psutil.Error:
            pass
    record = {"run": run, "planned_kill_s": round(wait, 2), "snapshot_s": round(snap_s, 3),
              "killed_after_s": round(t_kill - t0, 2), "rc": rc,
              "finished_before_kill": len(before), "finished_after_kill": len(after),
              "workers_seen": len(workers), "workers_left_after_grace": len(alive), "workers_exit_s": exit_delay}
    print(f"run {run:3d}: killed after {t_kill - t0:5.2f} s; finished trials "
          f"{len(before)} -> {len(after)}; its {len(workers)} child processes exited after "
          f"{exit_delay} s; orphans {len(alive)}", flush=True)
    return record, [before, after], rc == -signal.SIGKILL, exit_delay, orphans


def main() -> int:
    args = parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    info = machine()
    tmp = tempfile.mkdtemp(prefix="archscout-faults-")
    storage = args.storage or f"sqlite:///{os.path.join(tmp, 'faults.db')}"
    study = f"faults-s{args.seed}-{int(time.time())}"
    spec = f"synthetic:delay={args.delay:g},fail={args.fail:g},nan={args.nan:g},crash={args.crash:g}"
    cmd = [os.path.join(ROOT, ".venv", "bin", "archscout"), "search", "--evaluator", spec, "--space", "conv1d",
           "--strategy", args.strategy, "--seed", str(args.seed), "--trials", str(args.trials),
           "--workers", str(args.workers), "--storage", storage, "--study", study, "--no-progress"]
    print("command:", " ".join(cmd), flush=True)
    rng = random.Random(args.seed)
    db = Db(storage, study)
    snapshots: list[dict[int, dict]] = []  # finished trials, before and after each kill
    kills, runs, orphans, ends, exit_delays = 0, [], [], [], []
    t_start = time.monotonic()
    done = False
    for run in range(args.max_runs):
        log_path = os.path.join(tmp, f"run-{run:03d}.log")
        wait = rng.uniform(args.kill_min, args.kill_max)
        with open(log_path, "wb") as log:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
            try:
                rc = proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                rc = None
            if rc is None:
                record, snaps, killed, delay, left = kill_run(proc, db, args, run, t0, wait)
                runs.append(record)
                snapshots += snaps
                kills += killed
                exit_delays.append(delay)
                orphans += left
                continue
        finished = finished_only(db.finished())
        with open(log_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        runs.append({"run": run, "ended_after_s": round(time.monotonic() - t0, 2), "rc": rc,
                     "finished": len(finished), "log_tail": tail if rc != 0 else tail[-400:]})
        print(f"run {run:3d}: ended by itself after {time.monotonic() - t0:5.2f} s with exit code {rc}; "
              f"finished trials {len(finished)}", flush=True)
        ends.append(rc)
        if rc == 0 and len(finished) >= args.trials:
            done = True
            break
        if sum(1 for e in ends[-3:] if e != 0) >= 3:
            print("three runs in a row failed; giving up", flush=True)
            break
    wall = time.monotonic() - t_start

    final_all = db.finished()
    final = finished_only(final_all)
    db.dispose()
    # lost or changed finished trials
    lost, changed = set(), set()
    for snap in snapshots:
        for tid, r in snap.items():
            now = final.get(tid)
            if now is None:
                lost.add(tid)
            elif (now["status"], now["error"], now["metrics"], now["arch_id"]) != \
                    (r["status"], r["error"], r["metrics"], r["arch_id"]):
                changed.add(tid)
    # duplicate evaluations: one architecture finished more than once at one budget
    per_arch = collections.Counter((r["arch_id"], r["budget"]) for r in final.values())
    duplicates = {f"{a}@{b}": n for (a, b), n in per_arch.items() if n > 1}
    statuses = collections.Counter(r["status"] for r in final_all.values())
    failed_reasons = collections.Counter(reason_kind(r["error"]) for r in final.values() if r["status"] == "failed")
    interrupted = [r for r in final_all.values() if r["status"] == "interrupted"]
    interrupted_reasons = collections.Counter(reason_kind(r["error"]) for r in interrupted)
    # requeued architectures: interrupted, then finished
    interrupted_archs = collections.Counter(r["arch_id"] for r in interrupted)
    finished_archs = {r["arch_id"] for r in final.values()}
    requeued_then_finished = len(set(interrupted_archs) & finished_archs)
    never_finished = {a: n for a, n in interrupted_archs.items() if a not in finished_archs}
    outcomes = check_outcomes(final_all, args, spec)
    numbers = sorted(r["number"] for r in final_all.values())
    result = {
        "benchmark": "fault_injection", "study": study, "storage": "sqlite (temp file)" if not args.storage
        else sa.engine.make_url(storage).render_as_string(hide_password=True),
        "evaluator": spec, "strategy": args.strategy, "workers": args.workers, "trials_target": args.trials,
        "seed": args.seed, "kill_interval_s": [args.kill_min, args.kill_max],
        "completed_run": done, "wall_seconds": round(wall, 1), "starts": len(runs), "kills": kills,
        "finished_trials": len(final), "statuses": dict(statuses),
        "still_running_at_end": statuses.get("running", 0),
        "lost_finished_trials": len(lost), "changed_finished_trials": len(changed),
        "lost_ids": sorted(lost)[:20], "changed_ids": sorted(changed)[:20],
        "duplicate_evaluations": sum(n - 1 for n in duplicates.values()), "duplicates": duplicates,
        "interrupted_trials": len(interrupted), "interrupted_by_reason": dict(interrupted_reasons),
        "interrupted_architectures": len(interrupted_archs),
        "interrupted_architectures_by_times": dict(collections.Counter(interrupted_archs.values())),
        "interrupted_architectures_finished_later": requeued_then_finished,
        "interrupted_architectures_never_finished": never_finished,
        "failed_by_reason": dict(failed_reasons.most_common()),
        "outcome_check": outcomes,
        "trial_numbers_unique": len(numbers) == len(set(numbers)),
        "orphaned_workers": len(orphans), "orphan_examples": orphans[:5], "orphan_grace_s": args.orphan_grace,
        "worker_exit_after_kill_s": {"max": max(exit_delays, default=None),
                                     "median": sorted(exit_delays)[len(exit_delays) // 2] if exit_delays else None},
        "snapshots": len(snapshots), "snapshot_finished_max": max((len(s) for s in snapshots), default=0),
        "runs": runs,
        "command": " ".join([".venv/bin/python", "benchmarks/fault_injection.py"] + sys.argv[1:]),
        "search_command": " ".join(cmd).replace(tmp, "$TMP"),
        "started": started, "machine": {**info, "loadavg_at_end": os.getloadavg(), "code_at_end": code_version()},
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=float)
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {k: result[k] for k in ("completed_run", "wall_seconds", "starts", "kills", "finished_trials",
                                      "statuses", "lost_finished_trials", "changed_finished_trials",
                                      "duplicate_evaluations", "interrupted_trials", "interrupted_architectures",
                                      "interrupted_architectures_by_times", "interrupted_architectures_finished_later",
                                      "interrupted_architectures_never_finished", "failed_by_reason",
                                      "still_running_at_end", "orphaned_workers", "trial_numbers_unique")}
    summary["outcome_mismatches"] = outcomes["mismatches"]
    summary["by_injected_fault"] = outcomes["by_injected_fault"]
    print(json.dumps(summary, indent=2))
    print(f"wrote {os.path.relpath(args.out)}")
    if lost or changed or duplicates:
        print("FAIL: finished trials were lost, changed or duplicated", file=sys.stderr)
        return 1
    if not done:
        print("FAIL: the search did not complete", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
