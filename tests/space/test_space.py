import json
import random

import numpy as np
import pytest

import archscout as asc
from archscout import Architecture, ArchscoutError, Block, Choice, Integer, Repeat, Space
from archscout.space import conv1d, conv2d, mlp

BUILTIN = [conv1d(), conv2d(), mlp()]


def flat(space, arch):
    """path -> value for every active decision (stage count as '#len')."""
    out = {}
    for path, _ in space.decisions(arch):
        if path[-1] == "#len":
            out[path] = len(arch.values[path[0]])
        else:
            v = arch.values
            for p in path:
                v = v[p]
            out[path] = v
    return out


def dependents(space, path):
    """Fields of the same block whose activity depends on the field at ``path``."""
    block = space.root.fields[path[0]].block if len(path) > 1 and isinstance(path[1], int) else space.root
    name = path[-1]
    return {path[:-1] + (k,) for k, node in block.fields.items() if isinstance(node, Choice) and name in node.when}


@pytest.mark.parametrize("space", BUILTIN, ids=lambda s: s.name)
def test_samples_stay_inside_the_space(space):
    rng = random.Random(0)
    for _ in range(200):
        a = space.sample(rng)
        assert space.contains(a)
        assert space.satisfies(a.values)
        for path, node in space.decisions(a):
            if path[-1] == "#len":
                assert node.min <= len(a.values[path[0]]) <= node.max
            else:
                v = a.values
                for p in path:
                    v = v[p]
                assert v in node.values


def test_hash_is_stable_under_equivalent_forms():
    space = conv1d()
    values = {"head": "gap", "stages": [
        {"op": "fc", "width": 64, "residual": False, "norm": "batch", "act": "relu", "dropout": 0.1}]}
    values["head"] = "flatten"
    a = space.architecture(values)
    # key order, numpy scalars, integral floats, and settings of inactive choices do not matter
    same = {"stages": [{"act": "relu", "dropout": 0.1, "norm": "batch", "residual": np.bool_(False),
                        "width": np.int64(64), "op": "fc", "kernel": 7, "dilation": 2}], "head": "flatten"}
    same["stages"][0]["width"] = 64.0
    b = space.architecture(same)
    assert a == b and a.id == b.id and hash(a) == hash(b)
    assert b.values["stages"][0]["kernel"] is None
    c = space.architecture({**values, "stages": [{**values["stages"][0], "width": 32}]})
    assert c.id != a.id


def test_json_round_trip_keeps_identity():
    for space in BUILTIN:
        a = space.sample(3)
        b = Architecture.from_json(a.to_json())
        assert b == a and b.id == a.id and b.space is not None
        assert json.loads(a.to_json())["values"] == a.values


def test_architecture_is_immutable():
    a = conv1d().sample(0)
    with pytest.raises(AttributeError):
        a.id = "x"
    values = a.values
    values["head"] = "something else"
    assert a.values["head"] != "something else"


@pytest.mark.parametrize("space", BUILTIN, ids=lambda s: s.name)
def test_mutation_changes_exactly_what_it_says(space):
    rng = random.Random(1)
    for _ in range(150):
        a = space.sample(rng)
        b, path = space.mutation(a, rng)
        assert b != a and space.contains(b)
        if path[-1] == "#len":
            xs, ys = a.values[path[0]], b.values[path[0]]
            assert abs(len(xs) - len(ys)) == 1
            longer, shorter = (xs, ys) if len(xs) > len(ys) else (ys, xs)
            assert any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))
            assert {k: v for k, v in a.values.items() if k != path[0]} == \
                   {k: v for k, v in b.values.items() if k != path[0]}
        else:
            fa, fb = flat(space, a), flat(space, b)
            changed = {p for p in set(fa) | set(fb) if fa.get(p) != fb.get(p)}
            assert path in changed
            assert changed - {path} <= dependents(space, path)


def test_neighbors_are_one_step_away():
    space = conv1d()
    a = space.sample(5)
    ns = space.neighbors(a)
    assert ns and len(set(ns)) == len(ns) and a not in ns
    for n in ns:
        assert space.contains(n)
        fa, fb = flat(space, a), flat(space, n)
        if len(a.values["stages"]) == len(n.values["stages"]):
            changed = {p for p in fa if fa.get(p) != fb.get(p)}
            assert len(changed - set().union(*(dependents(space, p) for p in changed))) == 1


def test_crossover_takes_each_decision_from_a_parent():
    space = mlp()
    rng = random.Random(2)
    for _ in range(50):
        a, b = space.sample(rng), space.sample(rng)
        c = space.crossover(a, b, rng)
        assert space.contains(c)
        sa, sb = a.values["stages"], b.values["stages"]
        for i, st in enumerate(c.values["stages"]):
            for k, v in st.items():
                options = [s[i][k] for s in (sa, sb) if i < len(s)]
                assert v in options


def test_encodings_have_fixed_length_and_tell_architectures_apart():
    space = conv1d()
    archs = [space.sample(i) for i in range(30)]
    for kind in ("onehot", "ordinal", "path", "graph"):
        vecs = [space.encode(a, kind) for a in archs]
        assert len({len(v) for v in vecs}) == 1
        if kind in ("onehot", "ordinal"):  # the DAG views drop what does not change the graph's labels
            assert len({tuple(v) for v in vecs}) == len(set(archs))
        else:
            assert len({tuple(v) for v in vecs}) >= 0.9 * len(set(archs))
    with pytest.raises(ArchscoutError, match="unknown encoding"):
        space.encode(archs[0], "pathh")


def test_to_graph_is_a_dag_from_input_to_output():
    space = conv1d()
    a = space.architecture({"head": "gap", "stages": [
        {"op": "conv", "width": 16, "kernel": 3, "dilation": 1, "downsample": "none", "residual": True,
         "norm": "batch", "act": "relu"},
        {"op": "fc", "width": 32, "residual": False, "norm": "none", "act": "relu", "dropout": 0.0}]})
    g = a.to_graph()
    ops = [n["op"] for n in g["nodes"]]
    assert ops[0] == "input" and ops[-1] == "output"
    assert ops == ["input", "conv", "add", "gap", "fc", "linear", "output"]
    assert all(src < dst for src, dst in g["edges"])
    add = ops.index("add")
    assert sorted(src for src, dst in g["edges"] if dst == add) == [0, 1]


@pytest.mark.parametrize("space,shape", [(conv1d(), (1, 40)), (conv1d(), (12,)), (conv2d(), (1, 8, 8)),
                                         (mlp(), (13,)), (mlp(), (1, 8, 8))], ids=lambda x: str(x))
def test_every_sample_builds_a_working_network(space, shape):
    torch = pytest.importorskip("torch")
    rng = random.Random(4)
    for _ in range(15):
        model = space.sample(rng).build(shape, 7)
        model.eval()
        assert model(torch.randn((3,) + tuple(shape))).shape == (3, 7)


def test_conv_space_rejects_inputs_of_the_wrong_rank():
    with pytest.raises(ArchscoutError, match="needs inputs shaped"):
        conv1d().sample(0).build((1, 8, 8), 10)


def test_user_space_with_conditions_constraints_and_builder():
    built = []

    def builder(values, shape, classes):
        built.append((values["depth"], shape, classes))
        return "model"

    space = Space("toy", depth=Integer(1, 3), kind=Choice(["a", "b"]),
                  extra=Choice([1, 2], when={"kind": ["b"]}),
                  constraints=[lambda v: not (v["depth"] == 3 and v["kind"] == "a")], builder=builder)
    assert space.size() == 3 * (1 + 2)
    seen = {space.sample(i) for i in range(300)}
    assert len(seen) == 3 * 3 - 1  # the constraint removes depth 3 with kind a
    for a in seen:
        assert not (a["depth"] == 3 and a["kind"] == "a")
        assert (a["extra"] is None) == (a["kind"] == "a")
    assert seen.pop().build((4,), 2) == "model" and built[0][1:] == ((4,), 2)
    with pytest.raises(ArchscoutError, match="violates a constraint"):
        space.architecture({"depth": 3, "kind": "a"})


def test_bad_space_definitions_and_values_are_clear_errors():
    with pytest.raises(ArchscoutError, match="earlier Choice"):
        Block(a=Choice([1, 2], when={"b": [1]}), b=Choice([1, 2]))
    with pytest.raises(ArchscoutError, match="distinct"):
        Choice([1, 1])
    with pytest.raises(ArchscoutError):
        Repeat(3, 1, Block(a=Choice([1])))
    space = mlp()
    with pytest.raises(ArchscoutError, match="unknown field"):
        space.architecture({"stages": [], "colour": 1})
    with pytest.raises(ArchscoutError, match="allowed 0..4"):
        space.architecture({"stages": [{"width": 16, "act": "relu", "dropout": 0.0, "norm": "none",
                                        "residual": False}] * 5})
    with pytest.raises(ArchscoutError, match="not one of"):
        space.architecture({"stages": [{"width": 17, "act": "relu", "dropout": 0.0, "norm": "none",
                                        "residual": False}]})


def test_registry_names_and_close_matches():
    assert asc.spaces.list() == ["cell", "conv1d", "conv1d-elastic", "conv1d-quant", "conv1d-quant-elastic",
                                 "conv1d-recipe", "conv2d", "conv2d-elastic", "conv2d-quant", "conv2d-quant-elastic",
                                 "conv2d-recipe", "gnn", "gnn-proteins", "mlp", "mlp-quant", "mlp-recipe"]
    with pytest.raises(ArchscoutError, match="Did you mean 'conv1d'"):
        asc.spaces.get("conv1")


# -- the network blocks ---------------------------------------------------------------------
# Architectures whose state_dict keys, parameter counts, FLOPs and seeded weights and outputs were
# recorded with the builder as it was before its blocks became module-level classes: exports and
# stored studies name weights by these keys.
FIXED = [
    ("conv1d", (1, 40), {"head": "gap", "stages": [
        {"op": "conv", "width": 16, "kernel": 5, "dilation": 1, "downsample": "stride2", "residual": True,
         "norm": "batch", "act": "relu"},
        {"op": "dwconv", "width": 32, "kernel": 3, "dilation": 2, "downsample": "maxpool", "residual": True,
         "norm": "layer", "act": "gelu"},
        {"op": "fc", "width": 32, "residual": True, "norm": "batch", "act": "silu", "dropout": 0.1}]},
     ["convs.0.conv.weight", "convs.0.norm.weight", "convs.0.norm.bias", "convs.0.norm.running_mean",
      "convs.0.norm.running_var", "convs.0.norm.num_batches_tracked", "convs.0.skip.0.weight",
      "convs.1.conv.0.weight", "convs.1.conv.1.weight", "convs.1.norm.weight", "convs.1.norm.bias",
      "convs.1.skip.1.weight", "fcs.0.fc.weight", "fcs.0.fc.bias", "fcs.0.norm.weight", "fcs.0.norm.bias",
      "fcs.0.norm.running_mean", "fcs.0.norm.running_var", "fcs.0.norm.num_batches_tracked",
      "classifier.weight", "classifier.bias"],
     2516, 38784, (76.9026852617535, 0.8083306849002838)),
    ("conv2d", (3, 8, 8), {"head": "flatten", "stages": [
        {"op": "dwconv", "width": 8, "kernel": 3, "dilation": 1, "downsample": "avgpool", "residual": False,
         "norm": "none", "act": "relu"},
        {"op": "conv", "width": 8, "kernel": 1, "dilation": 1, "downsample": "none", "residual": True,
         "norm": "layer", "act": "silu"}]},
     ["convs.0.conv.0.weight", "convs.0.conv.1.weight", "convs.0.conv.1.bias", "convs.1.conv.weight",
      "convs.1.norm.weight", "convs.1.norm.bias", "classifier.weight", "classifier.bias"],
     655, 9600, (5.757124664305593, -2.3888546749949455)),
    ("mlp", (13,), {"stages": [
        {"width": 32, "act": "tanh", "dropout": 0.0, "norm": "layer", "residual": True},
        {"width": 32, "act": "relu", "dropout": 0.2, "norm": "batch", "residual": True}]},
     ["fcs.0.fc.weight", "fcs.0.fc.bias", "fcs.0.norm.weight", "fcs.0.norm.bias", "fcs.0.skip.weight",
      "fcs.1.fc.weight", "fcs.1.fc.bias", "fcs.1.norm.weight", "fcs.1.norm.bias", "fcs.1.norm.running_mean",
      "fcs.1.norm.running_var", "fcs.1.norm.num_batches_tracked", "classifier.weight", "classifier.bias"],
     2180, 3968, (63.27312093306682, -0.9330042973160744)),
    ("conv1d-quant", (1, 40), {"head": "max", "classifier_precision": "fp32", "stages": [
        {"op": "conv", "width": 8, "kernel": 3, "dilation": 1, "downsample": "avgpool", "residual": False,
         "norm": "none", "act": "relu", "precision": "fp32"},
        {"op": "fc", "width": 16, "residual": False, "norm": "none", "act": "relu", "dropout": 0.0,
         "precision": "int8"}]},
     ["convs.0.conv.weight", "convs.0.conv.bias", "fcs.0.fc.weight", "fcs.0.fc.bias", "classifier.weight",
      "classifier.bias"],
     244, 2304, (-3.8440063479356468, 1.053920816630125)),
]


def _seeded(name, shape, values):
    torch = pytest.importorskip("torch")
    space = asc.spaces.get(name)
    arch = space.architecture(values)
    torch.manual_seed(0)
    return space, arch, arch.build(shape, 4).eval()


def test_blocks_are_module_level_classes():
    nn = pytest.importorskip("torch.nn")
    from archscout.space import blocks, gnn_build

    classes = [blocks.ConvBlock, blocks.SeparableConv, blocks.FCBlock, blocks.GlobalPool, blocks.MacroNet,
               gnn_build.LinearOp, gnn_build.SkipOp, gnn_build.MessagePassingOp, gnn_build.GNN]
    for cls in classes:
        assert issubclass(cls, nn.Module) and "<locals>" not in cls.__qualname__
    block = blocks.ConvBlock(3, 8, 5, 2, op="dwconv", downsample="stride2", norm="batch", act="gelu", residual=True)
    assert isinstance(block.conv, blocks.SeparableConv) and block.output_size(7) == 4
    with pytest.raises(ArchscoutError, match="unknown norm"):
        blocks.FCBlock(4, 4, norm="group")


@pytest.mark.parametrize("name,shape,values,keys,params,flops,sums", FIXED, ids=[f[0] for f in FIXED])
def test_built_network_is_made_of_blocks_with_the_recorded_weights(name, shape, values, keys, params, flops, sums):
    torch = pytest.importorskip("torch")
    import pickle

    from archscout.cost import count_flops, count_params
    from archscout.space.blocks import ConvBlock, FCBlock, MacroNet

    space, arch, model = _seeded(name, shape, values)
    assert isinstance(model, MacroNet)
    assert [type(b) for b in model.convs] + [type(b) for b in model.fcs] == [
        ConvBlock if s.get("op", "fc") != "fc" else FCBlock for s in values["stages"]]
    for m in model.modules():  # torch's layers and archscout's blocks, nothing defined inside a function
        assert type(m).__module__.startswith("torch.") or type(m).__module__ == "archscout.space.blocks"
    pickle.loads(pickle.dumps(model))
    assert list(model.state_dict()) == keys
    assert count_params(model) == params and count_flops(model, shape) == flops
    assert set(space.fp32_scopes(arch)) <= {n for n, _ in model.named_modules()}
    weights = sum(float(p.detach().double().sum()) for p in model.parameters())
    x = torch.linspace(-1, 1, 2 * int(np.prod(shape))).reshape((2,) + shape)
    with torch.no_grad():
        assert (weights, float(model(x).double().sum())) == pytest.approx(sums, rel=1e-5, abs=1e-6)


def test_quantization_scopes_name_modules_of_the_network():
    pytest.importorskip("torch")
    space = asc.spaces.get("conv2d-quant")
    for seed in range(10):
        arch = space.sample(seed)
        names = {n for n, _ in arch.build((1, 8, 8), 3).named_modules()}
        assert set(space.fp32_scopes(arch)) <= names


def test_flatten_head_counts_each_side_of_a_non_square_image():
    torch = pytest.importorskip("torch")
    arch = conv2d().architecture({"head": "flatten", "stages": [
        {"op": "conv", "width": 8, "kernel": 3, "dilation": 1, "downsample": "none", "residual": False,
         "norm": "none", "act": "relu"},
        {"op": "conv", "width": 16, "kernel": 3, "dilation": 1, "downsample": "maxpool", "residual": False,
         "norm": "none", "act": "relu"}]})
    model = arch.build((3, 9, 7), 5).eval()
    assert model.classifier.in_features == 16 * 4 * 3
    assert model(torch.zeros(2, 3, 9, 7)).shape == (2, 5)


def test_accepts_says_why_a_space_does_not_fit_a_task():
    from types import SimpleNamespace

    from archscout.space import gnn
    from archscout.tasks import from_arrays, from_graph

    rng = np.random.default_rng(0)
    signals = from_arrays(rng.normal(size=(40, 1, 16)).astype(np.float32), np.arange(40) % 2, name="signals")
    tabular = from_arrays(rng.normal(size=(40, 5)).astype(np.float32), np.arange(40) % 2, name="tabular")
    ring = np.array([[i, (i + 1) % 12] for i in range(12)]).T
    graph = from_graph(SimpleNamespace(x=rng.normal(size=(12, 4)).astype(np.float32), edge_index=ring,
                                       y=np.arange(12) % 2), name="ring")
    assert conv1d().accepts(signals) is None and mlp().accepts(tabular) is None
    assert "needs inputs shaped (channels, height, width)" in conv2d().accepts(tabular)
    assert "the task is a graph" in conv1d().accepts(graph)
    assert "needs a graph task" in gnn().accepts(signals)
    assert gnn().accepts(graph) is None
