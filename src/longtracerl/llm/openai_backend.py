"""OpenAI-compatible HTTP backend (vLLM, SGLang, llama.cpp server, hosted APIs) for ``ChatLLM``.

Retries with exponential backoff and jitter on 429, 5xx, timeouts and connection errors; a clear
``LLMError`` on other 4xx and on bodies that are not a chat completion. A semaphore bounds requests in
flight, so many concurrent callers (agent workers, a judge under load) keep the server busy without
flooding it. The transport is aiohttp: measured here, httpx's connection pool stalled for seconds when
128 keep-alive requests were reused at once, while aiohttp held the ideal 0.5 s per wave.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from longtracerl.llm.base import ChatResponse, LLMError
from longtracerl.llm.cache import LLMCache
from longtracerl.llm.metered import MeteredChatLLM
from longtracerl.llm.usage import UsageMeter
from longtracerl.records import Usage

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIChatLLM(MeteredChatLLM):
    """``await llm.chat(messages, ...)`` against ``{base_url}/chat/completions`` (caching and metering come
    from ``MeteredChatLLM``)."""

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str = "none",
        model: str = "",
        *,
        max_concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        cache: LLMCache | None = None,
        meter: UsageMeter | None = None,
        stage: str = "llm",
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(cache=cache, meter=meter, stage=stage)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.extra_body = dict(extra_body or {})
        self.max_concurrency = max_concurrency
        self._sem: asyncio.Semaphore | None = None
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None, None] | None = None
        # learned on the first refusal, so later calls skip the failing round trip
        self._schema_dialect: str = "json_schema"  # -> "json_object" (llama.cpp) -> "none"

    async def _ensure_client(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # sessions are bound to one event loop
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_concurrency),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
            self._sem = asyncio.Semaphore(self.max_concurrency)
            self._loop = loop
            # asyncio.run() finalizes unfinished async generators before closing its loop: this one owns
            # the session, so callers that never call aclose() (one asyncio.run per stage) leak nothing
            self._closer = _closes_at_loop_end(self._client)
            await self._closer.__anext__()
        assert self._sem is not None
        return self._client, self._sem

    async def aclose(self) -> None:
        """Close the HTTP session now (otherwise it closes when its event loop ends under asyncio.run)."""
        if self._closer is not None:
            await self._closer.aclose()
            self._closer = None
        self._client = None

    def _body(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None,
              json_schema: dict[str, Any] | None, temperature: float, top_p: float, max_tokens: int,
              seed: int | None, stop: list[str] | None) -> dict[str, Any]:
        body = super()._body(messages, tools=tools, json_schema=None, temperature=temperature, top_p=top_p,
                             max_tokens=max_tokens, seed=seed, stop=stop)
        body.update(self.extra_body)
        if json_schema is not None and self._schema_dialect == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": json_schema, "strict": False}}
        elif json_schema is not None and self._schema_dialect == "json_object":
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        return body

    def _cache_scope(self) -> str:
        return self.base_url

    async def _send(self, body: dict[str, Any]) -> ChatResponse:
        return _parse_completion(await self._post_with_retries(body))

    async def _post_with_retries(self, body: dict[str, Any]) -> dict[str, Any]:
        client, sem = await self._ensure_client()
        url = f"{self.base_url}/chat/completions"
        last = ""
        attempt, downgraded = -1, False
        while attempt < self.max_retries or downgraded:
            if not downgraded:  # a response_format downgrade is not a failure: it does not use up a retry
                attempt += 1
                if attempt:
                    await asyncio.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
            downgraded = False
            try:
                async with sem, client.post(url, json=body) as r:
                    status, text = r.status, await r.text()
            except TimeoutError:
                last = "timeout"
                continue
            except aiohttp.ClientError as e:
                last = f"connection error: {type(e).__name__}"
                continue
            if status in (400, 422, 500) and "response_format" in body and "response_format" in text:
                # the server does not know OpenAI's json_schema output (llama-cpp-python's server answers 500
                # and wants {"type": "json_object", "schema": ...}): try that dialect, then plain text
                body = _downgrade_response_format(body)
                self._schema_dialect = body["response_format"]["type"] if "response_format" in body else "none"
                downgraded = True
                continue
            if status in RETRY_STATUS:
                last = f"http {status}"
                continue
            if status >= 400:
                raise LLMError(f"http {status}", _error_message(text))
            try:
                data = json.loads(text)
            except ValueError:
                last = "garbage"
                continue
            if not isinstance(data, dict) or not data.get("choices"):
                last = "garbage"
                continue
            return data
        raise LLMError(last or "failed", f"{url} after {self.max_retries + 1} attempts")


async def _closes_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await session.close()


def _downgrade_response_format(body: dict[str, Any]) -> dict[str, Any]:
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return {**body, "response_format": {"type": "json_object", "schema": rf.get("json_schema", {}).get("schema", {})}}
    return {k: v for k, v in body.items() if k != "response_format"}


def _error_message(text: str) -> str:
    try:
        err = json.loads(text).get("error", text)
        return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
    except (ValueError, AttributeError):
        return text[:500]


def _parse_completion(data: dict[str, Any]) -> ChatResponse:
    choice = data["choices"][0]
    msg = choice.get("message") or {}
    calls = []
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        args = fn.get("arguments", "")
        calls.append({"id": tc.get("id", ""), "name": fn.get("name", ""),
                      "arguments": args if isinstance(args, str) else json.dumps(args)})
    u = data.get("usage") or {}
    return ChatResponse(
        content=msg.get("content") or "",
        reasoning=msg.get("reasoning_content") or msg.get("reasoning"),
        tool_calls=calls,
        finish_reason=choice.get("finish_reason") or "stop",
        model=data.get("model", ""),
        usage=Usage(calls=1, prompt_tokens=int(u.get("prompt_tokens") or 0),
                    completion_tokens=int(u.get("completion_tokens") or 0)),
    )
