"""A pool of OpenAI-compatible endpoints behind one ``ChatLLM``: a fleet of vLLM/SGLang servers as one model.

Routing is least-outstanding-requests: each call goes to the healthy endpoint with the fewest requests in
flight (ties: the one that has served fewest), so a slow server keeps fewer requests and receives fewer
calls in proportion to its speed. Each endpoint has its own cap on requests in flight; a caller waits when
every endpoint is full (backpressure). A failed call is retried on another endpoint. An endpoint that fails
``trip_after`` times in a row, or 80% of its last 20 requests, is left out for ``cooldown`` seconds, then tried
again; if it trips again before any success the cooldown doubles (up to ``max_cooldown``), and one success
resets it. An endpoint that fails only some of its requests thus keeps serving (its failures are retried
elsewhere), a dead one is mostly left out. When every attempt failed the call raises ``LLMError`` naming each
endpoint's last error.

The pool is a ``MeteredChatLLM``: it owns the disk cache and the usage meter (its members have neither),
keyed on the model rather than on a URL, so a resumed run finds its answers whichever endpoint gave them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from longtracerl.llm.base import ChatLLM, ChatResponse, LLMError
from longtracerl.llm.cache import LLMCache
from longtracerl.llm.metered import MeteredChatLLM
from longtracerl.llm.usage import UsageMeter

WINDOW = 20  # outcomes remembered per endpoint
WINDOW_TRIP = 0.8  # share of failures among them that leaves the endpoint out


@dataclass
class Endpoint:
    """One member of the pool and its counters (``stats()`` reports them per endpoint)."""

    name: str
    llm: ChatLLM
    cap: int
    in_flight: int = 0
    requests: int = 0
    ok: int = 0
    failed: int = 0
    trips: int = 0
    max_in_flight: int = 0
    seconds: float = 0.0
    streak: int = 0
    out_until: float = 0.0
    next_cooldown: float = 0.0
    last_error: str = ""
    errors: dict[str, int] = field(default_factory=dict)
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))  # True = failed

    def available(self, now: float) -> bool:
        return self.out_until <= now and self.in_flight < self.cap


class LLMPool(MeteredChatLLM):
    """``await pool.chat(...)`` over several ``ChatLLM`` endpoints (see the module docstring).

    Caching and metering are ``MeteredChatLLM``'s (the one path of every backend); ``_send`` does the routing.
    """

    backend = "pool"

    def __init__(
        self,
        members: list[tuple[str, ChatLLM]],
        *,
        max_in_flight: int = 8,
        cooldown: float = 5.0,
        max_cooldown: float = 60.0,
        trip_after: int = 6,
        attempts: int | None = None,
        cache: LLMCache | None = None,
        meter: UsageMeter | None = None,
        stage: str = "llm",
    ) -> None:
        if not members:
            raise ValueError("an LLM pool needs at least one endpoint")
        self.endpoints = [Endpoint(name, llm, max(1, max_in_flight)) for name, llm in members]
        self.model = members[0][1].model
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.trip_after = trip_after
        self.attempts = attempts if attempts is not None else max(4, 2 * len(members))
        super().__init__(cache=cache, meter=meter, stage=stage)
        self._cond: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ routing
    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond = asyncio.Condition()
            self._loop = loop
        return self._cond

    def _pick(self, now: float, avoid: set[str]) -> Endpoint | None:
        free = [e for e in self.endpoints if e.available(now)]
        fresh = [e for e in free if e.name not in avoid]
        if not fresh:
            if any(e.name not in avoid and e.out_until <= now for e in self.endpoints):
                return None  # a healthy endpoint not tried yet is busy: wait for it, not for one that just failed
            fresh = free
        if not fresh:
            return None
        return min(fresh, key=lambda e: (e.in_flight, e.requests))

    async def _acquire(self, avoid: set[str]) -> Endpoint:
        cond = self._condition()
        async with cond:
            while True:
                now = time.monotonic()
                ep = self._pick(now, avoid)
                if ep is not None:
                    ep.in_flight += 1
                    ep.requests += 1
                    ep.max_in_flight = max(ep.max_in_flight, ep.in_flight)
                    return ep
                # all busy or all cooling down: wake on a release or when the first cooldown ends
                ends = [e.out_until - now for e in self.endpoints if e.out_until > now]
                timeout = max(0.01, min(ends)) if ends else None
                try:
                    await asyncio.wait_for(cond.wait(), timeout)
                except TimeoutError:
                    pass

    async def _release(self, ep: Endpoint, error: str | None, seconds: float) -> None:
        cond = self._condition()
        async with cond:
            ep.in_flight -= 1
            ep.seconds += seconds
            ep.recent.append(error is not None)
            if error is None:
                ep.ok += 1
                ep.streak = 0
                ep.next_cooldown = 0.0
            else:
                ep.failed += 1
                ep.streak += 1
                ep.last_error = error
                ep.errors[error] = ep.errors.get(error, 0) + 1
                share = sum(ep.recent) / len(ep.recent)
                if ep.streak >= self.trip_after or (len(ep.recent) == WINDOW and share >= WINDOW_TRIP):
                    ep.next_cooldown = min(self.max_cooldown, ep.next_cooldown * 2 if ep.next_cooldown else self.cooldown)
                    ep.out_until = time.monotonic() + ep.next_cooldown
                    ep.trips += 1
                    ep.streak = 0  # back after the cooldown; trips again (for twice as long) on a new streak
                    ep.recent.clear()
            cond.notify_all()

    # ------------------------------------------------------------------ the call
    def _cache_scope(self) -> str:
        return self.model  # not a URL: an answer is found again whichever endpoint gave it

    async def _send(self, body: dict[str, Any]) -> ChatResponse:
        """Route one request (built by ``MeteredChatLLM._body``) to a member; retry elsewhere on failure."""
        kw: dict[str, Any] = {k: body.get(k) for k in ("tools", "json_schema", "seed", "stop")}
        kw.update(temperature=body["temperature"], top_p=body["top_p"], max_tokens=body["max_tokens"])
        tried: set[str] = set()
        for _ in range(self.attempts):
            ep = await self._acquire(tried)
            tried.add(ep.name)
            t0 = time.perf_counter()
            try:
                resp = await ep.llm.chat(body["messages"], **kw)
            except LLMError as e:
                await self._release(ep, e.reason, time.perf_counter() - t0)
                continue
            except Exception as e:  # a member must never take the pool down: count it as a failure
                await self._release(ep, type(e).__name__, time.perf_counter() - t0)
                continue
            await self._release(ep, None, time.perf_counter() - t0)
            return resp
        detail = "; ".join(f"{e.name}: {e.last_error or 'ok'}" for e in self.endpoints)
        raise LLMError("all endpoints failed", f"{self.attempts} attempts ({detail})")

    async def aclose(self) -> None:
        for e in self.endpoints:
            close = getattr(e.llm, "aclose", None)
            if close is not None:
                await close()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: requests, ok, failed, trips (times left out), peak in flight, seconds, errors."""
        return {e.name: {"requests": e.requests, "ok": e.ok, "failed": e.failed, "trips": e.trips,
                         "max_in_flight": e.max_in_flight, "seconds": round(e.seconds, 3),
                         "errors": dict(sorted(e.errors.items()))} for e in self.endpoints}


def make_pool(base_urls: list[str], api_key: str = "none", model: str = "", *, max_in_flight: int = 8,
              cooldown: float = 5.0, timeout: float = 60.0, cache: LLMCache | None = None,
              meter: UsageMeter | None = None, stage: str = "llm", **kw: Any) -> LLMPool:
    """A pool over OpenAI-compatible ``base_urls``; members fail fast (one try) and the pool retries elsewhere."""
    from longtracerl.llm.openai_backend import OpenAIChatLLM

    urls = list(dict.fromkeys(x.rstrip("/") for x in base_urls))
    members: list[tuple[str, ChatLLM]] = [
        (u, OpenAIChatLLM(u, api_key, model, max_concurrency=max_in_flight, timeout=timeout, max_retries=0, **kw))
        for u in urls]
    return LLMPool(members, max_in_flight=max_in_flight, cooldown=cooldown, cache=cache, meter=meter, stage=stage)


def merge_endpoint_stats(into: dict[str, dict[str, Any]], add: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sum per-endpoint counters (from several pools, processes or tasks); peaks take the max."""
    for name, st in add.items():
        cur = into.setdefault(name, {})
        for k, v in st.items():
            if k == "errors":
                errs = cur.setdefault("errors", {})
                for r, n in v.items():
                    errs[r] = errs.get(r, 0) + n
            elif k == "max_in_flight":
                cur[k] = max(cur.get(k, 0), v)
            else:
                cur[k] = round(cur.get(k, 0) + v, 3) if isinstance(v, float) else cur.get(k, 0) + v
    return into
