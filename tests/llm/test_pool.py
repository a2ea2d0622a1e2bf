"""The pool of LLM endpoints (llm/pool.py) against real local HTTP endpoints.

The endpoints are FAKE OpenAI-compatible servers, used for fault injection only (an endpoint that fails half
its requests, one that is slow, one that is down), which the bundled model cannot be made to do on demand.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from longtracerl.llm import LLMError, LLMPool, make_llm
from longtracerl.netutil import free_port


class Stub:
    """One endpoint: answers after ``delay`` s; ``fail`` = 'half' (every other request 500), 'all' or None."""

    def __init__(self, delay: float = 0.0, fail: str | None = None) -> None:
        self.delay, self.fail = delay, fail
        self.requests = 0
        self.in_flight = 0
        self.peak = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests += 1
        n = self.requests
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail == "all" or (self.fail == "half" and n % 2 == 0):
                return web.json_response({"error": {"message": "injected"}}, status=500)
            text = body["messages"][-1]["content"]
            return web.json_response({"choices": [{"message": {"role": "assistant", "content": f"echo {text}"},
                                                   "finish_reason": "stop"}], "model": "stub",
                                      "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
        finally:
            self.in_flight -= 1


@pytest.fixture()
def stubs() -> Iterator[Any]:
    """Start stub endpoints on a background event loop; ``stubs(*Stub)`` returns them started."""
    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    runners: list[web.AppRunner] = []

    def start(*ss: Stub) -> tuple[Stub, ...]:
        for s in ss:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", s.handle)
            runner = web.AppRunner(app)
            asyncio.run_coroutine_threadsafe(runner.setup(), loop).result(10)
            asyncio.run_coroutine_threadsafe(web.TCPSite(runner, "127.0.0.1", s.port).start(), loop).result(10)
            runners.append(runner)
        return ss

    yield start
    for r in runners:
        asyncio.run_coroutine_threadsafe(r.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    th.join(5)
    loop.close()


async def _many(pool: Any, n: int, concurrency: int, *, close: bool = True) -> list[str]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with sem:
            return (await pool.chat([{"role": "user", "content": f"q{i}"}], temperature=0.7)).content

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        if close:
            await pool.aclose()


def test_least_outstanding_routing_and_failover(stubs: Any) -> None:
    fast, flaky, slow = stubs(Stub(0.02), Stub(0.02, fail="half"), Stub(0.1))
    pool = make_llm("openai", base_url=[fast.url, flaky.url, slow.url], model="m", max_concurrency=4)
    assert isinstance(pool, LLMPool)
    out = asyncio.run(_many(pool, 120, 12))
    assert out == [f"echo q{i}" for i in range(120)]  # every request completed, in its own slot
    st = pool.stats()
    assert st[flaky.url]["failed"] > 0 and st[flaky.url]["ok"] > 0
    assert sum(e["ok"] for e in st.values()) == 120
    assert st[slow.url]["requests"] < st[fast.url]["requests"] / 2  # 5x slower: proportionally fewer
    for s in (fast, flaky, slow):  # the cap per endpoint holds
        assert s.peak <= 4 and st[s.url]["max_in_flight"] <= 4


def test_failing_endpoint_is_left_out_then_retried(stubs: Any) -> None:
    good, bad = stubs(Stub(0.01), Stub(0.0, fail="all"))
    pool = make_llm("openai", base_url=[good.url, bad.url], model="m", max_concurrency=2, cooldown=0.3)
    assert isinstance(pool, LLMPool)

    async def scenario() -> tuple[dict[str, Any], int]:
        await _many(pool, 40, 4, close=False)
        st = pool.stats()
        before = bad.requests
        await asyncio.sleep(0.4)  # after the cooldown it is tried again
        bad.fail = None
        await _many(pool, 20, 4)
        return st, before

    st, before = asyncio.run(scenario())
    assert st[bad.url]["trips"] >= 1 and st[bad.url]["ok"] == 0
    assert st[bad.url]["requests"] < 20  # left out after a few failures, not hit by half the traffic
    assert bad.requests > before and pool.stats()[bad.url]["ok"] > 0


def test_all_endpoints_down_is_a_clear_error() -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    pool = make_llm("openai", base_url=urls, model="m", cooldown=0.05)
    t0 = time.time()

    async def call() -> None:
        try:
            await pool.chat([{"role": "user", "content": "x"}])
        finally:
            await pool.aclose()

    with pytest.raises(LLMError, match="all endpoints failed") as e:
        asyncio.run(call())
    assert urls[0] in str(e.value) and "connection error" in str(e.value)
    assert time.time() - t0 < 10


def test_pool_answers_are_cached_whichever_endpoint_answered(stubs: Any, tmp_path: Any) -> None:
    a, b = stubs(Stub(), Stub())
    pool = make_llm("openai", base_url=[a.url, b.url], model="m", cache_dir=tmp_path)
    msgs = [{"role": "user", "content": "same"}]

    async def ask(p: Any) -> Any:
        try:
            return await p.chat(msgs)
        finally:
            await p.aclose()

    first = asyncio.run(ask(pool))
    again = make_llm("openai", base_url=[b.url, a.url], model="m", cache_dir=tmp_path)  # another order
    second = asyncio.run(ask(again))
    assert second.cached and second.content == first.content and a.requests + b.requests == 1


def test_config_and_cli_accept_several_base_urls() -> None:
    from typer.testing import CliRunner

    from longtracerl.config import BuildConfig

    cfg = BuildConfig.load(None, ["llm.base_url=[http://a/v1, http://b/v1]"], {"llm.kind": "openai"})
    assert cfg.llm.base_url == ["http://a/v1", "http://b/v1"]
    seen: dict[str, Any] = {}

    import longtracerl.pipeline.build as build

    def fake_run_build(c: BuildConfig, **kw: Any) -> Any:  # stop before building: only the parsed config matters
        seen["cfg"] = c
        raise FileNotFoundError("stop here")

    from longtracerl.cli import app

    orig = build.run_build
    build.run_build = fake_run_build  # type: ignore[assignment]
    try:
        r = CliRunner().invoke(app, ["build", "--llm", "openai", "--base-url", "http://a/v1", "--base-url",
                                     "http://b/v1", "--out", "/nonexistent-dir-for-test"])
    finally:
        build.run_build = orig  # type: ignore[assignment]
    assert "stop here" in r.output
    assert seen["cfg"].llm.base_url == ["http://a/v1", "http://b/v1"]


def test_the_judge_takes_a_pool_too(stubs: Any) -> None:
    from longtracerl.reward.judge import make_judge

    a, b = stubs(Stub(), Stub(fail="all"))
    judge = make_judge(base_url=[a.url, b.url], model="m", use_cache=False, max_concurrency=2)
    assert isinstance(judge.llm, LLMPool)
    asyncio.run(_many(judge.llm, 6, 1))
    st = judge.llm.stats()
    assert st[a.url]["ok"] == 6 and st[b.url]["ok"] == 0 and st[b.url]["failed"] >= 1
