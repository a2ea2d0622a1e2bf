"""The search protocol every backend implements (the agent's ``search`` and ``open`` tools)."""

from __future__ import annotations

import asyncio
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


# ---------------------------------------------------------------- async access (the agents' tools)
#
# The agents run many questions on one event loop, next to their LLM requests. A backend that has native
# async methods (``asearch``/``aopen``/``aget``: ``RemoteSearch`` over an ``httpx.AsyncClient``) is awaited;
# a local engine (tantivy, dense, hybrid: blocking calls into Rust, faiss or SQLite) runs in a worker thread,
# so a search in flight never stalls the loop. Local engines are thread-safe: the DocStore keeps one SQLite
# connection per thread and ``serve-search`` already calls them from FastAPI's thread pool.


async def search_async(backend: SearchBackend, query: str, k: int = 10) -> list[SearchHit]:
    """``backend.search`` without blocking the event loop."""
    native = getattr(backend, "asearch", None)
    if native is not None:
        return list(await native(query, k))
    return list(await asyncio.to_thread(backend.search, query, k))


async def open_async(backend: SearchBackend, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
    """``backend.open`` without blocking the event loop (raises DocumentNotFound like it)."""
    native = getattr(backend, "aopen", None)
    if native is not None:
        return await native(doc_id, max_chars)  # type: ignore[no-any-return]
    return await asyncio.to_thread(backend.open, doc_id, max_chars)


async def get_async(backend: SearchBackend, doc_id: str) -> Document | None:
    """``backend.get`` without blocking the event loop."""
    native = getattr(backend, "aget", None)
    if native is not None:
        return await native(doc_id)  # type: ignore[no-any-return]
    return await asyncio.to_thread(backend.get, doc_id)
