"""The summary of benchmarks/default_search.py's runs: per task, each arm's test accuracy over its search seeds,
archscout's difference to each peer with 95 % intervals, the anytime table, the time archscout needed to reach
each peer's 30-minute result, and a PNG of the anytime curves."""
from __future__ import annotations

import glob
import json
import math
import os
import statistics

from mnist1d_multifidelity import welch  # noqa: E402 (benchmarks/ is on sys.path)

ARMS = ("archscout", "optuna-tpe", "optuna-hyperband", "neps", "syne-tune")
MINUTES = (5, 10, 20, 30)


def pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def interval(lo: float, hi: float) -> str:
    return "n/a (fewer than 2 seeds a side)" if math.isnan(lo) else f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"


def best_at(curve: list[dict], seconds: float):
    best = None
    for p in curve:
        if p["t"] <= seconds and p["best_val_accuracy"] is not None:
            best = p["best_val_accuracy"]
    return best


def reach_time(curve: list[dict], target: float):
    for p in curve:
        if p["best_val_accuracy"] is not None and p["best_val_accuracy"] >= target:
            return p["t"]
    return None


def summarise(out_dir: str) -> int:
    docs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out_dir, "default-search-*-s*.json")))]
    if not docs:
        print(f"no runs in {out_dir}")
        return 1
    for task in sorted({d["task"] for d in docs}):
        runs = [d for d in docs if d["task"] == task]
        labels = sorted({d["label"] for d in runs}, key=lambda x: (ARMS.index(x.split("-")[0]) if x.split("-")[0]
                                                                   in ARMS else 9, x))
        print(f"\n### {task}\n")
        print("| arm | search seeds | trials (at the top fidelity) | test % per search seed (3 retraining seeds each) "
              "| mean over search seeds |")
        print("|---|---|---|---|---|")
        means: dict[str, list[float]] = {}
        by_seed: dict[str, dict[int, float]] = {}
        for label in labels:
            mine = sorted((d for d in runs if d["label"] == label), key=lambda d: d["seed"])
            per_seed = [d["chosen"]["test_accuracy_mean"] for d in mine]
            means[label] = per_seed
            by_seed[label] = {d["seed"]: d["chosen"]["test_accuracy_mean"] for d in mine}
            trials = ", ".join(f"{d['trials']['total']} ({d['trials']['at_top']})" for d in mine)
            sd = f" ± {100 * statistics.stdev(per_seed):.2f}" if len(per_seed) > 1 else ""
            print(f"| {label} | {', '.join(str(d['seed']) for d in mine)} | {trials} | "
                  f"{', '.join(pct(x) for x in per_seed)} | {pct(statistics.fmean(per_seed))}{sd} |")
        if "archscout" in means:
            differences(labels, means, by_seed)
        print("\nBest validation accuracy at the top fidelity so far (mean over search seeds), minutes of search:\n")
        print("| arm | " + " | ".join(str(m) for m in MINUTES) + " |")
        print("|---|" + "---|" * len(MINUTES))
        for label in labels:
            mine = [d for d in runs if d["label"] == label]
            cells = []
            for m in MINUTES:
                vals = [v for d in mine if (v := best_at(d["anytime"], 60 * m)) is not None]
                cells.append(pct(statistics.fmean(vals)) if vals else "–")
            print(f"| {label} | " + " | ".join(cells) + " |")
        reach(labels, runs)
    plot(docs, out_dir)
    return 0


def differences(labels: list[str], means: dict[str, list[float]], by_seed: dict[str, dict[int, float]]) -> None:
    """archscout − each peer: over the search seeds' means (Welch, bootstrap) and paired by search seed."""
    from archscout.stats import bootstrap_difference, mean_ci
    print("\narchscout − peer (mean over search seeds; 95 % Welch t over the search seeds' means, and a "
          "percentile bootstrap over them):\n")
    for label in labels:
        if label == "archscout" or label.startswith("archscout-"):
            continue
        d, lo, hi = welch(means["archscout"], means[label])
        _, blo, bhi = bootstrap_difference(means["archscout"], means[label])
        print(f"- vs {label}: {100 * d:+.2f} points, Welch {interval(lo, hi)}, bootstrap {interval(blo, bhi)}")
    print("\narchscout − peer paired by search seed (seed N of both arms ran on the same VM state; 95 % t "
          "interval of the mean of the per-seed differences):\n")
    for label in labels:
        if label.startswith("archscout"):
            continue
        common = sorted(set(by_seed["archscout"]) & set(by_seed[label]))
        diffs = [by_seed["archscout"][k] - by_seed[label][k] for k in common]
        if not diffs:
            continue
        m, h = mean_ci(diffs)
        shown = ", ".join(f"s{k} {100 * x:+.2f}" for k, x in zip(common, diffs))
        print(f"- vs {label}: {100 * m:+.2f} points over seeds {common} ({shown}), "
              f"{interval(m - h, m + h)}")


def reach(labels: list[str], runs: list[dict]) -> None:
    """Minutes each archscout run needed to reach each peer's result at the end of its search."""
    ours = [d for d in runs if d["label"] == "archscout"]
    if ours:
        print("\nMinutes archscout needed to reach each peer's 30-minute best validation accuracy (per archscout "
              "search seed; the peer's mean over its seeds):\n")
        for label in labels:
            if label.startswith("archscout"):
                continue
            peer = [best_at(d["anytime"], d["time_budget_seconds"]) for d in runs if d["label"] == label]
            peer = [p for p in peer if p is not None]
            if not peer:
                continue
            target = statistics.fmean(peer)
            times = [reach_time(d["anytime"], target) for d in sorted(ours, key=lambda d: d["seed"])]
            shown = ", ".join("not reached" if t is None else f"{t / 60:.1f}" for t in times)
            own = {d["seed"]: best_at(d["anytime"], d["time_budget_seconds"]) for d in runs if d["label"] == label}
            same = []  # against the same seed's peer run, on the same VM state
            for d in sorted(ours, key=lambda d: d["seed"]):
                if own.get(d["seed"]) is not None:
                    t = reach_time(d["anytime"], own[d["seed"]])
                    same.append(f"s{d['seed']} {pct(own[d['seed']])} % "
                                f"{'not reached' if t is None else f'in {t / 60:.1f}'}")
            print(f"- {label} ({pct(target)} %): {shown}" + (f"; per seed against the same seed's peer: "
                                                              f"{', '.join(same)}" if same else ""))


def plot(docs: list[dict], out_dir: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for task in sorted({d["task"] for d in docs}):
        fig, ax = plt.subplots(figsize=(7, 4))
        for i, label in enumerate(sorted({d["label"] for d in docs if d["task"] == task})):
            for j, d in enumerate(d for d in docs if d["task"] == task and d["label"] == label):
                pts = [(p["t"] / 60, 100 * p["best_val_accuracy"]) for p in d["anytime"]
                       if p["best_val_accuracy"] is not None]
                if pts:
                    xs, ys = zip(*pts)
                    ax.step(xs, ys, where="post", color=f"C{i}", alpha=0.8, label=label if j == 0 else None)
        ax.set_xlabel("minutes of search")
        ax.set_ylabel("best validation accuracy at the top fidelity (%)")
        ax.set_title(f"{task}: anytime curves, one line per search seed")
        ax.legend()
        ax.grid(alpha=0.3)
        lows = [100 * p["best_val_accuracy"] for d in docs if d["task"] == task for p in d["anytime"]
                if p["best_val_accuracy"] is not None]
        if lows:
            ax.set_ylim(max(min(lows), 90), 100.2)
        path = os.path.join(out_dir, f"default-search-{task}-anytime.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"\nwrote {path}")
