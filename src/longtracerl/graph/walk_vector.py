"""The vectorised walk engine of the built-in choosers (``UniformChooser``, ``DegreeWeightedChooser``).

All walks of a batch advance in lockstep with numpy over the CSR arrays. Randomness is counter-based
(a hash of seed, walk index, move and slot), so walk ``i`` is the same whatever the batch size or order.
"""

from __future__ import annotations

import time

import numpy as np

from longtracerl.graph.store import Graph
from longtracerl.graph.walk_space import (
    JUMP_ATTEMPTS,
    REASON_DEAD_END,
    WalkConfig,
    WalkResult,
    _backtracked,
    _hop,
    _rejection,
    _Space,
    _walk_settings,
    chain_id,
)
from longtracerl.records import Chain

N_PROBES = 10  # probes per row when drawing a candidate subset (degree chooser)
ENUMERATE_MAX_DEGREE = 16  # rows up to this degree are enumerated; larger rows are probed
UNIFORM_PROBES = 2
UNIFORM_ROUNDS = 4


# ---------------------------------------------------------------------------- counter-based randomness

_U64 = np.uint64
_M1, _M2, _GOLD = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB), _U64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _U64(30))
    x = x * _M1
    x = x ^ (x >> _U64(27))
    x = x * _M2
    return x ^ (x >> _U64(31))


def walk_base(seed: int, walks: np.ndarray) -> np.ndarray:
    """Per-walk 64-bit key from (seed, walk index); ``_uniform`` derives every draw of the walk from it."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray([seed & 0xFFFFFFFFFFFFFFFF], dtype=_U64) * _GOLD + _U64(0x632BE59BD9B4E019))
        return _mix(h ^ (np.asarray(walks, dtype=_U64) * _GOLD))


def _uniform(base: np.ndarray, step: int, slots: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) numbers, a pure function of (walk key, move, slot); broadcasts."""
    with np.errstate(over="ignore"):
        x = _mix(base + _U64(step) * _M1 + np.asarray(slots, dtype=_U64) * _M2)
    return (x >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _first_occurrence(nb: np.ndarray) -> np.ndarray:
    """Mask of entries that do not repeat an earlier entry of the same row (sort-based, O(k log k))."""
    order = np.argsort(nb, axis=1, kind="stable")
    srt = np.take_along_axis(nb, order, axis=1)
    dup = np.zeros(nb.shape, dtype=bool)
    np.put_along_axis(dup, order[:, 1:], srt[:, 1:] == srt[:, :-1], axis=1)
    return ~dup


def _enumerate(
    sp: _Space, wid: np.ndarray, start: np.ndarray, deg: np.ndarray, visited: np.ndarray, t: int,
    cap: int, rows: np.ndarray, cand: np.ndarray, crel: np.ndarray, count: np.ndarray,
) -> None:  # fmt: skip
    """Exact candidates for ``rows``: a uniformly random cap-subset of the valid neighbours."""
    cfg = sp.cfg
    width = max(1, int(deg[rows].max()))
    offs = np.arange(width)
    valid = offs[None, :] < deg[rows, None]
    pos = np.where(valid, start[rows, None] + offs[None, :], 0)
    nb = sp.indices[pos]
    ok = valid & sp.allowed[nb]
    if cfg.no_revisit:
        ok &= ~(nb[:, :, None] == visited[rows][:, None, :]).any(axis=2)
    if sp.multi:
        ok &= _first_occurrence(np.where(valid, nb, -1 - offs[None, :]))
    if width <= cap:  # every valid neighbour is a candidate: no subset to draw
        keys = np.where(ok, offs[None, :], width + 1)
    else:
        keys = _uniform(wid[rows, None], t, 1000 + offs[None, :])
        keys[~ok] = 2.0
    k = min(cap, width)
    order = np.argsort(keys, axis=1, kind="stable")[:, :k]
    cand[rows, :k] = np.take_along_axis(nb, order, axis=1)
    crel[rows, :k] = sp.rel[np.take_along_axis(pos, order, axis=1)]
    count[rows] = np.minimum(ok.sum(axis=1), cap)


def _enumerate_bucketed(
    sp: _Space, wid: np.ndarray, start: np.ndarray, deg: np.ndarray, visited: np.ndarray, t: int,
    cap: int, rows: np.ndarray, cand: np.ndarray, crel: np.ndarray, count: np.ndarray,
) -> None:  # fmt: skip
    """``_enumerate`` over rows grouped by degree, so one hub does not widen every row's matrix."""
    d = deg[rows]
    lo = 0
    for hi in (cap, 16, 64, 256, 1024):
        sel = rows[(d > lo) & (d <= hi)]
        if sel.size:
            _enumerate(sp, wid, start, deg, visited, t, cap, sel, cand, crel, count)
        lo = hi
    for a in rows[d > lo]:  # hubs, one by one
        _enumerate(sp, wid, start, deg, visited, t, cap, np.array([a]), cand, crel, count)


def _candidates(
    sp: _Space, wid: np.ndarray, cur: np.ndarray, visited: np.ndarray, t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``cap`` candidates per walk: (nodes[a, cap], relation ids[a, cap], count[a]).

    Rows of small degree are enumerated (random keys, lowest ``cap`` valid ones). Larger rows are
    probed (uniform positions, with replacement): the first ``cap`` distinct valid hits in probe
    order are a uniformly random cap-subset of the valid neighbours. Rows where the probes found
    fewer are enumerated exactly.
    """
    cfg = sp.cfg
    cap = cfg.max_candidates
    n = len(cur)
    cand = np.zeros((n, cap), dtype=np.int64)
    crel = np.full((n, cap), -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    if len(sp.indices) == 0:
        return cand, crel, count
    start = sp.indptr[cur]
    deg = sp.indptr[cur + 1] - start

    small = np.flatnonzero((deg > 0) & (deg <= ENUMERATE_MAX_DEGREE))
    if small.size:  # cheaper to enumerate than to probe
        _enumerate_bucketed(sp, wid, start, deg, visited, t, cap, small, cand, crel, count)

    large = np.flatnonzero(deg > ENUMERATE_MAX_DEGREE)
    if large.size:
        r = np.arange(N_PROBES)
        u = _uniform(wid[large, None], t, 200 + r[None, :])
        pos = start[large, None] + (u * deg[large, None]).astype(np.int64)
        nb = sp.indices[pos]
        ok = sp.allowed[nb] & _first_occurrence(nb)
        if sp.run_first is not None:
            ok &= sp.run_first[pos] == pos
        if cfg.no_revisit:
            ok &= ~(nb[:, :, None] == visited[large][:, None, :]).any(axis=2)
        full = ok.sum(axis=1) >= cap
        order = np.argsort(np.where(ok, r[None, :], N_PROBES + 1), axis=1, kind="stable")[:, :cap]
        rows = large[full]
        cand[rows] = np.take_along_axis(nb[full], order[full], axis=1)
        crel[rows] = sp.rel[np.take_along_axis(pos[full], order[full], axis=1)]
        count[rows] = cap
        short = large[~full]
        if short.size:  # probes found too few (most neighbours visited or without a document): rare
            _enumerate_bucketed(sp, wid, start, deg, visited, t, cap, short, cand, crel, count)
    return cand, crel, count


def _pick(sp: _Space, kind: str, wid: np.ndarray, cand: np.ndarray, count: np.ndarray, t: int) -> np.ndarray:
    u = _uniform(wid, t, 10)
    uniform_pick = np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
    if kind == "uniform":
        return uniform_pick
    w = sp.deg[cand].astype(np.float64) * (np.arange(cand.shape[1])[None, :] < count[:, None])
    cum = np.cumsum(w, axis=1)
    tot = cum[:, -1]
    weighted = (cum > (u * tot)[:, None]).argmax(axis=1)
    return np.where(tot > 0, weighted, uniform_pick)


def _uniform_next(
    sp: _Space, wid: np.ndarray, cur: np.ndarray, visited: np.ndarray, t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform chooser without building candidate sets.

    Picking uniformly from a uniformly random subset of at most ``cap`` valid neighbours is the same
    as picking uniformly from all valid neighbours, so probe random edges and keep the first valid
    one; rows where every probe missed are resolved exactly through ``_candidates``.
    """
    if len(sp.indices) == 0:
        return np.zeros(len(cur), np.int64), np.full(len(cur), -1, np.int64), np.zeros(len(cur), bool)
    start = sp.indptr[cur]
    deg = sp.indptr[cur + 1] - start
    n = len(cur)
    nxt = np.zeros(n, dtype=np.int64)
    nrel = np.full(n, -1, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    todo = np.flatnonzero(deg > 0)
    last = max(len(sp.indices) - 1, 0)
    for rnd in range(UNIFORM_ROUNDS):  # a few probes per round; most walks are done after one
        if todo.size == 0:
            break
        r = rnd * UNIFORM_PROBES + np.arange(UNIFORM_PROBES)
        u = _uniform(wid[todo, None], t, 100 + r[None, :])
        pos = np.minimum(start[todo, None] + (u * deg[todo, None]).astype(np.int64), last)
        nb = sp.indices[pos]
        ok = sp.allowed[nb]
        if sp.run_first is not None:
            ok &= sp.run_first[pos] == pos
        if sp.cfg.no_revisit:
            ok &= ~(nb[:, :, None] == visited[todo][:, None, :]).any(axis=2)
        rows = np.arange(len(todo))
        first = ok.argmax(axis=1)
        hit = ok[rows, first]
        got = todo[hit]
        nxt[got] = nb[rows, first][hit]
        nrel[got] = sp.rel[pos[rows, first][hit]]
        has[got] = True
        todo = todo[~hit]
    miss = np.flatnonzero(~has & (deg > 0))
    if miss.size:
        cand, crel, count = _candidates(sp, wid[miss], cur[miss], visited[miss], t)
        pick = _pick(sp, "uniform", wid[miss], cand, count, t)
        got = count > 0
        mrows = np.arange(len(miss))
        nxt[miss[got]] = cand[mrows, pick][got]
        nrel[miss[got]] = crel[mrows, pick][got]
        has[miss[got]] = True
    return nxt, nrel, has


def walk_arrays(
    g: Graph, config: WalkConfig, kind: str = "uniform", *, start: int = 0, stop: int | None = None,
    batch_size: int = 65536, space: _Space | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vectorised engine: walks ``start..stop`` as arrays.

    Returns ``(nodes[w, max_hops+1], relation_ids[w, max_hops+1], jumped[w, max_hops+1], moves[w])``,
    padded with -1 after each walk's end. ``kind`` is ``"uniform"`` or ``"degree"``.
    """
    if kind not in ("uniform", "degree"):
        raise ValueError(f"unknown fast chooser kind {kind!r}")
    sp = space or _Space(g, config)
    cfg = config
    stop = cfg.n_walks if stop is None else stop
    total = max(0, stop - start)
    width = cfg.max_hops + 1
    nodes = np.full((total, width), -1, dtype=np.int64)
    rels = np.full((total, width), -1, dtype=np.int32)
    jumped = np.zeros((total, width), dtype=bool)
    moves = np.zeros(total, dtype=np.int64)
    pool = sp.pool
    for b0 in range(0, total, batch_size):
        b1 = min(total, b0 + batch_size)
        wid = walk_base(cfg.seed, np.arange(start + b0, start + b1, dtype=np.uint64))
        path = nodes[b0:b1]
        if cfg.distinct_seeds:
            path[:, 0] = sp.seed_order[np.arange(start + b0, start + b1) % len(pool)]
        else:
            path[:, 0] = pool[(_uniform(wid, 0, 0) * len(pool)).astype(np.int64)]
        alive = np.ones(b1 - b0, dtype=bool)
        for t in range(1, width):
            a = np.flatnonzero(alive)
            if a.size == 0:
                break
            cur = path[a, t - 1]
            visited = path[a, :t]
            w = wid[a]
            if kind == "uniform":
                nxt, nrel, has = _uniform_next(sp, w, cur, visited, t)
            else:
                cand, crel, count = _candidates(sp, w, cur, visited, t)
                has = count > 0
                pick = _pick(sp, kind, w, cand, count, t)
                rows = np.arange(len(a))
                nxt = cand[rows, pick]
                nrel = crel[rows, pick]
            jmp = np.zeros(len(a), dtype=bool)
            if cfg.jump_prob > 0 or cfg.jump_on_dead_end:
                want = _uniform(w, t, 0) < cfg.jump_prob
                if cfg.jump_on_dead_end:
                    want |= ~has
                j = np.flatnonzero(want)
                for attempt in range(JUMP_ATTEMPTS):  # redraw when the target was already visited
                    if j.size == 0:
                        break
                    tgt = pool[(_uniform(w[j], t, 1 + attempt) * len(pool)).astype(np.int64)]
                    fresh = ~(tgt[:, None] == visited[j]).any(axis=1) if cfg.no_revisit else np.ones(len(j), bool)
                    done = j[fresh]
                    nxt[done], nrel[done], jmp[done], has[done] = tgt[fresh], -1, True, True
                    j = j[~fresh]
            alive[a[~has]] = False
            live = a[has]
            path[live, t] = nxt[has]
            rels[b0 + live, t] = nrel[has]
            jumped[b0 + live, t] = jmp[has]
            moves[b0 + live] = t
    return nodes, rels, jumped, moves



def _fast_walk(
    g: Graph, cfg: WalkConfig, kind: str, name: str, skip: set[str], batch_size: int
) -> WalkResult:
    t0 = time.perf_counter()
    res = WalkResult(n_walks=cfg.n_walks)
    sp = _Space(g, cfg)
    nodes, rels, jumped, moves = walk_arrays(g, cfg, kind, batch_size=batch_size, space=sp)
    for i in range(cfg.n_walks):
        cid = chain_id(cfg.seed, i)
        if cid in skip:
            continue
        m = int(moves[i])
        hops = [_hop(g, int(nodes[i, k]), int(rels[i, k]), bool(jumped[i, k])) for k in range(m + 1)]
        hops[0].relation = None
        settings = _walk_settings(cfg, name, i, g)
        if m < cfg.min_hops and cfg.backtrack and (fixed := _backtracked(sp, i, int(nodes[i, 0]))) is not None:
            hops, m = fixed, len(fixed) - 1
            res.n_backtracked += 1
            settings["backtracked"] = True
        if m >= cfg.min_hops:
            res.chains.append(Chain(chain_id=cid, hops=hops, seed=cfg.seed, walk=settings))
            res.n_moves += m
        else:
            res.rejected.append(_rejection(cid, g, hops, REASON_DEAD_END, cfg, sp.longest))
            res.failures[REASON_DEAD_END] = res.failures.get(REASON_DEAD_END, 0) + 1
    res.seconds = time.perf_counter() - t0
    return res
