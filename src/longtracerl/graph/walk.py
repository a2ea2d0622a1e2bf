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

import time
from collections.abc import Callable, Iterable
from typing import Any

from longtracerl.graph.chooser import WalkChooser
from longtracerl.graph.store import Graph
from longtracerl.graph.walk_space import (
    DEFAULT_EXCLUDE_TITLE_PATTERNS,
    REASON_DEAD_END,
    ChooserError,
    NoSeedError,
    WalkConfig,
    WalkResult,
    _Space,
    chain_id,
    excluded_titles,
    walk_seed,
)
from longtracerl.graph.walk_step import _collect, _finish, _FirstSentences, _walk_gen, awalk
from longtracerl.graph.walk_vector import _fast_walk, walk_arrays, walk_base
from longtracerl.records import Chain, Rejection

__all__ = [
    "DEFAULT_EXCLUDE_TITLE_PATTERNS",
    "REASON_DEAD_END",
    "ChooserError",
    "NoSeedError",
    "WalkConfig",
    "WalkResult",
    "awalk",
    "chain_id",
    "excluded_titles",
    "walk",
    "walk_arrays",
    "walk_base",
    "walk_seed",
]


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


def _item_id(item: Chain | Rejection) -> str:
    return item.chain_id if isinstance(item, Chain) else item.item_id
