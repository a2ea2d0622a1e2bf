"""Fixtures of the LLM tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture()
def no_schema_server(fake_chat_servers: Any) -> tuple[str, list[dict[str, Any]]]:
    """A FAKE OpenAI-compatible server that rejects ``response_format`` with a 400 (as some servers do),
    for fault injection only: the bundled llama.cpp server accepts JSON schemas. Gives (base_url, bodies)."""
    from fastapi.responses import JSONResponse

    bodies: list[dict[str, Any]] = []

    async def reply(body: dict[str, Any]) -> JSONResponse:
        bodies.append(body)
        if "response_format" in body:
            return JSONResponse({"error": {"message": "unsupported parameter: response_format"}}, status_code=400)
        return JSONResponse(fake_chat_servers.completion("plain", prompt_tokens=5, completion_tokens=1))

    return fake_chat_servers.start(reply), bodies
