"""The twin's service model and its OpenAI-compatible app (``/v1/chat/completions``, ``/v1/models``,
``/health``, ``/stats``).

It serves like a GPU endpoint: each role has its own latency (lognormal around the mean, times
``time_scale``) and reasoning-token distribution; at most ``capacity`` sequences are generated at once (vLLM's
``max_num_seqs``) and the rest wait in a queue; ``usage`` counts prompt tokens with a real tokenizer and
completion tokens as reasoning + visible text; a reply longer than ``max_tokens`` is cut (``finish_reason:
length``). Faults are injected at the rates set (503, a hang past the client's timeout, a body that is not JSON,
a truncated reply), drawn from a seeded stream. Replies themselves depend only on the request (its messages and
seed) and the twin's memory, so a retried request gets the same answer wherever it lands.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import threading
import time
from collections import Counter, defaultdict
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException
from fastapi import Request as HTTPRequest
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from longtracerl.twin.agent import AgentPolicy
from longtracerl.twin.brain import Knowledge, Reply, answer_other, choose, judge, write
from longtracerl.twin.memory import TwinMemory
from longtracerl.twin.roles import ROLES, Request, classify

#: Latencies of a 30B-class model on one GPU node (seconds per call), the issue's figures.
LATENCY_30B: dict[str, float] = {"chooser": 0.3, "writer": 3.0, "agent": 1.5, "judge": 0.4, "eval": 3.0, "other": 1.0}
#: Mean reasoning tokens per call when the twin reasons (``reasoning`` think | field).
REASONING_TOKENS: dict[str, int] = {"chooser": 120, "writer": 600, "agent": 150, "judge": 80, "eval": 800, "other": 200}


class TwinConfig(BaseModel):
    """How the twin serves (every rate and latency the user can set)."""

    model_config = ConfigDict(extra="forbid")

    model: str = "twin"
    capacity: int = Field(32, ge=1, description="sequences generated at once (vLLM max_num_seqs); the rest queue")
    latency: dict[str, float] = Field(default_factory=lambda: dict(LATENCY_30B),
                                      description="mean seconds per call, by role")
    latency_sigma: float = Field(0.25, ge=0, description="lognormal spread of the latencies")
    time_scale: float = Field(1.0, ge=0, description="every latency is multiplied by this (0: instant)")
    reasoning: Literal["none", "think", "field"] = Field(
        "none", description="none | think (<think>...</think> in the content) | field (reasoning_content, "
        "as vLLM's reasoning parser returns it)")
    reasoning_tokens: dict[str, int] = Field(default_factory=lambda: dict(REASONING_TOKENS))
    skill: float = Field(0.75, ge=0, le=1, description="share of agent attempts on its own questions answered right")
    detour: float = Field(0.3, ge=0, le=1, description="share of attempts that open an unhelpful page first")
    fail_rate: float = Field(0.0, ge=0, le=1, description="share of requests answered 503")
    timeout_rate: float = Field(0.0, ge=0, le=1, description="share of requests that hang past the client timeout")
    hang_seconds: float = Field(120.0, ge=0, description="how long a timed-out request hangs before a 504")
    malformed_rate: float = Field(0.0, ge=0, le=1, description="share of 200 replies whose body is not JSON")
    truncate_rate: float = Field(0.0, ge=0, le=1, description="share of replies cut short (finish_reason length)")
    seed: int = Field(0, description="seed of the replies (twins of one pool share it, so a retried request gets "
                      "the same answer on any of them)")
    fault_seed: int | None = Field(None, description="seed of the fault stream (default: seed)")
    tokenizer: str | None = Field(None, description="tokenizer counting prompt tokens (default: the bundled one); "
                                  "'chars' counts 4 characters a token")

    def role_latency(self, role: str) -> float:
        return float(self.latency.get(role, self.latency.get("other", 1.0)))


class TwinStats:
    """Counters served at ``/stats``: per role calls, tokens, nominal latency; faults; queueing; sequences."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roles: dict[str, Counter[str]] = defaultdict(Counter)
        self.kinds: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.per_item: dict[tuple[str, str], float] = defaultdict(float)  # (stage, item) -> nominal seconds
        self.in_flight = 0
        self.max_in_flight = 0
        self.queued = 0
        self.max_queued = 0
        self.queue_seconds = 0.0
        self.started = time.time()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            longest: dict[str, float] = {}
            for (stage, _), sec in self.per_item.items():
                longest[stage] = max(longest.get(stage, 0.0), round(sec, 3))
            return {"roles": {r: dict(c) for r, c in self.roles.items()}, "kinds": dict(self.kinds),
                    "faults": dict(self.faults), "max_in_flight": self.max_in_flight, "max_queued": self.max_queued,
                    "queue_seconds": round(self.queue_seconds, 3), "critical_seconds": longest,
                    "uptime": round(time.time() - self.started, 3)}


class Twin:
    """The model behind the app: classify, answer, count, pace."""

    def __init__(self, cfg: TwinConfig, memory: TwinMemory | None = None, knowledge: Knowledge | None = None) -> None:
        self.cfg = cfg
        self.memory = memory if memory is not None else TwinMemory()  # an empty memory is falsy (len 0)
        self.knowledge = knowledge
        self.agent = AgentPolicy(self.memory, skill=cfg.skill, detour=cfg.detour)
        self.stats = TwinStats()
        self._faults = random.Random(f"faults:{cfg.seed if cfg.fault_seed is None else cfg.fault_seed}")
        self._faults_lock = threading.Lock()
        self._world_lock = threading.Lock()
        self._sem: asyncio.Semaphore | None = None
        self._tok: Any = None

    # ------------------------------------------------------------------ tokens
    def count(self, text: str) -> int:
        if not text:
            return 0
        if self.cfg.tokenizer == "chars":
            return max(1, len(text) // 4)
        if self._tok is None:
            from longtracerl.llm.tokenizers import load_tokenizer

            self._tok = load_tokenizer(self.cfg.tokenizer)
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        msgs = body.get("messages") or []
        n = sum(self.count(json.dumps(m.get("content")) if isinstance(m.get("content"), list) else
                           str(m.get("content") or "")) + 4 for m in msgs)
        if body.get("tools"):
            n += self.count(json.dumps(body["tools"]))
        return n + 2

    # ------------------------------------------------------------------ one reply
    def rng(self, body: dict[str, Any], salt: str = "") -> random.Random:
        """Seeded by the request itself (messages + seed): the same request gets the same reply anywhere."""
        h = hashlib.sha256(json.dumps([body.get("messages"), body.get("seed"), self.cfg.seed, salt],
                                      sort_keys=True, default=str).encode()).hexdigest()
        return random.Random(h)

    def think(self, req: Request) -> Reply:
        rng = self.rng(req.body)
        if req.role == "chooser":
            return choose(req, rng)
        if req.role == "writer":
            if self.knowledge is None:
                return write(req, rng, self.memory)
            with self._world_lock:  # one writer at a time reads the world (its stores are not shared by threads)
                return write(req, rng, self.memory, self.knowledge)
        if req.role == "agent":
            return self.agent.act(req, rng)
        if req.role == "judge":
            return judge(req)
        return answer_other(req, rng, self.memory)

    def item_key(self, req: Request) -> tuple[str, str]:
        """(stage, item) a call belongs to, for the critical path: the agent's and judge's calls of one question
        run one after the other, so do the writer's attempts at one chain."""
        if req.role == "agent":
            q = next((str(m.get("content")) for m in reversed(req.messages) if m.get("role") == "user"
                      and str(m.get("content") or "").startswith("Question: ")), "")
            return "agent", " ".join(q.removeprefix("Question: ").split())
        if req.role == "judge":
            return "agent", " ".join(req.fields.get("question", "").split())
        if req.role == "writer":
            return "questions", req.fields.get("path", "")
        return "", ""

    def completion(self, req: Request, reply: Reply, max_tokens: int) -> tuple[dict[str, Any], int, str]:
        """The message, completion tokens and finish reason, with reasoning and the max_tokens cut."""
        body = req.body
        rng = self.rng(body, "tokens")
        reasoning = ""
        if self.cfg.reasoning != "none":
            mean = self.cfg.reasoning_tokens.get(req.role, 200)
            n = max(1, int(rng.lognormvariate(math.log(mean), 0.5)))
            reasoning = (reply.thought + " ") if reply.thought else ""
            filler = "Let me check that against the pages once more. "
            reasoning = (reasoning + filler * (n // 10 + 1)).strip()
        content = reply.content
        for stop in body.get("stop") or []:
            if stop and stop in content:  # a real server stops AT the stop sequence and omits it
                content = content[:content.index(stop)]
        r_tok, c_tok = self.count(reasoning), self.count(content)
        r_tok += 2 if self.cfg.reasoning != "none" else 0  # <think> </think>
        finish = "tool_calls" if reply.tool_calls else "stop"
        calls = reply.tool_calls
        if calls:
            c_tok += self.count(json.dumps(calls))
        if r_tok + c_tok > max_tokens:  # cut at max_tokens: the reasoning first, then the visible text
            finish, calls = "length", []
            if r_tok >= max_tokens:
                reasoning, content = reasoning[: max_tokens * 4], ""
                r_tok, c_tok = max_tokens, 0
            else:
                keep = max_tokens - r_tok
                content = content[: keep * 3]
                c_tok = keep
        msg: dict[str, Any] = {"role": "assistant", "content": content}
        if self.cfg.reasoning == "think" and reasoning:
            msg["content"] = f"<think>\n{reasoning}\n" + ("</think>\n\n" + content if finish != "length" or content else "")
        elif self.cfg.reasoning == "field" and reasoning:
            msg["reasoning_content"] = reasoning
        if calls:
            msg["tool_calls"] = calls
        return msg, r_tok + c_tok, finish

    def draw_fault(self) -> str | None:
        c = self.cfg
        with self._faults_lock:
            x = self._faults.random()
        for name, rate in (("http_503", c.fail_rate), ("timeout", c.timeout_rate), ("malformed", c.malformed_rate),
                           ("truncated", c.truncate_rate)):
            if x < rate:
                return name
            x -= rate
        return None

    async def serve(self, body: dict[str, Any]) -> tuple[int, Any]:
        """(status, JSON body or raw text) of one chat completion, paced and counted."""
        req = classify(body)
        fault = self.draw_fault()
        if fault is not None:
            with self.stats.lock:
                self.stats.faults[fault] += 1
        if fault == "http_503":
            return 503, {"error": {"message": "twin: injected 503 (server overloaded)", "type": "service_unavailable"}}
        if fault == "timeout":
            await asyncio.sleep(self.cfg.hang_seconds)
            return 504, {"error": {"message": "twin: injected timeout"}}
        reply = await asyncio.to_thread(self.think, req)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 4096)
        msg, c_tok, finish = self.completion(req, reply, max_tokens)
        if fault == "truncated" and finish != "length":
            msg = {"role": "assistant", "content": str(msg.get("content") or "")[: max(1, len(str(msg.get("content") or "")) // 2)]}
            finish = "length"
        p_tok = await asyncio.to_thread(self.prompt_tokens, body)
        nominal = self.cfg.role_latency(req.role)
        rng = self.rng(body, "latency")
        latency = nominal * rng.lognormvariate(-self.cfg.latency_sigma ** 2 / 2, self.cfg.latency_sigma)
        await self._generate(latency * self.cfg.time_scale)
        with self.stats.lock:
            r = self.stats.roles[req.role]
            r["calls"] += 1
            r["prompt_tokens"] += p_tok
            r["completion_tokens"] += c_tok
            r["latency_ms"] += int(round(latency * 1000))
            r["finish_length"] += finish == "length"
            self.stats.kinds[req.kind] += 1
            stage, item = self.item_key(req)
            if stage:
                self.stats.per_item[(stage, item)] += latency
        out = {"id": f"twin-{hashlib.sha1(json.dumps(body, default=str).encode()).hexdigest()[:12]}",
               "object": "chat.completion", "created": int(time.time()), "model": self.cfg.model,
               "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
               "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok}}
        if fault == "malformed":
            return 200, json.dumps(out)[: 40]
        return 200, out

    async def _generate(self, seconds: float) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.cfg.capacity)
        st = self.stats
        t0 = time.perf_counter()
        with st.lock:
            st.queued += 1
            st.max_queued = max(st.max_queued, st.queued)
        async with self._sem:
            with st.lock:
                st.queued -= 1
                st.queue_seconds += time.perf_counter() - t0
                st.in_flight += 1
                st.max_in_flight = max(st.max_in_flight, st.in_flight)
            try:
                if seconds > 0:
                    await asyncio.sleep(seconds)
            finally:
                with st.lock:
                    st.in_flight -= 1


def create_twin_app(twin: Twin, *, token: str | None = None) -> FastAPI:
    """The FastAPI app of one twin (bearer ``token`` required when given)."""
    app = FastAPI(title="longtracerl serve-twin")
    expected = f"Bearer {token}" if token else None

    def auth(request: HTTPRequest) -> None:
        if expected is not None and request.headers.get("authorization") != expected:
            raise HTTPException(401, "missing or wrong bearer token")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": twin.cfg.model, "capacity": twin.cfg.capacity}

    @app.get("/v1/models", dependencies=[Depends(auth)])
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": twin.cfg.model, "object": "model", "owned_by": "longtracerl-twin",
                                            "max_model_len": 262144}]}

    @app.get("/stats", dependencies=[Depends(auth)])
    def stats() -> dict[str, Any]:
        return {**twin.stats.snapshot(), "config": twin.cfg.model_dump(), "remembered": len(twin.memory)}

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)])
    async def chat(request: HTTPRequest) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "request body is not JSON"}}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return JSONResponse({"error": {"message": "'messages' must be a non-empty list"}}, status_code=400)
        status, out = await twin.serve(body)
        if isinstance(out, str):
            return PlainTextResponse(out, status_code=status, media_type="application/json")
        return JSONResponse(out, status_code=status)

    return app


__all__ = ["LATENCY_30B", "ROLES", "Twin", "TwinConfig", "create_twin_app"]
