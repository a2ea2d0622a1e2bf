"""The one cache + usage-metering path of every LLM backend.

A backend subclasses ``MeteredChatLLM`` and implements only the raw call, ``_send(body)``: ``chat`` builds
the request body (``_body``), answers from the disk cache when the request is deterministic (it pins
``temperature=0`` or a ``seed``), otherwise sends it, stamps the wall-clock seconds, meters the usage
under the backend's stage and stores the answer. A new backend thus gets caching and metering by
construction, and both are written once.
"""

from __future__ import annotations

import time
from typing import Any

from longtracerl.llm.base import ChatResponse
from longtracerl.llm.cache import LLMCache, request_key
from longtracerl.llm.usage import UsageMeter
from longtracerl.records import Usage


class MeteredChatLLM:
    """Base of the ``ChatLLM`` backends: caching and usage metering around ``_send``."""

    backend: str = "llm"
    model: str = ""

    def __init__(self, *, cache: LLMCache | None = None, meter: UsageMeter | None = None, stage: str = "llm") -> None:
        self.cache = cache
        self.meter = meter
        self.stage = stage

    # ------------------------------------------------------------------ what a backend provides
    def _body(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None,
              json_schema: dict[str, Any] | None, temperature: float, top_p: float, max_tokens: int,
              seed: int | None, stop: list[str] | None) -> dict[str, Any]:
        """The request as the backend sends it; everything in it shapes the answer (and the cache key)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "top_p": top_p, "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        if stop:
            body["stop"] = stop
        if tools:
            body["tools"] = tools
        if json_schema is not None:
            body["json_schema"] = json_schema
        return body

    def _cache_scope(self) -> str:
        """Where answers come from (a server URL, a model file): part of the cache key."""
        return self.model

    async def _send(self, body: dict[str, Any]) -> ChatResponse:
        """The raw call: one request, one response with token usage; raise ``LLMError`` on failure."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the shared path
    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 512,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> ChatResponse:
        body = self._body(messages, tools=tools, json_schema=json_schema, temperature=temperature, top_p=top_p,
                          max_tokens=max_tokens, seed=seed, stop=stop)
        key = None
        # a sampled request without a seed must not replay one answer forever
        if self.cache is not None and (body.get("temperature") == 0 or body.get("seed") is not None):
            key = request_key(self.backend, self._cache_scope(), body)
            hit = self.cache.get(key)
            if hit is not None:
                resp = ChatResponse.model_validate(hit)
                resp.cached = True
                if self.meter is not None:
                    self.meter.add(self.stage, Usage(), cached=True)
                return resp
        t0 = time.perf_counter()
        resp = await self._send(body)
        resp.usage.seconds = time.perf_counter() - t0
        if self.meter is not None:
            self.meter.add(self.stage, resp.usage)
        if key is not None and self.cache is not None:
            self.cache.put(key, resp.model_dump(mode="json"))
        return resp
