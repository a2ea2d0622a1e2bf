"""Run walks into JSONL files, resumably: chains to ``out``, failed walks to ``rejected_path``.

Both files are appended with ``JsonlAppender``; a rerun skips every chain id already in either file
(a walk is deterministic, so a failed walk would fail again). At the end the chains file is rewritten
in chain-id order, so an interrupted-and-resumed run gives the same bytes as an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longtracerl.graph.chooser import AsyncWalkChooser, WalkChooser
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, WalkResult, awalk, chain_id, walk
from longtracerl.io import JsonlAppender, rewrite_in_order
from longtracerl.records import Chain, Rejection


def _summary(res: WalkResult, written: int, skipped: int) -> dict[str, Any]:
    return {
        "written": written,
        "skipped": skipped,
        "failed": sum(res.failures.values()),
        "failures": dict(res.failures),
        "moves": res.n_moves,
        "seconds": res.seconds,
        "hops_per_s": res.n_moves / res.seconds if res.seconds > 0 else 0.0,
    }


class _Sink:
    def __init__(self, out: Path | str, rejected_path: Path | str | None) -> None:
        self.chains = JsonlAppender(out, "chain_id")
        self.rejected = JsonlAppender(rejected_path, "item_id") if rejected_path is not None else None
        self.done = set(self.chains.seen) | (set(self.rejected.seen) if self.rejected else set())
        self.written = 0

    def __call__(self, item: Chain | Rejection) -> None:
        if isinstance(item, Chain):
            self.written += self.chains.write(item)
        elif self.rejected is not None:
            self.rejected.write(item)

    def close(self, config: WalkConfig) -> None:
        self.chains.close()
        if self.rejected is not None:
            self.rejected.close()
        order = [chain_id(config.seed, i) for i in range(config.n_walks)]
        rewrite_in_order(self.chains.path, "chain_id", order)


def run_walks(
    graph: Graph,
    config: WalkConfig,
    chooser: WalkChooser,
    out: Path | str,
    *,
    rejected_path: Path | str | None = None,
    docstore: Any = None,
) -> dict[str, Any]:
    """Walk and write; returns counts (written, skipped, failed by reason, moves per second)."""
    sink = _Sink(out, rejected_path)
    try:
        res = walk(graph, config, chooser, docstore, skip_ids=sink.done, on_item=sink)
    finally:
        sink.close(config)
    return _summary(res, sink.written, len(sink.done))


async def arun_walks(
    graph: Graph,
    config: WalkConfig,
    chooser: AsyncWalkChooser,
    out: Path | str,
    *,
    rejected_path: Path | str | None = None,
    docstore: Any = None,
    concurrency: int = 16,
) -> dict[str, Any]:
    """``run_walks`` for an async chooser (LLM): each chain is written as soon as it is finished."""
    sink = _Sink(out, rejected_path)
    try:
        res = await awalk(graph, config, chooser, docstore, concurrency=concurrency, skip_ids=sink.done, on_item=sink)
    finally:
        sink.close(config)
    return _summary(res, sink.written, len(sink.done))
