"""The reward server: the released ``/evaluate`` contract over HTTP, plus ``/evaluate_group``.

Per request it returns the released semantics
``reward = (1 - rubric_reward_ratio) * outcome_reward + rubric_reward_ratio * rubric_reward``; positive-only
and group normalization happen in the trainer's group step (``/evaluate_group`` does that step here).
Everything is async, so LLM-judge calls of concurrent requests overlap.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from longtracerl import __version__
from longtracerl.reward.core import LongTraceReward, RewardConfig, load_reward_config

log = logging.getLogger("longtracerl.reward.server")

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class ExtraRewardInfo(BaseModel):
    question: str = ""
    rubrics: list[str] = Field(default_factory=list)
    dataset_name: str = ""
    rubric_reward_ratio: float | None = Field(None, ge=0.0, le=1.0)
    rubric_use_content: bool = True
    rubric_use_reasoning_content: bool = False
    answer_aliases: list[str] = Field(default_factory=list)
    rubric_aliases: dict[str, list[str]] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    role: str
    content: str | None = None
    reasoning_content: str | None = None


class EvaluateRequest(BaseModel):
    """The released client's payload: ``history`` (last message is the assistant's) or ``response``."""

    label: str
    extra_reward_info: ExtraRewardInfo = Field(default_factory=ExtraRewardInfo)
    history: list[ChatMessage] | None = None
    response: str | None = None
    truncated: bool = False

    @model_validator(mode="after")
    def _needs_response(self) -> EvaluateRequest:
        if self.response is None and not self.history:
            raise ValueError("one of 'history' (with a final assistant message) or 'response' is required")
        if self.response is None and self.history and self.history[-1].role != "assistant":
            raise ValueError("the last message of 'history' must have role 'assistant'")
        return self


class EvaluateResponse(BaseModel):
    reward: float
    outcome_reward: float
    rubric_reward: float
    matched_entities: list[str] = Field(default_factory=list)
    error: str | None = None
    format_gate: str | None = None  # why the response was paid 0 for its form (reward/format.py), else None


JUDGE_FAILED = ("the outcome judge could not decide (its endpoint failed or gave no readable verdict): no reward "
                "is returned, retry the request")


def judge_failed(errors: list[str | None]) -> JSONResponse:
    """HTTP 503 with the judge's reason: the trainer retries instead of learning from a made-up outcome."""
    reasons = sorted({e for e in errors if e})
    return JSONResponse({"detail": f"{JUDGE_FAILED}: {'; '.join(reasons) or 'unknown'}", "errors": errors},
                        status_code=503, headers={"Retry-After": "5"})


class GroupRequest(BaseModel):
    label: str
    extra_reward_info: ExtraRewardInfo = Field(default_factory=ExtraRewardInfo)
    responses: list[str] = Field(min_length=1)
    truncated: list[bool] | None = None


class GroupResponse(BaseModel):
    rewards: list[float]
    outcome_rewards: list[float]
    rubric_rewards: list[float]
    rubric_normalized: list[float]
    errors: list[str | None]
    format_gates: list[str | None] = Field(default_factory=list)


def response_text(req: EvaluateRequest) -> tuple[str, str | None]:
    """``(response, rubric_text)``: what the outcome scorer sees, and what the rubric is matched on.

    With ``history``, the response is the assistant's content (its ``reasoning_content`` wrapped in
    ``<think>`` so the final answer is still what follows ``</think>``); the rubric text joins content and/or
    reasoning as ``rubric_use_content`` / ``rubric_use_reasoning_content`` say. With ``response``, the
    server's own config decides (rubric_text None).
    """
    if req.response is not None:
        return req.response, None
    last = req.history[-1] if req.history else ChatMessage(role="assistant")
    info = req.extra_reward_info
    content = last.content or ""
    reasoning = last.reasoning_content or ""
    response = f"<think>{reasoning}</think>{content}" if reasoning else content
    if "</think>" in content:  # reasoning inline in the content
        reasoning, content = content.rsplit("</think>", 1)
        reasoning = reasoning.replace("<think>", " ")
    parts = ([content] if info.rubric_use_content else []) + ([reasoning] if info.rubric_use_reasoning_content else [])
    return response, "\n".join(parts)


class _GuardMiddleware:
    """Bearer token (401), body limit (413) and a last-resort 500: a plain ASGI middleware, because
    Starlette's ``BaseHTTPMiddleware`` costs more per request than the rubric itself."""

    def __init__(self, app: Any, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token is not None else None
        self.max_body = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and scope.get("path") != "/health":
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                return await JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)(scope, receive, send)
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            return await JSONResponse({"detail": f"request body over {self.max_body} bytes"}, status_code=413)(
                scope, receive, send)
        try:
            await self.app(scope, receive, send)
        except Exception as e:  # one request's failure never stops the server
            log.exception("request failed")
            await JSONResponse({"detail": f"internal error: {type(e).__name__}: {e}"}, status_code=500)(scope, receive, send)


def create_app(config: RewardConfig | None = None, *, token: str | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY, reward: LongTraceReward | None = None) -> FastAPI:
    """The FastAPI app (``token``: require ``Authorization: Bearer <token>`` on every route but /health)."""
    cfg = config or RewardConfig()
    scorer = reward or LongTraceReward(cfg)
    app = FastAPI(title="longtracerl reward server", version=__version__)

    app.add_middleware(_GuardMiddleware, token=token, max_body_bytes=max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        fields = [".".join(str(x) for x in e["loc"] if x != "body") or "body" for e in errs]
        status = 400 if any(e["type"] in ("json_invalid", "model_attributes_type") for e in errs) else 422
        msg = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errs, strict=True))
        return JSONResponse({"detail": msg, "fields": fields}, status_code=status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "outcome": cfg.outcome,
                "rule": cfg.rule if cfg.outcome == "rule" else None, "strategy": cfg.strategy, "eta": cfg.eta,
                "format": cfg.format if cfg.format_gate else "off", "rubric_mode": cfg.rubric_mode,
                "preset": cfg.preset}

    @app.post("/evaluate", response_model=EvaluateResponse, responses={503: {"description": JUDGE_FAILED}})
    async def evaluate(req: EvaluateRequest) -> EvaluateResponse | JSONResponse:
        info = req.extra_reward_info
        text, rubric_text = response_text(req)
        # the client's rubric_reward_ratio overrides; without it the server's eta. A request without rubrics
        # (slime's stock remote_rm sends only prompt, response and label) cannot earn a rubric term: outcome alone
        ratio = info.rubric_reward_ratio
        if ratio is None and not info.rubrics:
            ratio = 0.0
        r = await scorer.ascore_one(text, req.label, info.rubrics, question=info.question, rubric_reward_ratio=ratio,
                                    answer_aliases=info.answer_aliases or None, truncated=req.truncated,
                                    rubric_text=rubric_text, aliases=info.rubric_aliases or None)
        if r.error is not None or r.reward is None or r.outcome is None:
            return judge_failed([r.error])
        return EvaluateResponse(reward=r.reward, outcome_reward=r.outcome, rubric_reward=r.rubric_raw,
                                matched_entities=r.matched_entities, format_gate=r.details.get("format_gate"))

    @app.post("/evaluate_group", response_model=GroupResponse, responses={503: {"description": JUDGE_FAILED}})
    async def evaluate_group(req: GroupRequest) -> GroupResponse | JSONResponse:
        info = req.extra_reward_info
        if req.truncated is not None and len(req.truncated) != len(req.responses):
            raise HTTPException(422, detail=f"truncated: {len(req.truncated)} entries for {len(req.responses)} responses")
        rs = await scorer.ascore_group(req.responses, req.label, info.rubrics, question=info.question,
                                       answer_aliases=info.answer_aliases or None, truncated=req.truncated,
                                       aliases=info.rubric_aliases or None)
        if any(r.error is not None for r in rs):  # the group step needs every outcome: retry the whole group
            return judge_failed([r.error for r in rs])
        return GroupResponse(rewards=[float(r.reward or 0.0) for r in rs],
                             outcome_rewards=[float(r.outcome or 0.0) for r in rs],
                             rubric_rewards=[r.rubric_raw for r in rs],
                             rubric_normalized=[float(r.rubric_normalized or 0.0) for r in rs],
                             errors=[None for _ in rs],
                             format_gates=[r.details.get("format_gate") for r in rs])

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for ``serve-reward``: settings come through the environment, so workers share them;
    ``$LONGTRACERL_REWARD_CONFIG`` is a config FILE path, as for the adapters (``load_reward_config``)."""
    import os

    cfg = load_reward_config()
    return create_app(cfg, token=os.environ.get("LONGTRACERL_REWARD_TOKEN"),
                      max_body_bytes=int(os.environ.get("LONGTRACERL_REWARD_MAX_BODY", DEFAULT_MAX_BODY)))
