"""``SearchBackend`` over a running ``longtracerl serve-search``: agent workers share one index.

Blocking methods (``search``/``open``/``get``) serve the synchronous callers (question checks, assembly);
the agents' tools await ``asearch``/``aopen``/``aget``, which go through an ``httpx.AsyncClient`` so a search
in flight never stalls the LLM requests on the same event loop.

One ``AsyncClient`` per event loop: a client's connections belong to the loop that opened them, and the
build runs each stage in its own ``asyncio.run``. Each client is closed inside its loop when that loop
shuts down: it is held by an async generator, which the loop finalizes in ``shutdown_asyncgens``
(``asyncio.run`` does this before closing the loop), so no socket outlives its loop. ``aclose()`` closes the
running loop's client at once.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncGenerator
from typing import Any

import certifi
import httpx

from longtracerl.corpus.base import DocumentNotFound
from longtracerl.records import Document, OpenedDocument, SearchHit


async def _close_at_loop_end(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.aclose()


class RemoteSearch:
    name = "remote"

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self.base_url = base_url.rstrip("/")
        # built once, here: loading the CA bundle takes ~0.1-1 s of CPU, which must not stall an event loop
        # each time a loop's async client is created
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, verify=self._ssl)
        weakref.finalize(self, self._http.close)  # a forgotten client still closes its sockets
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------ responses (shared by both clients)

    def _json(self, r: httpx.Response) -> Any:
        if r.status_code == 502:  # the server's embedding endpoint failed: say so, not just "502"
            from longtracerl.corpus.embeddings import EmbeddingError

            raise EmbeddingError(f"search server {self.base_url}: {r.json().get('detail', r.text)}")
        r.raise_for_status()
        return r.json()

    def _opened(self, r: httpx.Response, doc_id: str) -> OpenedDocument:
        if r.status_code == 404:
            raise DocumentNotFound(doc_id)
        return OpenedDocument.model_validate(self._json(r))

    @staticmethod
    def _hits(rows: Any) -> list[SearchHit]:
        return [SearchHit.model_validate(h) for h in rows]

    @staticmethod
    def _document(d: OpenedDocument) -> Document:
        return Document(doc_id=d.doc_id, title=d.title, text=d.text, source="remote")

    # ------------------------------------------------------------ blocking

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(self._http.post(path, json=body))

    def describe(self) -> dict[str, Any]:
        """The serving backend's description (from ``/health``), marked as reached over HTTP."""
        try:
            info = self._http.get("/health").json().get("search") or {}
        except (httpx.HTTPError, ValueError):
            info = {}
        return {**info, "served_by": self.base_url}

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        return self._hits(self._post("/search", {"query": query, "k": k}))

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]:
        rows = self._post("/batch_search", {"queries": queries, "k": k})
        return [self._hits(row) for row in rows]

    def open(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        return self._opened(self._http.post("/open", json={"doc_id": doc_id, "max_chars": max_chars}), doc_id)

    def get(self, doc_id: str) -> Document | None:
        try:
            return self._document(self.open(doc_id))
        except DocumentNotFound:
            return None

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ async (the agents' tools)

    async def _aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        held = self._async.get(loop)
        if held is None or held[0].is_closed:
            client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self._timeout,
                                       verify=self._ssl)
            holder = _close_at_loop_end(client)
            self._async[loop] = (client, holder)  # before the await: concurrent callers share this client
            await holder.asend(None)  # first iteration: the loop now tracks it and finalizes it at shutdown
            return client
        return held[0]

    async def asearch(self, query: str, k: int = 10) -> list[SearchHit]:
        client = await self._aclient()
        return self._hits(self._json(await client.post("/search", json={"query": query, "k": k})))

    async def aopen(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        client = await self._aclient()
        return self._opened(await client.post("/open", json={"doc_id": doc_id, "max_chars": max_chars}), doc_id)

    async def aget(self, doc_id: str) -> Document | None:
        try:
            return self._document(await self.aopen(doc_id))
        except DocumentNotFound:
            return None

    async def aclose(self) -> None:
        """Close the running loop's async client now (otherwise it closes when the loop shuts down)."""
        held = self._async.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held[1].aclose()
