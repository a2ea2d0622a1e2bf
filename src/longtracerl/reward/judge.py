"""LLM-judge outcome scorer: asks a model whether the final answer matches the gold answer.

Two prompts: ``hle`` (the released judge: HLE/BrowseComp-style, the judge returns
``extracted_final_answer``, ``reasoning`` and ``correct: yes|no``) and ``aa_lcr`` (the AA-LCR equality
check, CORRECT / INCORRECT). A judge that keeps failing yields an explicit error state
(``correct=None``, ``error=...``), never a silent 0 that would look like a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from longtracerl.llm.base import ChatLLM, LLMError
from longtracerl.llm.cache import SqliteStore
from longtracerl.paths import home
from longtracerl.reward.outcome_base import OutcomeResult
from longtracerl.reward.think import split_think

JudgePrompt = Literal["hle", "aa_lcr"]
PROMPT_VERSION = {"hle": "hle-v1", "aa_lcr": "aa_lcr-v1"}

_HLE = """You grade answers. Decide whether the [response] to the [question] is correct, using only the \
precise and unambiguous [correct_answer] below.

[question]: {question}

[response]: {response}

[correct_answer]: {gold}

Reply in exactly this format:
extracted_final_answer: the final answer taken word for word from the [response], or None if it gives none.
reasoning: a short explanation of whether extracted_final_answer agrees with [correct_answer]; judge only \
equivalence, do not solve the question yourself or argue for another answer.
correct: yes if extracted_final_answer is equivalent to [correct_answer] (small differences in wording, or \
a small margin for numbers, are fine); no if it differs, is ambiguous, incomplete or missing."""

_AA_LCR = """Check whether a candidate answer agrees with the official answer to a question about a set of \
documents.

Question: {question}
Official answer: {gold}
Candidate answer: {response}

If the candidate answer is equivalent to the official answer (same facts, possibly worded differently), \
reply CORRECT. Otherwise reply INCORRECT. Reply with that single word."""

_YES_NO = re.compile(r"correct\s*[:：]\s*\**\s*(yes|no)\b", re.I)
_EXTRACTED = re.compile(r"extracted_final_answer\s*[:：]\s*(.+)", re.I)


def parse_verdict(prompt: JudgePrompt, text: str) -> bool | None:
    """``True``/``False`` from the judge's text, or ``None`` when it cannot be read."""
    if prompt == "aa_lcr":
        up = text.upper()
        if "INCORRECT" in up:  # test INCORRECT first: "CORRECT" is a substring of it
            return False
        if "CORRECT" in up:
            return True
        return None
    found = _YES_NO.findall(text)
    if not found:
        return None
    return found[-1].lower() == "yes"


class JudgeCache(SqliteStore):
    """Verdicts on disk (sqlite), keyed by (prompt version, model, question, gold, answer)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, "verdicts")

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


class LLMJudge:
    """``OutcomeScorer`` backed by any ``ChatLLM`` (retries and backoff live in the LLM backend)."""

    name = "judge"

    def __init__(
        self,
        llm: ChatLLM,
        *,
        prompt: JudgePrompt = "hle",
        cache: JudgeCache | None = None,
        parse_retries: int = 1,
        max_tokens: int = 512,
    ) -> None:
        if prompt not in PROMPT_VERSION:
            raise ValueError(f"unknown judge prompt {prompt!r}; expected 'hle' or 'aa_lcr'")
        self.llm = llm
        self.prompt = prompt
        self.cache = cache
        self.parse_retries = parse_retries
        self.max_tokens = max_tokens
        self.calls = 0

    async def score(self, answer: str, gold: str, *, question: str = "", aliases: list[str] | None = None) -> OutcomeResult:
        final = split_think(answer)[1]
        if not final.strip():
            return OutcomeResult(score=0.0, correct=False, details={"reason": "empty_answer"})
        gold_text = gold if not aliases else f"{gold} (also accepted: {'; '.join(aliases)})"
        key = JudgeCache.key(PROMPT_VERSION[self.prompt], self.llm.model, question, gold_text, final)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return OutcomeResult(score=float(hit["correct"]), correct=hit["correct"], details={**hit, "cached": True})
        template = _HLE if self.prompt == "hle" else _AA_LCR
        messages = [{"role": "user", "content": template.format(question=question, response=final, gold=gold_text)}]
        last_text, error = "", ""
        for _ in range(1 + self.parse_retries):
            try:
                self.calls += 1
                resp = await self.llm.chat(messages, temperature=0.0, max_tokens=self.max_tokens)
            except LLMError as e:
                error = f"judge call failed: {e}"
                break
            last_text = resp.content
            verdict = parse_verdict(self.prompt, split_think(last_text)[1] or last_text)
            if verdict is not None:
                m = _EXTRACTED.search(last_text)
                details = {"correct": verdict, "judge_output": last_text[:2000], "prompt": PROMPT_VERSION[self.prompt],
                           "extracted_final_answer": m.group(1).strip() if m else None}
                if self.cache is not None:
                    self.cache.put(key, details)
                return OutcomeResult(score=float(verdict), correct=verdict, details=details)
            error = "unparsable judge verdict"
        return OutcomeResult(score=0.0, correct=None, error=error, details={"judge_output": last_text[:2000]})


def make_judge(
    llm: ChatLLM | None = None,
    *,
    base_url: str | None = None,
    api_key: str = "none",
    model: str = "",
    prompt: JudgePrompt = "hle",
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    max_concurrency: int = 128,
    timeout: float = 60.0,
    max_retries: int = 4,
    max_tokens: int = 512,
) -> LLMJudge:
    """A judge over ``llm``, or over an OpenAI-compatible endpoint (``base_url``, ``model``, ``api_key``)."""
    if llm is None:
        if not base_url:
            raise ValueError("the judge needs an llm or a base_url (OpenAI-compatible endpoint)")
        from longtracerl.llm.openai_backend import OpenAIChatLLM

        llm = OpenAIChatLLM(base_url=base_url, api_key=api_key, model=model, max_concurrency=max_concurrency,
                            timeout=timeout, max_retries=max_retries)
    cache = None
    if use_cache:
        cache = JudgeCache(cache_path or home() / "judge_cache.sqlite")
    return LLMJudge(llm, prompt=prompt, cache=cache, max_tokens=max_tokens)
