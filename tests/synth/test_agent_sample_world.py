"""The pipeline's default path: chain-guided agent and tiers on the bundled sample world (Factbook)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from longtracerl.records import Chain, Hop, Question, WriterInfo
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent import ChainGuidedAgent
from longtracerl.synth.distractors import DISTRACTOR_STRATEGIES, get_distractor_strategy, mention_share


@pytest.fixture(scope="module")
def factbook():  # type: ignore[no-untyped-def]
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.corpus.search import TantivySearch

    world = ensure_sample_world(progress=False)
    store = DocStore.open(world.docstore_dir)
    search = TantivySearch.load(world.index_dir, store)
    triples = [json.loads(x) for x in Path(world.triples_path).read_text().splitlines() if x.strip()]
    border: dict[str, list[dict]] = {}
    capital: dict[str, str] = {}
    for t in triples:
        if t["relation"] == "shares a border with" and t["object_doc_id"]:
            border.setdefault(t["subject_doc_id"], []).append(t)
        elif t["relation"] == "capital":
            capital[t["subject_doc_id"]] = t["object"]
    questions, chains = [], {}
    for a in sorted(border)[::23][:8]:  # 3-hop chains A -> B -> C, C has a capital
        ab = border[a][0]
        bc = next(
            (
                t
                for t in border.get(ab["object_doc_id"], [])
                if t["object_doc_id"] not in (a,) and t["object_doc_id"] in capital
            ),
            None,
        )
        if bc is None:
            continue
        hops = [
            Hop(entity_id=a, title=ab["subject"], doc_id=a),
            Hop(
                entity_id=ab["object_doc_id"],
                title=ab["object"],
                doc_id=ab["object_doc_id"],
                relation=ab["relation"],
            ),
            Hop(
                entity_id=bc["object_doc_id"],
                title=bc["object"],
                doc_id=bc["object_doc_id"],
                relation=bc["relation"],
            ),
        ]
        cid = f"c-{a}"
        chains[cid] = Chain(chain_id=cid, hops=hops, seed=0)
        questions.append(
            Question(
                question_id=f"q-{a}",
                chain_id=cid,
                question=f"Start at a country next to {ab['object']}; cross into another neighbour. What is its capital?",
                answer=capital[bc["object_doc_id"]],
                gold_entities=[h.title for h in hops],
                gold_doc_ids=[h.doc_id for h in hops if h.doc_id],
                writer=WriterInfo(backend="test"),
            )
        )
    assert len(questions) >= 5
    return search, store, questions, chains


def test_chain_guided_on_sample_world_gives_tiers(factbook) -> None:  # type: ignore[no-untyped-def]
    search, store, questions, chains = factbook
    agent = ChainGuidedAgent(search, chains.get, seed=0)
    scorer = get_outcome_scorer("contains")
    shares: dict[str, list[float]] = {n: [] for n in DISTRACTOR_STRATEGIES}
    n_tier1 = 0
    for q in questions:
        t = asyncio.run(agent.solve(q, 1))
        assert asyncio.run(scorer.score(t.final_answer, q.answer)).correct
        assert t.cited_doc_ids == q.gold_doc_ids
        for name in DISTRACTOR_STRATEGIES:
            ds = get_distractor_strategy(name)(q, t, docstore=store, search=search, seed=0, n=20)
            assert ds.candidates, name
            n_tier1 += len(ds.ids("tier1")) if name == "trajectory_tiered" else 0
            shares[name].append(mention_share([store.get(d).text for d in ds.ids()], q.gold_entities) or 0.0)
    assert n_tier1 > 0
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    print("mention share", {k: round(v, 3) for k, v in mean.items()})
    assert mean["trajectory_tiered"] > mean["random"], mean
