"""One async chat interface for every LLM role (walk chooser, question writer, agent, judge)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from longtracerl.records import Usage


class LLMError(RuntimeError):
    """A call that failed for good (after retries): carries the reason, e.g. 'timeout', 'http 500'."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ChatResponse(BaseModel):
    content: str = ""
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI shape: {id, name, arguments(str)}
    finish_reason: str = "stop"  # "length" means truncated
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False


@runtime_checkable
class ChatLLM(Protocol):
    """``await llm.chat(messages, ...)`` -> ChatResponse; raises LLMError when it gives up."""

    backend: str
    model: str

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
    ) -> ChatResponse: ...
