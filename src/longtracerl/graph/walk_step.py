"""The per-walk engine: any chooser (``WalkChooser`` or ``AsyncWalkChooser``, e.g. an LLM), one walk at a time.

Walk ``i`` draws from its own ``random.Random(walk_seed(seed, i))``; ``awalk`` runs many concurrently.
A chooser is not asked when there is a single candidate.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

import numpy as np

from longtracerl.graph.chooser import AsyncWalkChooser, Candidate
from longtracerl.graph.store import Graph
from longtracerl.graph.walk_space import (
    JUMP_ATTEMPTS,
    REASON_DEAD_END,
    Avoid,
    ChooserError,
    WalkConfig,
    WalkResult,
    _backtracked,
    _hop,
    _rejection,
    _Space,
    _walk_settings,
    chain_id,
    walk_seed,
)
from longtracerl.records import Chain, Hop, Rejection

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
    sp: _Space, i: int, sentences: _FirstSentences, *, avoid: Avoid | None = None,
    rng: random.Random | None = None, start: int | None = None,
) -> Generator[_Request, int, tuple[list[Hop], str | None]]:
    """One walk; yields each choice to make and receives the picked index.

    A re-walk (``walk_variety``) passes its own ``rng``, the original walk's ``start`` node and the pages to
    ``avoid``: those are never offered (nor jumped to), as if they were not in the graph."""
    g, cfg = sp.g, sp.cfg
    rng = rng or random.Random(walk_seed(cfg.seed, i))
    pool = sp.pool
    node = int(pool[rng.randrange(len(pool))])  # drawn in both modes, so later draws do not depend on the mode
    if cfg.distinct_seeds:
        node = int(sp.seed_order[i % len(pool)])
    if start is not None:
        node = start
    nodes = [node]
    hops = [_hop(g, node, -1, False)]
    for _ in range(cfg.max_hops):
        s, e = int(sp.indptr[node]), int(sp.indptr[node + 1])
        row = sp.indices[s:e]
        ok = sp.allowed[row].copy()
        if cfg.no_revisit:
            ok &= ~np.isin(row, nodes)
        pos = np.flatnonzero(ok)
        if avoid is not None and len(pos):
            pos = pos[[not avoid.blocks(nodes, int(v), cfg.max_hops) for v in row[pos]]]
        if sp.multi and len(pos):
            _, first = np.unique(row[pos], return_index=True)
            pos = pos[np.sort(first)]
        jump = cfg.jump_prob > 0 and rng.random() < cfg.jump_prob
        if not jump and len(pos) == 0 and cfg.jump_on_dead_end:
            jump = True
        if jump:
            for _attempt in range(JUMP_ATTEMPTS):
                tgt = int(pool[rng.randrange(len(pool))])
                if (not cfg.no_revisit or tgt not in nodes) and not (avoid and avoid.blocks(nodes, tgt, cfg.max_hops)):
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


async def adrive(gen: Generator[_Request, int, tuple[list[Hop], str | None]],
                 chooser: Any) -> tuple[list[Hop], str | None]:
    """Run one walk generator to its end, asking ``chooser`` (``achoose`` if it has one, else ``choose``) for
    each pick; returns the walk's hops and why it stopped (None: it made all its moves)."""
    try:
        path, cands, rng = next(gen)
        while True:
            pick = (await chooser.achoose(path, cands, rng) if hasattr(chooser, "achoose")
                    else chooser.choose(path, cands, rng))
            path, cands, rng = gen.send(pick)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


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
        hops, reason = await adrive(_walk_gen(sp, i, sentences), chooser)
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
