"""`archscout supernet train | check`: a weight-sharing supernet for a task, and how far its scores can be trusted."""
from __future__ import annotations

import json

import click

from ..errors import ArchscoutError
from .common import check_writable, console, echo


@click.group()
def supernet():
    """Weight-sharing supernets: train one for a task, check its ranking, search it with
    `archscout search --evaluator supernet:FILE` (see docs/supernets.md)."""


@supernet.command("train")
@click.option("--task", default="mnist1d", show_default=True, help="Built-in task name or a data file.")
@click.option("--space", default="conv1d", show_default=True,
              help="The conv space whose elastic form the supernet holds: conv1d, conv2d, conv1d-quant, conv2d-quant.")
@click.option("--method", type=click.Choice(["bignas", "ofa", "spos"]), default="bignas", show_default=True,
              help="bignas: sandwich rule with in-place distillation; ofa: progressive shrinking; spos: one uniform "
                   "path per step.")
@click.option("--steps", type=int, default=3000, show_default=True, help="Training steps (ignored with --time-budget).")
@click.option("--time-budget", default=None, help="Train for about this long instead (e.g. 10m): steps planned from "
                                                  "the measured time of a few.")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Peak learning rate (AdamW, one-cycle).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="Where it trains: auto, cpu, cuda, cuda:N or mps (default cpu).")
@click.option("--out", required=True, help="The supernet file to write (checkpoints go to OUT.checkpoints/ meanwhile).")
def train(task, space, method, steps, time_budget, batch_size, lr, seed, device, out):
    """Train a supernet whose sub-networks share its weights, and write it to OUT.

    Example: archscout supernet train --task mnist1d --space conv1d --time-budget 15m --out mnist1d.supernet
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..evaluate.training import resolve_device
    from ..oneshot.supernet.run import train_for_task
    from ..oneshot.supernet.train import SupernetTraining
    from ..study.preflight import parse_duration
    from ..tasks import get_task

    seconds = parse_duration(time_budget)
    training = SupernetTraining(method=method, steps=steps, batch_size=batch_size, lr=lr)
    torch_device = resolve_device(device) if device is not None else None
    check_writable("--out", out)
    data = get_task(task)
    echo(f"supernet of {space} for {data.summary()} · {method} · "
         f"{f'{seconds:g} s' if seconds else f'{steps:,} steps'}")
    with Progress(TextColumn("supernet"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} steps"),
                  TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console(), transient=True) as bar:
        job = bar.add_task("train", total=steps, loss=float("nan"))

        def tick(step: int, total: int, loss: float) -> None:
            bar.update(job, completed=step, total=total, loss=loss)

        header = train_for_task(data, space, out, training, seed=seed, time_budget=seconds, device=torch_device,
                                progress=bar.console.print, step_progress=tick)
    last = header["curve"][-1] if header["curve"] else {}
    echo(f"wrote {out}: {header['training']['steps']:,} steps in {header['train_seconds']:.0f} s; val accuracy "
         f"largest {last.get('largest', float('nan')):.4f}, smallest {last.get('smallest', float('nan')):.4f} "
         f"(inherited weights, batch norms recalibrated)")
    echo(f"check its ranking: archscout supernet check {out}   ·   search it: archscout search --task {task} "
         f"--space {space} --evaluator supernet:{out}")


def _fig(value, interval=None) -> str:
    text = "  n/a" if value is None else f"{value:+.3f}"
    return text + (f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")


def ranking_lines(result: dict) -> list[str]:
    """The check's rankings as terminal lines: size-spanning, uniform, and within parameter bins."""
    r = result["rankings"]
    lines = ["inherited vs stand-alone validation accuracy (95 % bootstrap intervals over sub-networks):"]
    for name, label in (("spanning", "size-spanning sample"), ("uniform", "uniform sample")):
        if name in r:
            g = r[name]
            tau = _fig(g["kendall_tau"], g["kendall_tau_interval"])
            rho = _fig(g["spearman_rho"], g["spearman_rho_interval"])
            lines.append(f"  {label:22} {g['samples']:>3} sub-networks  Kendall τ {tau}  Spearman ρ {rho}")
    b = r["binned"]
    fewer = f" ({b['bins_asked']} asked; a bin needs 3)" if len(b["bins"]) < b["bins_asked"] else ""
    lines.append(f"  within {len(b['bins'])} parameter bins{fewer} {b['samples']:>3} sub-networks  weighted mean "
                 f"Kendall τ {_fig(b['kendall_tau_weighted'], b['kendall_tau_weighted_interval'])}")
    for g in b["bins"]:
        lines.append(f"    {g['params'][0]:>9,}–{g['params'][1]:<9,} params {g['samples']:>3} sub-networks  Kendall τ "
                     f"{_fig(g['kendall_tau'], g['kendall_tau_interval'])}")
    return lines


@supernet.command("check")
@click.argument("path")
@click.option("--samples", type=int, default=30, show_default=True,
              help="Sub-networks trained alone, spanning the size range.")
@click.option("--uniform", type=int, default=None,
              help="Sub-networks trained alone, drawn uniformly from the elastic space (default: as many as --samples; "
                   "0 for none).")
@click.option("--bins", type=int, default=3, show_default=True,
              help="Parameter bins within which τ is also reported (equal counts of the checked sub-networks).")
@click.option("--steps", type=int, default=1500, show_default=True, help="Training steps of each stand-alone network.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="Where the stand-alone networks train (default cpu).")
@click.option("--json", "json_out", default=None, help="Write the result to this JSON file (the study report reads "
                                                       "it when it sits next to the supernet file as PATH.check.json).")
def check(path, samples, uniform, bins, steps, seed, device, json_out):
    """How far PATH's inherited accuracies can be trusted: Kendall τ and Spearman ρ against the same
    sub-networks trained alone, on a sample spanning the size range, on a uniform sample of the elastic
    space, and within parameter bins (95 % bootstrap intervals), and the gap for the largest, a middle and
    the smallest one.

    Example: archscout supernet check mnist1d.supernet --samples 30 --steps 1500
    """
    from ..evaluate.training import TrainConfig, resolve_device
    from ..oneshot.supernet.check import check_supernet
    from ..oneshot.supernet.store import load_supernet
    from ..tasks import get_task

    net, header = load_supernet(path)
    if samples < 3:
        raise ArchscoutError(f"--samples must be at least 3 to rank anything, got {samples}")
    if uniform is not None and uniform != 0 and uniform < 3:
        raise ArchscoutError(f"--uniform must be 0 or at least 3 to rank anything, got {uniform}")
    if bins < 1:
        raise ArchscoutError(f"--bins must be at least 1, got {bins}")
    json_out = json_out or f"{path}.check.json"
    check_writable("--json", json_out)
    data = get_task(header["task"])
    if data.fingerprint() != header["task_fingerprint"]:
        raise ArchscoutError(f"the data of task {header['task']!r} differs from what the supernet was trained on")
    torch_device = resolve_device(device) if device is not None else None
    uniform = samples if uniform is None else uniform
    echo(f"training {samples} size-spanning and {uniform} uniformly drawn sub-networks of {path} alone ({steps:,} "
         f"steps each) and scoring them with inherited weights")
    result = check_supernet(net, data, TrainConfig(steps=steps), samples=samples, seed=seed, progress=echo,
                            device=torch_device, uniform=uniform, bins=bins)
    result["supernet"] = {"file": path, "fingerprint": header["fingerprint"], "method": header["training"]["method"]}
    for line in ranking_lines(result):
        echo(line)
    for name, g in result["gaps"].items():
        echo(f"{name:8} {g['params']:>9,} params: inherited {g['inherited']:.4f}, alone {g['alone']:.4f}, "
             f"gap {100 * g['gap']:+.2f} points")
    with open(json_out, "w") as f:
        json.dump(result, f, indent=1)
    echo(f"wrote {json_out}")
