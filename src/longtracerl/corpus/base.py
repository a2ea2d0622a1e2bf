"""The search protocol every backend implements (the agent's ``search`` and ``open`` tools)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from longtracerl.records import Document, OpenedDocument, SearchHit


class DocumentNotFound(KeyError):
    """``open``/``get`` of an id the store does not hold."""


@runtime_checkable
class SearchBackend(Protocol):
    """Ranked retrieval plus fetch-by-id. Implementations must never raise on any query string."""

    def search(self, query: str, k: int = 10) -> list[SearchHit]: ...

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]: ...

    def open(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        """Full text of a document, cut to ``max_chars`` if given (saying so); raises DocumentNotFound."""
        ...

    def get(self, doc_id: str) -> Document | None: ...
