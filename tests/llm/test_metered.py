"""``MeteredChatLLM``: a backend that implements only the raw call gets caching and usage metering.

The backend here is a FAKE (it counts calls and echoes the request): it stands for "any new backend",
whose only job is ``_send``; the real backends are tested through the same path in test_openai_backend
and test_llamacpp_backend.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from longtracerl.llm import ChatLLM, LlamaCppChatLLM, OpenAIChatLLM
from longtracerl.llm.base import ChatResponse
from longtracerl.llm.cache import LLMCache
from longtracerl.llm.metered import MeteredChatLLM
from longtracerl.llm.usage import UsageMeter
from longtracerl.records import Usage

HI = [{"role": "user", "content": "hi"}]


class EchoLLM(MeteredChatLLM):
    """A minimal backend: only the raw call."""

    backend = "echo"
    model = "echo-1"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.sent: list[dict[str, Any]] = []

    async def _send(self, body: dict[str, Any]) -> ChatResponse:
        self.sent.append(body)
        await asyncio.sleep(0.01)
        return ChatResponse(content=f"echo {len(self.sent)}: {body['messages'][-1]['content']}", model=self.model,
                            usage=Usage(calls=1, prompt_tokens=7, completion_tokens=2))


def test_minimal_backend_is_cached_and_metered(tmp_path: Path) -> None:
    meter = UsageMeter()
    llm = EchoLLM(cache=LLMCache(tmp_path / "c"), meter=meter, stage="writer")
    assert isinstance(llm, ChatLLM)

    async def go() -> list[ChatResponse]:
        return [await llm.chat(HI, temperature=0), await llm.chat(HI, temperature=0),
                await llm.chat(HI, temperature=0.7, seed=3), await llm.chat(HI, temperature=0.7, seed=3)]

    a, b, c, d = asyncio.run(go())
    assert a.content == "echo 1: hi" and not a.cached and a.usage.seconds > 0
    assert b.cached and b.content == a.content  # identical deterministic request: no second call
    assert c.content == "echo 2: hi" and d.cached  # a pinned seed makes a sampled request cacheable
    assert len(llm.sent) == 2 and llm.sent[1]["seed"] == 3
    assert meter.by_stage["writer"].calls == 2 and meter.by_stage["writer"].prompt_tokens == 14
    assert meter.cached["writer"] == 2
    # a new process (a fresh cache object on the same file) answers from disk
    again = EchoLLM(cache=LLMCache(tmp_path / "c"))
    assert asyncio.run(again.chat(HI, temperature=0)).cached and again.sent == []


def test_sampled_requests_without_seed_are_never_replayed(tmp_path: Path) -> None:
    meter = UsageMeter()
    llm = EchoLLM(cache=LLMCache(tmp_path / "c"), meter=meter)

    async def go() -> list[ChatResponse]:
        return [await llm.chat(HI, temperature=0.7), await llm.chat(HI, temperature=0.7)]

    a, b = asyncio.run(go())
    assert not a.cached and not b.cached and a.content != b.content
    assert meter.by_stage["llm"].calls == 2 and not meter.cached


def test_request_shape_changes_the_key(tmp_path: Path) -> None:
    llm = EchoLLM(cache=LLMCache(tmp_path / "c"))

    async def go() -> None:
        await llm.chat(HI, max_tokens=8)
        await llm.chat(HI, max_tokens=9)
        await llm.chat(HI, max_tokens=8, json_schema={"type": "object"})
        await llm.chat(HI, max_tokens=8)

    asyncio.run(go())
    assert len(llm.sent) == 3  # only the last repeats an earlier request


def test_real_backends_take_the_shared_path() -> None:
    # neither backend carries its own chat(): both go through MeteredChatLLM.chat
    for cls in (OpenAIChatLLM, LlamaCppChatLLM):
        assert issubclass(cls, MeteredChatLLM) and "chat" not in vars(cls)


def test_cache_connection_closes_with_its_owner(tmp_path: Path) -> None:
    import gc
    import sqlite3

    import pytest

    from longtracerl.reward.judge import JudgeCache

    c = LLMCache(tmp_path / "c")
    c.put("k", {"content": "x"})
    db = c._db
    del c
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError):  # closed: no handle outlives the cache
        db.execute("SELECT 1")
    assert LLMCache(tmp_path / "c").get("k") == {"content": "x"}
    j = JudgeCache(tmp_path / "j.sqlite")  # the verdict cache is the same store, in its own table
    j.put(JudgeCache.key("a", "b"), {"correct": True})
    assert j.get(JudgeCache.key("a", "b")) == {"correct": True} and len(j) == 1
    j.close()
