"""Graph statistics: counts, relations, degree percentiles, weak components (checked by hand)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.stats import graph_stats, weak_components


def test_stats_on_a_graph_with_known_components(tmp_path: Path) -> None:
    b = GraphBuilder()
    n = [b.entity(f"Q{i}", f"E{i}", f"d{i}" if i < 8 else None) for i in range(10)]
    # component {0,1,2,3} as a directed chain 3->2->1->0 (weak connectivity ignores direction)
    for u, v in [(3, 2), (2, 1), (1, 0)]:
        b.add_edge(n[u], n[v], "next")
    # component {4,5,6} through a mention pointing "backwards"; 7, 8, 9 are isolated
    b.add_edge(n[6], n[5], "mentions")
    b.add_edge(n[4], n[6], None)
    g = b.build(tmp_path / "g")
    s = graph_stats(g)
    assert s["nodes"] == 10 and s["edges"] == 5 and s["nodes_with_document"] == 8
    assert s["relations"] == {"next": 3, "mentions": 1, "(none)": 1}
    c = s["weak_components"]
    assert c["count"] == 5 and c["largest"] == 4 and c["top_sizes"] == [4, 3, 1, 1, 1]
    assert c["singletons"] == 3
    assert s["out_degree"]["max"] == 1.0 and s["nodes_without_out_edges"] == 5


def test_components_match_a_bfs_on_random_graphs(tmp_path: Path) -> None:
    rng = random.Random(3)
    for trial in range(3):
        b = GraphBuilder()
        nodes = [b.entity(f"Q{i}", f"E{i}") for i in range(400)]
        edges = set()
        for _ in range(300):
            u, v = rng.randrange(400), rng.randrange(400)
            if u != v:
                edges.add((u, v))
                b.add_edge(nodes[u], nodes[v], None)
        g = b.build(tmp_path / f"g{trial}")
        labels = weak_components(g)
        adj: dict[int, set[int]] = {i: set() for i in range(400)}
        for u, v in edges:
            adj[u].add(v)
            adj[v].add(u)
        seen: dict[int, int] = {}
        for s in range(400):  # reference: BFS components, labelled by their smallest node
            if s in seen:
                continue
            comp, todo = {s}, [s]
            while todo:
                x = todo.pop()
                for y in adj[x] - comp:
                    comp.add(y)
                    todo.append(y)
            for x in comp:
                seen[x] = min(comp)
        expect = np.array([seen[i] for i in range(400)])
        # node indices equal insertion order here, so labels must match exactly
        assert np.array_equal(labels, expect)
