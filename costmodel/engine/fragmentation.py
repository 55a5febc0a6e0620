"""Fragmentation (ShuffleNet V2's G3): how many compute operators a block has and how many could run at once.

Width is the largest set of compute ops (conv/linear/pool) in a block with no path between any two of them:
a maximum antichain of the block's DAG restricted to compute ops. By Dilworth's theorem it equals
n - (maximum matching in the bipartite 'u reaches v' graph), which Hopcroft-Karp finds quickly.
"""
from __future__ import annotations

from collections.abc import Collection

import networkx as nx

from costmodel.engine.kinds import COMPUTE_KINDS

_COMPUTE = {k.value for k in COMPUTE_KINDS}


def compute_ops(graph: nx.DiGraph, nodes: Collection[str]) -> list[str]:
    return [n for n in nodes if graph.nodes[n]["kind"] in _COMPUTE]


def width(graph: nx.DiGraph, nodes: Collection[str]) -> int:
    """Maximum antichain of the compute ops among `nodes`, with reachability through any op of the block."""
    block = graph.subgraph(nodes)
    compute = compute_ops(graph, nodes)
    if len(compute) <= 1:
        return len(compute)
    reach = nx.bipartite.hopcroft_karp_matching(_reachability(block, compute), top_nodes=[("u", c) for c in compute])
    return len(compute) - len(reach) // 2


def _reachability(block: nx.DiGraph, compute: list[str]) -> nx.Graph:
    pairs = nx.Graph()
    pairs.add_nodes_from(("u", c) for c in compute)
    pairs.add_nodes_from(("v", c) for c in compute)
    targets = set(compute)
    for c in compute:
        pairs.add_edges_from((("u", c), ("v", d)) for d in nx.descendants(block, c) & targets)
    return pairs
