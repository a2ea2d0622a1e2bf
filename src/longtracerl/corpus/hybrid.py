"""Hybrid search: BM25 and dense rankings fused by weighted reciprocal rank.

``score(d) = 1 / (rrf_k + rank_bm25(d)) + dense_weight / (rrf_k + rank_dense(d))`` over the top ``depth``
of each list (a list a document is missing from adds nothing). Ranks, not scores, are fused, so the two
engines' incomparable score scales never matter; ``dense_weight`` 0 is BM25's order, large values tend to
the dense order. The default 1.0 is the usual unweighted fusion; with a weak embedder (such as the
bundled 135M chat model) a lower weight is better; measure yours with ``bench_search_quality.py``.
"""

from __future__ import annotations

from typing import Any

from longtracerl.corpus.dense import DenseSearch, hits_from
from longtracerl.corpus.search import TantivySearch, open_document
from longtracerl.records import Document, OpenedDocument, SearchHit

DEFAULT_DENSE_WEIGHT = 1.0
RRF_K = 60
DEPTH = 50


def rrf(bm25: list[tuple[float, int]], dense: list[tuple[float, int]], k: int, *,
        dense_weight: float = DEFAULT_DENSE_WEIGHT, rrf_k: int = RRF_K) -> list[tuple[float, int]]:
    """The top ``k`` ``(fused score, rid)`` of two ranked ``(score, rid)`` lists (ties: BM25's order first)."""
    fused: dict[int, float] = {}
    for r, (_, rid) in enumerate(bm25, 1):
        fused[rid] = fused.get(rid, 0.0) + 1.0 / (rrf_k + r)
    for r, (_, rid) in enumerate(dense, 1):
        fused[rid] = fused.get(rid, 0.0) + dense_weight / (rrf_k + r)
    order: dict[int, int] = {}
    for i, (_, rid) in enumerate([*bm25, *dense]):
        order.setdefault(rid, i)
    top = sorted(fused.items(), key=lambda x: (-x[1], order[x[0]]))[:k]
    return [(s, rid) for rid, s in top]


class HybridSearch:
    """``SearchBackend`` fusing a ``TantivySearch`` and a ``DenseSearch`` over the same DocStore."""

    name = "hybrid"

    def __init__(self, bm25: TantivySearch, dense: DenseSearch, *, dense_weight: float = DEFAULT_DENSE_WEIGHT,
                 rrf_k: int = RRF_K, depth: int = DEPTH) -> None:
        if dense_weight < 0:
            raise ValueError(f"dense_weight must be >= 0, not {dense_weight}")
        self.bm25, self.dense = bm25, dense
        self.docstore = bm25.docstore
        self.dense_weight, self.rrf_k, self.depth = dense_weight, rrf_k, depth

    def describe(self) -> dict[str, Any]:
        d = self.dense.describe()
        b = self.bm25.describe()
        return {**b, **{k: v for k, v in d.items() if k.startswith("embedding")}, "backend": "hybrid",
                "engine": "tantivy+faiss", "dense_weight": self.dense_weight, "rrf_k": self.rrf_k}

    def _fused(self, queries: list[str], k: int) -> list[tuple[list[tuple[float, int]], list[str]]]:
        n = max(k, self.depth)
        dense = self.dense.ranked_many(queries, n) if self.dense_weight > 0 else [[] for _ in queries]
        out = []
        for q, d in zip(queries, dense, strict=True):
            keys = self.bm25.query_keys(q)
            terms = self.bm25.prune(list(keys))
            out.append((rrf(self.bm25.raw_search(terms, n), d, k, dense_weight=self.dense_weight, rrf_k=self.rrf_k),
                        [keys[t] for t in terms]))
        return out

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]:
        queries = [q if isinstance(q, str) else str(q) for q in queries]
        return [hits_from(self.docstore, ranked, q, self.bm25.snippets, terms)
                for q, (ranked, terms) in zip(queries, self._fused(queries, k), strict=True)]

    def open(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        return open_document(self.docstore, doc_id, max_chars)

    def get(self, doc_id: str) -> Document | None:
        return self.docstore.get(doc_id)

    def close(self) -> None:
        self.dense.close()
