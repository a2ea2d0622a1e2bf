"""``longtracerl view runs/<name>``: a small local server that pages a large run from its JSONL files.

The page is the same template as ``report/index.html`` in server mode: the list is filtered here, an
item's detail is built on request, documents come from the DocStore (up to
``SERVER_DOC_CHAR_CAP`` characters). Binds 127.0.0.1 by default; any other host needs a token, sent as
``?token=`` on the page URL (the page forwards it as the ``X-Token`` header of its API calls).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from longtracerl.view.build_html import build_page_data, open_docs, render_build_page
from longtracerl.view.model import SERVER_DOC_CHAR_CAP, detail, items, referenced_doc_ids
from longtracerl.view.rundata import load_run

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class RunIndex:
    """A run read once: every record in memory except the samples' prompts (the large part of a run)."""

    def __init__(self, run_dir: Path, *, docstore: Path | None = None, embed: int = 20) -> None:
        self.dir = run_dir
        self.rd = load_run(run_dir)
        self.docs = open_docs(self.rd, docstore)
        self.page_data = build_page_data(self.rd, self.docs, max_samples=embed, max_list=0)
        self.items = items(self.rd)
        self.by_id = {it["id"]: it for it in self.items}
        self.sample_row = {str(s.get("sample_id") or s.get("question_id")): s for s in self.rd.samples}

    def filtered(self, q: str, strategy: str, reason: str, lo: int | None, hi: int | None) -> list[dict[str, Any]]:
        ql = q.strip().lower()
        out = []
        for it in self.items:
            if ql and ql not in (it.get("question") or "").lower():
                continue
            if strategy and it.get("strategy") != strategy:
                continue
            if reason and it.get("reason") != reason:
                continue
            n = it.get("prompt_tokens")
            if lo is not None and (n is None or n < lo):
                continue
            if hi is not None and (n is None or n > hi):
                continue
            out.append(it)
        return out

    def detail(self, item_id: str) -> dict[str, Any] | None:
        it = self.by_id.get(item_id)
        if it is None:
            return None
        det = detail(self.rd, it, self.sample_row.get(item_id))
        meta = {}
        for doc_id in referenced_doc_ids(det):
            t = self.docs.title(doc_id) if self.docs.store is not None else None
            meta[doc_id] = {"title": t, "missing": None if t is not None else
                            (self.docs.reason or "not in the document store")}
        for cd in (det.get("context") or {}).get("docs", []):
            cd["title"] = meta.get(cd["doc_id"], {}).get("title")
        det["doc_meta"] = meta
        return det


def _app(title: str, token: str | None, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if on_shutdown is not None:
                on_shutdown()

    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Any:
        if token:
            got = request.headers.get("x-token") or request.query_params.get("token") or ""
            if not hmac.compare_digest(got, token):
                return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        return await call_next(request)

    return app


def create_eval_app(run_dir: Path | str, *, token: str | None = None) -> FastAPI:
    """An eval run's page, re-read from disk on every request (a running eval shows its new rows)."""
    from longtracerl.view.eval_html import render_eval_page

    d = Path(run_dir)
    app = _app(f"longtracerl view {d.name}", token)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return render_eval_page(d)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "run": d.name}

    return app


def run_signature(run_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of every file the index reads: changes while a build is still writing its run."""
    from longtracerl.view.rundata import STAGE_FILES

    out = []
    for name in [*STAGE_FILES, "report/stats.json", "config.yaml"]:
        p = run_dir / name
        st = p.stat() if p.exists() else None
        out.append((name, st.st_size if st else -1, st.st_mtime_ns if st else -1))
    return tuple(out)


class LiveIndex:
    """The run's index, rebuilt when its files changed (checked at most every ``every`` seconds)."""

    def __init__(self, run_dir: Path, docstore: Path | None, every: float = 3.0) -> None:
        self.dir, self.docstore, self.every = run_dir, docstore, every
        self.sig = run_signature(run_dir)
        self.idx = RunIndex(run_dir, docstore=docstore, embed=0)
        self.checked = time.monotonic()
        self.lock = threading.Lock()
        self.retired: RunIndex | None = None

    def get(self) -> RunIndex:
        with self.lock:
            if time.monotonic() - self.checked >= self.every:
                self.checked = time.monotonic()
                sig = run_signature(self.dir)
                if sig != self.sig:
                    # the replaced index stays open until the next reload: a request may still be using it
                    if self.retired is not None:
                        self.retired.docs.close()
                    self.retired = self.idx
                    self.idx, self.sig = RunIndex(self.dir, docstore=self.docstore, embed=0), sig
            return self.idx

    def close(self) -> None:
        for idx in (self.retired, self.idx):
            if idx is not None:
                idx.docs.close()


def create_app(run_dir: Path | str, *, token: str | None = None, docstore: Path | None = None,
               refresh_seconds: float = 3.0) -> FastAPI:
    """The viewer app of one build run; with ``token`` set every request must carry it. A run that is
    still being built is re-read when its files change (at most every ``refresh_seconds``)."""
    live = LiveIndex(Path(run_dir), docstore, refresh_seconds)
    app = _app(f"longtracerl view {live.idx.rd.name}", token, on_shutdown=live.close)
    app.state.live = live

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        idx = live.get()
        return render_build_page(idx.rd, idx.page_data, server=True)

    @app.get("/api/items")
    def api_items(offset: int = Query(0, ge=0), limit: int = Query(200, ge=1, le=5000), q: str = "",
                  strategy: str = "", reason: str = "", min_tokens: int | None = None,
                  max_tokens: int | None = None) -> dict[str, Any]:
        rows = live.get().filtered(q, strategy, reason, min_tokens, max_tokens)
        return {"items": rows[offset:offset + limit], "total": len(rows), "offset": offset}

    @app.get("/api/item/{item_id:path}")
    def api_item(item_id: str) -> dict[str, Any]:
        idx = live.idx
        det = idx.detail(item_id)
        if det is None:
            raise HTTPException(404, f"no item {item_id!r} in {idx.dir}")
        return det

    @app.get("/api/doc/{doc_id:path}")
    def api_doc(doc_id: str) -> dict[str, Any]:
        return live.idx.docs.get(doc_id, cap=SERVER_DOC_CHAR_CAP)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "run": live.idx.rd.name, "items": len(live.idx.items)}

    return app


def resolve_token(host: str, token: str | None) -> str | None:
    """No token on loopback unless asked; a generated one when the server is exposed without one."""
    if token:
        return token
    return None if host in LOOPBACK else secrets.token_urlsafe(16)
