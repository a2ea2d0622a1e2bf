"""Graph statistics: sizes, relation counts, degree percentiles, weakly connected components.

Components use a vectorised union-find (hook each edge's larger root onto the smaller, then pointer
jumping) over the CSR arrays, so no scipy is needed; it converges in a few rounds on real graphs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from longtracerl.graph.build import MENTION_RELATION
from longtracerl.graph.mentions import COMMON_MENTION_RELATION, DROP_RULES
from longtracerl.graph.store import Graph

PERCENTILES = (50, 90, 99, 99.9)


def edge_sources(g: Graph) -> np.ndarray:
    """The source node of every edge (expanded from ``indptr``), int32."""
    return np.repeat(np.arange(g.n_nodes, dtype=np.int32), g.out_degree)


def weak_components(g: Graph) -> np.ndarray:
    """Component label (the smallest node index in it) of every node, ignoring edge direction."""
    n = g.n_nodes
    parent = np.arange(n, dtype=np.int64)
    if g.n_edges == 0:
        return parent
    src = edge_sources(g).astype(np.int64)
    dst = np.asarray(g.indices, dtype=np.int64)
    while True:
        ps, pd = parent[src], parent[dst]
        diff = ps != pd
        if not diff.any():
            break
        lo = np.minimum(ps[diff], pd[diff])
        hi = np.maximum(ps[diff], pd[diff])
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at its root
            gp = parent[parent]
            if np.array_equal(gp, parent):
                break
            parent = gp
        # keep only edges that may still join two trees
        keep = parent[src] != parent[dst]
        src, dst = src[keep], dst[keep]
    return parent


def mention_stats(g: Graph, top: int = 10) -> dict[str, Any]:
    """Is the world linked by names? Edges into common-word titles, the most-linked targets, rule drops.

    Common-word titles are the ones the mention pass found (``meta.json`` ``mention_common_words``); their
    in-edges of any relation are counted (KILT anchors, triples and aliases still reach them)."""
    counts = g.meta.get("counts", {})
    indeg = g.in_degree
    words = list(g.meta.get("mention_common_words", []))
    found = [(t, n) for t, n in ((t, g.node_by_title(t)) for t in words) if n is not None]
    nodes = [n for _, n in found]
    rel = np.asarray(g.relation_ids)
    rid = {name: i for i, name in enumerate(g.relations)}
    n_mentions = int(np.isin(rel, [rid[r] for r in (MENTION_RELATION, COMMON_MENTION_RELATION) if r in rid]).sum())
    n_common = int((rel == rid[COMMON_MENTION_RELATION]).sum()) if COMMON_MENTION_RELATION in rid else 0
    into = int(indeg[nodes].sum()) if nodes else 0
    order = np.argsort(-indeg, kind="stable")[:top]
    titles = g.titles
    return {
        "mention_edges": n_mentions,
        "common_word_titles": len(words),
        "common_word_examples": [[t, int(indeg[n])] for t, n in sorted(found, key=lambda x: -int(indeg[x[1]]))[:top]],
        "edges_into_common_word_titles": into,
        "mention_edges_into_common_word_titles": n_common,
        "mention_share_into_common_word_titles": round(n_common / n_mentions, 4) if n_mentions else 0.0,
        "mention_edges_dropped": {r: int(counts.get(f"mention_edges_dropped_{r}", 0)) for r in DROP_RULES},
        "most_linked": [[titles[int(i)], int(indeg[i])] for i in order if indeg[i] > 0],
    }


def graph_stats(g: Graph, *, components: bool = True) -> dict[str, Any]:
    """Everything ``longtracerl graph stats`` prints, as a JSON-able dict."""
    deg = g.out_degree
    indeg = g.in_degree
    rel_counts: dict[str, int] = {}
    if g.n_edges:
        rid = np.asarray(g.relation_ids)
        counts = np.bincount(rid + 1, minlength=len(g.relations) + 1)
        if counts[0]:
            rel_counts["(none)"] = int(counts[0])
        for i, name in enumerate(g.relations):
            if counts[i + 1]:
                rel_counts[name] = int(counts[i + 1])
    rel_counts = dict(sorted(rel_counts.items(), key=lambda kv: -kv[1]))

    def pct(a: np.ndarray) -> dict[str, float]:
        if len(a) == 0:
            return {}
        vals = np.percentile(a, PERCENTILES)
        out = {f"p{p:g}": float(v) for p, v in zip(PERCENTILES, vals, strict=True)}
        out["max"] = float(a.max())
        out["mean"] = float(a.mean())
        return out

    out: dict[str, Any] = {
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "nodes_with_document": int(np.asarray(g.has_doc).sum()),
        "nodes_without_out_edges": int((deg == 0).sum()),
        "relations": rel_counts,
        "out_degree": pct(deg),
        "in_degree": pct(indeg),
        "build_counts": g.meta.get("counts", {}),
        "mentions": mention_stats(g),
    }
    if components:
        labels = weak_components(g)
        sizes = np.bincount(labels, minlength=g.n_nodes)
        sizes = np.sort(sizes[sizes > 0])[::-1]
        out["weak_components"] = {
            "count": int(len(sizes)),
            "largest": int(sizes[0]) if len(sizes) else 0,
            "largest_share": float(sizes[0] / g.n_nodes) if len(sizes) else 0.0,
            "top_sizes": [int(x) for x in sizes[:10]],
            "singletons": int((sizes == 1).sum()),
        }
    return out
