"""OpenAIChatLLM against the REAL bundled model behind llama-cpp-python's server, and fault cases against
the FAKE fault-injecting server (``fault_llm``): the real model cannot be made to time out or answer 500."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from longtracerl.llm import LLMCache, LLMError, OpenAIChatLLM, UsageMeter, make_llm

HELLO = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.llm
def test_real_server_chat_usage_and_cache(llm_server: str, tmp_path: Path) -> None:
    meter = UsageMeter()
    llm = make_llm("openai", base_url=llm_server, model="smollm2", cache_dir=tmp_path / "cache", meter=meter,
                   stage="test")
    assert isinstance(llm, OpenAIChatLLM)

    async def go():  # type: ignore[no-untyped-def]
        a = await llm.chat(HELLO, max_tokens=8, temperature=0)
        b = await llm.chat(HELLO, max_tokens=8, temperature=0)
        await llm.aclose()
        return a, b

    a, b = run(go())
    assert a.content.strip() and not a.cached
    assert a.usage.completion_tokens > 0 and a.usage.prompt_tokens > 0
    assert b.cached and b.content == a.content  # second identical temperature-0 call: no request
    assert meter.by_stage["test"].calls == 1 and meter.cached["test"] == 1


@pytest.mark.llm
def test_real_server_json_schema(llm_server: str) -> None:
    llm = OpenAIChatLLM(llm_server, model="smollm2")
    # a bounded string: the grammar-constrained reply always closes within the token budget
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30}}, "required": ["city"]}

    async def go():  # type: ignore[no-untyped-def]
        r = await llm.chat(HELLO, json_schema=schema, max_tokens=64, temperature=0)
        await llm.aclose()
        return r

    r = run(go())
    assert r.finish_reason == "stop", r.content
    city = json.loads(r.content)["city"]  # the schema reached the server: valid JSON with the required key
    assert isinstance(city, str) and 0 < len(city) <= 30


def test_fault_500_then_success(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.queue = [("status", 500), ("status", 503)]
    script.default = ("ok", "fine")
    llm = OpenAIChatLLM(url, model="fault", backoff=0.01)
    r = run(llm.chat(HELLO, max_tokens=4))
    assert r.content == "fine" and len(script.requests) == 3


def test_fault_429_backs_off(fault_llm) -> None:  # type: ignore[no-untyped-def]
    import time

    url, script = fault_llm
    script.queue = [("status", 429), ("status", 429)]
    script.default = ("ok", "after backoff")
    llm = OpenAIChatLLM(url, model="fault", backoff=0.1)
    t0 = time.perf_counter()
    r = run(llm.chat(HELLO))
    assert r.content == "after backoff" and len(script.requests) == 3
    assert time.perf_counter() - t0 >= 0.1  # waited 0.05..0.15 + 0.1..0.3 s


def test_fault_timeout(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.default = ("sleep", 2.0, "too late")
    llm = OpenAIChatLLM(url, model="fault", timeout=0.3, max_retries=1, backoff=0.01)
    with pytest.raises(LLMError) as e:
        run(llm.chat(HELLO))
    assert e.value.reason == "timeout"


@pytest.mark.parametrize("action", [("garbage",), ("truncated_json",)])
def test_fault_garbage(fault_llm, action) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.default = action
    llm = OpenAIChatLLM(url, model="fault", max_retries=2, backoff=0.01)
    with pytest.raises(LLMError) as e:
        run(llm.chat(HELLO))
    assert e.value.reason == "garbage" and len(script.requests) == 3


def test_fault_401_no_retry(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.default = ("status", 401)
    llm = OpenAIChatLLM(url, model="fault", backoff=0.01)
    with pytest.raises(LLMError) as e:
        run(llm.chat(HELLO))
    assert "401" in str(e.value) and len(script.requests) == 1


def test_fault_400_without_response_format_mention_is_not_retried(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.queue = [("status", 400)]
    script.default = ("ok", '{"a": 1}')
    llm = OpenAIChatLLM(url, model="fault", backoff=0.01)
    with pytest.raises(LLMError) as e:
        run(llm.chat(HELLO, json_schema={"type": "object"}))
    assert "400" in str(e.value) and len(script.requests) == 1


def test_json_schema_rejected_retried_without(no_schema_server) -> None:  # type: ignore[no-untyped-def]
    url, bodies = no_schema_server
    llm = OpenAIChatLLM(url, model="fault", backoff=0.01)
    r = run(llm.chat(HELLO, json_schema={"type": "object"}))
    assert r.content == "plain"
    # OpenAI's json_schema, then llama.cpp's json_object+schema dialect, then plain text
    assert bodies[0]["response_format"]["type"] == "json_schema"
    assert bodies[1]["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert "response_format" not in bodies[2] and len(bodies) == 3
    r2 = run(llm.chat(HELLO, json_schema={"type": "object"}, max_tokens=3))  # the dialect was learned
    assert r2.content == "plain" and len(bodies) == 4 and "response_format" not in bodies[3]


def test_cache_key_separates_models(tmp_path: Path) -> None:
    from longtracerl.llm.cache import request_key

    c = LLMCache(tmp_path / "c")
    k1 = request_key("openai", "u", {"model": "a", "messages": HELLO})
    k2 = request_key("openai", "u", {"model": "b", "messages": HELLO})
    assert k1 != k2
    c.put(k1, {"content": "x"})
    assert c.get(k1) == {"content": "x"} and c.get(k2) is None


def test_session_closes_with_its_event_loop(fault_llm) -> None:  # type: ignore[no-untyped-def]
    """One asyncio.run per stage and no aclose(): the HTTP session still closes when each loop ends."""
    import gc
    import warnings

    url, script = fault_llm
    script.default = ("ok", "hi")
    llm = OpenAIChatLLM(url, model="fault")
    sessions = []
    for _ in range(2):
        assert run(llm.chat(HELLO)).content == "hi"
        sessions.append(llm._client)
    assert sessions[0] is not sessions[1]  # a session belongs to one loop
    assert all(s is not None and s.closed for s in sessions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed session would warn when collected
        del sessions
        gc.collect()

    async def explicit() -> bool:
        await llm.chat(HELLO)
        client = llm._client
        await llm.aclose()
        return client is not None and client.closed and llm._client is None

    assert run(explicit())
