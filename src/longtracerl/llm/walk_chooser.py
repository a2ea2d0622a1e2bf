"""The LLM walk chooser (PAPER.md 2a): the model picks the next entity of a walk among <= 5 candidates.

A weak model often answers off-format, so the reply is parsed leniently (JSON ``{"choice": n}``, a bare
number, or a candidate's title). A reasoning model's reply is read after its last ``</think>`` (a number in
its reasoning is not a choice; reasoning in a separate ``reasoning_content`` field never reaches the parser),
and the token cap leaves room to reason: a reply cut inside its reasoning is invalid, not a pick. An invalid
pick is retried with the complaint, then a documented
fallback rule decides: ``uniform`` (random candidate from the walk's own stream, the default), ``first``
or ``degree`` (the best-connected candidate). Calls, invalid replies and fallbacks are counted.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from longtracerl.graph.chooser import Candidate
from longtracerl.llm.base import ChatLLM, LLMError
from longtracerl.records import Hop
from longtracerl.think import split_response

CHOICE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"choice": {"type": "integer"}},
                                 "required": ["choice"]}


def choice_schema(n: int) -> dict[str, Any]:
    """``CHOICE_SCHEMA`` with the valid numbers 1..n as an enum, so a constrained decoder cannot pick outside."""
    return {**CHOICE_SCHEMA, "properties": {"choice": {"type": "integer", "enum": list(range(1, n + 1))}}}
_INT = re.compile(r"-?\d+")


def parse_choice(text: str, candidates: list[Candidate]) -> int | None:
    """0-based index of the picked candidate, or None: JSON ``{"choice": n}``, a bare number, or a title."""
    n = len(candidates)
    m = re.search(r"\{.*?\}", text, re.S)
    if m:
        try:
            obj = json.loads(m.group(0))
            v = obj.get("choice") if isinstance(obj, dict) else None
            if isinstance(v, int | str) and str(v).strip().lstrip("-").isdigit():
                k = int(v)
                return k - 1 if 1 <= k <= n else None
        except ValueError:
            pass
    first = _INT.search(text)
    if first is not None:
        k = int(first.group(0))
        if 1 <= k <= n:
            return k - 1
    low = text.lower()
    hits = [i for i, c in enumerate(candidates) if c.title and c.title.lower() in low]
    if len(hits) == 1:
        return hits[0]
    if hits:  # several titles mentioned: the longest match (a title containing another) wins
        return max(hits, key=lambda i: len(candidates[i].title))
    return None


class LLMWalkChooser:
    """``AsyncWalkChooser`` asking an LLM which neighbour makes the best answerable multi-hop chain."""

    def __init__(self, llm: ChatLLM, *, max_retries: int = 2, fallback: str = "uniform",
                 max_tokens: int = 2048, use_json_schema: bool = True) -> None:
        if fallback not in ("uniform", "first", "degree"):
            raise ValueError(f"fallback must be 'uniform', 'first' or 'degree', not {fallback!r}")
        self.llm = llm
        self.max_retries = max_retries
        self.fallback = fallback
        self.max_tokens = max_tokens
        self.use_json_schema = use_json_schema
        self.name = f"llm:{getattr(llm, 'model', '') or getattr(llm, 'backend', 'llm')}"
        self.calls = 0
        self.invalid = 0
        self.fallbacks = 0
        self.errors = 0

    @property
    def counters(self) -> dict[str, int]:
        return {"calls": self.calls, "invalid": self.invalid, "fallbacks": self.fallbacks, "errors": self.errors}

    def prompt(self, path: list[Hop], candidates: list[Candidate]) -> str:
        steps = " -> ".join(h.title + (f" [{h.relation}]" if h.relation else "") for h in path) or "(start)"
        lines = []
        for i, c in enumerate(candidates, 1):
            rel = f" ({c.relation})" if c.relation else ""
            sent = f": {c.first_sentence[:160]}" if c.first_sentence else ""
            lines.append(f"{i}. {c.title}{rel}{sent}")
        return (
            "We are building a chain of linked encyclopedia entities for a hard multi-hop question.\n"
            f"Chain so far: {steps}\n\nCandidates for the next entity:\n" + "\n".join(lines) + "\n\n"
            "Pick the candidate that makes the most interesting, answerable next step of the chain "
            f"(specific facts, not generic). Reply with JSON only: {{\"choice\": <number 1-{len(candidates)}>}}"
        )

    def _fallback(self, candidates: list[Candidate], rng: random.Random) -> int:
        self.fallbacks += 1
        if self.fallback == "first":
            return 0
        if self.fallback == "degree":
            return max(range(len(candidates)), key=lambda i: candidates[i].degree)
        return rng.randrange(len(candidates))

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        if len(candidates) <= 1:
            return 0
        shown = candidates[:5]
        messages: list[dict[str, Any]] = [{"role": "user", "content": self.prompt(path, shown)}]
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                resp = await self.llm.chat(messages, json_schema=choice_schema(len(shown)) if self.use_json_schema else None,
                                           temperature=0.0 if attempt == 0 else 0.7, max_tokens=self.max_tokens,
                                           seed=attempt)
            except LLMError:
                self.errors += 1
                continue
            # the answer after the reasoning; a reply cut while reasoning (no </think>) has none
            pick = parse_choice(split_response(resp.content).final, shown)
            if pick is not None:
                return pick
            self.invalid += 1
            messages = [*messages[:1], {"role": "assistant", "content": resp.content[:200]},
                        {"role": "user", "content": f"That is not a valid choice. Reply with a number from 1 to "
                                                    f"{len(shown)} only."}]
        return self._fallback(shown, rng)
