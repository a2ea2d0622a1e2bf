"""Clue hygiene: a clue must read as a clean English description of its entity, whoever wrote it.

Each problem is a named rejection (``clue_<kind>``), reported by kind, for the template writer's candidate
pieces (counted in ``ClueContext.hygiene_rejects``) and for every writer's final clues (``checks``):

- ``partial_mask``: a mask glued into a longer proper name ("Fish and this entity Service", "criminal this
  entity Sheppard"): a mask must replace a whole name;
- ``table_row``: a row of a table or list (dense in figures or in capitalised words: "Country Start numbered
  year ... Denmark 1522 1582");
- ``orphan_symbol``: symbols or brackets left without their words ("the 1 / -story home", "()");
- ``blur_artefact``: blurring that is no longer English ("the about 50 United States");
- ``too_common``: fewer than two content words rarer than the corpus median word occurrence (``corpus.stats``;
  a word on one page only counts as rare, so that a tiny corpus, where the median is 1, still has rare words):
  nothing left to match ("The term was first used"); checked for the weak last hop too.
"""

from __future__ import annotations

import re
from typing import Any

from longtracerl.synth.questions.text import STOPWORDS

KINDS = ("partial_mask", "table_row", "orphan_symbol", "blur_artefact", "too_common")
MIN_RARE_WORDS = 2
_MASK = re.compile(r"\b(?:this|another) entity\b")
_WORDISH = re.compile(r"[A-Za-z][\w'’.-]*")
_ORPHAN = re.compile(r"\(\s*\)|\[\s*\]|\(\s*[,;:./-]|[,;:/-]\s*\)|(?:^|\s)[/\\|+=*#~^%]+(?=\s|$)|(?:^|\s)-\w"
                     r"|\w-(?=\s|$)|^[-–—)\],;:]|[-–—(\[]$|^0\d*\b")
_BLUR_BAD = re.compile(r"\b(?:the|a|an|its|their|his|her|this|these|those)\s+(?:about|around|nearly|some|under)\s+"
                       r"(?:\d|\$)|\babout\s+(?:about|around|under|over)\b|\b(the|in|of|a)\s+\1\b"
                       r"|\bthe \d{3,4}s,? the \d{3,4}s\b", re.I)


def partial_mask(clue: str) -> str | None:
    """The name a mask is glued into, if any: a capitalised word right after a mask, or right before one
    (unless it opens the clue or a sentence)."""
    for m in _MASK.finditer(clue):
        after = clue[m.end():]
        nxt = re.match(r"\s+([A-Z][\w'’-]*)", after)
        if nxt and nxt.group(1).lower() not in STOPWORDS and nxt.group(1) not in {"I"}:
            return f"{m.group(0)} {nxt.group(1)}"
        before = clue[:m.start()].rstrip()
        prv = re.search(r"(^|[.!?;:,(]\s*|\s)([A-Z][\w'’-]*)$", before)
        if prv and not (prv.start(2) == 0 or prv.group(1).strip()) and prv.group(2).lower() not in STOPWORDS:
            return f"{prv.group(2)} {m.group(0)}"
    return None


def table_row(clue: str) -> bool:
    toks = clue.split()
    if len(toks) < 5:
        return False
    nums = [bool(re.search(r"\d", t)) and not re.fullmatch(r"\d{3,4}s,?", t) for t in toks]
    run = best = 0
    for x in nums:
        run = run + 1 if x else 0
        best = max(best, run)
    if best >= 3 or sum(nums) / len(toks) >= 0.3:
        return True
    words = [w for w in _WORDISH.findall(_MASK.sub(" ", clue))][1:]  # the first word may open a sentence
    names = [w for w in words if w[0].isupper()]
    return len(words) >= 5 and len(names) / len(words) >= 0.6


def problem(clue: str, stats: Any = None, clue_terms: list[str] | None = None) -> tuple[str, str] | None:
    """The first hygiene problem of ``clue`` as ``(kind, detail)``, or None. ``stats`` (``corpus.stats``)
    and the clue's index terms enable ``too_common``."""
    if (glued := partial_mask(clue)) is not None:
        return "partial_mask", f"a mask is part of a longer name: {glued!r}"
    if table_row(clue):
        return "table_row", "reads as a table or list row (figures or capitalised words)"
    if (m := _ORPHAN.search(clue.strip())) is not None:
        return "orphan_symbol", f"orphan symbol or empty bracket {m.group(0).strip()!r}"
    if (m := _BLUR_BAD.search(clue)) is not None:
        return "blur_artefact", f"blurring left no English: {m.group(0)!r}"
    if stats is not None and clue_terms is not None:
        med = stats.median_df
        rare = [t for t in clue_terms if not t.isdigit() and (stats.doc_freq(t) < med or stats.doc_freq(t) <= 1)]
        if len(rare) < MIN_RARE_WORDS:
            return "too_common", (f"{len(rare)} content word(s) rarer than the corpus median (df {med}); "
                                  f"need {MIN_RARE_WORDS}")
    return None
