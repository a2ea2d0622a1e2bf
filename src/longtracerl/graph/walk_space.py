"""What every walk engine shares: the walk's settings, its result, its ids and seeds, and the walk space.

The walk space (``_Space``) holds the arrays a walk needs, computed once per (graph, config): which nodes
may be hops and the seed pool. The engines are ``walk_vector`` (built-in choosers, all walks of a batch in
lockstep), ``walk_step`` (one walk at a time, any chooser, sync or async) and ``walk_repair`` (backtracking
for walks that stopped short). ``graph.walk`` is the public entry.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from longtracerl.graph.mentions import COMMON_MENTION_RELATION
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
JUMP_ATTEMPTS = 8  # a jump whose draws all hit visited nodes is not taken (tiny seed pools only)
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
    skip_relations: list[str] = Field(
        default_factory=lambda: [COMMON_MENTION_RELATION, COMMON_MENTION_RELATION + " (inverse)"],
        description="edges with these labels are never walked: a page reached only through them is not a hop "
        "(default: mentions of common-word titles, kept by `--common-words keep`)")
    seed_common_words: bool = Field(False, description="common-word pages (the graph's mention_common_words: "
                                    "City, River, Second) may seed a walk or be a jump's target")
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


@dataclass(frozen=True)
class Avoid:
    """Pages a re-walk stays off (``walk_variety``): ``middle`` nodes may not be a middle hop, ``last`` nodes not
    the answer, and the walk may not end on a ``tails`` tuple (its last ``len`` nodes) another chain ends on."""

    middle: frozenset[int] = frozenset()
    last: frozenset[int] = frozenset()
    tails: frozenset[tuple[int, ...]] = frozenset()

    def blocks(self, nodes: list[int], v: int, max_hops: int) -> bool:
        """Would moving from ``nodes`` to ``v`` break the rule? The move is the last when it makes ``max_hops``."""
        if len(nodes) < max_hops:
            return v in self.middle
        if v in self.last:
            return True
        path = (*nodes, v)
        return any(path[-len(t):] == t for t in self.tails if len(t) <= len(path))


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
        skip = [i for i, r in enumerate(g.relations) if r in set(cfg.skip_relations)]
        if skip and len(self.rel):  # a CSR copy without those edges (only when the graph has any)
            keep = ~np.isin(self.rel, skip)
            if not keep.all():
                kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
                self.indptr = kept[self.indptr]
                self.indices, self.rel = self.indices[keep], self.rel[keep]
                self.deg = np.diff(self.indptr)
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
        words = g.meta.get("mention_common_words") if not cfg.seed_common_words else None
        if words:  # a generic concept page neither starts a walk nor receives a jump
            seeds[[n for n in (g.node_by_title(t) for t in words) if n is not None]] = False
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
