"""Zero-cost proxies: scores of an untrained network from one batch, to rank architectures without training.

Every proxy has the same calling convention. ``inputs`` is the tuple of the forward's
positional arguments (``(x,)`` for the macro networks, ``(x, edge_index)`` for a GNN);
``targets`` holds one class label per output row; ``mask`` (optional, boolean over the output
rows) picks the rows that are samples, e.g. a graph's training nodes; ``loss(outputs,
targets)`` is a mean loss, cross-entropy unless given. A proxy works on a deep copy of the
model in training mode (batch statistics in BatchNorm, as the proxies' papers use), under a
private random state seeded by ``seed``, so the caller's model, mode and random state are
left as they were and a seed gives the same score. ``zen`` goes further on its copy, as Zen-NAS
does: it draws every weight again and removes the residual links of archscout's blocks.

>>> from archscout.evaluate.proxies import score, score_all
>>> score("synflow", model, (X,), y)                              # doctest: +SKIP
>>> score_all(model, (x, edge_index), y, mask=train_mask)["snip"]  # doctest: +SKIP
{'value': 12.3, 'error': None, 'seconds': 0.004}

A proxy that cannot score a network (a NaN, no ReLU-like activation for ``nwot``, no
BatchNorm for ``zen``) raises :class:`ProxyFailed` naming the proxy and the reason; it never
stands in a zero. Kernel proxies (``jacov``, ``nwot``, ``epe_nas``) build an n x n matrix over
the n samples, so keep batches (or graph masks) to hundreds of samples.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import cast

from ..cost import count_flops, count_params
from ..errors import ArchscoutError
from ..metrics import PROXY_FUNCTIONS

# Keeps logarithms of (near-)zero eigenvalues and correlations finite; the value Mellor et al. and
# Lopes et al. use.
_K = 1e-5


class ProxyFailed(ArchscoutError):
    """A proxy could not score this network; the message names the proxy and the reason."""


def _torch():
    import torch

    return torch


def _weights(net) -> list:
    """Conv / linear / attention weights: the parameters with two or more dimensions (biases and norm
    scales are left out, as SNIP, GraSP and SynFlow prune weights only)."""
    return [p for p in net.parameters() if p.dim() >= 2]


def _rows(out, mask):
    return out if mask is None else out[mask]


def _loss_and_outputs(net, inputs, targets, loss, mask):
    out = _rows(net(*inputs), mask)
    return loss(out, _rows(targets, mask)), out


def _grads(value, tensors, **kwargs) -> list:
    """Gradients with zeros for tensors the value does not depend on (e.g. an unused branch)."""
    torch = _torch()
    grads = torch.autograd.grad(value, tensors, allow_unused=True, **kwargs)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, grads)]


def _weight_grads(net, inputs, targets, loss, mask) -> tuple[list, list]:
    ws = _weights(net)
    value, _ = _loss_and_outputs(net, inputs, targets, loss, mask)
    return ws, _grads(value, ws)


class _ActivationRecorder:
    """Records the inputs of the ReLU-like activation functions called during a forward.

    Built-in networks call activations both as modules (``nn.ReLU``) and as functions (the GNN's
    ``F.relu``), so calls are intercepted at the torch-function level rather than by module hooks.
    Only activations over the samples (first dimension ``rows``) are kept: a GAT layer's
    leaky ReLU over edges is an attention score, not a unit of the network.
    """

    def __init__(self, rows: int):
        import torch.nn.functional as F
        from torch.overrides import TorchFunctionMode

        relu_like = {F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish, F.hardswish,
                     F.prelu, F.rrelu, _torch().relu}
        self.inputs: list = []
        recorder = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if func in relu_like and out.dim() >= 2 and out.shape[0] == rows:
                    recorder.inputs.append(args[0])
                return out

        self.mode = Mode()


def synflow(net, inputs, targets, loss, mask) -> float:
    """SynFlow (Tanaka et al., NeurIPS 2020, "Pruning neural networks without any data by iteratively
    conserving synaptic flow"): sum of |theta * dR/dtheta| with R the sum of the outputs of the network
    with every parameter replaced by its absolute value, on an all-ones input. Data-free: targets and
    loss are unused. Computed in double precision, where deep products of weights stay finite, with
    BatchNorm on its running statistics (batch statistics of identical inputs would have zero variance).
    """
    torch = _torch()
    net.eval().double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    first = inputs[0]
    ones = [torch.ones((1,) + tuple(first.shape[1:]), dtype=torch.float64)] if len(inputs) == 1 else \
        [torch.ones_like(a, dtype=torch.float64) if a.is_floating_point() else a for a in inputs]
    ws = _weights(net)
    grads = _grads(net(*ones).sum(), ws)
    return float(sum((w.detach() * g).sum() for w, g in zip(ws, grads)))


def snip(net, inputs, targets, loss, mask) -> float:
    """SNIP (Lee et al., ICLR 2019, "SNIP: single-shot network pruning based on connection sensitivity"):
    sum of |theta * dL/dtheta| over the weights."""
    ws, grads = _weight_grads(net, inputs, targets, loss, mask)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(ws, grads)))


def grasp(net, inputs, targets, loss, mask) -> float:
    """GraSP (Wang et al., ICLR 2020, "Picking winning tickets before training by preserving gradient
    flow"): -sum of theta * Hg, with H the Hessian of the loss and g its gradient (one Hessian-vector
    product by double backpropagation), as scored by Abdelfattah et al. 2021."""
    ws = _weights(net)
    value, _ = _loss_and_outputs(net, inputs, targets, loss, mask)
    grads = _grads(value, ws, create_graph=True)
    gnorm = sum((g.detach() * g).sum() for g in grads)
    if not gnorm.requires_grad:
        raise ProxyFailed("grasp: the loss gradient does not depend on the weights (no second derivative)")
    hg = _grads(gnorm, ws)
    return float(-sum((w.detach() * h).sum() for w, h in zip(ws, hg)))


def _conv_and_linear() -> tuple:
    """The layer types that Fisher scores and Zen-score re-initialises: convolutions and linear layers."""
    from torch import nn

    return nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear


def fisher(net, inputs, targets, loss, mask) -> float:
    """Fisher (Turner et al., ICLR 2020, "BlockSwap: Fisher-guided block substitution for network
    compression on a budget") as Abdelfattah et al. (ICLR 2021) score a network, in the code NASLib and
    NAS-Bench-Suite-Zero reuse: for each output channel k of each convolution and linear layer, with a the
    layer's output, F_k = 0.5 * mean over samples of (sum over positions of a * dL/da)^2; the score is the
    sum over layers and channels of F_k times the number of weights feeding channel k (the reference
    spreads each channel's value over that channel's weights, then sums every weight's value).

    The layers are torch's ``Conv1d`` / ``Conv2d`` / ``Conv3d`` / ``Linear``: a graph layer's own weights
    (PyTorch Geometric's ``Linear`` inside a GCN layer, say) are not counted.
    """
    layers = [m for m in net.modules() if isinstance(m, _conv_and_linear())]
    if not layers:
        raise ProxyFailed("fisher: the network has no convolution or linear layer")
    outputs: list = []

    def record(layer, args, out):
        outputs.append((layer, out))
        # what follows the layer gets a copy (the reference's identity after the layer), so an in-place
        # activation cannot overwrite the recorded output
        return out.clone()

    hooks = [m.register_forward_hook(record) for m in layers]
    try:
        value, _ = _loss_and_outputs(net, inputs, targets, loss, mask)
    finally:
        for h in hooks:
            h.remove()
    total = 0.0
    for (layer, a), g in zip(outputs, _grads(value, [a for _, a in outputs])):
        ag = (a * g).detach()
        # a convolution's channels are its output's second dimension, a linear layer's its last
        per_channel = ag.reshape(ag.shape[0], ag.shape[1], -1).sum(2) if layer.weight.dim() > 2 else \
            ag.reshape(ag.shape[0], -1, ag.shape[-1]).sum(1)
        fan_in = layer.weight[0].numel()
        total += fan_in * float(0.5 * per_channel.pow(2).mean(0).sum())
    return total


def grad_norm(net, inputs, targets, loss, mask) -> float:
    """Gradient norm (Abdelfattah et al., ICLR 2021, "Zero-cost proxies for lightweight NAS"): sum over
    weight tensors of the L2 norm of dL/dtheta."""
    _, grads = _weight_grads(net, inputs, targets, loss, mask)
    return float(sum(g.norm() for g in grads))


def plain(net, inputs, targets, loss, mask) -> float:
    """Plain (Abdelfattah et al., ICLR 2021, from Mozer & Smolensky 1989): sum of theta * dL/dtheta."""
    ws, grads = _weight_grads(net, inputs, targets, loss, mask)
    return float(sum((w.detach() * g).sum() for w, g in zip(ws, grads)))


def l2_norm(net, inputs, targets, loss, mask) -> float:
    """L2 norm (Abdelfattah et al., ICLR 2021; NAS-Bench-Suite-Zero, Krishnakumar et al. 2022): sum over
    weight tensors of their L2 norm. Data-free."""
    return float(sum(w.detach().norm() for w in _weights(net)))


def _input_jacobian(net, inputs, mask) -> tuple:
    """Per-sample gradient of the summed outputs with respect to the first input, one row per sample,
    in double precision (the kernels below are ill-conditioned in float32), and the number of outputs
    per sample (the classes, for a classifier)."""
    torch = _torch()
    x = inputs[0].detach().clone().requires_grad_(True)
    out = _rows(net(x, *inputs[1:]), mask)
    (g,) = torch.autograd.grad(out.sum(), x)
    g = _rows(g, mask)
    return g.reshape(g.shape[0], -1).double(), out.shape[-1]


def _correlation(rows, proxy: str):
    torch = _torch()
    if rows.shape[0] < 2:
        raise ProxyFailed(f"{proxy}: needs at least two samples")
    corr = torch.corrcoef(rows)
    if not torch.isfinite(corr).all():
        raise ProxyFailed(f"{proxy}: a sample's input Jacobian is constant, so its correlation is undefined")
    return corr


def jacov(net, inputs, targets, loss, mask) -> float:
    """Jacobian covariance (Mellor et al., "Neural architecture search without training", arXiv v1 2020):
    -sum over eigenvalues l of the correlation matrix of per-sample input Jacobians of
    log(l + k) + 1 / (l + k), k = 1e-5: high when the samples' Jacobians are uncorrelated."""
    torch = _torch()
    jac, _ = _input_jacobian(net, inputs, mask)
    corr = _correlation(jac, "jacov")
    # rounding can leave a zero eigenvalue of the (positive semi-definite) matrix slightly negative
    eig = torch.linalg.eigvalsh(corr).clamp(min=0)
    return float(-(torch.log(eig + _K) + 1.0 / (eig + _K)).sum())


# up to this many classes EPE-NAS sums the classes' scores; above it, it compares them pairwise
_EPE_NAS_SUMMED_CLASSES = 100


def epe_nas(net, inputs, targets, loss, mask) -> float:
    """EPE-NAS (Lopes et al., ICANN 2021, "EPE-NAS: efficient performance estimation without training for
    neural architecture search"), as the authors' code (and NASLib's copy of it) computes it: per class c,
    s_c = sum of log(|corr| + k), k = 1e-5, over the Pearson correlation matrix of that class's per-sample
    input Jacobians. With at most 100 classes (the network's outputs) the score is sum over classes of
    |s_c|; with more, s_c is first divided by the class's number of samples and the score is the sum over
    ordered class pairs of |s_c - s_c'| divided by the number of classes.

    Classes with fewer than two samples in the batch are left out (in the sum form the reference counts
    such a class as log(1 + k), about 1e-5).
    """
    torch = _torch()
    jac, classes = _input_jacobian(net, inputs, mask)
    labels = _rows(targets, mask)
    per_class = []
    for c in torch.unique(labels):
        rows = jac[labels == c]
        if rows.shape[0] >= 2:
            s = torch.log(_correlation(rows, "epe_nas").abs() + _K).sum()
            per_class.append(s / rows.shape[0] if classes > _EPE_NAS_SUMMED_CLASSES else s)
    if not per_class:
        raise ProxyFailed("epe_nas: no class has two samples in the batch")
    s = torch.stack(per_class)
    if classes <= _EPE_NAS_SUMMED_CLASSES:
        return float(s.abs().sum())
    return float((s[:, None] - s[None, :]).abs().sum() / len(per_class))


def nwot(net, inputs, targets, loss, mask) -> float:
    """NASWOT (Mellor et al., ICML 2021, "Neural architecture search without training"): log-determinant
    of the kernel K_ij = number of ReLU-like units on which samples i and j agree (both active or both
    inactive), from the units' binary codes (pre-activation > 0) over one batch."""
    torch = _torch()
    recorder = _ActivationRecorder(inputs[0].shape[0])
    with torch.no_grad(), recorder.mode:
        net(*inputs)
    if not recorder.inputs:
        raise ProxyFailed("nwot: the network has no ReLU-like activation (relu, gelu, silu, elu, ...), "
                          "so its units have no binary codes")
    codes = torch.cat([(a > 0).reshape(a.shape[0], -1) for a in recorder.inputs], 1).double()
    codes = _rows(codes, mask)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    # A sum of Gram matrices, so positive semi-definite: its log-determinant is the sum of the logarithms of its
    # eigenvalues. A singular kernel is told by its rank, not by the sign of its determinant: for a singular
    # matrix that sign is rounding noise, which flips with the order of the samples or LAPACK's code path.
    eig = torch.linalg.eigvalsh(kernel)
    n = eig.shape[0]
    # numpy's matrix_rank tolerance: on conv1d networks a zero eigenvalue comes out below 1e-15 of the largest
    # and a nonzero one above 1e-7 of it, so rounding cannot move one across
    rank = int((eig > eig[-1] * n * torch.finfo(eig.dtype).eps).sum())
    if rank < n:
        raise ProxyFailed(f"nwot: the activation-code kernel is singular (rank {rank} of {n}: the samples' "
                          f"binary codes are linearly dependent, e.g. two samples share a code)")
    return float(torch.log(eig).sum())


# Zen-NAS's mixup gamma: the scale of the Gaussian perturbation of the input
_ZEN_MIXUP_GAMMA = 1e-2


def _zen_plain_network(net) -> None:
    """Turns ``net`` into the network Zen-NAS scores: residual links removed (archscout's blocks honour
    their ``residual`` switch), dropout off (it would draw different masks for the two passes), then
    every weight re-initialised as the authors' code does: convolution and linear weights N(0, 1) and
    their biases 0, normalisation scales 1 and shifts 0 (the reference names BatchNorm2d and GroupNorm;
    here every BatchNorm, GroupNorm and LayerNorm). Other parameters (a graph layer's, say) are left as
    they are, as in the reference."""
    torch = _torch()
    from torch import nn

    from ..space.blocks import ConvBlock, FCBlock

    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (ConvBlock, FCBlock)):
                m.residual = False
            elif isinstance(m, nn.modules.dropout._DropoutNd):
                m.eval()
            elif isinstance(m, _conv_and_linear()):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, norms) and m.weight is not None:
                nn.init.ones_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def zen(net, inputs, targets, loss, mask) -> float:
    """Zen-score (Lin et al., ICCV 2021, "Zen-NAS: a zero-shot NAS for high-performance image
    recognition", Algorithm 1): on the network with its residual links removed and every weight drawn
    again from N(0, 1) (BatchNorm scales 1, shifts and biases 0), with x and e Gaussian of the input's
    shape and f the features before global pooling (the classifier's input when the network has no
    global pooling), log of the mean over samples of sum |f(x) - f(x + 0.01 e)| plus, over the BatchNorm
    layers before f, log sqrt(mean over channels of the batch variance) in the pass on x. Data-free: only
    the input shape is used, and the network's own weights are not.

    BatchNorm normalises with batch statistics and dropout is off. Residual links are removed in archscout's
    blocks (``ConvBlock``, ``FCBlock``); a user network's own shortcut additions cannot be told apart from
    the rest of its forward and are kept, so such a network is scored with its shortcuts. The BatchNorm
    term follows the paper (the batch's variance); the authors' code reads ``running_var`` after both
    passes instead, which with momentum 0.1 blends the two batches' variances with the initial 1.
    """
    torch = _torch()
    from torch import nn

    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ProxyFailed("zen: the network has no BatchNorm layer, and Zen-score's second term is the "
                          "sum of the BatchNorm layers' log scales")
    pools = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
    pooled = [m for m in net.modules() if isinstance(m, pools)]
    # the built-in networks register their classifier last
    feature_module = pooled[0] if pooled else [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    _zen_plain_network(net)
    features: list = []
    variances: list = []

    def record_variance(bn, args, out):
        if not features:  # a BatchNorm after the features is not part of f
            a = args[0]
            variances.append(a.transpose(0, 1).reshape(a.shape[1], -1).var(1, unbiased=False).mean())

    feature_hook = feature_module.register_forward_hook(lambda m, args, out: features.append(args[0]))
    bn_hooks = [bn.register_forward_hook(record_variance) for bn in norms]
    # drawn in the reference's order, after the weights: x, then the perturbation
    x = torch.randn_like(inputs[0])
    noise = torch.randn_like(inputs[0])
    with torch.no_grad():
        net(x, *inputs[1:])
        for h in bn_hooks:
            h.remove()
        net(x + _ZEN_MIXUP_GAMMA * noise, *inputs[1:])
    feature_hook.remove()
    f1, f2 = features
    bn_term = sum(torch.log(torch.sqrt(v)) for v in variances)
    delta = _rows((f1 - f2).abs().reshape(f1.shape[0], -1).sum(1), mask).mean()
    return float(torch.log(delta) + bn_term)


def grad_sign(net, inputs, targets, loss, mask) -> float:
    """GradSign (Zhang & Jia, ICLR 2022, "GradSign: model performance inference with theoretical
    insights"): sum over weight entries k of |sum over samples i of sign(dL_i/dtheta_k)|, with L_i the
    loss of sample i: high when the samples' gradients agree in sign."""
    torch = _torch()
    ws = _weights(net)
    out = _rows(net(*inputs), mask)
    labels = _rows(targets, mask)
    losses = torch.stack([loss(out[i:i + 1], labels[i:i + 1]) for i in range(out.shape[0])])
    n = losses.shape[0]
    # every sample's gradient in one batched backward pass (vmap over the rows of the identity)
    grads = _grads(losses, ws, grad_outputs=torch.eye(n), is_grads_batched=True)
    return float(sum(g.sign().sum(0).abs().sum() for g in grads))


def params(net, inputs, targets, loss, mask) -> float:
    """Number of parameters (archscout.cost.count_params), a baseline every proxy should beat."""
    return float(count_params(net))


def flops(net, inputs, targets, loss, mask) -> float:
    """FLOPs of one forward pass (archscout.cost.count_flops): per sample for a batch of samples, for the
    whole graph for a GNN (inputs with more than one argument), as the evaluators report them."""
    if len(inputs) == 1:
        return float(count_flops(net, tuple(inputs[0].shape[1:])))
    return float(count_flops(net, (), inputs=inputs))


# every proxy is registered under its function's name, in the order tables and score_all list them
for _proxy in (synflow, snip, grasp, fisher, grad_norm, jacov, nwot, zen, epe_nas, grad_sign, l2_norm, plain, params,
               flops):
    PROXY_FUNCTIONS.register(_proxy.__name__, _proxy)
PROXIES = tuple(PROXY_FUNCTIONS.names(sort=False))


def describe_proxy(name: str) -> str:
    """The proxy's paper and definition, in one line (the first paragraph of its function's docstring)."""
    doc = cast(str, _check_name(name).__doc__)  # every registered proxy function has a docstring
    return " ".join(doc.split("\n\n")[0].split())


def check_proxy(name: str) -> str:
    """``name`` if it names a proxy, else the error that lists the valid names (with a close match)."""
    return PROXY_FUNCTIONS.canonical(name)


def _check_name(name: str) -> Callable:
    return PROXY_FUNCTIONS.get(name)


BATCH_SIZE = 64  # samples (or graph training nodes) a proxy sees: one minibatch of the training data


def proxy_batch(task, size: int = BATCH_SIZE, seed: int = 0) -> tuple:
    """``(inputs, targets, mask)`` for scoring networks of ``task``: ``size`` training samples drawn with
    ``seed`` (never validation or test data); for a graph task, the whole graph with ``size`` of its
    training nodes in the mask."""
    import numpy as np

    torch = _torch()
    rng = np.random.default_rng(seed)
    if hasattr(task, "edge_index"):  # a GraphTask: the network needs the whole graph
        nodes = np.flatnonzero(task.train_mask)
        mask = np.zeros(task.num_nodes, dtype=bool)
        mask[rng.choice(nodes, min(size, len(nodes)), replace=False)] = True
        inputs = (torch.as_tensor(task.x, dtype=torch.float32), torch.as_tensor(task.edge_index))
        return inputs, torch.as_tensor(task.y), torch.as_tensor(mask)
    rows = rng.choice(len(task.train), min(size, len(task.train)), replace=False)
    rows.sort()
    return ((torch.as_tensor(task.train.take(rows), dtype=torch.float32),), torch.as_tensor(task.train.y[rows]),
            None)


def score(name: str, model, inputs: tuple, targets, *, loss: Callable | None = None, mask=None,
          seed: int = 0) -> float:
    """The proxy ``name`` of the untrained ``model`` on one batch; raises :class:`ProxyFailed` when the proxy
    cannot score it and an ArchscoutError listing the valid names for an unknown one."""
    torch = _torch()
    fn = _check_name(name)
    inputs = tuple(torch.as_tensor(a) for a in inputs)
    targets = torch.as_tensor(targets)
    mask = None if mask is None else torch.as_tensor(mask)
    loss = loss or torch.nn.functional.cross_entropy
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = copy.deepcopy(model).train()
        try:
            value = fn(net, inputs, targets, loss, mask)
        except (RuntimeError, ValueError, IndexError) as e:
            raise ProxyFailed(f"{name}: {type(e).__name__}: {e}") from None
    if not math.isfinite(value):
        raise ProxyFailed(f"{name}: the score is {value} (an overflow or a degenerate network)")
    return value


def score_all(model, inputs: tuple, targets, names=None, *, loss: Callable | None = None, mask=None,
              seed: int = 0) -> dict:
    """Every proxy in ``names`` (default: all of :data:`PROXIES`, in order):
    ``{name: {"value": float or None, "error": message or None, "seconds": wall time}}``."""
    names = list(PROXIES if names is None else names)
    for name in names:
        _check_name(name)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            value, error = score(name, model, inputs, targets, loss=loss, mask=mask, seed=seed), None
        except ProxyFailed as e:
            value, error = None, str(e)
        results[name] = {"value": value, "error": error, "seconds": time.perf_counter() - t0}
    return results


__all__ = ["BATCH_SIZE", "PROXIES", "PROXY_FUNCTIONS", "ProxyFailed", "describe_proxy", "proxy_batch", "score", "score_all"]
