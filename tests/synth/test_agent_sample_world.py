"""The build's default path on the bundled sample world (Factbook): walks on the sample graph, questions from
the template writer, the default agent (the non-oracle clue solver, ``agent.kind=auto`` without an LLM),
then the tiers of its trajectories."""

from __future__ import annotations

import asyncio

import pytest

from longtracerl.records import Question
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent.collect import score_trajectory
from longtracerl.synth.distractors import (
    DISTRACTOR_STRATEGIES,
    build_tiers,
    get_distractor_strategy,
    mention_share,
)


@pytest.fixture(scope="module")
def factbook():  # type: ignore[no-untyped-def]
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.corpus.search import TantivySearch
    from longtracerl.graph.sample import load_sample_graph
    from longtracerl.graph.walk import WalkConfig, walk
    from longtracerl.synth.questions import TemplateQuestionWriter, ValidationConfig, write_one
    from longtracerl.synth.questions.clues import ClueContext

    world = ensure_sample_world(progress=False)
    store = DocStore.open(world.docstore_dir)
    search = TantivySearch.load(world.index_dir, store)
    g = load_sample_graph()
    ctx = ClueContext(store, g, search)
    writer = TemplateQuestionWriter(ctx)
    questions = []
    for c in walk(g, WalkConfig(n_walks=6, seed=11, min_hops=2, max_hops=2)).chains:
        res, _, _ = asyncio.run(write_one(c, store, writer, ValidationConfig(), clues=ctx))
        if isinstance(res, Question):
            questions.append(res)
    assert len(questions) >= 4
    return search, store, questions


@pytest.mark.slow  # ~30 s: six walks written and validated by the template writer, then solved
def test_default_agent_on_sample_world_gives_tiers(factbook, default_agent) -> None:  # type: ignore[no-untyped-def]
    search, store, questions = factbook
    agent = default_agent(search)
    scorer = get_outcome_scorer("contains")
    shares: dict[str, list[float]] = {n: [] for n in DISTRACTOR_STRATEGIES}
    solved = n_tier1 = n_tier2 = 0
    for q in questions:
        t = asyncio.run(score_trajectory(asyncio.run(agent.solve(q, 1)), q, scorer))
        if not t.correct:
            continue
        solved += 1
        assert t.cited_doc_ids[0] == q.gold_doc_ids[0] and t.cited_doc_ids[-1] == q.gold_doc_ids[-1]
        tiers = build_tiers(q, t, docstore=store)
        # Tier-1: pages the agent opened and did not cite; Tier-2: results it never opened; neither holds gold
        opened, results = set(t.opened_doc_ids), set(t.result_doc_ids)
        assert set(tiers.tier1) <= opened - set(t.cited_doc_ids) and set(tiers.tier2) <= results - opened
        assert not (set(tiers.tier1) | set(tiers.tier2)) & set(q.gold_doc_ids)
        n_tier1 += len(tiers.tier1)
        n_tier2 += len(tiers.tier2)
        for name in DISTRACTOR_STRATEGIES:
            ds = get_distractor_strategy(name)(q, t, docstore=store, search=search, seed=0, n=20)
            assert ds.candidates, name
            if name == "trajectory_tiered":
                assert ds.ids() == tiers.tier1 + tiers.tier2
            shares[name].append(mention_share([store.get(d).text for d in ds.ids()], q.gold_entities) or 0.0)
    assert solved >= 0.6 * len(questions), (solved, len(questions))
    assert n_tier1 > 0 and n_tier2 > 0
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    print("mention share", {k: round(v, 3) for k, v in mean.items()})
    assert mean["trajectory_tiered"] > mean["random"], mean
