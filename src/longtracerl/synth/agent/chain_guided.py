"""An LLM-free agent that knows the chain: offline runs, tests, and cheap large builds.

It behaves like a competent searcher that already knows the path: for every hop it sends realistic
queries (question keywords plus the hop's title; the previous entity plus the relation), opens the
top results the engine really returns (so it opens non-gold pages too, which become Tier-1),
opens the hop's gold page (searching its title first when no query surfaced it), then answers with
the gold answer and cites the gold pages. All documents come from the real search engine.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable

from longtracerl.corpus.base import SearchBackend, get_async
from longtracerl.records import Chain, Question, Trajectory
from longtracerl.synth.agent.tools import ToolEnv

_STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does did
    what which who whom whose where when why how that this these those it its as into than then there
    their they he she his her him them we you your i me my our us not no yes if so such about also same
    both either whether one two first last country city person name film born died""".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def question_keywords(text: str) -> list[str]:
    """Content words of a question, in order, without stopwords or repeats."""
    out: dict[str, None] = {}
    for w in _WORD.findall(text):
        if w.casefold() not in _STOPWORDS and len(w) > 1:
            out.setdefault(w, None)
    return list(out)


class ChainGuidedAgent:
    """``solve(question, attempt)`` -> a trajectory of real searches and opens along the gold path.

    ``chain_lookup(chain_id)`` gives hop titles and relations; without it (or when it returns None)
    the gold pages are ``question.gold_doc_ids`` and their titles come from the store.
    """

    name = "chain_guided"

    def __init__(
        self,
        search: SearchBackend,
        chain_lookup: Callable[[str], Chain | None] | None = None,
        *,
        k: int = 5,
        open_top: int = 2,
        seed: int = 0,
        max_keywords: int = 6,
    ) -> None:
        self.search = search
        self.chain_lookup = chain_lookup
        self.k = k
        self.open_top = open_top
        self.seed = seed
        self.max_keywords = max_keywords

    def _rng(self, question: Question, attempt: int) -> random.Random:
        h = hashlib.sha256(f"{self.seed}:{question.question_id}:{attempt}".encode()).digest()
        return random.Random(int.from_bytes(h[:8], "big"))

    async def _hops(self, question: Question) -> list[tuple[str, str, str | None]]:
        """(doc_id, title, relation) per gold page, in path order."""
        chain = self.chain_lookup(question.chain_id) if self.chain_lookup is not None else None
        by_doc = {h.doc_id: h for h in chain.hops if h.doc_id} if chain is not None else {}
        hops = []
        for i, did in enumerate(question.gold_doc_ids):
            hop = by_doc.get(did)
            if hop is not None:
                hops.append((did, hop.title, hop.relation))
                continue
            doc = await get_async(self.search, did)
            title = (
                doc.title
                if doc is not None
                else (question.gold_entities[i] if i < len(question.gold_entities) else did)
            )
            hops.append((did, title, None))
        return hops

    async def solve(self, question: Question, attempt: int) -> Trajectory:
        rng = self._rng(question, attempt)
        env = ToolEnv(self.search, k=self.k, max_open=10**9, obs_max_chars=10**9)
        keywords = question_keywords(question.question)
        prev_title: str | None = None
        for did, title, relation in await self._hops(question):
            n_kw = (
                rng.randint(min(3, len(keywords)), min(self.max_keywords, len(keywords))) if keywords else 0
            )
            kw = (
                keywords[:n_kw]
                if rng.random() < 0.5
                else sorted(rng.sample(keywords, n_kw), key=keywords.index)
            )
            queries = []
            if prev_title is not None:
                link = relation.replace("_", " ") if relation else " ".join(kw[:2])
                queries.append(f"{prev_title} {link}".strip())
            queries.append(
                " ".join([*kw, title]) if rng.random() < 0.7 else f"{title} {' '.join(kw[:2])}".strip()
            )
            seen_here: set[str] = set()
            for qi, q in enumerate(queries):
                _, hits = await env.search(q)
                seen_here.update(h.doc_id for h in hits)
                if qi == len(queries) - 1:  # open what the most specific query ranks highest
                    for h in hits[: self.open_top]:
                        if h.doc_id not in env.opened:
                            await env.open(h.doc_id)
            if did not in env.opened:
                if did not in seen_here:
                    await env.search(title)  # look the page up by its title, as a person would
                await env.open(did)
            prev_title = title
        cited = [d for d in question.gold_doc_ids if d in env.opened]
        env.answer(question.answer, cited)
        # no LLM calls, so no usage; no wall-clock either, so reruns write identical records
        return env.trajectory(question.question_id, attempt, agent=self.name, end_reason="answered")
