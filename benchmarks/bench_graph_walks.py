"""Walk throughput: our vectorised CSR walker vs a plain networkx walker on the SAME graph.

    .venv/bin/python benchmarks/bench_graph_walks.py [--nodes 1000000] [--edges 10000000]

Prints moves/s of each, the speed-up (target >= 100x), and the share of walks reaching 8 hops.
Both walkers implement the same rule: up to 8 moves from a uniformly random seed with a document,
each move choosing uniformly among at most 5 unvisited neighbours that have a document (no jumps).
networkx (a dev dependency: ``pip install networkx``) is timed on fewer walks than ours because it is
slow; the graph is the same. Set ``--nx-walks`` to change that.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time

import numpy as np

from longtracerl.graph.synthetic import power_law_graph
from longtracerl.graph.walk import WalkConfig, walk_arrays


def nx_walk(G, seeds: list[int], rng: random.Random, hops: int, cap: int, degree: bool = False) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The plain walker people write with networkx; returns (moves, walks reaching `hops`)."""
    moves = full = 0
    nodes = G.nodes
    for s in seeds:
        path = [s]
        visited = {s}
        u = s
        for _ in range(hops):
            cands = [v for v in G.neighbors(u) if v not in visited and nodes[v]["doc"]]
            if not cands:
                break
            if len(cands) > cap:
                cands = rng.sample(cands, cap)
            if degree:
                u = rng.choices(cands, weights=[G.out_degree(v) + 1e-9 for v in cands], k=1)[0]
            else:
                u = rng.choice(cands)
            visited.add(u)
            path.append(u)
            moves += 1
        full += len(path) == hops + 1
    return moves, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--walks", type=int, default=200_000, help="walks for our walker")
    ap.add_argument("--nx-walks", type=int, default=5_000, help="walks for the networkx walker")
    ap.add_argument("--hops", type=int, default=8)
    ap.add_argument("--doc-share", type=float, default=0.95, help="share of nodes with a document")
    args = ap.parse_args()

    print(f"load: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} CPUs)")
    t = time.perf_counter()
    g = power_law_graph(args.nodes, args.edges, seed=0, doc_share=args.doc_share)
    deg = g.out_degree
    print(f"graph: {g.n_nodes:,} nodes, {g.n_edges:,} edges, generated in {time.perf_counter() - t:.1f} s; "
          f"out-degree p50 {np.percentile(deg, 50):.0f} p99 {np.percentile(deg, 99):.0f} max {deg.max():,}")  # fmt: skip

    results = {}
    for kind in ("uniform", "degree"):
        cfg = WalkConfig(n_walks=args.walks, min_hops=0, max_hops=args.hops, jump_prob=0.0,
                         exclude_title_patterns=[])  # fmt: skip
        walk_arrays(g, cfg.model_copy(update={"n_walks": 1000}), kind)  # warm-up (page in the arrays)
        t = time.perf_counter()
        _, _, _, moves = walk_arrays(g, cfg, kind)
        dt = time.perf_counter() - t
        results[kind] = (int(moves.sum()) / dt, float((moves == args.hops).mean()), dt)
        print(f"ours ({kind:7s}): {args.walks:,} walks in {dt:.2f} s = {results[kind][0]:,.0f} moves/s; "
              f"{results[kind][1]:.1%} of walks reach {args.hops} hops")  # fmt: skip

    import networkx as nx

    t = time.perf_counter()
    G = nx.DiGraph()
    has_doc = np.asarray(g.has_doc).tolist()
    G.add_nodes_from((i, {"doc": h}) for i, h in enumerate(has_doc))
    src = np.repeat(np.arange(g.n_nodes), deg)
    G.add_edges_from(zip(src.tolist(), np.asarray(g.indices).tolist(), strict=True))
    del src
    print(f"networkx DiGraph of the same graph built in {time.perf_counter() - t:.1f} s "
          f"(peak RSS now {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB)")
    rng = random.Random(0)
    eligible = np.flatnonzero(np.asarray(g.has_doc) & (deg >= 1))
    seeds = [int(x) for x in eligible[np.random.default_rng(1).integers(0, len(eligible), args.nx_walks)]]
    for kind, (rate, _share, _dt) in results.items():
        t = time.perf_counter()
        moves_nx, full_nx = nx_walk(G, seeds, rng, args.hops, 5, degree=kind == "degree")
        dt_nx = time.perf_counter() - t
        nx_rate = moves_nx / dt_nx
        print(f"networkx ({kind:7s}): {args.nx_walks:,} walks in {dt_nx:.2f} s = {nx_rate:,.0f} moves/s; "
              f"{full_nx / args.nx_walks:.1%} of walks reach {args.hops} hops")  # fmt: skip
        speedup = rate / nx_rate
        flag = "OK" if speedup >= 100 else "BELOW TARGET"
        print(f"speed-up ({kind}): ours / networkx = {speedup:,.0f}x  (target >= 100x) {flag}")


if __name__ == "__main__":
    main()
