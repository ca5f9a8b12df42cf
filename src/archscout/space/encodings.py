"""Architecture encodings from the DAG view: path encoding (BANANAS) and adjacency-plus-operators.

Both read ``space.to_graph(arch)`` only, so they work for every space. The one-hot and
ordinal encodings of the choices themselves live with the choices (``Block.encode``).

* ``path`` (White et al., BANANAS, 2021): one feature per distinct input-to-output path,
  named by the operators along it; the vector counts the paths. A space with a small
  operator vocabulary gives an exact index (``path_vocabulary``); otherwise the path names
  are hashed into ``PATH_BUCKETS`` features with a stable hash (collisions are rare for the
  handful of paths a network has).
* ``graph``: the upper triangle of the adjacency matrix in topological order, padded to
  ``GRAPH_NODES`` nodes, followed by each node's operator hashed into ``OP_BUCKETS`` one-hot
  slots (the encoding of graph predictors such as GIN/GCN surrogates, flattened).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

PATH_BUCKETS = 1024
GRAPH_NODES = 24
OP_BUCKETS = 16


def _label(node: dict) -> str:
    attrs = ",".join(f"{k}={v}" for k, v in sorted(node.get("attrs", {}).items()))
    return f"{node['op']}({attrs})" if attrs else node["op"]


def _bucket(text: str, n: int) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") % n


def paths(graph: dict) -> list[tuple[str, ...]]:
    """Every path from the input node to the output node, as the labels of the nodes between them."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    children: dict[int, list[int]] = {}
    for a, b in graph["edges"]:
        children.setdefault(a, []).append(b)
    source = next(i for i, n in nodes.items() if n["op"] == "input")
    out: list[tuple[str, ...]] = []

    def walk(node: int, trail: tuple[str, ...]) -> None:
        if nodes[node]["op"] == "output":
            out.append(trail)
            return
        for child in children.get(node, []):
            walk(child, trail + ((_label(nodes[child]),) if nodes[child]["op"] != "output" else ()))

    walk(source, ())
    return out


def path_encoding(graph: dict, vocabulary: Sequence[str] | None = None, max_length: int = 0) -> list[float]:
    """Counts of input-to-output paths: exact when the operator ``vocabulary`` and ``max_length`` are
    given (index of a path = its operators read as digits), hashed into PATH_BUCKETS otherwise."""
    if vocabulary is not None:
        base, index = len(vocabulary), {op: i for i, op in enumerate(vocabulary)}
        offsets = [0]
        for length in range(1, max_length + 1):
            offsets.append(offsets[-1] + base ** length)
        vec = [0.0] * offsets[-1]
        for p in paths(graph):
            if 1 <= len(p) <= max_length:
                code = 0
                for op in p:
                    code = code * base + index[op]
                vec[offsets[len(p) - 1] + code] += 1.0
        return vec
    vec = [0.0] * PATH_BUCKETS
    for p in paths(graph):
        vec[_bucket("/".join(p), PATH_BUCKETS)] += 1.0
    return vec


def graph_encoding(graph: dict) -> list[float]:
    """Adjacency (upper triangle, topological order, padded) then one-hot hashed operators per node."""
    order = _topological(graph)[:GRAPH_NODES]
    pos = {nid: i for i, nid in enumerate(order)}
    adj = [[0.0] * GRAPH_NODES for _ in range(GRAPH_NODES)]
    for a, b in graph["edges"]:
        if a in pos and b in pos:
            adj[pos[a]][pos[b]] = 1.0
    vec = [adj[i][j] for i in range(GRAPH_NODES) for j in range(i + 1, GRAPH_NODES)]
    labels = {n["id"]: _label(n) for n in graph["nodes"]}
    for i in range(GRAPH_NODES):
        slot = [0.0] * OP_BUCKETS
        if i < len(order):
            slot[_bucket(labels[order[i]], OP_BUCKETS)] = 1.0
        vec += slot
    return vec


def _topological(graph: dict) -> list[int]:
    indegree = {n["id"]: 0 for n in graph["nodes"]}
    children: dict[int, list[int]] = {}
    for a, b in graph["edges"]:
        indegree[b] += 1
        children.setdefault(a, []).append(b)
    ready = sorted(i for i, d in indegree.items() if d == 0)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for c in children.get(node, []):
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    return order


def counts_encoding(graph: dict, vocabulary: Sequence[str] | None = None, max_depth: int = 4) -> list[float]:
    """Order-free statistics of the DAG: how often each operator occurs, at each depth (longest distance
    from the input, up to ``max_depth``), and right before the output. Equal for networks that differ
    only in how their nodes are numbered, so a model learns per operator rather than per position."""
    labels = {n["id"]: _label(n) for n in graph["nodes"]}
    ops = {n["id"]: n["op"] for n in graph["nodes"]}
    if vocabulary is not None:
        slots, index = len(vocabulary), {op: i for i, op in enumerate(vocabulary)}

        def slot(nid: int) -> int:
            return index.get(ops[nid], index.get(labels[nid], 0))
    else:
        slots = OP_BUCKETS

        def slot(nid: int) -> int:
            return _bucket(labels[nid], OP_BUCKETS)
    depth: dict[int, int] = {}
    parents: dict[int, list[int]] = {}
    for a, b in graph["edges"]:
        parents.setdefault(b, []).append(a)
    for nid in _topological(graph):
        depth[nid] = 1 + max((depth[p] for p in parents.get(nid, [])), default=-1)
    feeds_output = {a for a, b in graph["edges"] if ops[b] == "output"}
    total = [0.0] * slots
    by_depth = [0.0] * (slots * max_depth)
    last = [0.0] * slots
    for nid in labels:
        if ops[nid] in ("input", "output"):
            continue
        s = slot(nid)
        total[s] += 1
        by_depth[(min(max(depth[nid], 1), max_depth) - 1) * slots + s] += 1
        if nid in feeds_output:
            last[s] += 1
    return total + by_depth + last
