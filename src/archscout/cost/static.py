"""Costs read off a built model without running it on a clock: parameters, FLOPs and stored size."""
from __future__ import annotations


def count_params(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def size_bytes(model, bits: int = 32) -> int:
    """Bytes to store the parameters and buffers at ``bits`` per value (32 = fp32, 16 = fp16, 8 = int8)."""
    n = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return int(n * bits // 8)


def count_flops(model, input_shape: tuple, batch_size: int = 1, inputs: tuple | None = None) -> int:
    """FLOPs of one forward pass (``torch.utils.flop_counter``; a multiply-add counts as 2).

    ``inputs``: the forward's arguments (e.g. a graph's features and edges) instead of a zero batch.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    args = inputs if inputs is not None else (torch.zeros((batch_size,) + tuple(input_shape)),)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*args)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
