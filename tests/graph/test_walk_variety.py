"""Walks that avoid hubs already used: repeats found over the whole walk file and walked again (hand-made graphs)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.chooser import Candidate
from longtracerl.graph.simple_choosers import UniformChooser
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.graph.walk_variety import VarietyLimits, adiversify, diversify, repeats
from longtracerl.records import Chain, Hop


def chain(i: int, *ids: str) -> Chain:
    return Chain(chain_id=f"chain-0-{i:06d}", seed=0, walk={"walk_index": i},
                 hops=[Hop(entity_id=e, title=e, doc_id=f"d{e}") for e in ids])


def test_repeats_names_each_kind_reading_in_chain_order() -> None:
    lim = VarietyLimits(max_per_hub=2, max_per_answer=1, same_tail_hops=3)
    cs = [chain(0, "a", "h", "x", "y"), chain(1, "b", "h", "x", "y"),  # same last 3: repeated_tail
          chain(2, "a", "h", "x", "y"),  # same path: duplicate_chain
          chain(3, "c", "h", "p", "q"),  # h is in chains 0 and 3 now: at the limit
          chain(4, "d", "h", "r", "s"),  # a third chain through h: hub_repeated
          chain(5, "e", "f", "g", "q")]  # q already ends chain 3: answer_repeated
    got = repeats(cs, lim)
    assert {k[-1]: v[0] for k, v in got.items()} == {"1": "repeated_tail", "2": "duplicate_chain",
                                                      "4": "hub_repeated", "5": "answer_repeated"}
    assert "chain-0-000000" in got["chain-0-000001"][1]
    # a chain over a hub limit still counts as walked: a later chain with its tail is a repeated tail
    cs.append(chain(6, "z", "h", "r", "s"))
    assert repeats(cs, lim)["chain-0-000006"][0] == "repeated_tail"
    # limits at 0 are off: only repeated paths and tails are left
    assert set(repeats(cs, VarietyLimits(max_per_hub=0, max_per_answer=0, same_tail_hops=3)).values()) == {
        ("repeated_tail", "its last 3 entities are those of chain-0-000000"),
        ("duplicate_chain", "same path as chain-0-000000"),
        ("repeated_tail", "its last 3 entities are those of chain-0-000004")}


def hub_world(out: Path, n: int = 12) -> Graph:
    """Seeds s0..s{n-1}, each linked to a hub H and to its own x_i; H leads to two pages, each to two more; x_i
    leads on through y_i to z_i or through v_i to w_i. Half the walks take H, but every seed has a way round it."""
    b = GraphBuilder()
    hub = b.entity("H", "Hub", "dH")
    outs = [b.entity(f"o{k}", f"Out {k}", f"do{k}") for k in range(2)]
    for o in outs:
        b.add_edge(hub, o, "r")
        for k in range(2):
            nxt = b.entity(f"o{o}-{k}", f"After {o} {k}", f"dao{o}{k}")
            b.add_edge(o, nxt, "r")
    for i in range(n):
        s = b.entity(f"s{i}", f"Seed {i}", f"ds{i}")
        x, y, z, v, w = (b.entity(f"{c}{i}", f"{c.upper()} {i}", f"d{c}{i}") for c in "xyzvw")
        b.add_edge(s, hub, "r")
        b.add_edge(s, x, "r")
        b.add_edge(x, y, "r")
        b.add_edge(y, z, "r")
        b.add_edge(x, v, "r")
        b.add_edge(v, w, "r")
    return b.build(out)


def middles(chains: list[Chain]) -> Counter[str]:
    return Counter(h.entity_id for c in chains for h in c.hops[1:-1])


class RecordingAsyncChooser:
    """A real async chooser (uniform), counting its calls: stands in for an LLM picking hops."""

    name = "async-uniform"

    def __init__(self) -> None:
        self.calls = 0

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        self.calls += 1
        await asyncio.sleep(0)
        return rng.randrange(len(candidates))


def test_rewalks_keep_off_used_hubs_from_their_own_seed(tmp_path: Path) -> None:
    g = hub_world(tmp_path / "g")
    cfg = WalkConfig(n_walks=12, min_hops=3, max_hops=3, jump_prob=0.0, max_candidates=8, min_seed_degree=2,
                     exclude_title_patterns=[r"^(Hub|Out|After|X|Y|Z|V|W) "], exclude_patterns_from_hops=False)
    before = walk(g, cfg).chains
    assert len(before) == 12 and middles(before)["H"] > 2  # without re-walks, the hub is in most chains
    lim = VarietyLimits(max_per_hub=2, max_per_answer=2, same_tail_hops=3)
    res = diversify(g, cfg, UniformChooser(), before, lim)
    assert [c.chain_id for c in res.chains] == [c.chain_id for c in before] and not res.rejected
    assert middles(res.chains)["H"] <= 2 and not repeats(res.chains, lim)
    old = {c.chain_id: c for c in before}
    redone = [c for c in res.chains if c.walk.get("rewalked")]
    assert redone and res.stats["rewalked"] == len(redone) and sum(res.stats["flagged"].values()) >= len(redone)
    for c in res.chains:  # each walk keeps its seed node and is a real walk over the graph's edges
        assert c.hops[0].entity_id == old[c.chain_id].hops[0].entity_id
        for a, b in zip(c.hops, c.hops[1:], strict=False):
            assert g.node_of(b.entity_id) in set(g.neighbors(g.node_of(a.entity_id)).tolist())
    # seeded: the same input gives the same chains
    assert diversify(g, cfg, UniformChooser(), before, lim).chains == res.chains
    # an async chooser (an LLM) is asked for re-walks too, and is deterministic as well
    chooser = RecordingAsyncChooser()
    a1 = asyncio.run(adiversify(g, cfg, chooser, before, lim))
    assert chooser.calls > 0 and middles(a1.chains)["H"] <= 2
    assert asyncio.run(adiversify(g, cfg, RecordingAsyncChooser(), before, lim)).chains == a1.chains


def test_what_cannot_be_walked_round_is_kept_or_rejected_by_name(tmp_path: Path) -> None:
    # one road only: s_i -> H -> o -> p. Every chain passes H; their tails (H, o, p) repeat.
    b = GraphBuilder()
    hub, o, p = b.entity("H", "Hub", "dH"), b.entity("o", "O", "do"), b.entity("p", "P", "dp")
    b.add_edge(hub, o, "r")
    b.add_edge(o, p, "r")
    for i in range(4):
        b.add_edge(b.entity(f"s{i}", f"Seed {i}", f"ds{i}"), hub, "r")
    g = b.build(tmp_path / "g")
    cfg = WalkConfig(n_walks=4, min_hops=3, max_hops=3, jump_prob=0.0, exclude_title_patterns=[r"^(Hub|O|P)$"],
                     exclude_patterns_from_hops=False)
    before = walk(g, cfg).chains
    assert len(before) == 4
    res = diversify(g, cfg, UniformChooser(), before, VarietyLimits(max_per_hub=1, same_tail_hops=3, rounds=2))
    assert [c.chain_id for c in res.chains] == [before[0].chain_id]  # the first walk of that road stays
    assert [(r.item_id, r.reason, r.stage) for r in res.rejected] == [
        (c.chain_id, "repeated_tail", "walk") for c in before[1:]]
    assert res.stats["left"] == {"repeated_tail": 3} and res.stats["rewalked"] == 0
    # with the tail rule off, the hub limit cannot be met either: the chains stay, the question stage decides
    kept = diversify(g, cfg, UniformChooser(), before, VarietyLimits(max_per_hub=1, same_tail_hops=0, rounds=2))
    assert kept.chains == before and not kept.rejected and kept.stats["left"] == {"hub_repeated": 3}
