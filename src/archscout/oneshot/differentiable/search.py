"""Differentiable search over the ``cell`` space: DARTS (first and second order), PC-DARTS and GDAS.

The task's training part is split in two halves (seeded, stratified by nothing: a random half each): the
network's weights train on one, the architecture parameters on the other (bilevel optimisation, as DARTS).
Every step updates ``alpha`` on a batch of the second half, then the weights on a batch of the first (GDAS the
other way round, as AutoDL's code):

* ``darts`` (Liu et al., ICLR 2019, first order): ``alpha``'s gradient of the validation loss at the current
  weights;
* ``darts-2nd`` (second order): the gradient at the weights after one virtual step on the training
  loss, with the Hessian-vector term approximated by finite differences (the paper's eq. 7–8); the virtual step
  carries the weight optimiser's momentum and weight decay, as DARTS's reference code does (the paper's eq. 7 is
  plain SGD);
* ``pc-darts`` (Xu et al., ICLR 2020): first order, partial channels (1/``partial_k``) and edge
  normalisation (see :mod:`.mixed`);
* ``proxyless`` (Cai et al., ICLR 2019): binary gates, one path per edge per weight step; for ``alpha``,
  two candidate paths per edge and the gradient from the gates' (BinaryConnect style), plus
  ``latency_weight`` times the expected latency in ms, the softmax of ``alpha`` over a table of each
  operation's latency measured here at each cell's input (:func:`op_latencies`); after each architecture step
  the two computed paths' ``alpha`` are shifted so that the other paths keep their probabilities (the paper's
  §3.2.1, the reference code's ``rescale_updated_arch_param``);
* ``gdas`` (Dong & Yang, CVPR 2019): one operation per edge per step, sampled by a hard Gumbel-softmax whose
  temperature decays linearly from ``tau_max`` to ``tau_min``; each step updates the weights first, then
  ``alpha`` by its first-order gradient (AutoDL's ``search_func_gdas``).

Weights: SGD (momentum 0.9, ``w_lr`` with cosine decay to ``w_lr_min``, weight decay ``w_wd``); architecture:
Adam (``a_lr``, betas 0.5 / 0.999, weight decay ``a_wd``), as DARTS's code; ProxylessNAS's Adam has beta1 0 and
no weight decay, as its reference code (:func:`arch_optimizer`; ``a_lr`` is shared: 3e-4 by default, where
ProxylessNAS's code uses 1e-3). The discrete cell is the argmax
per edge (``none`` included, as NAS-Bench-201's searches derive).

The discrete cell: by default the argmax per edge; with ``selection="perturbation"`` by perturbation-based
selection (:func:`perturbation_select`, Wang et al., ICLR 2021, as darts-pt: an operation masked without
renormalising the edge, scored with batch statistics over the architecture half) on the trained supernet.

Collapse, measured and guarded: every ``check_every`` steps the search records the softmax of ``alpha``
per edge (the report draws it), the derived cell, the share of edges whose strongest operation is
parameter-free (``none``, ``skip``, ``avgpool3x3``) and the dominant eigenvalue of the Hessian of the
validation loss with respect to ``alpha`` (exact: ``alpha`` has 30 entries). With ``guard`` the search
stops early on either of two signs: as DARTS-ES / RobustDARTS do, when the eigenvalue averaged over the last
``window`` checks has grown by more than 1 / ``es_ratio`` (0.75) against the average ``window`` checks before
(it returns the cell derived ``window`` checks earlier), and in the spirit of DARTS+ (which stops when a cell
holds two skip connections), when the derived cell as it computes is mostly parameter-free (4 or more of the 6
edges, dead edges counting as ``none``; it returns the latest cell that was not). A derived cell that is mostly
parameter-free is flagged in the result either way.
"""
from __future__ import annotations

import math
import random
import resource
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import ArchscoutError
from ...evaluate.training import BatchStream
from ...space.cell import ENDS, OPS
from ...tasks.base import Split
from .config import COLLAPSED_EDGES, METHODS, DifferentiableConfig
from .mixed import PARAMETER_FREE, MixedEdge, SearchNetwork


def halves(split, seed: int) -> tuple[Split, Split]:
    """The training part split into two random halves: weights train on the first, ``alpha`` on the second."""
    n = len(split)
    idx = np.random.default_rng(seed).permutation(n)
    a, b = np.sort(idx[: n // 2]), np.sort(idx[n // 2:])
    return Split(split.X[a], split.y[a]), Split(split.X[b], split.y[b])


def dominant_eigenvalue(net: SearchNetwork, x: torch.Tensor, y: torch.Tensor) -> float:
    """The largest eigenvalue of the Hessian of the loss on (x, y) with respect to ``alpha`` (exact; GDAS's
    expected network, the softmax mixture, stands in for its samples)."""
    from torch.func import functional_call

    mode = net.mode
    net.mode = "softmax" if mode in ("gumbel", "binary") else mode

    def loss(alpha: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, {"alpha": alpha}, (x,)), y)

    try:
        H = torch.autograd.functional.hessian(loss, net.alpha.detach().clone())
    finally:
        net.mode = mode
    n = net.alpha.numel()
    H = H.reshape(n, n)
    return float(torch.linalg.eigvalsh(0.5 * (H + H.T))[-1])


def op_latencies(net: SearchNetwork, shape: tuple, repeats: int = 30) -> list[list[float]]:
    """Per mixed cell of ``net``, each operation's latency in ms at that cell's input (batch 1, median of
    ``repeats`` after 5 warm-up runs, this process's threads): ProxylessNAS's latency table, measured here."""
    from .mixed import MixedCell

    shapes: list[tuple] = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: shapes.append(tuple(args[0].shape)))
             for m in net.body if isinstance(m, MixedCell)]
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            if net.mode == "binary":
                net.sample_gates()
            net(torch.zeros((1,) + tuple(shape)))
    finally:
        for h in hooks:
            h.remove()
        net.train(was)
    table = []
    cells = [m for m in net.body if isinstance(m, MixedCell)]
    for cell, s in zip(cells, shapes):
        x = torch.randn(s)
        row = []
        first: MixedEdge = cell.edges[0]  # type: ignore[assignment]
        for op in first.ops:
            op.eval()
            with torch.no_grad():
                for _ in range(5):
                    op(x)
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    op(x)
                    times.append(time.perf_counter() - t0)
            op.train(was)
            row.append(1000.0 * float(np.median(times)))
        table.append(row)
    return table


def expected_latency(net: SearchNetwork, table: list[list[float]]) -> torch.Tensor:
    """The cells' expected latency in ms under the softmax of ``alpha`` (every edge of every cell)."""
    p = F.softmax(net.alpha if torch.is_grad_enabled() else net.alpha.detach(), dim=-1)
    lat = torch.tensor(table, dtype=p.dtype)  # cells x operations
    return (p.sum(0)[None, :] * lat).sum()


def _second_order_alpha_grad(net: SearchNetwork, xt, yt, xv, yv, xi: float,
                             optimizer: torch.optim.Optimizer | None = None) -> None:
    """DARTS's unrolled gradient for ``alpha`` (finite differences for the Hessian-vector product), into .grad.

    The virtual step is the reference code's (``_compute_unrolled_model``): w' = w - xi (momentum · the weight
    optimiser's momentum buffer + dL_train/dw + weight decay · w), with ``optimizer``'s momentum and weight decay;
    the paper's eq. 7 writes it without the two (w - xi dL_train/dw), which is what it is without ``optimizer``."""
    weights = net.weights()
    saved = [w.detach().clone() for w in weights]
    loss = F.cross_entropy(net(xt), yt)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    group = optimizer.param_groups[0] if optimizer is not None else {}
    momentum, decay = float(group.get("momentum", 0.0)), float(group.get("weight_decay", 0.0))
    with torch.no_grad():
        for w, g in zip(weights, grads):
            if g is not None:
                buf = optimizer.state.get(w, {}).get("momentum_buffer") if optimizer is not None else None
                w.sub_(xi * (g + decay * w + (momentum * buf if buf is not None else 0.0)))
    val = F.cross_entropy(net(xv), yv)
    arch = net.arch_parameters()
    g_all = torch.autograd.grad(val, arch + weights, allow_unused=True)
    d_alpha, d_w = g_all[:len(arch)], g_all[len(arch):]
    with torch.no_grad():
        for w, s in zip(weights, saved):
            w.copy_(s)
    norm = math.sqrt(sum(float((g * g).sum()) for g in d_w if g is not None))
    eps = 0.01 / norm if norm > 0 else 0.0
    hessian = [torch.zeros_like(a) for a in arch]
    if eps:
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, s, g in zip(weights, saved, d_w):
                    if g is not None:
                        w.copy_(s + sign * eps * g)
            g_train = torch.autograd.grad(F.cross_entropy(net(xt), yt), arch, allow_unused=True)
            for h, g in zip(hessian, g_train):
                if g is not None:
                    h.add_(sign * g / (2 * eps))
        with torch.no_grad():
            for w, s in zip(weights, saved):
                w.copy_(s)
    for a, da, h in zip(arch, d_alpha, hessian):
        a.grad = (da if da is not None else torch.zeros_like(a)) - xi * h


def _alpha_grad(net, cfg: DifferentiableConfig, mode: str, order: int, train_batch: tuple, arch_batch: tuple,
                w_opt, latencies) -> None:
    """The architecture parameters' gradient of one step, on the architecture half's batch (second order: through
    a virtual step of ``w_opt`` on the training half's batch at its learning rate); no weight gradient is left."""
    xt, yt = train_batch
    xv, yv = arch_batch
    if order == 2:
        _second_order_alpha_grad(net, xt, yt, xv, yv, float(w_opt.param_groups[0]["lr"]), w_opt)
    elif mode == "binary":  # ProxylessNAS: two candidate paths per edge, the gates' gradient
        net.sample_gates(2)
        F.cross_entropy(net(xv), yv).backward()
        net.alpha.grad = net.binary_alpha_grad()
        if cfg.latency_weight and latencies is not None:
            (cfg.latency_weight * expected_latency(net, latencies)).backward()
        for w in net.weights():
            w.grad = None
    else:
        F.cross_entropy(net(xv), yv).backward()
        for w in net.weights():
            w.grad = None


def arch_optimizer(net: SearchNetwork, cfg: DifferentiableConfig, mode: str) -> torch.optim.Adam:
    """The architecture parameters' Adam: ProxylessNAS's reference code uses beta1 0 and no weight decay (so a path
    that got no gradient does not move), DARTS's (and so PC-DARTS's and GDAS's) betas 0.5 / 0.999 and ``a_wd``."""
    if mode == "binary":
        return torch.optim.Adam(net.arch_parameters(), lr=cfg.a_lr, betas=(0.0, 0.999), eps=1e-8, weight_decay=0.0)
    return torch.optim.Adam(net.arch_parameters(), lr=cfg.a_lr, betas=(0.5, 0.999), weight_decay=cfg.a_wd)


def _arch_step(net, cfg: DifferentiableConfig, mode: str, order: int, train_batch: tuple, arch_batch: tuple,
               a_opt, w_opt, latencies) -> None:
    """One update of the architecture parameters; ProxylessNAS's then rescaled (:meth:`SearchNetwork.rescale_sampled_alpha`)."""
    a_opt.zero_grad(set_to_none=True)
    _alpha_grad(net, cfg, mode, order, train_batch, arch_batch, w_opt, latencies)
    before = net.alpha.detach().clone() if mode == "binary" else None
    a_opt.step()
    if before is not None:
        net.rescale_sampled_alpha(before)


def _weight_step(net, cfg: DifferentiableConfig, mode: str, batch: tuple, w_opt, step: int) -> torch.Tensor:
    """One update of the weights on a batch of the training half (ProxylessNAS: one sampled path per edge)."""
    xt, yt = batch
    w_opt.zero_grad(set_to_none=True)
    if mode == "binary":
        net.sample_gates(1)
    loss = F.cross_entropy(net(xt), yt)
    if not torch.isfinite(loss):
        raise ArchscoutError(f"{cfg.method} diverged: loss {loss.item()} at step {step + 1}")
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.weights(), 5.0)
    for a in net.arch_parameters():
        a.grad = None
    w_opt.step()
    return loss


def _perturbation_selection(net, cfg: DifferentiableConfig, w_stream, a_stream, arch_half, a_opt, device,
                            seed: int) -> dict:
    """Perturbation-based selection of the searched network's cell as darts-pt does it: scored on one pass over
    the architecture half; between the edges' tests the supernet is tuned (a first-order step of ``alpha``, then one
    of the weights, by a fresh SGD at a tenth of ``w_lr``, as darts-pt's ``reset_optimizer``)."""
    bs = w_stream.bs
    scoring = BatchStream(arch_half, bs, seed + 2)
    batches = [tuple(t.to(device) for t in scoring.next()) for _ in range(max(1, len(arch_half) // bs))]
    tune_opt = torch.optim.SGD(net.weights(), lr=cfg.w_lr / 10, momentum=0.9, weight_decay=cfg.w_wd)
    mode = net.mode

    def tune_step() -> None:
        train_batch = tuple(t.to(device) for t in w_stream.next())
        _arch_step(net, cfg, mode, 1, train_batch, tuple(t.to(device) for t in a_stream.next()), a_opt, tune_opt,
                   None)
        _weight_step(net, cfg, mode, train_batch, tune_opt, -1)

    return perturbation_select(net, batches, tune_step, cfg.tune_steps, random.Random(seed))


def search_cell(task, cfg: DifferentiableConfig, seed: int = 0, progress: Callable[[str], None] | None = None,
                device=None) -> dict:
    """Run ``cfg``'s method on ``task``; returns the derived cell's values and what the search measured."""
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    random.seed(seed)
    mode, order = METHODS[cfg.method]
    shape = tuple(task.input_shape)
    if len(shape) == 1:
        shape = (1,) + shape
    net = SearchNetwork(shape, task.num_classes, cfg.channels, cfg.stages, cfg.cells, mode, cfg.partial_k,
                        cfg.tau_max).to(device)
    train_half, arch_half = halves(task.train, seed)
    bs = min(cfg.batch_size, len(train_half), len(arch_half))
    w_stream, a_stream = BatchStream(train_half, bs, seed), BatchStream(arch_half, bs, seed + 1)
    w_opt = torch.optim.SGD(net.weights(), lr=cfg.w_lr, momentum=0.9, weight_decay=cfg.w_wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, cfg.steps, eta_min=cfg.w_lr_min)
    a_opt = arch_optimizer(net, cfg, mode)
    history: list[dict] = []
    eig_x, eig_y = (torch.as_tensor(v) for v in a_stream.next())
    eig_x, eig_y = eig_x.to(device), eig_y.to(device)
    stopped_at = None
    stop_reason = None
    latencies = op_latencies(net, shape) if mode == "binary" else None
    t0 = time.perf_counter()
    net.train()
    for step in range(cfg.steps):
        if mode == "gumbel":
            net.tau = cfg.tau_max - (cfg.tau_max - cfg.tau_min) * step / max(1, cfg.steps - 1)
        train_batch = tuple(t.to(device) for t in w_stream.next())
        arch_batch = tuple(t.to(device) for t in a_stream.next())
        if mode == "gumbel":  # GDAS (AutoDL's search_func_gdas): the weights first, then alpha
            loss = _weight_step(net, cfg, mode, train_batch, w_opt, step)
            _arch_step(net, cfg, mode, order, train_batch, arch_batch, a_opt, w_opt, latencies)
        else:  # DARTS and the others: alpha first (second order at the weights before their step)
            _arch_step(net, cfg, mode, order, train_batch, arch_batch, a_opt, w_opt, latencies)
            loss = _weight_step(net, cfg, mode, train_batch, w_opt, step)
        sched.step()
        if (step + 1) % cfg.check_every == 0 or step + 1 == cfg.steps:
            probs = net.probabilities()
            cell = net.derive()
            eig = dominant_eigenvalue(net, eig_x, eig_y)
            history.append({"step": step + 1, "loss": loss.item(), "probabilities": probs.tolist(), "cell": cell,
                            "parameter_free_edges": parameter_free_edges(cell),
                            "eigenvalue": eig, "seconds": time.perf_counter() - t0,
                            **({"expected_latency_ms": expected_latency(net, latencies).item()}
                               if latencies is not None else {})})
            if progress is not None:
                progress(f"{cfg.method} step {step + 1}/{cfg.steps}  loss {loss.item():.3f}  eigenvalue {eig:.4g}  "
                         f"cell {' '.join(cell[f'e{k}'] for k in range(len(ENDS)))}")
            if cfg.guard:
                stop_reason = "eigenvalue" if _grown(history, cfg) else (
                    "parameter-free" if history[-1]["parameter_free_edges"] >= COLLAPSED_EDGES else None)
                if stop_reason:
                    stopped_at = step + 1
                    break
    selection = None
    if cfg.selection == "perturbation":
        selection = _perturbation_selection(net, cfg, w_stream, a_stream, arch_half, a_opt, device, seed)
    seconds = time.perf_counter() - t0
    if selection is not None:
        chosen = selection["cell"]
    else:
        chosen = _kept(history, cfg, stop_reason)
    free = parameter_free_edges(chosen)
    return {"method": cfg.method, "config": cfg.as_dict(), "seed": seed, "cell": chosen,
            "steps_run": stopped_at or cfg.steps, "stopped_early_at": stopped_at, "stop_reason": stop_reason,
            "seconds": seconds,
            "seconds_per_step": seconds / max(1, stopped_at or cfg.steps),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "collapsed": free >= COLLAPSED_EDGES, "parameter_free_edges": free, "history": history,
            "operations": list(OPS), "latency_table_ms": latencies, "selection": selection}


def parameter_free_edges(cell: dict) -> int:
    """Edges of the cell as it computes (dead edges are ``none`` in its canonical form) without parameters: a cell
    whose convolutions all sit on dead edges counts 6 of 6."""
    from ...space.cell import canonical_ops
    ops = canonical_ops(tuple(cell[f"e{k}"] for k in range(len(ENDS))))
    return sum(op in PARAMETER_FREE for op in ops)


def _accuracy(net: SearchNetwork, batches: list) -> float:
    """Accuracy on ``batches`` in train mode, batch norm on each batch's statistics (darts-pt's ``infer(...,
    eval=False)``: the running statistics were gathered under the full mixture, not the perturbed one)."""
    was = net.training
    net.train()
    try:
        with torch.no_grad():
            right = sum(int((net(x).argmax(1) == y).sum()) for x, y in batches)
    finally:
        net.train(was)
    return right / sum(len(y) for _, y in batches)


def perturbation_select(net: SearchNetwork, batches: list, tune_step: Callable[[], None], tune_steps: int,
                        rng: random.Random) -> dict:
    """Perturbation-based selection (Wang et al., "Rethinking Architecture Selection in Differentiable NAS",
    ICLR 2021, as its reference code darts-pt does it): the edges in random order; on each, every operation is
    masked out of the mixture in turn (its weight set to 0, the others left as they are: not renormalised), and
    the one whose removal leaves the lowest validation accuracy on ``batches`` (scored in train mode, with batch
    statistics) is kept; the edge is then fixed to it and the supernet is tuned ``tune_steps`` steps
    (``tune_step``) before the next edge. darts-pt tunes some epochs between edges; here ``tune_steps`` steps."""
    net.fixed = {}
    order = list(range(len(ENDS)))
    rng.shuffle(order)
    steps = []
    for k in order:
        base = _accuracy(net, batches)
        drops = []
        for i in range(len(OPS)):
            net.removed = (k, i)
            drops.append(base - _accuracy(net, batches))
        net.removed = None
        best = max(range(len(OPS)), key=lambda i: (drops[i], -i))
        net.fixed[k] = best
        steps.append({"edge": f"e{k}", "accuracy": base, "drops": drops, "kept": OPS[best]})
        for _ in range(tune_steps):
            tune_step()
    cell = net.derive()
    net.fixed = {}
    return {"cell": cell, "edges": steps}


def _kept(history: list[dict], cfg: DifferentiableConfig, stop_reason: str | None) -> dict:
    """The cell a search returns: the last one; after an eigenvalue stop the one ``window`` checks earlier
    (DARTS-ES); after a parameter-free stop the latest one that was not (DARTS+), or the first when none was."""
    if stop_reason == "eigenvalue":
        return history[-1 - cfg.window]["cell"]
    if stop_reason == "parameter-free":
        healthy = [h for h in history if h["parameter_free_edges"] < COLLAPSED_EDGES]
        return (healthy[-1] if healthy else history[0])["cell"]
    return history[-1]["cell"]


def _grown(history: list[dict], cfg: DifferentiableConfig) -> bool:
    """DARTS-ES: the eigenvalue averaged over the last ``window`` checks against the ``window`` before."""
    w = cfg.window
    if len(history) < 2 * w:
        return False
    now = sum(h["eigenvalue"] for h in history[-w:]) / w
    before = sum(h["eigenvalue"] for h in history[-2 * w:-w]) / w
    return now > 0 and before > 0 and before / now < cfg.es_ratio and math.isfinite(now)
