"""The search index behind HTTP, so many agent workers (processes, machines) share one index."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from longtracerl import __version__
from longtracerl.corpus.base import DocumentNotFound, SearchBackend
from longtracerl.records import OpenedDocument, SearchHit


class SearchRequest(BaseModel):
    query: str
    k: int = Field(10, ge=1, le=1000)


class BatchSearchRequest(BaseModel):
    queries: list[str] = Field(max_length=10_000)
    k: int = Field(10, ge=1, le=1000)


class OpenRequest(BaseModel):
    doc_id: str
    max_chars: int | None = Field(None, ge=1)


def create_search_app(backend: SearchBackend, *, token: str | None = None) -> FastAPI:
    """``POST /search``, ``POST /batch_search``, ``GET|POST /open``, ``GET /health``."""
    app = FastAPI(title="longtracerl search server", version=__version__)
    expected = f"Bearer {token}".encode() if token else None

    def auth(request: Request) -> None:
        if expected is not None and not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            raise HTTPException(401, "missing or wrong bearer token")

    from longtracerl.corpus.embeddings import EmbeddingError
    from longtracerl.corpus.indexes import describe_search

    info = describe_search(backend)

    @app.exception_handler(EmbeddingError)
    def embedding_failed(request: Request, exc: EmbeddingError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)  # a dense backend's endpoint is down

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "backend": getattr(backend, "name", type(backend).__name__),
                "search": info}

    # plain ``def`` endpoints run in FastAPI's thread pool: tantivy and SQLite calls do not block the loop
    @app.post("/search", dependencies=[Depends(auth)])
    def search(req: SearchRequest) -> list[SearchHit]:
        return backend.search(req.query, req.k)

    @app.post("/batch_search", dependencies=[Depends(auth)])
    def batch_search(req: BatchSearchRequest) -> list[list[SearchHit]]:
        return backend.batch_search(req.queries, req.k)

    def _open(doc_id: str, max_chars: int | None) -> OpenedDocument:
        try:
            return backend.open(doc_id, max_chars)
        except DocumentNotFound:
            raise HTTPException(404, f"no document with doc_id {doc_id!r}") from None

    @app.post("/open", dependencies=[Depends(auth)])
    def open_post(req: OpenRequest) -> OpenedDocument:
        return _open(req.doc_id, req.max_chars)

    @app.get("/open", dependencies=[Depends(auth)])
    def open_get(doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        return _open(doc_id, max_chars)

    return app
