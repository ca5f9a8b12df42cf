"""The files of ``archscout bench``: results.json, results.md (tables under the protocol of :mod:`.protocol`), one
plot of the headline against queries per dataset, and a critical-difference plot of the average ranks."""
from __future__ import annotations

import json
import math
import os

from ..errors import ArchscoutError
from ..evaluate.tables import TABLES, TableBenchmark
from ..stats import mean_ci
from .protocol import MAX_ASKS_PER_QUERY, PARETO_PEERS, PEERS, checkpoints
from .statistics import headline


def _table(result: dict) -> TableBenchmark | None:
    """The table benchmark a result was run on (None for a name no table is registered under)."""
    name = result.get("benchmark")
    return TABLES.get(name) if isinstance(name, str) and name in TABLES else None


def _pm(value: float, half: float, digits: int) -> str:
    if math.isnan(half):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {half:.{digits}f}"


def _seeds(result: dict) -> str:
    start = result.get("seed_start", 0)
    return f"{result['seeds']} seeds ({start}–{start + result['seeds'] - 1})"


def markdown(result: dict) -> str:
    """The report: protocol notes, a headline table per dataset, the comparisons with the peers and the average
    ranks."""
    pareto = "objectives" in result
    m = result["machine"]
    title = f"# {result['benchmark']}" + (f", {' and '.join(result['objectives'])}" if pareto else "")
    lines = [f"{title}: {', '.join(result['strategies'])} × {_seeds(result)}", "",
             f"Date {result['date']}; machine: {m['platform']}, {m['cpus']} CPUs, {m['workers']} worker(s); "
             f"wall time {result['wall_seconds']:.0f} s.", ""]
    if pareto:
        logs = result.get("log_scaled") or []
        lines.append(
            "**Headline: test HV ratio** = the front each run found on validation accuracy, its members scored on "
            "test accuracy: their hypervolume over the true test front's. Objectives in minimisation form"
            + (f", {', '.join(logs)} on a log10 scale" if logs else "")
            + ", each scaled so that the true front's ideal point is 0 and its nadir 1; reference point "
            "(1.1, …, 1.1) = the nadir plus 10 % of the front's range. **IGD+** = the mean distance from the true "
            "test front to the found points (lower is better). *Area* = mean test HV ratio over queries 1..B. "
            "*Valid HV ratio* = the same on validation accuracy, an optimiser diagnostic.")
    else:
        lines.append(
            "**Headline: test %** = the test accuracy of the architecture each run picks by validation accuracy "
            "after B queries; *test regret* = the space's best test accuracy − that (points). *Area* = mean "
            "picked test accuracy over queries 1..B. *Valid regret* = the space's best validation accuracy − the "
            "pick's, an optimiser diagnostic.")
    table = _table(result)
    if table is not None and table.report_note:
        lines += ["", table.report_note]
    lines += ["", "± is the 95 % interval over seeds (Student's t).", "",
              f"Table noise: {result.get('noise', 'not stated')}.", ""]
    tuned = result.get("tuned_on")
    if tuned:
        overlap = [d for d in result["datasets"] if d in tuned["datasets"]]
        lines.append(f"Defaults were tuned on {', '.join(tuned['datasets'])} (seeds {tuned['seeds'][0]}–"
                     f"{tuned['seeds'][-1]})." + (
                         f" **Warning: {', '.join(overlap)} {'was' if len(overlap) == 1 else 'were'} used for "
                         f"tuning, so the tuned strategies' figures there are optimistic.**" if overlap else
                         " None of the datasets reported here was used for tuning."))
        lines.append("")
    lines += _options(result)
    for d in result["datasets"]:
        lines += _dataset_table(result, d, pareto)
    lines += _comparisons(result)
    lines += _ranks(result)
    if any(r["runs_short_of_budget"] for r in result["summary"]):
        lines.append(f"\\* some runs stopped short of the budget: the strategy proposed only repeats "
                     f"({MAX_ASKS_PER_QUERY} asks per query); their last value is carried.")
    return "\n".join(lines) + "\n"


def _options(result: dict) -> list[str]:
    lines = []
    tuning = result.get("tuning")
    if tuning:
        lines += [f"Tuning: every strategy's grid run on {', '.join(tuning['datasets'])}, seeds "
                  f"{tuning['seeds'][0]}–{tuning['seeds'][-1]}, {tuning['budget']} queries; the configuration "
                  f"with the best mean headline was kept.", "", "| strategy | configuration: mean headline | chosen |",
                  "|---|---|---|"]
        for s, grid in tuning["grids"].items():
            cells = "; ".join(f"{_config(c)}: {v:.3f}" for c, v in zip(grid, tuning["scores"][s])) \
                if len(grid) > 1 else "no grid: run at its published defaults"
            lines.append(f"| {s} | {cells} | {_config(tuning['chosen'][s])} |")
        lines.append("")
    given = {s: o for s, o in result.get("options", {}).items() if o}
    if given:
        lines += ["Configurations used: " + "; ".join(f"{s} {_config(o)}" for s, o in given.items())
                  + " (every other strategy at its defaults).", ""]
    return lines


def _config(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"


def _dataset_table(result: dict, d: str, pareto: bool) -> list[str]:
    by = {(r["dataset"], r["strategy"], r["budget"]): r for r in result["summary"]}
    budgets = result["budgets"]
    last = budgets[-1]
    if pareto:
        heading = f"## {d} (true test front: {result['true_front'][d]['size']} architectures)"
        names = ("test HV ratio", "IGD+")
        extra = ("area", "valid HV ratio")

        def cells(r):
            return [_pm(r["test_hv_ratio"], r["test_hv_ratio_ci95"], 3), f"{r['test_igd_plus']:.3f}"]

        def tail(r):
            return [_pm(r["test_area"], r["test_area_ci95"], 3), _pm(r["valid_hv_ratio"], r["valid_hv_ratio_ci95"], 3)]
    else:
        heading = (f"## {d} (best test accuracy in the space {result['best_test'][d]:.2f} %, best validation "
                   f"accuracy {result['optimum'][d]:.2f} %)")
        names = ("test %", "test regret")
        extra = ("area", "valid regret")

        def cells(r):
            return [_pm(r["test_accuracy"], r["test_accuracy_ci95"], 2), f"{r['test_regret']:.2f}"]

        def tail(r):
            return [_pm(r["test_area"], r["test_area_ci95"], 2), _pm(r["valid_regret"], r["valid_regret_ci95"], 2)]
    lines = [heading, "",
             "| strategy | " + " | ".join(f"B={b} {n}" for b in budgets for n in names)
             + " | " + " | ".join(f"B={last} {n}" for n in extra) + " | s/run |",
             "|---|" + "---|" * (len(names) * len(budgets) + len(extra) + 1)]
    for s in result["strategies"]:
        row = []
        for b in budgets:
            r = by[(d, s, b)]
            values = cells(r)
            values[0] += "*" if r["runs_short_of_budget"] else ""
            row += values
        row += tail(by[(d, s, last)])
        row.append(f"{by[(d, s, last)]['seconds_per_run']:.2f}")
        lines.append(f"| {s} | " + " | ".join(row) + " |")
    lines.append("")
    return lines


def _comparisons(result: dict) -> list[str]:
    rows = result.get("comparisons") or []
    if not rows:
        return []
    unit = "" if "objectives" in result else " points"
    lines = ["## Against the peers", "",
             f"Difference of mean headlines (strategy − peer{unit}), with percentile bootstrap intervals "
             f"(10,000 resamples per side) Bonferroni-corrected for the {rows[0]['comparisons']} comparisons of "
             f"this report (each at level 1 − 0.05/{rows[0]['comparisons']}). *no difference*: the interval holds "
             f"0.", "", "| dataset | B | strategy − peer | difference [interval] | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['budget']} | {r['strategy']} − {r['peer']} | {r['difference']:+.3f} "
                     f"[{r['low']:+.3f}, {r['high']:+.3f}] | {r['verdict']} |")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines += ["", "Verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".", ""]
    return lines


def _ranks(result: dict) -> list[str]:
    ranks = result.get("ranks") or []
    if not ranks:
        return []
    lines = ["## Average ranks over datasets", "",
             "Rank 1 = the best mean headline on a dataset (ties share their average rank). Two strategies whose "
             "average ranks differ by less than the Nemenyi critical difference (CD, alpha 0.05, datasets as "
             "blocks) are not told apart.", "", "| B | " + " | ".join(result["strategies"]) + " | CD |",
             "|---|" + "---|" * (len(result["strategies"]) + 1)]
    for r in ranks:
        lines.append(f"| {r['budget']} | " + " | ".join(f"{r['ranks'][s]:.2f}" for s in result["strategies"])
                     + f" | {r['critical_difference']:.2f} |")
    lines.append("")
    return lines


# -- plots --------------------------------------------------------------------------------------------

def plot(result: dict, dataset: str, path: str) -> None:
    """The mean headline against queries with its 95 % band, one line per strategy (peers dashed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pareto = "objectives" in result
    peers = PARETO_PEERS if pareto else PEERS
    oracle = None if pareto else result["best_test"][dataset]
    xs = checkpoints(max(result["budgets"]), result["budgets"])
    table = _table(result)
    title = table.title if table is not None else result["benchmark"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s in result["strategies"]:
        runs = [r for r in result["runs"] if r["dataset"] == dataset and r["strategy"] == s]
        means, lows, highs = [], [], []
        for q in xs:
            values = [headline(r, q) for r in runs]
            if oracle is not None:
                values = [oracle - v for v in values]  # test regret
            mean, half = mean_ci(values)
            half = 0.0 if math.isnan(half) else half
            means.append(mean)
            lows.append(max(0.0, mean - half))  # neither a regret nor a ratio is negative
            highs.append(min(1.0, mean + half) if pareto else mean + half)  # nor a ratio above 1
        line, = ax.plot(xs, means, label=s, linestyle="--" if s in peers else "-")
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    if pareto:
        ax.set_ylabel("test hypervolume ratio of the validation front")
        ax.set_title(f"{title} {dataset}, {' and '.join(result['objectives'])}: {result['seeds']} seeds",
                     fontsize="medium")
    else:
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("test regret of the validation pick (points)")
        ax.set_title(f"{title} {dataset}: {result['seeds']} seeds, mean and 95 % interval")
    ax.set_xlabel("distinct architectures queried")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ranks(result: dict, path: str, budget: int | None = None) -> None:
    """A critical-difference diagram (Demšar 2006) of the average ranks at ``budget`` (default the largest):
    strategies on a rank axis, and a bar over each group whose ranks lie within the critical difference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = budget or max(result["budgets"])
    entry = next(r for r in result["ranks"] if r["budget"] == budget)
    ranks = sorted(entry["ranks"].items(), key=lambda kv: kv[1])
    cd, k = entry["critical_difference"], len(ranks)
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.35 * k))
    ax.set_xlim(0.8, k + 0.2)
    ax.set_ylim(-(k + 1), 1.5)
    ax.axhline(0, color="black", lw=1)
    for i in range(1, k + 1):
        ax.plot([i, i], [0, 0.15], color="black", lw=1)
        ax.text(i, 0.3, str(i), ha="center", fontsize="small")
    for j, (name, rank) in enumerate(ranks):
        y = -(j + 1)
        ax.plot([rank, rank], [0, y], color="grey", lw=0.8)
        ax.plot(rank, 0, "o", color="black", ms=3)
        ax.text(k + 0.15 if rank > (k + 1) / 2 else 0.85, y, f"{name} ({rank:.2f})", va="center",
                ha="right" if rank > (k + 1) / 2 else "left", fontsize="small")
    if not math.isnan(cd):
        groups: list[tuple[int, int]] = []
        for i in range(k):  # maximal runs of consecutive strategies within one CD
            j = i
            while j + 1 < k and ranks[j + 1][1] - ranks[i][1] < cd:
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in groups):
                groups.append((i, j))
        for n, (i, j) in enumerate(groups):
            ax.plot([ranks[i][1] - 0.03, ranks[j][1] + 0.03], [-0.35 - 0.25 * n] * 2, color="black", lw=3)
        ax.plot([1, 1 + cd], [1.1, 1.1], color="red", lw=2)
        ax.text(1 + cd / 2, 1.25, f"CD {cd:.2f}", ha="center", fontsize="small", color="red")
    ax.set_title(f"Average ranks over {entry['datasets']} datasets at {budget} queries", fontsize="medium")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compact(result: dict) -> dict:
    """The result with each run's curves kept at the checkpoints only (full curves are ~30 MB for 900 runs)."""
    horizon = max(result["budgets"])
    at = checkpoints(horizon, result["budgets"])
    runs = []
    for r in result["runs"]:
        if "test_hv_curve" in r:
            runs.append({k: v for k, v in r.items() if k != "test_hv_curve"})
            continue
        n = len(r["best_valid"])
        idx = [min(q, n) - 1 for q in at]
        runs.append({**{k: v for k, v in r.items() if k not in ("best_valid", "picked_test", "picked_key")},
                     "at_queries": at, "best_valid": [r["best_valid"][i] for i in idx],
                     "picked_test": [r["picked_test"][i] for i in idx],
                     "picked_key": [r["picked_key"][i] for i in idx]})
    return {**result, "runs": runs}


def write_results(result: dict, out: str) -> list[str]:
    """results.json (summary, comparisons, ranks, metadata, each run's curve at the checkpoints), results.md,
    one PNG per dataset and ranks.png under ``out``; returns the paths written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArchscoutError(f"--out {out!r} is a file; give a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ArchscoutError(f"cannot create the output directory {out!r}: {e.strerror}") from None
    paths = [os.path.join(out, "results.json"), os.path.join(out, "results.md")]
    with open(paths[0], "w") as f:
        json.dump(compact(result), f)
    with open(paths[1], "w") as f:
        f.write(markdown(result))
    for d in result["datasets"]:
        paths.append(os.path.join(out, f"{d}.png"))
        plot(result, d, paths[-1])
    if len(result["datasets"]) > 1 and len(result["strategies"]) > 1:
        paths.append(os.path.join(out, "ranks.png"))
        plot_ranks(result, paths[-1])
    return paths
