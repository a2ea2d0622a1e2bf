"""Walks that reach their length on sparse graphs: reachable seeds, backtracking, split invariance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.graph.walk_repair import reach_bound
from longtracerl.graph.walk_space import _Space


def comb(tmp: Path) -> Graph:
    """A directed spine s0 -> s1 -> ... -> s6 where every spine node also points to 6 dead-end leaves:
    a uniform random walk of 5 moves from s0 almost always falls into a leaf; only the spine gets there."""
    b = GraphBuilder()
    spine = [b.entity(f"s{i}", f"Spine {i}", f"ds{i}") for i in range(7)]
    for i, s in enumerate(spine):
        if i + 1 < len(spine):
            b.add_edge(s, spine[i + 1], "next")
        for j in range(6):
            b.add_edge(s, b.entity(f"l{i}-{j}", f"Leaf {i}-{j}", f"dl{i}-{j}"), "leaf")
    return b.build(tmp / "comb")


def test_reach_bound_is_exact_on_trees_and_two_cycles(tmp_path: Path) -> None:
    g = comb(tmp_path)
    cfg = WalkConfig(min_hops=5, max_hops=5)
    sp = _Space(g, cfg.model_copy(update={"reachable_seeds": False}))
    h = reach_bound(sp.indptr, sp.indices, sp.allowed, 8)
    spine = [g.node_of(f"s{i}") for i in range(7)]
    assert [int(h[v]) for v in spine] == [7, 6, 5, 4, 3, 2, 1]
    assert int(h[g.node_of("l0-0")]) == 0
    # a two-node back-and-forth is not a walk without revisits
    b = GraphBuilder()
    x, y = b.entity("x", "X", "dx"), b.entity("y", "Y", "dy")
    b.add_edge(x, y, "r", undirected=True)
    g2 = b.build(tmp_path / "pair")
    sp2 = _Space(g2, WalkConfig(min_hops=0, max_hops=1))
    assert reach_bound(sp2.indptr, sp2.indices, sp2.allowed, 5).tolist() == [1, 1]


def test_sparse_graph_walks_reach_their_length(tmp_path: Path) -> None:
    g = comb(tmp_path)
    base = WalkConfig(n_walks=60, seed=2, min_hops=5, max_hops=5, jump_prob=0.0)
    plain = walk(g, base.model_copy(update={"backtrack": False, "reachable_seeds": False}))
    assert plain.n_chains <= 6  # most walks die in a leaf
    res = walk(g, base)
    assert res.n_chains == 60 and not res.rejected
    for c in res.chains:
        titles = [h.title for h in c.hops]
        assert len(titles) == 6 and len(set(titles)) == 6 and all(t.startswith("Spine") for t in titles[:5])
        assert all(h.relation in ("next", "leaf") for h in c.hops[1:])
    assert res.n_backtracked >= 50 and sum(bool(c.walk.get("backtracked")) for c in res.chains) == res.n_backtracked


def test_any_split_of_walk_ids_gives_the_same_chains(tmp_path: Path) -> None:
    g = comb(tmp_path)
    cfg = WalkConfig(n_walks=40, seed=9, min_hops=4, max_hops=5, jump_prob=0.1)
    full = {c.chain_id: c for c in walk(g, cfg).chains}
    assert len(full) == 40
    ids = sorted(full)
    half = set(ids[::2])
    a = walk(g, cfg, skip_ids=half).chains
    b = walk(g, cfg, skip_ids=set(ids) - half).chains
    assert {c.chain_id: c for c in [*a, *b]} == full


def test_unreachable_length_is_a_named_rejection(tmp_path: Path) -> None:
    g = comb(tmp_path)
    res = walk(g, WalkConfig(n_walks=5, min_hops=8, max_hops=8, jump_prob=0.0))
    assert res.n_chains == 0 and res.failures == {"dead_end": 5}
    assert "no seed of this graph can reach 8 moves (longest possible: 7)" in res.rejected[0].detail
    assert np.all(np.asarray(g.has_doc))
