"""Walks that reach their length on sparse graphs: reachable seeds and backtracking.

On a sparse directed graph (title mentions of a paragraph corpus) most random walks die at a page that
names nothing walkable. Two remedies, both deterministic per walk id (so any split of walk ids over
workers gives the same chains):

- ``reach_bound``: for every node an upper bound of the moves a walk can make from it (longest walk over
  allowed nodes, revisits allowed, capped). Nodes whose bound is below ``min_hops`` cannot seed a kept walk
  and leave the seed pool. Exact for dead-end trees, an over-estimate where cycles exist.
- ``backtrack_walk``: a walk that stopped short is redone as a depth-first search with backtracking from
  the same seed (then from up to ``restarts`` other seeds of the pool), visiting neighbours in an order drawn
  from the walk's own ``random.Random(walk_seed(seed, i))``, within ``budget`` expansions. The result is a
  uniform-choice walk without jumps; its chain says ``walk.backtracked = true``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np


def reach_bound(indptr: np.ndarray, indices: np.ndarray, allowed: np.ndarray, cap: int) -> np.ndarray:
    """``h[v]`` = min(cap, longest non-backtracking walk of allowed nodes from v); 0 for nodes not allowed.

    Computed over edges: ``H[e=(u->v)] = 1 + max H[f=(v->w)]`` over allowed ``w != u`` (a walk never
    returns to the node it just left), ``cap`` rounds of numpy. Cycles of three or more nodes still make it
    an over-estimate; trees and two-node back-and-forths are measured exactly.
    """
    n = len(allowed)
    h = np.zeros(n, dtype=np.int64)
    m = len(indices)
    if cap <= 0 or m == 0:
        return h
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    dst = np.asarray(indices, dtype=np.int64)
    live = allowed[src] & allowed[dst] & (src != dst)
    H = live.astype(np.int64)  # one move along each live edge
    for _ in range(cap - 1):
        # best and second-best (by destination) live edge value out of each node
        order = np.lexsort((-H, src))
        s_src, s_val, s_dst = src[order], H[order], dst[order]
        first = np.ones(m, dtype=bool)
        first[1:] = s_src[1:] != s_src[:-1]
        b1 = np.zeros(n, dtype=np.int64)
        d1 = np.full(n, -1, dtype=np.int64)
        b1[s_src[first]] = s_val[first]
        d1[s_src[first]] = s_dst[first]
        b2 = np.zeros(n, dtype=np.int64)
        nxt = np.flatnonzero(~first & np.r_[False, first[:-1]] & (s_src == np.r_[-1, s_src[:-1]]))
        b2[s_src[nxt]] = s_val[nxt]
        cont = np.where(d1[dst] == src, b2[dst], b1[dst])
        new = np.where(live, np.minimum(1 + cont, cap), 0)
        if np.array_equal(new, H):
            break
        H = new
    best = np.zeros(n, dtype=np.int64)
    np.maximum.at(best, src, H)
    return np.where(allowed, best, 0)


def backtrack_walk(sp: Any, rng: random.Random, first: int, budget: int = 4000,
                   restarts: int = 12, avoid: Any = None) -> tuple[list[int], list[int]] | None:
    """Nodes and edge positions of a walk of ``cfg.min_hops``..``cfg.max_hops`` moves, or None.

    ``sp`` is the walk space (``graph.walk_space._Space``): CSR arrays, ``allowed`` and the seed ``pool``;
    ``avoid`` (a ``walk_space.Avoid``) leaves out the pages a re-walk must keep off (``walk_variety``).
    """
    cfg = sp.cfg
    want = cfg.min_hops
    seeds = [first] + [int(sp.pool[rng.randrange(len(sp.pool))]) for _ in range(restarts)]
    left = budget
    for s in seeds:
        nodes, poss = [s], [-1]
        stack: list[list[tuple[int, int]]] = [_options(sp, s, nodes, rng, avoid, want)]
        while stack and left > 0:
            left -= 1
            if len(nodes) - 1 >= want:
                break
            opts = stack[-1]
            if not opts:
                stack.pop()
                if len(nodes) > 1:
                    nodes.pop()
                    poss.pop()
                continue
            v, p = opts.pop()
            nodes.append(v)
            poss.append(p)
            stack.append(_options(sp, v, nodes, rng, avoid, want))
        if len(nodes) - 1 >= want:
            return nodes, poss
    return None


def _options(sp: Any, node: int, visited: list[int], rng: random.Random, avoid: Any = None,
             want: int = 0) -> list[tuple[int, int]]:
    s, e = int(sp.indptr[node]), int(sp.indptr[node + 1])
    row = sp.indices[s:e]
    ok = sp.allowed[row].copy()
    if sp.cfg.no_revisit:
        ok &= ~np.isin(row, visited)
    out: dict[int, int] = {}
    for p in np.flatnonzero(ok).tolist():  # first edge of each neighbour: its most informative label
        if avoid is None or not avoid.blocks(visited, int(row[p]), want):
            out.setdefault(int(row[p]), s + p)
    opts = list(out.items())
    rng.shuffle(opts)
    return opts
