"""LLM-judge outcome scorer: asks a model whether the final answer matches the gold answer.

The decision rule (the released judge's, in our words): the final answer is the text after the LAST
``</think>``; an empty final answer is wrong (0) without asking the judge; the judge's reply is read
tolerantly for a ``correct: yes|no`` line (any case, markdown emphasis or code marks around the key or
the value, a full-width colon, the last such line wins); a call that fails or a reply without a readable
verdict is retried, up to ``tries`` calls (3) in all; then the result is an explicit error state
(``correct=None``, ``error=...``), never a silent 0 that would look like a wrong answer.

Two built-in prompts in our own words: ``hle`` (HLE/BrowseComp-style: the judge returns
``extracted_final_answer``, ``reasoning`` and ``correct: yes|no``) and ``aa_lcr`` (an equality check
answered CORRECT / INCORRECT). ``prompt_file`` loads any other template with the named placeholders
``{question}``, ``{response}`` (the final answer) and ``{correct_answer}`` (the gold answer and its
aliases), so the released wording can be used verbatim by whoever has it.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from pathlib import Path
from typing import Literal

from longtracerl.llm.base import ChatLLM, LLMError
from longtracerl.llm.cache import SqliteStore
from longtracerl.paths import home
from longtracerl.reward.outcome_base import OutcomeResult
from longtracerl.reward.verdicts import aa_lcr_verdict
from longtracerl.think import split_think

JudgePrompt = Literal["hle", "aa_lcr"]
Verdict = Literal["yes_no", "correct_incorrect"]
PROMPT_VERSION = {"hle": "hle-v1", "aa_lcr": "aa_lcr-v1"}
PLACEHOLDERS = ("question", "response", "correct_answer")

_HLE = """You grade answers. Decide whether the [response] to the [question] is correct, using only the \
precise and unambiguous [correct_answer] below.

[question]: {question}

[response]: {response}

[correct_answer]: {correct_answer}

Reply in exactly this format:
extracted_final_answer: the final answer taken word for word from the [response], or None if it gives none.
reasoning: a short explanation of whether extracted_final_answer agrees with [correct_answer]; judge only \
equivalence, do not solve the question yourself or argue for another answer.
correct: yes if extracted_final_answer is equivalent to [correct_answer] (small differences in wording, or \
a small margin for numbers, are fine); no if it differs, is ambiguous, incomplete or missing."""

_AA_LCR = """Check whether a candidate answer agrees with the official answer to a question about a set of \
documents.

Question: {question}
Official answer: {correct_answer}
Candidate answer: {response}

If the candidate answer is equivalent to the official answer (same facts, possibly worded differently), \
reply CORRECT. Otherwise reply INCORRECT. Reply with that single word."""

#: the built-in judge prompts by name (the twin recognises the judge role from these)
JUDGE_TEMPLATES = {"hle": _HLE, "aa_lcr": _AA_LCR}

_MARK = r"[\s*_`#>\"'\[\]]*"
_YES_NO = re.compile(rf"(?<![a-z_]){_MARK}correct{_MARK}[:：]{_MARK}(yes|no)\b", re.I)
_EXTRACTED = re.compile(r"extracted_final_answer\W{0,6}[:：]\s*(.+)", re.I)


def load_judge_template(path: str | Path) -> str:
    """A judge template from a file; it must use ``{response}`` and ``{correct_answer}`` and no other
    placeholder than ``{question}`` (write ``{{`` / ``}}`` for literal braces)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"judge prompt file {p}: {e.strerror or e}") from None
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as e:
        raise ValueError(f"judge prompt file {p}: bad template ({e}); write {{{{ and }}}} for literal braces") from None
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(f"judge prompt file {p}: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                         f"known: {', '.join('{' + k + '}' for k in PLACEHOLDERS)}")
    missing = [k for k in ("response", "correct_answer") if k not in names]
    if missing:
        raise ValueError(f"judge prompt file {p}: missing placeholder(s) {', '.join('{' + m + '}' for m in missing)}")
    return text


def parse_verdict(prompt: JudgePrompt | Verdict, text: str) -> bool | None:
    """``True``/``False`` from the judge's text, or ``None`` when it cannot be read.

    ``hle`` / ``yes_no``: the last ``correct: yes|no`` (case, markdown and code marks tolerated);
    ``aa_lcr`` / ``correct_incorrect``: ``reward.verdicts.aa_lcr_verdict``, the rule eval's AA-LCR uses too."""
    if prompt in ("aa_lcr", "correct_incorrect"):
        return aa_lcr_verdict(text)
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
        tries: int = 3,
        max_tokens: int = 512,
        template: str | None = None,
        verdict: Verdict | None = None,
    ) -> None:
        if prompt not in PROMPT_VERSION:
            raise ValueError(f"unknown judge prompt {prompt!r}; expected 'hle' or 'aa_lcr'")
        if tries < 1:
            raise ValueError(f"judge tries must be >= 1, got {tries}")
        self.llm = llm
        self.prompt = prompt
        self.cache = cache
        self.tries = tries
        self.max_tokens = max_tokens
        if template is not None:
            self.template = template
            self.verdict: Verdict = verdict or "yes_no"
            digest = hashlib.sha256(template.encode()).hexdigest()[:12]
            self.version = f"file-{digest}-{self.verdict}"
        else:
            self.template = JUDGE_TEMPLATES[prompt]
            self.verdict = verdict or ("yes_no" if prompt == "hle" else "correct_incorrect")
            self.version = PROMPT_VERSION[prompt]
        self.calls = 0

    async def score(self, answer: str, gold: str, *, question: str = "", aliases: list[str] | None = None) -> OutcomeResult:
        final = split_think(answer)[1]
        if not final.strip():
            return OutcomeResult(score=0.0, correct=False, details={"reason": "empty_answer"})
        gold_text = gold if not aliases else f"{gold} (also accepted: {'; '.join(aliases)})"
        key = JudgeCache.key(self.version, self.llm.model, question, gold_text, final)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return OutcomeResult(score=float(hit["correct"]), correct=hit["correct"], details={**hit, "cached": True})
        content = self.template.format(question=question, response=final, correct_answer=gold_text)
        messages = [{"role": "user", "content": content}]
        last_text, error = "", ""
        for attempt in range(self.tries):
            try:
                self.calls += 1
                resp = await self.llm.chat(messages, temperature=0.0 if attempt == 0 else 0.3,
                                           max_tokens=self.max_tokens, seed=attempt)
            except LLMError as e:
                error = f"judge call failed: {e}"
                if _permanent(e):  # a wrong key or model name does not heal on a retry
                    break
                continue
            last_text = resp.content
            verdict = parse_verdict(self.verdict, split_think(last_text)[1] or last_text)
            if verdict is not None:
                m = _EXTRACTED.search(last_text)
                details = {"correct": verdict, "judge_output": last_text[:2000], "prompt": self.version,
                           "extracted_final_answer": m.group(1).strip() if m else None, "tries": attempt + 1}
                if self.cache is not None:
                    self.cache.put(key, details)
                return OutcomeResult(score=float(verdict), correct=verdict, details=details)
            error = "unparsable judge verdict"
        return OutcomeResult(score=0.0, correct=None, error=error,
                             details={"judge_output": last_text[:2000], "tries": attempt + 1})


def _permanent(e: LLMError) -> bool:
    """HTTP 4xx other than 408 (timeout) and 429 (rate limit): retrying cannot help."""
    r = e.reason
    return r.startswith("http 4") and r not in ("http 408", "http 429")


def make_judge(
    llm: ChatLLM | None = None,
    *,
    base_url: str | list[str] | None = None,
    api_key: str = "none",
    model: str = "",
    prompt: JudgePrompt = "hle",
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    max_concurrency: int = 128,
    timeout: float = 60.0,
    max_retries: int = 4,
    max_tokens: int = 512,
    tries: int = 3,
    prompt_file: str | Path | None = None,
    verdict: Verdict | None = None,
) -> LLMJudge:
    """A judge over ``llm``, or over an OpenAI-compatible endpoint (``base_url``, ``model``, ``api_key``);
    ``prompt_file`` replaces the built-in prompt (see ``load_judge_template``).

    A list of several base URLs makes a pool (``llm/pool.py``): least-outstanding routing, failing endpoints
    left out for a while, ``max_concurrency`` requests in flight per endpoint.
    """
    template = load_judge_template(prompt_file) if prompt_file else None
    if llm is None:
        urls = [u for u in ([base_url] if isinstance(base_url, str) else (base_url or [])) if u]
        if not urls:
            raise ValueError("the judge needs an llm or a base_url (OpenAI-compatible endpoint)")
        if len(set(urls)) > 1:
            from longtracerl.llm.pool import make_pool

            llm = make_pool(urls, api_key, model, max_in_flight=max_concurrency, timeout=timeout, stage="judge")
        else:
            from longtracerl.llm.openai_backend import OpenAIChatLLM

            llm = OpenAIChatLLM(base_url=urls[0], api_key=api_key, model=model, max_concurrency=max_concurrency,
                                timeout=timeout, max_retries=max_retries)
    cache = None
    if use_cache:
        cache = JudgeCache(cache_path or home() / "judge_cache.sqlite")
    return LLMJudge(llm, prompt=prompt, cache=cache, max_tokens=max_tokens, tries=tries, template=template,
                    verdict=verdict)
