"""The NAS-Bench-201 cell space (issue 20): edges, canonical form, the network for 1-D and 2-D inputs."""
from __future__ import annotations

import itertools

import pytest
import torch

from archscout import ArchscoutError
from archscout.space import get_space
from archscout.space.cell import EDGES, OPS, CellSpace, canonical_ops, nb201_string

SPACE = get_space("cell")


def cell(*ops):
    return SPACE.architecture(dict(zip(EDGES, ops)))


def test_the_space_is_nas_bench_201s_six_edges_of_five_operations():
    assert SPACE.size() == 5 ** 6 == 15_625
    assert set(SPACE.root.fields) == set(EDGES)
    assert all(SPACE.root.fields[e].values == list(OPS) for e in EDGES)


def test_isomorphic_cells_share_one_canonical_form():
    forms = {SPACE.architecture(dict(zip(EDGES, ops))).id for ops in itertools.product(OPS, repeat=6)}
    assert len(forms) == 8_765  # NAS-Bench-201's functional deduplication, which merges more, counts 6,466
    # with 2<-1 empty, nodes 1 and 2 can swap
    assert cell("conv3x3", "skip", "none", "none", "avgpool3x3", "conv1x1") == \
        cell("skip", "conv3x3", "none", "none", "conv1x1", "avgpool3x3")
    # node 1 without an input computes nothing: its other edges do not matter
    assert cell("none", "skip", "conv3x3", "skip", "conv1x1", "skip") == \
        cell("none", "skip", "avgpool3x3", "skip", "skip", "skip")
    # node 2 whose result reaches no output does not matter either
    assert cell("skip", "conv3x3", "conv1x1", "skip", "skip", "none") == \
        cell("skip", "avgpool3x3", "skip", "skip", "skip", "none")
    # but a different wiring is a different cell
    assert cell("conv3x3", "skip", "skip", "none", "none", "conv1x1") != \
        cell("skip", "conv3x3", "skip", "none", "none", "conv1x1")


def test_canonical_form_is_idempotent():
    for ops in itertools.islice(itertools.product(OPS, repeat=6), 0, 15_625, 7):
        once = canonical_ops(ops)
        assert canonical_ops(once) == once


def test_the_cell_reads_as_nas_bench_201_writes_it():
    arch = cell("conv3x3", "conv3x3", "conv3x3", "skip", "conv3x3", "conv1x1")
    assert nb201_string(arch.values) == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
                                         "nor_conv_3x3~1|nor_conv_1x1~2|")
    assert SPACE.describe(arch) == "|conv3x3~0|+|conv3x3~0|conv3x3~1|+|skip~0|conv3x3~1|conv1x1~2|"
    graph = SPACE.to_graph(arch)
    assert len(graph["nodes"]) == 4 + 6 and len(graph["edges"]) == 12


@pytest.mark.parametrize("shape", [(40,), (1, 40), (1, 8, 8)])
def test_cells_build_for_1d_and_2d_inputs_and_train(shape):
    torch.manual_seed(0)
    arch = cell("conv3x3", "skip", "conv1x1", "avgpool3x3", "conv3x3", "skip")
    net = SPACE.build(arch, shape, 10)
    x, y = torch.randn(8, *shape), torch.randint(0, 10, (8,))
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert net(x).shape == (8, 10) and all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_an_empty_cell_outputs_zeros_and_fewer_parameters_make_smaller_networks():
    empty = SPACE.build(cell(*["none"] * 6), (40,), 10)
    convs = SPACE.build(cell(*["conv3x3"] * 6), (40,), 10)
    skips = SPACE.build(cell(*["skip"] * 6), (40,), 10)
    count = lambda n: sum(p.numel() for p in n.parameters())  # noqa: E731
    assert count(empty) == count(skips) < count(convs)


def test_bad_cell_settings_and_inputs_are_refused():
    with pytest.raises(ArchscoutError, match="channels must be a positive integer, got 0"):
        CellSpace(channels=0)
    with pytest.raises(ArchscoutError, match="needs inputs shaped"):
        SPACE.build(cell(*["skip"] * 6), (2, 3, 4, 5), 10)
