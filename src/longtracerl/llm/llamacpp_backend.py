"""In-process llama.cpp backend: the bundled SmolLM2-135M GGUF with no server and no network.

One llama.cpp context per (model, n_ctx) is shared process-wide; a context is not thread-safe, so calls
are serialized behind a lock and run in a worker thread to keep the event loop free.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from pathlib import Path
from typing import Any

from longtracerl.llm.base import ChatResponse, LLMError
from longtracerl.llm.bundled import BUNDLED_MODEL_NAME, bundled_gguf_path
from longtracerl.llm.cache import LLMCache
from longtracerl.llm.metered import MeteredChatLLM
from longtracerl.llm.usage import UsageMeter
from longtracerl.records import Usage

_MODELS: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()
# The bundled GGUF declares <|im_start|> as end-of-sequence; stop at the end of the assistant turn too.
_STOP = ["<|im_end|>", "<|im_start|>"]


def _load(path: Path, n_ctx: int) -> tuple[Any, threading.Lock]:
    key = (str(path), n_ctx)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from llama_cpp import Llama

            llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=os.cpu_count() or 2, verbose=False, seed=0)
            atexit.unregister(_at_exit)  # registered once, however many models come and go
            atexit.register(_at_exit)
            _MODELS[key] = (llm, threading.Lock())
        return _MODELS[key]


def close_models() -> None:
    """Free every loaded llama.cpp context now; also runs at exit, because ``Llama.__del__`` during
    interpreter teardown (modules half gone) prints a traceback instead of freeing cleanly."""
    with _MODELS_LOCK:
        models = list(_MODELS.values())
        _MODELS.clear()
    for llm, lock in models:
        with lock:
            llm.close()


def _at_exit() -> None:
    close_models()
    # llama_cpp keeps two /dev/null handles (it silences model loading through them) open for the life of
    # the process; with no model left nothing loads any more, so close them rather than leak them
    from llama_cpp import _utils

    for name in ("outnull_file", "errnull_file"):
        f = getattr(_utils, name, None)
        if f is not None and hasattr(f, "close"):
            f.close()


class LlamaCppChatLLM(MeteredChatLLM):
    """``ChatLLM`` over llama-cpp-python, in process (caching and metering come from ``MeteredChatLLM``)."""

    backend = "llamacpp"

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 8192, cache: LLMCache | None = None,
                 meter: UsageMeter | None = None, stage: str = "llm", **_ignored: Any) -> None:
        # HTTP-only knobs (max_concurrency, timeout, max_retries) are accepted and ignored: one context
        # serves one request at a time whatever the callers ask for.
        super().__init__(cache=cache, meter=meter, stage=stage)
        self.path = Path(model_path) if model_path else bundled_gguf_path()
        self.model = BUNDLED_MODEL_NAME if model_path is None else self.path.stem
        self.n_ctx = n_ctx

    def _run(self, kw: dict[str, Any]) -> dict[str, Any]:
        llm, lock = _load(self.path, self.n_ctx)
        with lock:
            try:
                return llm.create_chat_completion(**kw)  # type: ignore[no-any-return]
            except ValueError as e:  # e.g. the prompt exceeds the context window
                raise LLMError("request_rejected", str(e)) from None

    def _body(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None,
              json_schema: dict[str, Any] | None, temperature: float, top_p: float, max_tokens: int,
              seed: int | None, stop: list[str] | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"messages": messages, "temperature": temperature, "top_p": top_p,
                              "max_tokens": max_tokens, "seed": 0 if seed is None else seed,
                              "stop": [*(stop or []), *_STOP]}
        if tools:
            kw["tools"] = tools
        if json_schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": json_schema}
        return kw

    def _cache_scope(self) -> str:
        return str(self.path)

    async def _send(self, body: dict[str, Any]) -> ChatResponse:
        data = await asyncio.to_thread(self._run, body)
        choice = data["choices"][0]
        msg = choice.get("message") or {}
        u = data.get("usage") or {}
        return ChatResponse(
            content=msg.get("content") or "", finish_reason=choice.get("finish_reason") or "stop", model=self.model,
            tool_calls=[{"id": tc.get("id", ""), "name": tc["function"]["name"],
                         "arguments": tc["function"].get("arguments", "") if isinstance(tc["function"].get("arguments"), str)
                         else json.dumps(tc["function"].get("arguments"))} for tc in msg.get("tool_calls") or []],
            usage=Usage(calls=1, prompt_tokens=int(u.get("prompt_tokens") or 0),
                        completion_tokens=int(u.get("completion_tokens") or 0)),
        )
