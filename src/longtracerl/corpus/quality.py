"""Retrieval quality on multi-hop QA files with supporting facts: does search find the gold pages?

Reads HotpotQA / 2WikiMultihopQA (``context`` + ``supporting_facts``, list or hub dict layout) and MuSiQue
(``paragraphs`` with ``is_supporting``) records. A question's gold set is its distinct supporting page
titles; recall@k is the share of them in the top k (averaged over questions), all-supporting@k the share
of questions with every one in the top k. Used by ``benchmarks/bench_search_quality.py`` and the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from longtracerl.corpus.readers import CorpusFormatError, _records


class QAItem(BaseModel):
    question: str
    support: list[str]  # distinct supporting page titles
    kind: str = ""


class Quality(BaseModel):
    n: int
    recall_5: float
    recall_10: float
    all_10: float
    ms_per_query: float


def _support_titles(obj: dict[str, Any], where: str) -> list[str]:
    if "paragraphs" in obj:  # MuSiQue
        return list(dict.fromkeys(p["title"] for p in obj["paragraphs"] if isinstance(p, dict) and p.get("is_supporting")))
    sf = obj.get("supporting_facts")
    if isinstance(sf, dict):  # hub layout {"title": [...], "sent_id": [...]}
        titles = sf.get("title", [])
    elif isinstance(sf, list):
        titles = [x[0] for x in sf if isinstance(x, (list, tuple)) and x]
    else:
        raise CorpusFormatError(where, "no supporting_facts (HotpotQA/2Wiki) or paragraphs[].is_supporting (MuSiQue)")
    return list(dict.fromkeys(str(t) for t in titles))


def iter_qa(path: Path | str) -> Iterator[QAItem]:
    """Questions with their supporting titles (records without a question or support are skipped)."""
    for where, obj in _records(Path(path)):
        if not isinstance(obj, dict):
            raise CorpusFormatError(where, "expected a JSON object")
        q = obj.get("question")
        support = _support_titles(obj, where)
        if isinstance(q, str) and q.strip() and support:
            yield QAItem(question=q, support=support, kind=str(obj.get("type", "")))


def evaluate(search: Callable[[str], list[str]], items: list[QAItem]) -> Quality:
    """Quality of ``search(question) -> ranked titles`` (at least 10) over ``items``."""
    r5 = r10 = all10 = 0.0
    t = time.perf_counter()
    ranked = [search(it.question) for it in items]
    ms = (time.perf_counter() - t) / max(len(items), 1) * 1000
    for it, titles in zip(items, ranked, strict=True):
        gold = set(it.support)
        top5, top10 = set(titles[:5]), set(titles[:10])
        r5 += len(gold & top5) / len(gold)
        r10 += len(gold & top10) / len(gold)
        all10 += gold <= top10
    n = max(len(items), 1)
    return Quality(n=len(items), recall_5=r5 / n, recall_10=r10 / n, all_10=all10 / n, ms_per_query=ms)
