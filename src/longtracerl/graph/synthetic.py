"""Synthetic power-law graphs for benchmarks and tests (numpy only, seconds for 10M edges).

Out-degrees and in-degrees are both skewed: each edge's source and destination are drawn from a
Zipf-like distribution over node ranks (``floor(n * u ** skew)``), then node ids are shuffled so hubs
are spread over the id range. A share of nodes can be left without a document.
"""

from __future__ import annotations

import numpy as np

from longtracerl.graph.store import Graph, node_table


def power_law_graph(
    n_nodes: int, n_edges: int, *, seed: int = 0, skew: float = 2.0, doc_share: float = 1.0
) -> Graph:
    """A directed graph with ~``n_edges`` distinct edges (self-loops and duplicates removed)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_nodes)
    src = perm[np.minimum((n_nodes * rng.random(n_edges) ** skew).astype(np.int64), n_nodes - 1)]
    dst = perm[np.minimum((n_nodes * rng.random(n_edges) ** skew).astype(np.int64), n_nodes - 1)]
    keep = src != dst
    key = np.unique(src[keep] * n_nodes + dst[keep])
    src, dst = key // n_nodes, key % n_nodes
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_nodes), out=indptr[1:])
    has_doc = rng.random(n_nodes) < doc_share
    ids = [f"Q{i}" for i in range(n_nodes)]
    titles = [f"Entity {i}" for i in range(n_nodes)]
    docs: list[str | None] = [f"d{i}" if h else None for i, h in enumerate(has_doc.tolist())]
    return Graph(
        indptr,
        dst.astype(np.int32),
        np.zeros(len(dst), dtype=np.int32),
        has_doc,
        ["links to"],
        node_table(ids, titles, docs, [[] for _ in range(n_nodes)]),
        meta={"multi_edges": False, "synthetic": {"n_nodes": n_nodes, "n_edges": n_edges, "seed": seed}},
    )
