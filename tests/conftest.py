"""Shared fixtures. Tests that need ../shared/data skip, saying why, where it is absent."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request, Response

from longtracerl.netutil import free_port, wait_http
from longtracerl.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data (real 2WikiMultihopQA data) is not beside this clone")
    return d


HANDMADE_2WIKI = Path(__file__).parent / "data" / "2wiki_handmade"


@dataclass(frozen=True)
class TwoWikiFiles:
    """A dev set and a paragraph corpus in the 2WikiMultihopQA layout."""

    name: str  # "handmade" | "2wiki"
    dev: Path
    corpus: Path


@pytest.fixture(scope="session", params=["handmade", "2wiki"])
def two_wiki(request: pytest.FixtureRequest) -> TwoWikiFiles:
    """The hand-made world of tests/data/2wiki_handmade (runs everywhere), then the real 2Wiki files of
    ../shared/data (skips where absent): a test using it runs on both."""
    if request.param == "handmade":
        return TwoWikiFiles("handmade", HANDMADE_2WIKI / "dev.json", HANDMADE_2WIKI / "corpus.json")
    d: Path = request.getfixturevalue("shared_data")
    return TwoWikiFiles("2wiki", d / "2wiki_dev_500.json", d / "2wiki_corpus_6119.json")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches of tests out of the user's ~/.cache, shared across the session for speed."""
    monkeypatch.setenv("LONGTRACERL_HOME", str(tmp_path_factory.getbasetemp() / "home"))


def _bundled_llama_server(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str):  # type: ignore[no-untyped-def]
    """Start llama-cpp-python's OpenAI-compatible server over the bundled GGUF (``args``: alias, context,
    embedding mode), yield its base URL, stop it at the end; its log goes to a temp dir named ``name``."""
    import subprocess
    import sys

    from longtracerl.llm.bundled import bundled_gguf_path

    port = free_port()
    log = tmp_path_factory.mktemp(name) / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()), *args,
             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--verbose", "false"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=120, proc=proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real bundled model (SmolLM2-135M GGUF) behind llama-cpp-python's OpenAI-compatible server.

    Yields the base URL (``http://127.0.0.1:PORT/v1``); the served model name is ``smollm2``.
    """
    yield from _bundled_llama_server(tmp_path_factory, "llm_server", "--model_alias", "smollm2", "--n_ctx", "8192")


@pytest.fixture(scope="session")
def embed_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real bundled model (SmolLM2-135M GGUF) behind llama-cpp-python's OpenAI-compatible server with
    embeddings on: ``/v1/embeddings`` answers one 576-dim vector per token (the model has no pooling
    type), which ``EmbeddingClient`` mean-pools. Weak embeddings, but a real model and a real server.

    Yields the base URL (``http://127.0.0.1:PORT/v1``).
    """
    yield from _bundled_llama_server(tmp_path_factory, "embed_server", "--model_alias", "smollm2-embed",
                                     "--n_ctx", "2048", "--embedding", "true")


class FakeChatServers:
    """The one factory of FAKE OpenAI-compatible chat servers, for fault injection only (timeouts, 5xx,
    garbage, refused parameters), which the real bundled model cannot be made to produce.

    ``start(reply)`` serves ``POST /v1/chat/completions`` on 127.0.0.1 with ``await reply(body)`` and
    returns the base URL; every server is stopped when the test ends.
    """

    def __init__(self) -> None:
        self._running: list[tuple[Any, threading.Thread]] = []

    @staticmethod
    def completion(content: str, tool_call: tuple[str, str] | None = None, *, prompt_tokens: int = 10,
                   completion_tokens: int = 3) -> dict[str, Any]:
        """A chat completion body with ``content`` (and one tool call when given)."""
        msg: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_call:
            msg["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": tool_call[0], "arguments": tool_call[1]}}]
        return {"id": "x", "object": "chat.completion", "model": "fault", "choices": [
            {"index": 0, "message": msg, "finish_reason": "tool_calls" if tool_call else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}

    def start(self, reply: Callable[[dict[str, Any]], Awaitable[Response]]) -> str:
        import uvicorn
        from fastapi import FastAPI

        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await reply(await request.json())

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        t = threading.Thread(target=server.run, daemon=True)
        t.start()
        self._running.append((server, t))
        wait_http(f"http://127.0.0.1:{port}/docs", timeout=20)
        return f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        for server, t in self._running:
            server.should_exit = True
            t.join(timeout=5)
        self._running.clear()


@pytest.fixture()
def fake_chat_servers() -> Iterator[FakeChatServers]:
    """A ``FakeChatServers`` factory; its servers stop with the test."""
    servers = FakeChatServers()
    try:
        yield servers
    finally:
        servers.stop()


class FaultScript:
    """What the fault-injecting server does next: a queue of actions, then ``default``.

    Actions: ``("ok", content)``, ``("status", code)``, ``("sleep", seconds, content)``, ``("garbage",)``,
    ``("truncated_json",)``, ``("tool_call", name, arguments_json)``.
    """

    def __init__(self) -> None:
        self.queue: list[tuple] = []  # type: ignore[type-arg]
        self.default: tuple = ("ok", "correct: yes")  # type: ignore[type-arg]
        self.requests: list[dict] = []  # type: ignore[type-arg]

    def next(self) -> tuple:  # type: ignore[type-arg]
        return self.queue.pop(0) if self.queue else self.default


@pytest.fixture()
def fault_llm(fake_chat_servers: FakeChatServers) -> tuple[str, FaultScript]:
    """A FAKE OpenAI-compatible server, for fault injection only (timeouts, 5xx, garbage, slow answers),
    which the real bundled model cannot be made to produce. Gives ``(base_url, FaultScript)``."""
    from fastapi.responses import JSONResponse, PlainTextResponse

    script = FaultScript()
    completion = fake_chat_servers.completion

    async def reply(body: dict[str, Any]) -> Response:
        script.requests.append(body)
        act = script.next()
        kind = act[0]
        if kind == "ok":
            return JSONResponse(completion(act[1]))
        if kind == "status":
            return JSONResponse({"error": {"message": f"injected {act[1]}"}}, status_code=act[1])
        if kind == "sleep":
            await asyncio.sleep(act[1])
            return JSONResponse(completion(act[2]))
        if kind == "garbage":
            return PlainTextResponse("<html>definitely not json</html>")
        if kind == "truncated_json":
            return PlainTextResponse('{"id": "x", "choices": [{"message": {"content": "hal', media_type="application/json")
        if kind == "tool_call":
            return JSONResponse(completion("", (act[1], act[2])))
        raise AssertionError(f"unknown action {act}")

    return fake_chat_servers.start(reply), script
