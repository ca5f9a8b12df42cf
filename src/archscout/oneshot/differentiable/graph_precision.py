"""Graph architecture and precision searched together by gradient descent (``--strategy lpgnas-lite``).

After LPGNAS (Zhao et al., "Learned Low Precision Graph Neural Networks", EuroMLSys 2021): one relaxed network
holds every choice, architecture weights and quantisation weights are learned by back-propagation in one search,
and the derived GNN is quantised at the bit widths it chose and scored. How this differs from the paper, and why
it carries its own name:

* the operators are the ``gnn`` space's (NAS-Bench-Graph's GCN, GAT, GIN, Cheb, SAGE, ARMA, GraphConv, linear,
  skip) on a tree of four nodes that is given (``link``, default the chain ``0-1-2-3``), not LPGNAS's micro choices
  (attention type, aggregation, activation, hidden size) on a stack of layers;
* bit widths are chosen per layer, for the weights and for the activations (the output of each node and of the
  pre-processing layer), from ``bits`` (default 2, 4, 8, 16 and 32, where 32 is float); the relaxation mixes the
  quantised copies of a weight tensor by the softmax of its layer's bit logits (one forward per operator, as
  EdMIPS does), and likewise the quantised copies of an activation;
* the architecture loss is the validation cross-entropy plus ``size_weight`` times the expected model size in
  bits over the model's fp32 size (expected over the operator and bit softmaxes);
* quantisation is simulated (fake quantisation per tensor, symmetric for weights and unsigned for non-negative
  activations, scale from the tensor's largest magnitude, straight-through gradients); no integer kernel runs, and the size counts every quantised weight at its bit width
  and biases and other 1-D parameters at 32 bits.

The derived network (argmax of every softmax) is trained like any other by the study's evaluator (fp32), and
again with quantisation-aware training at its bit widths with the same recipe, and both are scored on the
validation nodes; :func:`score_pair` does the same on the test nodes for the benchmark.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ...checks import fraction, non_negative_number, positive_int, positive_number
from ...errors import ArchscoutError

DEFAULT_BITS = (2, 4, 8, 16, 32)
FLOAT_BITS = 32


@dataclass(frozen=True)
class GraphPrecisionConfig:
    steps: int = 200
    link: str = "0-1-2-3"
    bits: tuple = DEFAULT_BITS
    size_weight: float = 0.1
    hidden: int = 64
    dropout: float = 0.5
    w_lr: float = 0.005
    w_wd: float = 5e-4
    a_lr: float = 0.003
    a_wd: float = 1e-3
    record_every: int = 10
    ops: tuple = ()  # the operators to choose from; () is the gnn space's nine
    bit_relaxation: str = "mixed"  # or "gumbel": one sampled bit width per layer per step
    tau_max: float = 5.0  # gumbel: the temperature, annealed linearly from tau_max to tau_min
    tau_min: float = 0.5

    def __post_init__(self):
        from ...space.gnn import LINKS, OPS
        ops = tuple(self.ops) or OPS
        if any(o not in OPS for o in ops) or len(set(ops)) != len(ops):
            raise ArchscoutError(f"lpgnas-lite: ops are distinct gnn operators ({', '.join(OPS)}), got {self.ops!r}")
        object.__setattr__(self, "ops", ops)
        if self.bit_relaxation not in ("mixed", "gumbel"):
            raise ArchscoutError(f"lpgnas-lite: bit_relaxation is mixed or gumbel, got {self.bit_relaxation!r}")
        if not 0 < self.tau_min <= self.tau_max:
            raise ArchscoutError(f"lpgnas-lite: temperatures need 0 < tau_min <= tau_max, got {self.tau_min!r}, "
                                 f"{self.tau_max!r}")
        if self.link not in LINKS:
            raise ArchscoutError(f"lpgnas-lite: link must be one of the gnn space's trees ({', '.join(LINKS)}), "
                                 f"got {self.link!r}")
        bits = tuple(self.bits)
        if not bits or any(isinstance(b, bool) or not isinstance(b, int) or not 2 <= b <= FLOAT_BITS for b in bits) \
                or len(set(bits)) != len(bits):
            raise ArchscoutError(f"lpgnas-lite: bits must be distinct whole numbers from 2 to 32 (32: float), "
                                 f"got {self.bits!r}")
        object.__setattr__(self, "bits", tuple(sorted(bits)))
        for name in ("steps", "hidden", "record_every"):
            positive_int(getattr(self, name), f"lpgnas-lite: {name}")
        for name in ("w_lr", "a_lr"):
            positive_number(getattr(self, name), f"lpgnas-lite: {name}")
        for name in ("size_weight", "w_wd", "a_wd"):
            non_negative_number(getattr(self, name), f"lpgnas-lite: {name}")
        fraction(self.dropout, "lpgnas-lite: dropout", inclusive="left")

    def as_dict(self) -> dict:
        return {**asdict(self), "bits": list(self.bits), "ops": list(self.ops)}


# -- quantisation (simulated) --------------------------------------------------------------------------------------

def fake_quantize(t, bits: int):
    """Per-tensor fake quantisation to ``bits`` (32: unchanged), straight-through gradient: symmetric (``2^(b-1) - 1``
    levels each side of 0) for a tensor with negative values, unsigned (``2^b - 1`` levels above 0) for one without,
    such as an output after ReLU; the scale is the tensor's largest magnitude."""
    if bits >= FLOAT_BITS:
        return t
    d = t.detach()
    signed = bool(d.min() < 0)
    levels = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
    scale = d.abs().max().clamp(min=1e-8) / levels
    q = (t / scale).round().clamp(-levels if signed else 0, levels) * scale
    return t + (q - t).detach()


def _quantizable(name: str, p) -> bool:
    """Weight matrices are quantised; biases and other 1-D parameters stay float."""
    return p.dim() >= 2


def quantized_size_bits(module, bits: int) -> int:
    """Bits to store ``module``'s parameters with weight matrices at ``bits`` and the rest at 32."""
    return sum(p.numel() * (bits if _quantizable(n, p) else FLOAT_BITS) for n, p in module.named_parameters())


def _call_with(module, x, edge_index, transform):
    """``module(x, edge_index)`` with each quantisable parameter replaced by ``transform(p)``."""
    from torch.func import functional_call
    params = {n: (transform(p) if _quantizable(n, p) else p) for n, p in module.named_parameters()}
    if not params:
        return module(x, edge_index) if edge_index is not None else module(x)
    args = (x, edge_index) if edge_index is not None else (x,)
    return functional_call(module, params, args)


LAYERS = ("pre", "op1", "op2", "op3", "op4", "classifier")
ACTIVATIONS = ("pre", "op1", "op2", "op3", "op4")


def _modules():
    return _quantized_gnn_class(), _relaxed_gnn_class()


def _quantized_gnn_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

    from ...space.gnn import NODES

    class QuantizedGNN(nn.Module):
        """The gnn space's network (:class:`~archscout.space.gnn_build.GNN`, same modules and wiring) with the
        weights of each layer and the outputs of the pre-processing layer and of each node fake-quantised at
        fixed bit widths: ``weight_bits`` and ``act_bits`` map layer names (:data:`LAYERS`) to bits."""

        def __init__(self, values: dict, num_features: int, num_classes: int, weight_bits: dict, act_bits: dict,
                     hidden: int = 64, dropout: float = 0.5):
            super().__init__()
            from ...space.gnn_build import GNN
            self.net = GNN(values, num_features, num_classes, hidden, dropout)
            self.weight_bits = {k: int(weight_bits.get(k, FLOAT_BITS)) for k in LAYERS}
            self.act_bits = {k: int(act_bits.get(k, FLOAT_BITS)) for k in ACTIVATIONS}

        def forward(self, x, edge_index):
            n = self.net
            wq = self.weight_bits
            h = _call_with(n.pre, x, None, lambda p: fake_quantize(p, wq["pre"]))
            outputs = [fake_quantize(h, self.act_bits["pre"])]
            for i, (op, name, parent) in enumerate(zip(n.ops, n.op_names, n.parents)):
                node = NODES[i]
                h = _call_with(op, outputs[parent], edge_index, lambda p, b=wq[node]: fake_quantize(p, b))
                if name != "skip":
                    h = F.dropout(F.relu(h), n.dropout, self.training)
                outputs.append(fake_quantize(h, self.act_bits[node]))
            leaves = torch.stack([outputs[v] for v in n.leaves]).sum(0)
            return _call_with(n.classifier, leaves, None, lambda p: fake_quantize(p, wq["classifier"]))

        def size_bits(self) -> int:
            n = self.net
            total = quantized_size_bits(n.pre, self.weight_bits["pre"])
            total += quantized_size_bits(n.classifier, self.weight_bits["classifier"])
            for op, node in zip(n.ops, NODES):
                total += quantized_size_bits(op, self.weight_bits[node])
            return total

    return QuantizedGNN


def _relaxed_gnn_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

    from ...space.gnn import NODES, OPS
    from ...space.gnn_build import make_op

    class RelaxedGNN(nn.Module):
        """Every operator on every node of a fixed tree, mixed by the softmax of the node's operator logits; every
        layer's weights and every activation mixed over its quantised copies by the softmax of its bit logits."""

        def __init__(self, link: str, num_features: int, num_classes: int, bits: tuple, hidden: int, dropout: float,
                     ops: tuple = OPS, bit_mode: str = "mixed"):
            super().__init__()
            self.bit_mode, self.tau = bit_mode, 1.0
            self.parents = [int(p) for p in link.split("-")]
            self.leaves = [v for v in range(1, 5) if v not in self.parents]
            self.op_names = tuple(ops)
            self.bits = tuple(bits)
            self.dropout = dropout
            self.pre = nn.Linear(num_features, hidden)
            self.classifier = nn.Linear(hidden, num_classes)
            self.nodes = nn.ModuleList(nn.ModuleList(make_op(o, hidden) for o in self.op_names) for _ in NODES)
            self.alpha_op = nn.Parameter(1e-3 * torch.randn(len(NODES), len(self.op_names)))
            # weight bits per (layer, operator) would let each operator keep its own width; one per layer, as LPGNAS
            self.alpha_wbits = nn.Parameter(1e-3 * torch.randn(len(LAYERS), len(self.bits)))
            self.alpha_abits = nn.Parameter(1e-3 * torch.randn(len(ACTIVATIONS), len(self.bits)))

        def arch_parameters(self):
            return [self.alpha_op, self.alpha_wbits, self.alpha_abits]

        def weight_parameters(self):
            arch = {id(p) for p in self.arch_parameters()}
            return [p for p in self.parameters() if id(p) not in arch]

        def _bit_weights(self, logits):
            """The weights of the quantised copies: the softmax (``mixed``), or in training a hard Gumbel-softmax
            sample (``gumbel``: one bit width per layer per step, straight-through gradients)."""
            if self.bit_mode == "gumbel" and self.training:
                return F.gumbel_softmax(logits, tau=self.tau, hard=True)
            return F.softmax(logits, -1)

        def _mixed_weight(self, layer: int):
            probs = self._bit_weights(self.alpha_wbits[layer])
            return lambda p: sum(w * fake_quantize(p, b) for w, b in zip(probs, self.bits))

        def _mixed_act(self, t, i: int):
            probs = self._bit_weights(self.alpha_abits[i])
            return sum(w * fake_quantize(t, b) for w, b in zip(probs, self.bits))

        def forward(self, x, edge_index):
            return _relaxed_forward(self, x, edge_index)

        def _op(self, node: int, k: int) -> nn.Module:
            ops: nn.ModuleList = self.nodes[node]  # type: ignore[assignment]
            return ops[k]

        def _counts(self, module):
            q = sum(p.numel() for n, p in module.named_parameters() if _quantizable(n, p))
            return q, sum(p.numel() for p in module.parameters()) - q

        def expected_size_bits(self):
            """The model size in bits, expected over the operator and weight-bit softmaxes (differentiable)."""
            return _expected_size_bits(self)

        def fp32_size_bits(self) -> float:
            """The expected size with every weight in float and uniform operator weights: the penalty's scale."""
            return _fp32_size_bits(self)

        def derive(self) -> dict:
            """The argmax of every softmax: operators per node, weight and activation bits per layer."""
            return _derive(self)

        def snapshot(self) -> dict:
            r = lambda t: [[round(float(v), 4) for v in row] for row in F.softmax(t.detach(), -1)]  # noqa: E731
            return {"operations": r(self.alpha_op), "weight_bits": r(self.alpha_wbits),
                    "activation_bits": r(self.alpha_abits)}

    return RelaxedGNN


def _relaxed_forward(net, x, edge_index):
    """RelaxedGNN.forward: every node's operators mixed by its operator softmax, weights and activations mixed over
    their quantised copies."""
    import torch
    import torch.nn.functional as F

    h = _call_with(net.pre, x, None, net._mixed_weight(0))
    outputs = [net._mixed_act(h, 0)]
    for i, (ops, parent) in enumerate(zip(net.nodes, net.parents)):
        probs = F.softmax(net.alpha_op[i], -1)
        transform = net._mixed_weight(i + 1)
        mixed = 0
        for k, name in enumerate(net.op_names):
            w, op = probs[k], net._op(i, k)
            h = _call_with(op, outputs[parent], edge_index, transform)
            if name != "skip":
                h = F.dropout(F.relu(h), net.dropout, net.training)
            mixed = mixed + w * h
        outputs.append(net._mixed_act(mixed, i + 1))
    leaves = torch.stack([outputs[v] for v in net.leaves]).sum(0)
    return _call_with(net.classifier, leaves, None, net._mixed_weight(len(LAYERS) - 1))


def _expected_size_bits(net):
    """RelaxedGNN.expected_size_bits: the model size in bits, expected over the operator and weight-bit softmaxes."""
    import torch
    import torch.nn.functional as F

    from ...space.gnn import NODES

    bits = torch.tensor(net.bits, dtype=torch.float32)
    total = 0
    layers = [("pre", net.pre), *((NODES[i], None) for i in range(len(NODES))), ("classifier", net.classifier)]
    for j, (name, module) in enumerate(layers):
        e_bits = (F.softmax(net.alpha_wbits[j], -1) * bits).sum()
        if module is not None:
            q, rest = net._counts(module)
            total = total + q * e_bits + rest * FLOAT_BITS
        else:
            probs = F.softmax(net.alpha_op[j - 1], -1)
            for k in range(len(net.op_names)):
                q, rest = net._counts(net._op(j - 1, k))
                total = total + probs[k] * (q * e_bits + rest * FLOAT_BITS)
    return total


def _fp32_size_bits(net) -> float:
    """RelaxedGNN.fp32_size_bits: the expected size with every weight in float and uniform operator weights."""
    total: float = FLOAT_BITS * (sum(p.numel() for p in net.pre.parameters())
                                 + sum(p.numel() for p in net.classifier.parameters()))
    for ops in net.nodes:
        total += FLOAT_BITS * sum(p.numel() for p in ops.parameters()) / len(net.op_names)
    return float(total)


def _derive(net) -> dict:
    """RelaxedGNN.derive: the argmax of every softmax (operators per node, weight and activation bits per layer)."""
    import torch.nn.functional as F

    from ...space.gnn import NODES

    ops = {NODES[i]: net.op_names[int(net.alpha_op[i].argmax())] for i in range(len(NODES))}
    if all(o == "skip" for o in ops.values()) and "skip" in net.op_names:
        # the space holds no all-skip network (it would ignore the graph): the node whose best other
        # operator is most probable takes it; the search reports this as a collapse
        probs = F.softmax(net.alpha_op.detach(), -1).clone()
        probs[:, net.op_names.index("skip")] = -1
        i = int(probs.max(1).values.argmax())
        ops[NODES[i]] = net.op_names[int(probs[i].argmax())]
    wbits = {LAYERS[j]: net.bits[int(net.alpha_wbits[j].argmax())] for j in range(len(LAYERS))}
    abits = {ACTIVATIONS[j]: net.bits[int(net.alpha_abits[j].argmax())] for j in range(len(ACTIVATIONS))}
    for node, op in ops.items():  # a skip node has no weights and passes its input on unchanged
        if op == "skip":
            wbits[node] = None
    collapsed = all(net.op_names[int(a.argmax())] == "skip" for a in net.alpha_op)
    return {"operations": ops, "weight_bits": wbits, "activation_bits": abits, "collapsed": collapsed}


def _graph(task):
    import torch
    return torch.from_numpy(task.x), torch.from_numpy(task.edge_index), torch.from_numpy(task.y)


def _check_task(task) -> None:
    from ...tasks import GraphTask
    if not isinstance(task, GraphTask):
        raise ArchscoutError(f"lpgnas-lite searches graph neural networks and needs a graph task (e.g. mnist1d-knn, "
                             f"or a folder of graph files: see docs/graphs.md); {task.name!r} is not one")


def search_graph_precision(task, config: GraphPrecisionConfig, seed: int = 0, progress=None) -> dict:
    """Bilevel search on ``task``'s training nodes (weights) and validation nodes (architecture and bit logits, plus
    the size penalty), first order and alternating, one full-graph step each. Returns the derived choices, the
    softmaxes over time, the expected size, time and peak memory."""
    import resource

    import numpy as np
    import torch
    import torch.nn.functional as F

    _check_task(task)
    torch.manual_seed(seed)
    _, Relaxed = _modules()
    x, edge_index, y = _graph(task)
    net = Relaxed(config.link, int(task.input_shape[0]), int(task.num_classes), config.bits, config.hidden,
                  config.dropout, config.ops, config.bit_relaxation)
    w_opt = torch.optim.Adam(net.weight_parameters(), lr=config.w_lr, weight_decay=config.w_wd)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=config.a_lr, betas=(0.5, 0.999), weight_decay=config.a_wd)
    train_idx = torch.as_tensor(np.flatnonzero(task.train_mask))
    valid_idx = torch.as_tensor(np.flatnonzero(task.valid_mask))
    scale = net.fp32_size_bits()
    history = []
    t0 = time.perf_counter()
    net.train()
    for step in range(config.steps):
        net.tau = config.tau_max - (config.tau_max - config.tau_min) * step / max(1, config.steps - 1)
        loss_a = F.cross_entropy(net(x, edge_index)[valid_idx], y[valid_idx])
        penalty = net.expected_size_bits() / scale
        a_opt.zero_grad(set_to_none=True)
        (loss_a + config.size_weight * penalty).backward()
        a_opt.step()
        loss_w = F.cross_entropy(net(x, edge_index)[train_idx], y[train_idx])
        if not torch.isfinite(loss_w):
            raise ArchscoutError(f"lpgnas-lite: the relaxed network's loss became {loss_w.item()} at step {step + 1}; "
                                 f"lower w_lr")
        w_opt.zero_grad(set_to_none=True)
        loss_w.backward()
        w_opt.step()
        if (step + 1) % config.record_every == 0 or step + 1 == config.steps:
            with torch.no_grad():
                size_kb = float(net.expected_size_bits()) / 8192
            snap = {"step": step + 1, "train_loss": round(float(loss_w.detach()), 4),
                    "valid_loss": round(float(loss_a.detach()), 4), "expected_size_kb": round(size_kb, 2),
                    **net.snapshot()}
            history.append(snap)
            if progress:
                d = net.derive()
                progress(f"step {step + 1:,}/{config.steps:,}  valid loss {snap['valid_loss']:.3f}  expected size "
                         f"{snap['expected_size_kb']:.1f} KiB  ops {'/'.join(d['operations'].values())}  "
                         f"w bits {'/'.join(str(b) for b in d['weight_bits'].values())}")
    seconds = time.perf_counter() - t0
    derived = net.derive()
    return {"method": "lpgnas-lite", "config": config.as_dict(), "seed": seed, "link": config.link,
            **derived, "values": {"link": config.link, **derived["operations"]},
            "history": history, "seconds": round(seconds, 2),
            "seconds_per_step": round(seconds / config.steps, 4), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "operation_names": list(net.op_names), "bits": list(config.bits)}


def quantized_network(task, values: dict, weight_bits: dict, act_bits: dict, hidden: int = 64,
                      dropout: float = 0.5, seed: int = 0):
    """The derived GNN with simulated quantisation at its bit widths (a skip node's ``None`` means no weights)."""
    import torch
    QuantizedGNN, _ = _modules()
    torch.manual_seed(seed)
    wb = {k: (FLOAT_BITS if v is None else v) for k, v in weight_bits.items()}
    return QuantizedGNN(values, int(task.input_shape[0]), int(task.num_classes), wb, act_bits, hidden, dropout)


def score_quantized(task, result: dict, train_config, seed: int = 0, final: bool = False) -> dict:
    """Quantisation-aware training of the derived GNN at its bit widths with ``train_config`` (training nodes, or
    training and validation nodes when ``final``), scored on the validation (or test) nodes with the quantisation
    on. Returns accuracy, loss, size in bytes at the mixed widths and in fp32, and the training time."""
    from ...evaluate.graph import evaluate_graph, train_graph
    model = quantized_network(task, result["values"], result["weight_bits"], result["activation_bits"],
                              result["config"]["hidden"], result["config"]["dropout"], seed)
    x, edge_index, y = _graph(task)
    mask = (task.train_mask | task.valid_mask) if final else task.train_mask
    stats = train_graph(model, x, edge_index, y, mask, train_config, seed=seed)
    res = evaluate_graph(model, x, edge_index, y, task.test_mask if final else task.valid_mask)
    fp32 = FLOAT_BITS * sum(p.numel() for p in model.parameters())
    return {"accuracy": res["accuracy"], "loss": res["loss"], "size_bytes": model.size_bits() / 8,
            "size_bytes_fp32": fp32 / 8, "train_seconds": stats["train_seconds"]}
