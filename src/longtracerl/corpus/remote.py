"""``SearchBackend`` over a running ``longtracerl serve-search``: agent workers share one index."""

from __future__ import annotations

import weakref
from typing import Any

import httpx

from longtracerl.corpus.base import DocumentNotFound
from longtracerl.records import Document, OpenedDocument, SearchHit


class RemoteSearch:
    name = "remote"

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        weakref.finalize(self, self._http.close)  # a forgotten client still closes its sockets

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        r = self._http.post(path, json=body)
        r.raise_for_status()
        return r.json()

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        return [SearchHit.model_validate(h) for h in self._post("/search", {"query": query, "k": k})]

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]:
        rows = self._post("/batch_search", {"queries": queries, "k": k})
        return [[SearchHit.model_validate(h) for h in row] for row in rows]

    def open(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        r = self._http.post("/open", json={"doc_id": doc_id, "max_chars": max_chars})
        if r.status_code == 404:
            raise DocumentNotFound(doc_id)
        r.raise_for_status()
        return OpenedDocument.model_validate(r.json())

    def get(self, doc_id: str) -> Document | None:
        try:
            d = self.open(doc_id)
        except DocumentNotFound:
            return None
        return Document(doc_id=d.doc_id, title=d.title, text=d.text, source="remote")

    def close(self) -> None:
        self._http.close()
