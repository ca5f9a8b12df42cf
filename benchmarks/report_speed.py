"""How long the report, the dashboard's pages and the trials data frame take as a study grows.

Studies of N trials are made with the synthetic lookup evaluator (three objectives, 10 % failures,
a params bound that makes some candidates infeasible), so only archscout's own reading and drawing
is timed. One thread, nothing else running.

    .venv/bin/python benchmarks/report_speed.py --sizes 100,1000,3000 --out benchmarks/results/report-speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import urllib.request

os.environ.setdefault("OMP_NUM_THREADS", "1")


def timed(fn, repeats: int = 1):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def measure(n: int, folder: str) -> dict:
    from archscout import Study
    from archscout.report.dashboard import make_server

    db = f"sqlite:///{folder}/speed-{n}.db"
    study = Study(f"speed-{n}", space="conv1d", evaluator="synthetic:fail=0.1", strategy="nsga2",
                  objectives="accuracy:max,latency_ms:min,params:min", constraints=["params <= 50000"], storage=db)
    search_s, _ = timed(lambda: study.search(trials=n, max_failures=0))
    frame_s, df = timed(lambda: study.trials_dataframe(), 3)
    report_s, written = timed(lambda: study.report(f"{folder}/speed-{n}.html"))
    server = make_server(db, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        cold_s, page = timed(lambda: fetch(f"{base}/study/speed-{n}"))
        warm_s, _ = timed(lambda: fetch(f"{base}/study/speed-{n}"), 3)
        version_s, _ = timed(lambda: fetch(f"{base}/api/study/speed-{n}/version"), 5)
        trial_s, _ = timed(lambda: fetch(f"{base}/study/speed-{n}/trial/{study.best().number}"), 3)
    finally:
        server.shutdown()
        server.server_close()
    counts = df.status.value_counts().to_dict()
    return {"trials": n, "statuses": counts, "front": int(df.on_front.sum()), "search_s": round(search_s, 1),
            "dataframe_s": round(frame_s, 3), "report_s": round(report_s, 2),
            "report_mb": round(written["bytes"] / 1e6, 2), "pngs": len(written["png"]),
            "dashboard_study_cold_s": round(cold_s, 2), "dashboard_study_cached_s": round(warm_s, 3),
            "dashboard_study_page_mb": round(len(page) / 1e6, 2), "dashboard_version_s": round(version_s, 3),
            "dashboard_trial_page_s": round(trial_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--out", default="benchmarks/results/report-speed.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="archscout-report-speed-") as folder:
        for n in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(n, folder))
            print(json.dumps(rows[-1]), flush=True)
    doc = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d"), "command": "benchmarks/report_speed.py --sizes " + args.sizes,
           "results": rows}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print("| trials | front | data frame s | report s | report MB | study page (first) s | study page (cached) s "
          "| version s | trial page s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['trials']} | {r['front']} | {r['dataframe_s']} | {r['report_s']} | {r['report_mb']} | "
              f"{r['dashboard_study_cold_s']} | {r['dashboard_study_cached_s']} | {r['dashboard_version_s']} | "
              f"{r['dashboard_trial_page_s']} |")


if __name__ == "__main__":
    main()
