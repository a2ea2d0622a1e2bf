"""Rule-based outcome scorers r_oc (exact match, token F1, containment, multiple-choice letter).

They implement ``OutcomeScorer`` (``reward/outcome_base.py``); the LLM judge (``reward/judge.py``) does
too, so every stage and the reward server pick a scorer by name from one registry.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

from longtracerl.reward.outcome_base import OutcomeResult, OutcomeScorer
from longtracerl.think import split_think

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT_DEL = str.maketrans("", "", string.punctuation + "‘’“”–—«»")


_ASCII_PUNCT_DEL = str.maketrans("", "", string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD-style normalization plus accent folding: lowercase, no punctuation, no articles.

    ASCII text (the common case, and long responses) takes a fast path with the same result.
    """
    if s.isascii():
        s = s.lower().translate(_ASCII_PUNCT_DEL)
    else:
        s = unicodedata.normalize("NFKD", s)
        s = "".join(c for c in s if not unicodedata.combining(c)).lower().translate(_PUNCT_DEL)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _final(answer: str) -> str:
    return split_think(answer)[1]


def _golds(gold: str, aliases: list[str] | None) -> list[str]:
    return [g for g in [gold, *(aliases or [])] if normalize_answer(g)]


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not p or not g or same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


class _RuleScorer:
    """Shared scoring loop: the final answer is prepared once, then compared with each accepted gold."""

    name = "rule"
    graded = False

    def prepare(self, final: str) -> str:
        return normalize_answer(final)

    def decide(self, prepared: str, gold: str) -> tuple[float, bool]:
        raise NotImplementedError

    def score_sync(self, answer: str, gold: str, *, question: str = "", aliases: list[str] | None = None) -> OutcomeResult:
        final = _final(answer)
        if not final.strip():
            return OutcomeResult(score=0.0, correct=False, details={"reason": "empty_answer"})
        prepared = self.prepare(final)
        best, best_ok, best_gold = 0.0, False, None
        for g in _golds(gold, aliases):
            s, ok = self.decide(prepared, g)
            if (ok, s) > (best_ok, best):
                best, best_ok, best_gold = s, ok, g
        score = best if self.graded else float(best_ok)
        return OutcomeResult(score=score, correct=best_ok, details={"matched_gold": best_gold if best_ok else None})

    async def score(self, answer: str, gold: str, *, question: str = "", aliases: list[str] | None = None) -> OutcomeResult:
        return self.score_sync(answer, gold, question=question, aliases=aliases)


class ExactMatch(_RuleScorer):
    """Normalized exact match."""

    name = "em"

    def decide(self, prepared: str, gold: str) -> tuple[float, bool]:
        ok = prepared == normalize_answer(gold)
        return float(ok), ok


class TokenF1(_RuleScorer):
    """Token F1; correct when F1 >= ``threshold``; the score is the F1 itself when ``graded``."""

    name = "f1"

    def __init__(self, threshold: float = 0.5, graded: bool = False) -> None:
        self.threshold = threshold
        self.graded = graded

    def decide(self, prepared: str, gold: str) -> tuple[float, bool]:
        f = token_f1(prepared, gold)
        return f, f >= self.threshold


class Contains(_RuleScorer):
    """The normalized gold answer appears in the final answer on whole-token boundaries.

    The default rule: the released data asks for short answers, but models wrap them in a sentence
    ("The city is Lyon."), which exact match would call wrong.
    """

    name = "contains"

    def prepare(self, final: str) -> str:
        return f" {normalize_answer(final)} "

    def decide(self, prepared: str, gold: str) -> tuple[float, bool]:
        g = normalize_answer(gold)
        ok = bool(g) and f" {g} " in prepared
        return float(ok), ok


_CHOICE_PATTERNS = [
    re.compile(r"the correct answer is\s*\(?\s*([A-D])\b", re.I),
    re.compile(r"answer\s*(?:is|:)\s*\(?\s*([A-D])\b", re.I),
    re.compile(r"\(([A-D])\)"),
    re.compile(r"\b([A-D])\b"),
]


def extract_choice(text: str) -> str | None:
    """The chosen letter: "The correct answer is (X)" first (LongBench v2 format), else weaker patterns."""
    for pat in _CHOICE_PATTERNS[:-1]:
        m = pat.findall(text)
        if m:
            return m[-1].upper()
    m = _CHOICE_PATTERNS[-1].findall(text)
    return m[-1].upper() if m else None


class ChoiceLetter(_RuleScorer):
    """Multiple choice: the extracted letter equals the gold letter."""

    name = "choice"

    def prepare(self, final: str) -> str:
        return final

    def decide(self, prepared: str, gold: str) -> tuple[float, bool]:
        letter = extract_choice(prepared)
        ok = letter is not None and letter == gold.strip().strip("()").upper()
        return float(ok), ok


OUTCOME_SCORERS: dict[str, Callable[..., OutcomeScorer]] = {
    "em": ExactMatch,
    "f1": TokenF1,
    "contains": Contains,
    "choice": ChoiceLetter,
}


def register_outcome_scorer(name: str) -> Callable[[Callable[..., OutcomeScorer]], Callable[..., OutcomeScorer]]:
    """Decorator: make a scorer factory available to configs and the server by name."""

    def deco(factory: Callable[..., OutcomeScorer]) -> Callable[..., OutcomeScorer]:
        OUTCOME_SCORERS[name] = factory
        return factory

    return deco


def get_outcome_scorer(name: str, **kwargs: Any) -> OutcomeScorer:
    """Build a scorer by name: ``em``, ``f1``, ``contains``, ``choice`` or ``judge`` (kwargs: llm or endpoint)."""
    if name == "judge":
        from longtracerl.reward.judge import make_judge

        return make_judge(**kwargs)
    try:
        return OUTCOME_SCORERS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown outcome scorer {name!r}; known: {', '.join([*OUTCOME_SCORERS, 'judge'])}") from None
