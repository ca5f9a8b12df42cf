"""How long resuming a finished search takes when nothing is left to do (issue 29, part 1, item 10).

Runs ``archscout search --task iris --space mlp --trials 4 --workers 2 --steps 50 --final-steps 50`` once to
finish a study, then the same command ``--repeats`` more times (each trains nothing) and prints each wall time and
their median:

    .venv/bin/python benchmarks/resume_finished.py --repeats 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="archscout-resume-")
    cmd = [os.path.join(HERE, "..", ".venv", "bin", "archscout"), "search", "--task", "iris", "--space", "mlp",
           "--trials", "4", "--workers", "2", "--steps", "50", "--final-steps", "50", "--no-progress",
           "--storage", f"sqlite:///{folder}/r.db"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=folder)  # the search itself
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=folder)
        times.append(time.perf_counter() - t0)
    print("resumes of the finished study: " + ", ".join(f"{t:.2f} s" for t in times)
          + f"; median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
