import json
import random

import numpy as np
import pytest

import archscout as asc
from archscout import ArchscoutError, Architecture, Block, Choice, Integer, Repeat, Space
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
    with pytest.raises(ArchscoutError, match="allowed 1..4"):
        space.architecture({"stages": []})
    with pytest.raises(ArchscoutError, match="not one of"):
        space.architecture({"stages": [{"width": 17, "act": "relu", "dropout": 0.0, "norm": "none",
                                        "residual": False}]})


def test_registry_names_and_close_matches():
    assert asc.spaces.list() == ["conv1d", "conv1d-quant", "conv2d", "conv2d-quant", "gnn", "gnn-proteins", "mlp",
                                 "mlp-quant"]
    with pytest.raises(ArchscoutError, match="Did you mean 'conv1d'"):
        asc.spaces.get("conv1")
