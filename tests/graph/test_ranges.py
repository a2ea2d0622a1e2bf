"""Walks split into id ranges (how the Ray executor distributes the walk stage) give the chains of one run."""

from __future__ import annotations

import asyncio
import random

import pytest

from longtracerl.graph.chooser import Candidate
from longtracerl.graph.ranges import awalk_range, walk_range
from longtracerl.graph.simple_choosers import DegreeWeightedChooser, UniformChooser
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, awalk, chain_id, walk
from longtracerl.records import Chain, Hop


class PerWalkChooser:
    """A real chooser outside the built-ins, so the per-walk engine runs (as for an LLM)."""

    name = "per-walk"

    def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        return rng.randrange(len(candidates))

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        await asyncio.sleep(0)
        return rng.randrange(len(candidates))


def _ids(items: list) -> list[str]:  # type: ignore[type-arg]
    return [i.model_dump_json() for i in items]


@pytest.mark.parametrize("chooser", [UniformChooser(), DegreeWeightedChooser(), PerWalkChooser()],
                         ids=lambda c: c.name)
def test_any_split_of_walk_ids_gives_the_same_chains(world: Graph, chooser: object) -> None:
    cfg = WalkConfig(n_walks=90, seed=3, min_hops=3, max_hops=6, jump_prob=0.1)
    whole: list[Chain | object] = []
    walk(world, cfg, chooser, on_item=whole.append)  # type: ignore[arg-type]
    assert len(whole) == 90  # every walk id gives a chain or a rejection
    for cuts in ([0, 90], [0, 7, 50, 90], [0, 1, 2, 89, 90]):
        parts = []
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            items, _ = walk_range(world, cfg, chooser, start=lo, stop=hi)
            assert {getattr(i, "chain_id", getattr(i, "item_id", "")) for i in items} <= {
                chain_id(3, k) for k in range(lo, hi)}
            parts += items
        assert sorted(_ids(parts)) == sorted(_ids(whole))
    # skipping ids already done (resume) leaves the others unchanged
    items, _ = walk_range(world, cfg, chooser, start=10, stop=20, skip_ids=[chain_id(3, 12)])
    assert len(items) == 9 and chain_id(3, 12) not in {getattr(i, "chain_id", "") for i in items}


def test_async_ranges_equal_one_async_run(world: Graph) -> None:
    cfg = WalkConfig(n_walks=40, seed=4, min_hops=2, max_hops=5)
    whole = asyncio.run(awalk(world, cfg, PerWalkChooser()))
    a, _ = asyncio.run(awalk_range(world, cfg, PerWalkChooser(), start=0, stop=15))
    b, _ = asyncio.run(awalk_range(world, cfg, PerWalkChooser(), start=15, stop=40))
    assert len(a) == 15 and len(b) == 25 and whole.n_chains > 20
    assert sorted(_ids(a + b)) == sorted(_ids([*whole.chains, *whole.rejected]))
