"""LLM access for every role (walk chooser, question writer, agent, judge): one async chat interface.

``make_llm("local")`` runs the bundled SmolLM2-135M in process; ``make_llm("openai", base_url=..., model=...)``
talks to vLLM, SGLang, llama.cpp's server or a hosted API.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from longtracerl.llm.base import ChatLLM, ChatResponse, LLMError
from longtracerl.llm.cache import LLMCache
from longtracerl.llm.openai_backend import OpenAIChatLLM
from longtracerl.llm.pool import LLMPool
from longtracerl.llm.usage import UsageMeter

if TYPE_CHECKING:
    from longtracerl.llm.llamacpp_backend import LlamaCppChatLLM


def make_llm(kind: str = "local", *, base_url: str | list[str] | None = None, model: str | None = None,
             api_key: str | None = None, cache_dir: str | Path | None = None, meter: UsageMeter | None = None,
             stage: str = "llm", **kw: Any) -> ChatLLM:
    """A ``ChatLLM``: ``local`` (bundled GGUF via llama.cpp, or ``model`` as a GGUF path) or ``openai``.

    With ``openai``, a list of several base URLs gives an ``LLMPool`` (``llm/pool.py``); ``max_concurrency``
    is then the cap per endpoint and ``cooldown`` how long a failing endpoint is left out.
    """
    cache = LLMCache(cache_dir) if cache_dir is not None else None
    if kind == "openai" and isinstance(base_url, list | tuple):
        urls = [u for u in base_url if u]
        if len(set(urls)) > 1:
            from longtracerl.llm.pool import make_pool

            return make_pool(urls, api_key or "none", model or "", max_in_flight=kw.pop("max_concurrency", 8),
                             cooldown=kw.pop("cooldown", 5.0), cache=cache, meter=meter, stage=stage, **kw)
        base_url = urls[0] if urls else None
    kw.pop("cooldown", None)
    if kind == "local":
        from longtracerl.llm.llamacpp_backend import LlamaCppChatLLM

        return LlamaCppChatLLM(model, cache=cache, meter=meter, stage=stage, **kw)
    if kind == "openai":
        if not base_url:
            raise ValueError("--llm openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        assert isinstance(base_url, str)
        return OpenAIChatLLM(base_url, api_key or "none", model or "", cache=cache, meter=meter, stage=stage, **kw)
    raise ValueError(f"unknown LLM kind {kind!r}; expected 'local' or 'openai'")


def __getattr__(name: str) -> Any:
    if name == "LlamaCppChatLLM":  # lazy: importing llama_cpp costs time and is not needed for HTTP use
        from longtracerl.llm.llamacpp_backend import LlamaCppChatLLM

        return LlamaCppChatLLM
    raise AttributeError(name)


__all__ = ["ChatLLM", "ChatResponse", "LLMCache", "LLMError", "LLMPool", "LlamaCppChatLLM", "OpenAIChatLLM", "UsageMeter",
           "make_llm"]
