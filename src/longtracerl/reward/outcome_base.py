"""The outcome-scorer protocol: is a final answer correct? (rule scorers and the LLM judge implement it)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class OutcomeResult(BaseModel):
    """``score`` in [0, 1]; ``error`` is set (and ``correct`` None) when the scorer could not decide."""

    score: float
    correct: bool | None
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class OutcomeScorer(Protocol):
    name: str

    async def score(
        self, answer: str, gold: str, *, question: str = "", aliases: list[str] | None = None
    ) -> OutcomeResult: ...
