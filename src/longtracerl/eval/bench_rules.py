"""Each benchmark's own scoring rule, reimplemented from its public definition and tested on edge cases.

Every function takes the model's FINAL answer (reasoning removed with ``final_answer``), except where a
benchmark scores the raw text (MRCR scores exactly what the model wrote after its reasoning; nothing else
is stripped). The judge decisions read the judge's reply with its own reasoning removed. AA-LCR's
CORRECT/INCORRECT rule is not here: it is ``reward.verdicts.aa_lcr_verdict``, shared with the reward's judge.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from longtracerl.think import split_response


def final_answer(response: str, reasoning_field: str | None = None) -> tuple[str, int]:
    """``(final, reasoning_chars)``: the text after the LAST ``</think>``, surrounding whitespace removed.

    A response with ``<think>`` but no ``</think>`` never finished thinking: its final answer is empty
    (so it scores 0). When the endpoint returns reasoning in a separate field (``reasoning_content``),
    ``response`` is already the final answer.
    """
    raw, n, _ = split_reasoning(response, reasoning_field)
    return raw.strip(), n


def split_reasoning(response: str, reasoning_field: str | None = None) -> tuple[str, int, bool]:
    """``(final_as_written, reasoning_chars, had_reasoning)`` with nothing stripped from the final text
    (the cut is ``longtracerl.think.split_response``'s, the one the reward uses)."""
    reasoning = len(reasoning_field or "")
    s = split_response(response)
    if s.closed:
        return s.final, reasoning + len(s.head), True
    if s.unfinished:
        return "", reasoning + len(response), True
    return response, reasoning, reasoning > 0


def mrcr_final(response: str, reasoning_field: str | None = None) -> str:
    """The text MRCR grades: exactly what the model wrote, or, after a reasoning block, what follows it
    without the separator whitespace a thinking template puts there (otherwise no thinking model could
    ever start with the prefix)."""
    raw, _, had = split_reasoning(response, reasoning_field)
    return raw.lstrip() if had else raw


# ------------------------------------------------------------------ OpenAI MRCR


def mrcr_grade(response: str, answer: str, random_string_to_prepend: str) -> float:
    """MRCR: 0 unless ``response`` starts with the prefix; else difflib ratio of both texts, prefix removed.

    Nothing else is stripped or normalised (case, whitespace and unicode count as written).
    """
    if not response.startswith(random_string_to_prepend):
        return 0.0
    resp = response[len(random_string_to_prepend):]
    ans = answer[len(random_string_to_prepend):] if answer.startswith(random_string_to_prepend) else answer
    return float(SequenceMatcher(None, resp, ans).ratio())


# The official context-length bins: (lower, upper] in o200k_base tokens of the messages plus the answer.
MRCR_BINS: list[tuple[int, int]] = [(4096 * 2**i, 4096 * 2 ** (i + 1)) for i in range(8)]


def mrcr_bin(n_tokens: int) -> str:
    """The bin label of a token count, e.g. ``"(8192, 16384]"``; outside the official range: ``"<=4096"``."""
    for lo, hi in MRCR_BINS:
        if lo < n_tokens <= hi:
            return f"({lo}, {hi}]"
    return f"<={MRCR_BINS[0][0]}" if n_tokens <= MRCR_BINS[0][0] else f">{MRCR_BINS[-1][1]}"


# ------------------------------------------------------------------ LongBench v2

_LB2_BRACKETS = re.compile(r"The correct answer is \(([A-D])\)")
_LB2_BARE = re.compile(r"The correct answer is ([A-D])")


def longbench_v2_choice(response: str) -> str | None:
    """LongBench v2's extraction: drop ``*``; first "The correct answer is (X)", else the same without
    brackets. Case-sensitive, as published: "the correct answer is (b)" extracts nothing."""
    text = response.replace("*", "")
    m = _LB2_BRACKETS.search(text) or _LB2_BARE.search(text)
    return m.group(1) if m else None


# ------------------------------------------------------------------ LongReason (multiple choice)


def _choice_patterns(letters: str) -> list[re.Pattern[str]]:
    cls = "".join(sorted(set(letters.upper() + letters.lower())))
    return [
        # "The final answer is (C)", "answer: c", "Answer is **B**" (asterisks are removed first)
        re.compile(rf"answer\s*(?:is|:)?\s*[:：]?\s*[\(\[]?\s*([{cls}])\s*[\)\]]?(?![A-Za-z0-9])", re.I),
        re.compile(rf"\(([{cls}])\)"),                       # a bracketed letter anywhere
        re.compile(rf"^\s*([{cls}])\s*[\.\):]?\s*$"),          # the whole reply is one letter
    ]


def choice_letter(response: str, letters: str = "ABCD") -> str | None:
    """The option a free-text reply commits to (upper-case), or ``None``.

    Order: the LAST "answer is X" / "answer: X" (bracketed or not, any case), then the last bracketed
    letter "(X)", then a reply that is a single letter. A lone capital in prose ("A study shows") is
    never taken as a choice.
    """
    text = response.replace("*", "")
    valid = set(letters.upper())
    for pat in _choice_patterns(letters):
        found = [m.upper() for m in pat.findall(text) if m.upper() in valid]
        if found:
            return found[-1]
    return None


# ------------------------------------------------------------------ judged benchmarks


_TF = re.compile(r"\b(TRUE|FALSE)\b", re.I)


def frames_correct(judge_reply: str) -> bool | None:
    """FRAMES' auto-rater decision: the judge's last TRUE/FALSE (any case, reasoning removed); ``None`` if absent."""
    final, _ = final_answer(judge_reply)
    found = _TF.findall(final.replace("*", ""))
    if not found:
        return None
    return found[-1].upper() == "TRUE"


# ------------------------------------------------------------------ statistics


def bootstrap_ci(values: list[float], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (items resampled with replacement); (nan, nan) when empty."""
    import numpy as np

    if not values:
        return float("nan"), float("nan")
    arr = np.asarray(values, dtype=float)
    if len(arr) == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
