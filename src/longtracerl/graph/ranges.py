"""Walks ``start..stop`` of a run: the unit a distributed executor hands to one worker.

Walk ``i`` draws only from its own seed (``walk_seed(seed, i)`` / the counter-based keys of the vectorised
engine), so walks ``start..stop`` here are exactly walks ``start..stop`` of one big run: any split of the
walk ids gives the same chains. This goes through ``walk``/``awalk`` unchanged (the ids outside the range are
skipped), so it follows whatever the walk algorithm does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, WalkResult, awalk, chain_id, walk
from longtracerl.records import Chain, Rejection


def _skips(config: WalkConfig, start: int, skip_ids: Iterable[str]) -> set[str]:
    return {chain_id(config.seed, i) for i in range(start)} | set(skip_ids)


def walk_range(graph: Graph, config: WalkConfig, chooser: Any, docstore: Any = None, *, start: int, stop: int,
               skip_ids: Iterable[str] = ()) -> tuple[list[Chain | Rejection], WalkResult]:
    """Chains and rejections of walks ``start..stop`` (minus ``skip_ids``), in walk order."""
    cfg = config.model_copy(update={"n_walks": min(stop, config.n_walks)})
    items: list[Chain | Rejection] = []
    res = walk(graph, cfg, chooser, docstore, skip_ids=_skips(config, start, skip_ids), on_item=items.append)
    return items, res


async def awalk_range(graph: Graph, config: WalkConfig, chooser: Any, docstore: Any = None, *, start: int,
                      stop: int, skip_ids: Iterable[str] = (),
                      concurrency: int = 16) -> tuple[list[Chain | Rejection], WalkResult]:
    """``walk_range`` for an async chooser (an LLM)."""
    cfg = config.model_copy(update={"n_walks": min(stop, config.n_walks)})
    items: list[Chain | Rejection] = []
    res = await awalk(graph, cfg, chooser, docstore, concurrency=concurrency,
                      skip_ids=_skips(config, start, skip_ids), on_item=items.append)
    return items, res
