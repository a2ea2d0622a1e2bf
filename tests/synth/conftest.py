"""A small real world for agent and distractor tests: 2WikiMultihopQA-layout pages behind the project's engine.

Built once per session in a temp dir, twice: from the hand-made files of tests/data/2wiki_handmade (runs in
any clone) and from ../shared/data (skips where absent): the paragraphs of a few dev questions' contexts plus
the first corpus paragraphs, in a real DocStore with a real tantivy BM25 index (``longtracerl.corpus``).
Chains come from the records' supporting facts and evidences.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.search import TantivySearch, build_index
from longtracerl.records import Chain, Document, Hop, Question, WriterInfo

N_QUESTIONS = 12
N_CORPUS = 1500


@dataclass
class WikiWorld:
    name: str  # "handmade" | "2wiki"
    search: Any
    docstore: Any
    questions: list[Question]
    chains: dict[str, Chain]
    title_to_id: dict[str, str] = field(default_factory=dict)


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:80] or "doc"


@pytest.fixture(scope="session")
def wiki_world(two_wiki: Any, tmp_path_factory: pytest.TempPathFactory) -> WikiWorld:
    dev = json.loads(two_wiki.dev.read_text())
    corpus = json.loads(two_wiki.corpus.read_text())
    # questions whose answer is not yes/no and that have >= 2 supporting pages
    picked = [
        r
        for r in dev
        if r["answer"].lower() not in ("yes", "no") and len({t for t, _ in r["supporting_facts"]}) >= 2
    ][:N_QUESTIONS]
    pages: dict[str, list[str]] = {}
    for r in picked:
        for title, sents in r["context"]:
            pages.setdefault(title, [" ".join(sents)])
    for rec in corpus[:N_CORPUS]:
        pages.setdefault(rec["title"], []).append(rec["text"])
    docs: dict[str, Document] = {}
    title_to_id: dict[str, str] = {}
    for title, texts in pages.items():
        did = _slug(title)
        while did in docs:
            did += "_"
        docs[did] = Document(doc_id=did, title=title, text="\n".join(dict.fromkeys(texts)), source="2wiki")
        title_to_id[title] = did
    questions, chains = [], {}
    for r in picked:
        titles = list(dict.fromkeys(t for t, _ in r["supporting_facts"]))
        rel = {s: rel for s, rel, _ in r["evidences"]}
        hops = [
            Hop(
                entity_id=title_to_id[t],
                title=t,
                doc_id=title_to_id[t],
                relation=rel.get(titles[i - 1]) if i else None,
            )
            for i, t in enumerate(titles)
        ]
        chains[r["_id"]] = Chain(chain_id=r["_id"], hops=hops, seed=0)
        ents = list(dict.fromkeys([*titles, *(o for _, _, o in r["evidences"])]))
        questions.append(
            Question(
                question_id=r["_id"],
                chain_id=r["_id"],
                question=r["question"],
                answer=r["answer"],
                gold_entities=ents,
                gold_doc_ids=[title_to_id[t] for t in titles],
                writer=WriterInfo(backend="2wiki"),
            )
        )
    root = tmp_path_factory.mktemp(f"wiki_world_{two_wiki.name}")
    build_docstore(root / "docstore", docs.values())
    store = DocStore.open(root / "docstore")
    build_index(root / "index", store, progress=False)
    search = TantivySearch.load(root / "index", store)
    return WikiWorld(
        name=two_wiki.name,
        search=search, docstore=store, questions=questions, chains=chains, title_to_id=title_to_id
    )


@pytest.fixture(scope="session")
def default_agent() -> Callable[[Any], Any]:
    """``default_agent(search)``: the agent a build without an LLM runs (``agent.kind=auto`` resolves to the
    non-oracle clue solver), with the build's default settings. Tier tests use it, not the oracle."""
    from longtracerl.config import BuildConfig
    from longtracerl.synth.agent import ClueSolver

    cfg = BuildConfig()
    assert cfg.agent.kind == "auto" and cfg.llm.kind == "none"
    return lambda search: ClueSolver(search, k=cfg.agent.solver_k, seed=cfg.seed)
