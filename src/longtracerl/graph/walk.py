"""Random walks over the graph: the skeletons of multi-hop questions (PAPER.md 2a).

A walk starts at a seed node and makes up to ``max_hops`` moves (a chain has ``moves + 1`` entities,
the seed being ``hops[0]``). At each move it collects the unvisited neighbours that have a document
(and are not excluded by title), keeps a uniformly random subset of at most ``max_candidates`` of them,
and lets the chooser pick one. With probability ``jump_prob`` the move is a *jump* instead: the walk
teleports to a uniformly random unvisited node of the seed pool (a node with a document that passes
the seed filters); that hop has ``jumped=True`` and ``relation=None``. A walk that stops (no candidate)
before ``min_hops`` moves is counted as failed with its reason and returned as a ``Rejection``.

Two engines, one semantics:

- built-in choosers (``UniformChooser``, ``DegreeWeightedChooser``) run *vectorised*: all walks of a
  batch advance in lockstep with numpy over the CSR arrays. Randomness is counter-based (a hash of
  seed, walk index, move and slot), so walk ``i`` is the same whatever the batch size or order.
- any other chooser (``WalkChooser`` or ``AsyncWalkChooser``, e.g. an LLM) runs per walk, walk ``i``
  drawing from its own ``random.Random(walk_seed(seed, i))``; ``awalk`` runs many concurrently.
  A chooser is not asked when there is a single candidate.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from longtracerl.graph.chooser import AsyncWalkChooser, Candidate, WalkChooser
from longtracerl.graph.store import Graph
from longtracerl.records import Chain, Hop, Rejection

DEFAULT_EXCLUDE_TITLE_PATTERNS = [
    r"^Lists? of ",
    r"^(Index|Outline|Timeline|Glossary) of ",
    r"\(disambiguation\)$",
    r"^\d{1,4}( BC| AD| BCE| CE)?$",  # year pages
    r"^\d{1,4}s( BC)?$",  # decades
    r"^(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}$",
]
N_PROBES = 10  # probes per row when drawing a candidate subset (degree chooser)
JUMP_ATTEMPTS = 8  # a jump whose draws all hit visited nodes is not taken (tiny seed pools only)
ENUMERATE_MAX_DEGREE = 16  # rows up to this degree are enumerated; larger rows are probed
UNIFORM_PROBES = 2
UNIFORM_ROUNDS = 4
REASON_DEAD_END = "dead_end"


class WalkConfig(BaseModel):
    """Every knob of a walk; stored in each chain's ``walk`` field. Defaults follow PAPER.md 2a."""

    model_config = ConfigDict(extra="forbid")

    n_walks: int = Field(100, ge=0, description="walks attempted (chain ids 0..n_walks-1)")
    seed: int = 0
    min_hops: int = Field(8, ge=0, description="moves a walk must make to be kept")
    max_hops: int = Field(8, ge=1, description="moves after which a walk stops (chain has max_hops+1 entities)")
    max_candidates: int = Field(5, ge=1, description="unvisited neighbours offered per move")
    jump_prob: float = Field(0.1, ge=0.0, le=1.0, description="chance a move teleports to a random seed-pool node")
    jump_on_dead_end: bool = Field(False, description="jump instead of stopping when no candidate is left")
    no_revisit: bool = True
    require_doc: bool = Field(True, description="every hop must have a document")
    min_seed_degree: int = Field(1, ge=0)
    max_seed_degree: int | None = Field(None, ge=0)
    exclude_title_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE_TITLE_PATTERNS))
    exclude_patterns_from_hops: bool = Field(True, description="excluded titles are never hops, not only never seeds")
    reachable_seeds: bool = Field(True, description="seed only from nodes where min_hops moves are reachable")
    backtrack: bool = Field(True, description="redo a walk that stopped short as a backtracking search (walk_repair)")
    distinct_seeds: bool = Field(True, description="walk i starts at node i of a seeded shuffle of the seed pool, so "
                                 "no seed repeats before every pool node has been used once")

    @model_validator(mode="after")
    def _check(self) -> WalkConfig:
        if self.min_hops > self.max_hops:
            raise ValueError(f"min_hops ({self.min_hops}) > max_hops ({self.max_hops})")
        for p in self.exclude_title_patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"exclude_title_patterns: bad regex {p!r}: {e}") from None
        return self

    def settings(self) -> dict[str, Any]:
        return self.model_dump(exclude={"n_walks"})


class NoSeedError(ValueError):
    """No node passes the seed filters: nothing to walk from."""


class ChooserError(ValueError):
    """A chooser returned something other than the index of an offered candidate."""


class WalkResult(BaseModel):
    """Chains kept, walks rejected (with reasons) and throughput."""

    chains: list[Chain] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    failures: dict[str, int] = Field(default_factory=dict)
    n_walks: int = 0
    n_moves: int = 0
    n_backtracked: int = 0  # walks that stopped short and were redone with backtracking
    seconds: float = 0.0

    @property
    def n_chains(self) -> int:
        return len(self.chains)


def chain_id(seed: int, i: int) -> str:
    return f"chain-{seed}-{i:06d}"


def walk_seed(seed: int, i: int) -> int:
    """Seed of walk ``i``'s own ``random.Random``: stable across processes (no ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(), "little")


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


# ---------------------------------------------------------------------------- the walk space


class _Space:
    """Arrays a walk needs, computed once per (graph, config): allowed hops and the seed pool."""

    def __init__(self, g: Graph, cfg: WalkConfig) -> None:
        self.g = g
        self.cfg = cfg
        self.indptr = np.asarray(g.indptr)
        self.indices = np.asarray(g.indices)
        self.rel = np.asarray(g.relation_ids)
        self.deg = g.out_degree
        self.multi = bool(g.meta.get("multi_edges", True))
        self.run_first: np.ndarray | None = None
        self.longest: int | None = None  # set when no seed can reach min_hops (the longest walk possible)
        if self.multi and len(self.indices):
            # parallel edges (two relations between one pair) are one neighbour: probes only accept
            # the first edge of each (src, dst) run, which carries the most informative label
            m = len(self.indices)
            starts = np.zeros(m, dtype=bool)
            starts[0] = True
            starts[1:] = self.indices[1:] != self.indices[:-1]
            row_starts = self.indptr[:-1][self.deg > 0]
            starts[row_starts] = True
            self.run_first = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
        excluded = excluded_titles(g, cfg.exclude_title_patterns)
        allowed = np.ones(g.n_nodes, dtype=bool)
        if cfg.require_doc:
            allowed &= np.asarray(g.has_doc, dtype=bool)
        if excluded is not None and cfg.exclude_patterns_from_hops:
            allowed &= ~excluded
        self.allowed = allowed
        seeds = allowed & (self.deg >= cfg.min_seed_degree)
        if cfg.max_seed_degree is not None:
            seeds &= self.deg <= cfg.max_seed_degree
        if excluded is not None:
            seeds &= ~excluded
        self.pool = np.flatnonzero(seeds).astype(np.int64)
        if len(self.pool) and cfg.reachable_seeds and cfg.min_hops > 0 and not cfg.jump_on_dead_end:
            from longtracerl.graph.walk_repair import reach_bound

            h = reach_bound(self.indptr, self.indices, allowed, cfg.min_hops)
            reach = self.pool[h[self.pool] >= cfg.min_hops]
            if len(reach):
                self.pool = reach
            else:  # nothing can make it: walks run and are rejected as dead ends, saying why
                self.longest = int(h.max())
        self.seed_order = self.pool
        if cfg.distinct_seeds and len(self.pool):
            perm = np.random.default_rng(walk_seed(cfg.seed, -1)).permutation(len(self.pool))
            self.seed_order = self.pool[perm]
        if len(self.pool) == 0:
            raise NoSeedError(
                f"no seed node in graph {g.path or ''}: {g.n_nodes} nodes, "
                f"{int(np.asarray(g.has_doc).sum())} with a document; relax the seed filters "
                f"(min_seed_degree={cfg.min_seed_degree}, max_seed_degree={cfg.max_seed_degree}, "
                f"require_doc={cfg.require_doc})"
            )


def excluded_titles(g: Graph, patterns: list[str]) -> np.ndarray | None:
    """Boolean mask of nodes whose title matches any pattern (cached on the graph per pattern set)."""
    if not patterns:
        return None
    cache: dict[tuple[str, ...], np.ndarray] = g.__dict__.setdefault("_excluded_cache", {})
    key = tuple(patterns)
    if key not in cache:
        rx = re.compile("|".join(f"(?:{p})" for p in patterns))
        cache[key] = np.fromiter((rx.search(t) is not None for t in g.titles), dtype=bool, count=g.n_nodes)
    return cache[key]


# ---------------------------------------------------------------------------- vectorised engine


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


# ---------------------------------------------------------------------------- records


def _hop(g: Graph, node: int, rel: int, jumped: bool) -> Hop:
    return Hop(
        entity_id=g.entity_ids[node],
        title=g.titles[node],
        doc_id=g.doc_ids[node],
        relation=None if jumped else g.relation_name(rel),
        jumped=jumped,
    )


def _rejection(cid: str, g: Graph, hops: list[Hop], reason: str, cfg: WalkConfig,
               longest: int | None = None) -> Rejection:
    last = hops[-1].title if hops else "?"
    why = (f"; no seed of this graph can reach {cfg.min_hops} moves (longest possible: {longest})"
           if longest is not None else "")
    return Rejection(
        item_id=cid,
        stage="walk",
        reason=reason,
        detail=f"stopped after {len(hops) - 1} of min {cfg.min_hops} moves at {last!r}: "
        f"no unvisited neighbour with a document{why}",
    )


def _walk_settings(cfg: WalkConfig, chooser_name: str, i: int, g: Graph) -> dict[str, Any]:
    d = cfg.settings()
    d.update(chooser=chooser_name, walk_index=i, graph=g.path.name if g.path else None)
    return d


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


# ---------------------------------------------------------------------------- per-walk engine

_Request = tuple[list[Hop], list[Candidate], random.Random]


class _FirstSentences:
    """First sentence of each candidate's document, from a DocStore, cached per run."""

    _split = re.compile(r"(?<=[.!?])\s+")

    def __init__(self, docstore: Any, max_chars: int = 300) -> None:
        self.docstore = docstore
        self.max_chars = max_chars
        self.cache: dict[str, str] = {}

    def __call__(self, doc_id: str | None) -> str:
        if self.docstore is None or doc_id is None:
            return ""
        if doc_id not in self.cache:
            try:
                doc = self.docstore.get(doc_id)
            except KeyError:
                doc = None
            text = (doc.text if doc is not None else "").strip()
            self.cache[doc_id] = self._split.split(text, maxsplit=1)[0][: self.max_chars] if text else ""
        return self.cache[doc_id]


def _walk_gen(
    sp: _Space, i: int, sentences: _FirstSentences
) -> Generator[_Request, int, tuple[list[Hop], str | None]]:
    """One walk; yields each choice to make and receives the picked index."""
    g, cfg = sp.g, sp.cfg
    rng = random.Random(walk_seed(cfg.seed, i))
    pool = sp.pool
    node = int(pool[rng.randrange(len(pool))])  # drawn in both modes, so later draws do not depend on the mode
    if cfg.distinct_seeds:
        node = int(sp.seed_order[i % len(pool)])
    nodes = [node]
    hops = [_hop(g, node, -1, False)]
    for _ in range(cfg.max_hops):
        s, e = int(sp.indptr[node]), int(sp.indptr[node + 1])
        row = sp.indices[s:e]
        ok = sp.allowed[row].copy()
        if cfg.no_revisit:
            ok &= ~np.isin(row, nodes)
        pos = np.flatnonzero(ok)
        if sp.multi and len(pos):
            _, first = np.unique(row[pos], return_index=True)
            pos = pos[np.sort(first)]
        jump = cfg.jump_prob > 0 and rng.random() < cfg.jump_prob
        if not jump and len(pos) == 0 and cfg.jump_on_dead_end:
            jump = True
        if jump:
            for _attempt in range(JUMP_ATTEMPTS):
                tgt = int(pool[rng.randrange(len(pool))])
                if not cfg.no_revisit or tgt not in nodes:
                    node = tgt
                    nodes.append(node)
                    hops.append(_hop(g, node, -1, True))
                    break
            else:
                jump = False
            if jump:
                continue
        if len(pos) == 0:
            return hops, REASON_DEAD_END
        chosen = [int(p) for p in pos]
        chosen = rng.sample(chosen, cfg.max_candidates) if len(chosen) > cfg.max_candidates else chosen
        cands = [
            Candidate(
                entity_id=g.entity_ids[v],
                title=g.titles[v],
                doc_id=g.doc_ids[v],
                relation=g.relation_name(int(sp.rel[s + p])),
                first_sentence=sentences(g.doc_ids[v]),
                degree=int(sp.deg[v]),
            )
            for p in chosen
            for v in (int(row[p]),)
        ]
        pick = 0 if len(cands) == 1 else (yield list(hops), cands, rng)
        if not isinstance(pick, int | np.integer) or isinstance(pick, bool) or not 0 <= pick < len(cands):
            raise ChooserError(f"chooser returned {pick!r}; expected an index in 0..{len(cands) - 1}")
        c = cands[int(pick)]
        node = int(row[chosen[int(pick)]])
        nodes.append(node)
        hops.append(Hop(entity_id=c.entity_id, title=c.title, doc_id=c.doc_id, relation=c.relation))
    return hops, None


def _backtracked(sp: _Space, i: int, first: int) -> list[Hop] | None:
    """Walk ``i`` redone with backtracking (``walk_repair``), from its own seed first; None if impossible."""
    from longtracerl.graph.walk_repair import backtrack_walk

    found = backtrack_walk(sp, random.Random(walk_seed(sp.cfg.seed, i) + 1), first)
    if found is None:
        return None
    nodes, poss = found
    hops = [_hop(sp.g, v, int(sp.rel[p]) if p >= 0 else -1, False) for v, p in zip(nodes, poss, strict=True)]
    hops[0].relation = None
    return hops


def _finish(res: WalkResult, sp: _Space, i: int, name: str, hops: list[Hop], reason: str | None) -> Chain | Rejection:
    cfg = sp.cfg
    cid = chain_id(cfg.seed, i)
    settings = _walk_settings(cfg, name, i, sp.g)
    if len(hops) - 1 < cfg.min_hops and cfg.backtrack and hops:
        fixed = _backtracked(sp, i, sp.g.node_of(hops[0].entity_id))
        if fixed is not None:
            hops = fixed
            res.n_backtracked += 1
            settings["backtracked"] = True
    if len(hops) - 1 >= cfg.min_hops:
        res.n_moves += len(hops) - 1
        return Chain(chain_id=cid, hops=hops, seed=cfg.seed, walk=settings)
    why = reason or REASON_DEAD_END
    res.failures[why] = res.failures.get(why, 0) + 1
    return _rejection(cid, sp.g, hops, why, cfg, sp.longest)


def _collect(res: WalkResult, out: Iterable[tuple[int, Chain | Rejection]]) -> WalkResult:
    for _, item in sorted(out, key=lambda x: x[0]):
        if isinstance(item, Chain):
            res.chains.append(item)
        else:
            res.rejected.append(item)
    return res


def walk(
    graph: Graph,
    config: WalkConfig,
    chooser: WalkChooser | None = None,
    docstore: Any = None,
    *,
    skip_ids: Iterable[str] = (),
    batch_size: int = 65536,
    on_item: Callable[[Chain | Rejection], None] | None = None,
) -> WalkResult:
    """Run ``config.n_walks`` walks; built-in choosers take the vectorised engine.

    ``skip_ids`` are chain ids already done (resume); ``on_item`` sees each chain or rejection as it
    is produced (per-walk engine) or at the end (vectorised engine). ``docstore`` fills
    ``Candidate.first_sentence`` for custom choosers.
    """
    from longtracerl.graph.simple_choosers import UniformChooser

    chooser = chooser or UniformChooser()
    if not hasattr(chooser, "choose"):
        raise TypeError(f"chooser {getattr(chooser, 'name', chooser)!r} has no choose(); async choosers run with awalk()")
    skip = set(skip_ids)
    kind = getattr(chooser, "fast_kind", None)
    if kind in ("uniform", "degree") and type(chooser).__module__.endswith("simple_choosers"):
        res = _fast_walk(graph, config, str(kind), chooser.name, skip, batch_size)
        if on_item is not None:
            items: list[Chain | Rejection] = [*res.chains, *res.rejected]
            for item in sorted(items, key=_item_id):
                on_item(item)
        return res
    t0 = time.perf_counter()
    sp = _Space(graph, config)
    res = WalkResult(n_walks=config.n_walks)
    sentences = _FirstSentences(docstore)
    done: list[tuple[int, Chain | Rejection]] = []
    for i in range(config.n_walks):
        if chain_id(config.seed, i) in skip:
            continue
        gen = _walk_gen(sp, i, sentences)
        try:
            path, cands, rng = next(gen)
            while True:
                path, cands, rng = gen.send(chooser.choose(path, cands, rng))
        except StopIteration as stop:
            hops, reason = stop.value
        item = _finish(res, sp, i, chooser.name, hops, reason)
        if on_item is not None:
            on_item(item)
        done.append((i, item))
    res.seconds = time.perf_counter() - t0
    return _collect(res, done)


async def awalk(
    graph: Graph,
    config: WalkConfig,
    chooser: AsyncWalkChooser,
    docstore: Any = None,
    *,
    concurrency: int = 16,
    skip_ids: Iterable[str] = (),
    on_item: Callable[[Chain | Rejection], None] | None = None,
) -> WalkResult:
    """Run walks concurrently with an async chooser (an LLM); at most ``concurrency`` in flight.

    Results are identical whatever ``concurrency`` is: each walk has its own random stream and the
    returned lists are in chain-id order (``on_item`` sees completion order).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    t0 = time.perf_counter()
    sp = _Space(graph, config)
    res = WalkResult(n_walks=config.n_walks)
    sentences = _FirstSentences(docstore)
    skip = set(skip_ids)
    todo = [i for i in range(config.n_walks) if chain_id(config.seed, i) not in skip]
    done: list[tuple[int, Chain | Rejection]] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in todo:
        queue.put_nowait(i)

    async def one(i: int) -> None:
        gen = _walk_gen(sp, i, sentences)
        try:
            path, cands, rng = next(gen)
            while True:
                pick = await chooser.achoose(path, cands, rng)
                path, cands, rng = gen.send(pick)
        except StopIteration as stop:
            hops, reason = stop.value
        item = _finish(res, sp, i, chooser.name, hops, reason)
        if on_item is not None:
            on_item(item)
        done.append((i, item))

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(i)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(todo))))))
    res.seconds = time.perf_counter() - t0
    return _collect(res, done)


def _item_id(item: Chain | Rejection) -> str:
    return item.chain_id if isinstance(item, Chain) else item.item_id
