"""Fixtures of the LLM tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request

from longtracerl.netutil import free_port, wait_http


@pytest.fixture()
def no_schema_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A FAKE OpenAI-compatible server that rejects ``response_format`` with a 400 (as some servers do),
    for fault injection only: the bundled llama.cpp server accepts JSON schemas. Yields (base_url, bodies)."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    bodies: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        bodies.append(body)
        if "response_format" in body:
            return JSONResponse({"error": {"message": "unsupported parameter: response_format"}}, status_code=400)
        return JSONResponse({"id": "x", "model": "fault", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "plain"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_http(f"http://127.0.0.1:{port}/docs", timeout=20)
    yield f"http://127.0.0.1:{port}/v1", bodies
    server.should_exit = True
    t.join(timeout=5)
