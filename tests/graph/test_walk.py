"""Random walks: determinism, concurrency independence, walk rules, choosers, failures, resumable output."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import numpy as np
import pytest

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.chooser import AsyncWalkChooser, Candidate, WalkChooser
from longtracerl.graph.simple_choosers import DegreeWeightedChooser, UniformChooser
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import (
    DEFAULT_EXCLUDE_TITLE_PATTERNS,
    ChooserError,
    NoSeedError,
    WalkConfig,
    WalkResult,
    awalk,
    walk,
    walk_arrays,
)
from longtracerl.graph.write import arun_walks, run_walks
from longtracerl.records import Chain, Document, Hop

EXCLUDED = re.compile("|".join(DEFAULT_EXCLUDE_TITLE_PATTERNS))


class RecordingChooser:
    """A real sync chooser: uniform pick, remembering every candidate list it was offered."""

    name = "recording"

    def __init__(self) -> None:
        self.offers: list[tuple[list[Hop], list[Candidate]]] = []

    def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        self.offers.append((path, candidates))
        return rng.randrange(len(candidates))


class SlowAsyncChooser:
    """A real async chooser: waits a random moment (so walks finish out of order), then picks by rng."""

    name = "slow-async"

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        await asyncio.sleep(random.random() * 0.002)  # global random: completion order varies run to run
        return rng.randrange(len(candidates))


def dump(res: WalkResult) -> list[str]:
    return [c.model_dump_json() for c in res.chains] + [r.model_dump_json() for r in res.rejected]


def check_chain(g: Graph, chain: Chain, cfg: WalkConfig) -> None:
    hops = chain.hops
    assert cfg.min_hops + 1 <= len(hops) <= cfg.max_hops + 1
    nodes = [g.node_of(h.entity_id) for h in hops]
    assert len(set(nodes)) == len(nodes), "revisit"
    assert all(h.doc_id is not None and h.doc_id == g.doc_ids[n] for h, n in zip(hops, nodes, strict=True))
    assert hops[0].relation is None and not hops[0].jumped
    assert not EXCLUDED.search(hops[0].title)
    for prev, h, n in zip(nodes, hops[1:], nodes[1:], strict=False):
        if h.jumped:
            assert h.relation is None
            continue
        rels = {g.relation_name(int(r)) for v, r in zip(g.neighbors(prev), g.neighbor_relations(prev), strict=True) if v == n}
        assert h.relation in rels, f"{h.title!r} is not a neighbour of node {prev} via {h.relation!r}"


@pytest.mark.parametrize("chooser", [UniformChooser(), DegreeWeightedChooser(), RecordingChooser()], ids=lambda c: c.name)
def test_walk_rules_and_determinism(world: Graph, chooser: WalkChooser) -> None:
    cfg = WalkConfig(n_walks=200, seed=5, min_hops=3, max_hops=8, jump_prob=0.2)
    a = walk(world, cfg, chooser)
    assert a.n_chains > 100
    assert a.n_chains + sum(a.failures.values()) == 200
    for c in a.chains:
        check_chain(world, c, cfg)
        assert not any(EXCLUDED.search(h.title) for h in c.hops)  # excluded from hops too, by default
        assert c.walk["chooser"] == chooser.name and c.walk["max_hops"] == 8 and c.seed == 5
    assert any(h.jumped for c in a.chains for h in c.hops)
    b = walk(world, cfg, chooser)
    assert dump(a) == dump(b)
    other = walk(world, cfg.model_copy(update={"seed": 6}), chooser)
    assert dump(other) != dump(a)
    # walk i is "chain-<seed>-<i>", kept or rejected: every walk once, in walk order within each file
    kept, rejected = [c.chain_id for c in a.chains], [r.item_id for r in a.rejected]
    assert sorted(kept + rejected) == [f"chain-5-{i:06d}" for i in range(200)]
    assert kept == sorted(kept) and rejected == sorted(rejected)


@pytest.mark.parametrize("kind", ["uniform", "degree"])
def test_vectorised_walks_do_not_depend_on_batching(world: Graph, kind: str) -> None:
    cfg = WalkConfig(n_walks=500, seed=1, min_hops=0, jump_prob=0.1)
    whole = walk_arrays(world, cfg, kind)
    tiny = walk_arrays(world, cfg, kind, batch_size=7)
    tail = walk_arrays(world, cfg, kind, start=123, stop=500)  # walk i is walk i wherever it runs
    for x, y, z in zip(whole, tiny, tail, strict=True):
        assert np.array_equal(x, y)
        assert np.array_equal(x[123:], z)


def test_async_chooser_is_independent_of_concurrency(world: Graph) -> None:
    cfg = WalkConfig(n_walks=60, seed=9, min_hops=2, max_hops=6, jump_prob=0.1)
    one = asyncio.run(awalk(world, cfg, SlowAsyncChooser(), concurrency=1))
    many = asyncio.run(awalk(world, cfg, SlowAsyncChooser(), concurrency=16))
    assert dump(one) == dump(many)
    # the sync per-walk engine with the same picking rule walks exactly the same chains
    sync = walk(world, cfg, RecordingChooser())
    assert [c.hops for c in sync.chains] == [c.hops for c in one.chains]
    assert isinstance(SlowAsyncChooser(), AsyncWalkChooser)
    for c in many.chains:
        check_chain(world, c, cfg)


def test_candidate_cap_and_candidates_are_valid(world: Graph) -> None:
    rec = RecordingChooser()
    cfg = WalkConfig(n_walks=150, seed=2, min_hops=0, max_candidates=3, jump_prob=0.0)
    walk(world, cfg, rec)
    assert rec.offers
    capped = 0
    for path, cands in rec.offers:
        assert 2 <= len(cands) <= 3  # a single candidate is taken without asking
        on_path = {h.entity_id for h in path}
        cur = world.node_of(path[-1].entity_id)
        valid = {world.entity_ids[int(v)] for v in world.neighbors(cur)
                 if world.has_doc[v] and not EXCLUDED.search(world.titles[v])} - on_path  # fmt: skip
        ids = [c.entity_id for c in cands]
        assert len(set(ids)) == len(ids) and set(ids) <= valid
        assert all(c.degree == world.degree(world.node_of(c.entity_id)) for c in cands)
        capped += len(valid) > 3
        if len(valid) > 3:
            assert len(cands) == 3
    assert capped > 10


def test_uniform_and_degree_choosers_follow_their_distributions(tmp_path: Path) -> None:
    # a hub linked to 4 leaves; leaf i has i extra out-edges (to its own sinks)
    b = GraphBuilder()
    hub = b.entity("H", "Hub", "dH")
    for i in range(1, 5):
        leaf = b.entity(f"L{i}", f"Leaf {i}", f"dL{i}")
        b.add_edge(hub, leaf, "r")
        for k in range(i * 3):
            b.add_edge(leaf, b.entity(f"S{i}-{k}", f"Sink {i} {k}", f"dS{i}-{k}"), "r")
    g = b.build(tmp_path / "g")
    cfg = WalkConfig(n_walks=4000, seed=0, min_hops=1, max_hops=1, jump_prob=0.0,
                     min_seed_degree=4, max_seed_degree=4, max_candidates=5)  # fmt: skip
    for chooser, expect in [(UniformChooser(), [0.25] * 4), (DegreeWeightedChooser(), [3 / 30, 6 / 30, 9 / 30, 12 / 30])]:
        res = walk(g, cfg, chooser)
        assert {c.hops[0].title for c in res.chains} == {"Hub"}
        picks = [c.hops[1].title for c in res.chains]
        share = [picks.count(f"Leaf {i}") / len(picks) for i in range(1, 5)]
        assert np.allclose(share, expect, atol=0.03), (chooser.name, share)


def test_jump_probability_zero_and_one(world: Graph) -> None:
    base = dict(n_walks=100, seed=3, min_hops=4, max_hops=6)
    for chooser in (UniformChooser(), RecordingChooser()):
        never = walk(world, WalkConfig(**base, jump_prob=0.0), chooser)
        assert never.n_chains > 50 and not any(h.jumped for c in never.chains for h in c.hops)
        always = walk(world, WalkConfig(**base, jump_prob=1.0), chooser)
        assert always.n_chains == 100  # a jump never dead-ends on this graph
        for c in always.chains:
            check_chain(world, c, WalkConfig(**base))
            assert all(h.jumped and h.relation is None for h in c.hops[1:]) and len(c.hops) == 7


def test_seed_filters(world: Graph) -> None:
    cfg = WalkConfig(n_walks=300, seed=4, min_hops=0, max_hops=1, jump_prob=0.0, exclude_patterns_from_hops=False)
    res = walk(world, cfg)
    seeds = {c.hops[0].title for c in res.chains}
    assert seeds and not any(EXCLUDED.search(t) for t in seeds)
    assert any(EXCLUDED.search(c.hops[1].title) for c in res.chains if len(c.hops) > 1)  # allowed as hops here
    deg = world.out_degree
    bounded = walk(world, cfg.model_copy(update={"min_seed_degree": 12, "max_seed_degree": 14}))
    assert bounded.chains and all(12 <= deg[world.node_of(c.hops[0].entity_id)] <= 14 for c in bounded.chains)
    no_lists = WalkConfig(n_walks=50, exclude_title_patterns=[r"^Entity"], min_hops=0)
    own = walk(world, no_lists).chains  # the default lists are replaced: list and year pages may seed now
    assert own and all(not c.hops[0].title.startswith("Entity") for c in own)
    assert any(EXCLUDED.search(c.hops[0].title) for c in own)
    with pytest.raises(NoSeedError, match="no seed node"):
        walk(world, cfg.model_copy(update={"min_seed_degree": 10_000}))
    with pytest.raises(ValueError, match="bad regex"):
        WalkConfig(exclude_title_patterns=["("])
    with pytest.raises(ValueError, match="min_hops"):
        WalkConfig(min_hops=9, max_hops=8)


def test_walks_that_cannot_reach_min_length_are_counted(tmp_path: Path) -> None:
    # a path a-b-c (undirected) plus a doc-less d hanging off c: no walk can make 3 moves
    b = GraphBuilder()
    a, bb, c = (b.entity(x, x.upper(), f"d{x}") for x in "abc")
    d = b.entity("d", "D")
    b.add_edge(a, bb, "r", undirected=True)
    b.add_edge(bb, c, "r", undirected=True)
    b.add_edge(c, d, "r", undirected=True)
    g = b.build(tmp_path / "g")
    for chooser in (UniformChooser(), RecordingChooser()):
        res = walk(g, WalkConfig(n_walks=40, min_hops=3, max_hops=8, jump_prob=0.0), chooser)
        assert res.n_chains == 0 and res.failures == {"dead_end": 40}
        assert len(res.rejected) == 40 and res.rejected[0].stage == "walk"
        assert "no unvisited neighbour with a document" in res.rejected[0].detail
        ok = walk(g, WalkConfig(n_walks=40, min_hops=1, max_hops=8, jump_prob=0.0), chooser)
        assert ok.n_chains == 40 and all(len(x.hops) in (2, 3) for x in ok.chains)
        assert not any(h.title == "D" for x in ok.chains for h in x.hops)
    # jumping out of dead ends rescues them (a second component gives jumps somewhere to go)
    e, f = b.entity("e", "E", "de"), b.entity("f", "F", "df")
    b.add_edge(e, f, "r", undirected=True)
    g = b.build(tmp_path / "g2")
    rescued = walk(g, WalkConfig(n_walks=40, min_hops=2, max_hops=2, jump_prob=0.0, jump_on_dead_end=True))
    assert rescued.n_chains == 40


def test_bad_chooser_answer_is_an_error(world: Graph) -> None:
    class Bad:
        name = "bad"

        def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
            return len(candidates)

    with pytest.raises(ChooserError, match="expected an index in 0.."):
        walk(world, WalkConfig(n_walks=5, min_hops=0), Bad())


def test_first_sentence_comes_from_the_docstore(world: Graph, tmp_path: Path) -> None:
    from longtracerl.corpus.docstore import DocStore, build_docstore

    docs = [Document(doc_id=d, title=t, text=f"About {t}. More text follows here.")
            for d, t in zip(world.doc_ids, world.titles, strict=True) if d is not None]  # fmt: skip
    build_docstore(tmp_path / "ds", docs)
    rec = RecordingChooser()
    walk(world, WalkConfig(n_walks=20, min_hops=0, jump_prob=0.0), rec, docstore=DocStore.open(tmp_path / "ds"))
    cands = [c for _, cs in rec.offers for c in cs]
    assert cands and all(c.first_sentence == f"About {c.title}." for c in cands)
    rec2 = RecordingChooser()
    walk(world, WalkConfig(n_walks=20, min_hops=0, jump_prob=0.0), rec2)
    assert rec2.offers and all(c.first_sentence == "" for _, cs in rec2.offers for c in cs)


def test_run_walks_resumes_to_identical_files(world_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(tmp_path / "sparse", m=500)
    # without backtracking, so that some walks fail and the rejections file is resumed too
    cfg = WalkConfig(n_walks=80, seed=11, min_hops=5, max_hops=8, backtrack=False, reachable_seeds=False)
    full, full_rej = tmp_path / "full.jsonl", tmp_path / "full.rej.jsonl"
    s = run_walks(world, cfg, UniformChooser(), full, rejected_path=full_rej)
    assert s["written"] > 0 and s["failed"] > 0 and s["written"] + s["failed"] == 80
    part, part_rej = tmp_path / "part.jsonl", tmp_path / "part.rej.jsonl"
    run_walks(world, cfg.model_copy(update={"n_walks": 30}), UniformChooser(), part, rejected_path=part_rej)
    with part.open("a") as f:
        f.write('{"chain_id": "chain-11-0000')  # a run killed mid-line
    again = run_walks(world, cfg, UniformChooser(), part, rejected_path=part_rej)
    assert again["skipped"] == 30 and again["written"] == s["written"] - len(
        [1 for line in part.read_text().splitlines() if '"chain-11-00000' in line or '"chain-11-00001' in line
         or '"chain-11-00002' in line])  # fmt: skip
    assert part.read_bytes() == full.read_bytes()
    again2 = run_walks(world, cfg, UniformChooser(), part, rejected_path=part_rej)
    assert again2["written"] == 0 and part.read_bytes() == full.read_bytes()
    # the async runner writes the same bytes for the same picking rule, whatever the completion order
    a_out = tmp_path / "async.jsonl"
    sync_out = tmp_path / "sync.jsonl"
    cfg2 = cfg.model_copy(update={"n_walks": 40})
    asyncio.run(arun_walks(world, cfg2, SlowAsyncChooser(), a_out, concurrency=8))
    run_walks(world, cfg2, RecordingChooser(), sync_out)
    norm = [line.replace('"slow-async"', '"recording"') for line in a_out.read_text().splitlines()]
    assert norm == sync_out.read_text().splitlines()


def test_edgeless_graph_walks_only_by_jumping(tmp_path: Path) -> None:
    b = GraphBuilder()
    for i in range(20):
        b.entity(f"Q{i}", f"Island {i}", f"d{i}")
    g = b.build(tmp_path / "g")
    assert g.n_edges == 0
    cfg = WalkConfig(n_walks=10, min_seed_degree=0, min_hops=0, max_hops=3, jump_prob=0.0)
    for chooser in (UniformChooser(), DegreeWeightedChooser(), RecordingChooser()):
        still = walk(g, cfg, chooser)
        assert still.n_chains == 10 and all(len(c.hops) == 1 for c in still.chains)
        jumping = walk(g, cfg.model_copy(update={"jump_prob": 1.0}), chooser)
        assert jumping.n_chains == 10 and all(len(c.hops) == 4 and all(h.jumped for h in c.hops[1:]) for c in jumping.chains)


def test_parallel_edges_are_one_neighbour_with_the_informative_label(tmp_path: Path) -> None:
    b = GraphBuilder()
    hub = b.entity("H", "Hub", "dH")
    leaves = [b.entity(f"L{i}", f"Leaf {i}", f"dL{i}") for i in range(4)]
    b.add_edge(hub, leaves[0], "mentions")  # registered first, but a fact outranks a mention
    for i, leaf in enumerate(leaves):
        b.add_edge(hub, leaf, f"fact {i}")
    for k in range(5):  # many parallel labels to leaf 0 must not make it likelier
        b.add_edge(hub, leaves[0], f"extra {k}")
    for leaf in leaves:
        b.add_edge(leaf, hub, None)
    g = b.build(tmp_path / "g")
    assert g.meta["multi_edges"] is True
    cfg = WalkConfig(n_walks=4000, min_hops=1, max_hops=1, jump_prob=0.0, min_seed_degree=4)
    for chooser in (UniformChooser(), RecordingChooser()):
        res = walk(g, cfg, chooser)
        picks = [c.hops[1].title for c in res.chains]
        share = [picks.count(f"Leaf {i}") / len(picks) for i in range(4)]
        assert np.allclose(share, 0.25, atol=0.03), (chooser.name, share)
        labels = {c.hops[1].title: c.hops[1].relation for c in res.chains}
        assert labels == {f"Leaf {i}": f"fact {i}" for i in range(4)}


def test_symmetric_facts_keep_their_stated_label(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv"
    p.write_text("A\tborders\tB\nB\tborders\tA\nA\tcapital\tC\n")
    b = GraphBuilder()
    b.add_triples(p)
    g = b.build()
    def rels(x: str, y: str) -> set[str | None]:
        u, v = g.node_by_title(x), g.node_by_title(y)
        return {g.relation_name(int(r)) for w, r in zip(g.neighbors(u), g.neighbor_relations(u), strict=True) if w == v}  # type: ignore[arg-type]
    assert rels("A", "B") == {"borders"} and rels("B", "A") == {"borders"}
    assert rels("C", "A") == {"capital (inverse)"}
    assert g.meta["counts"]["redundant_inverse_edges_dropped"] == 2


def test_distinct_seeds_repeat_only_after_the_whole_pool(world: Graph) -> None:
    """Walk i starts at node i of a seeded shuffle of the seed pool: no seed repeats within one pool's worth,
    the same in the vectorised and the per-walk path, and the same whatever the split of walk ids."""
    from longtracerl.graph.walk_space import _Space

    cfg = WalkConfig(n_walks=10, seed=3, min_hops=1, max_hops=1, jump_prob=0.0, backtrack=False)
    n_pool = len(_Space(world, cfg).pool)
    cfg = cfg.model_copy(update={"n_walks": n_pool})
    seeds = [c.hops[0].entity_id for c in walk(world, cfg).chains]
    assert len(seeds) == len(set(seeds)) > 1
    class Custom(WalkChooser):  # a chooser outside simple_choosers takes the per-walk engine
        name = "custom"

        def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
            return 0

    per_walk = [c.hops[0].entity_id for c in walk(world, cfg, Custom()).chains]
    assert per_walk == seeds
    random_seeds = [c.hops[0].entity_id for c in walk(world, cfg.model_copy(update={"distinct_seeds": False})).chains]
    assert n_pool >= 4 and len(set(random_seeds)) < len(set(seeds))
