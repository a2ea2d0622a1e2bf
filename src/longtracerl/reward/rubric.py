"""The rubric reward r_rb: the share of gold chain entities that the response names (PAPER.md 3).

Two modes:

- ``reference``: the released algorithm, decision for decision: lowercase, keep ``[a-zA-Z0-9_]+`` tokens and
  single CJK characters, join with spaces, then plain substring containment of each normalized entity.
  Its known flaws are kept on purpose ("art" hits inside "party"; accented letters are dropped; an entity
  that normalizes to nothing always hits; duplicates count twice).
  Aliases (our addition) are accepted: an entity also hits through any of its aliases.
- ``word`` (default): whole-token matches only, accents folded and non-ASCII letters kept, aliases,
  duplicates counted once, entities that normalize to nothing ignored with a warning.

Both modes normalize the response once and find every entity in one Aho-Corasick pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

import ahocorasick_rs
from pydantic import BaseModel, Field

from longtracerl.text import normalize_reference, normalize_word
from longtracerl.think import split_think

RubricMode = Literal["word", "reference"]
__all__ = ["RubricMode", "RubricScore", "normalize_reference", "normalize_word", "rubric_score"]  # normalizers: text.py

# ---------------------------------------------------------------- matching


class RubricScore(BaseModel):
    """``score`` = matched / counted entities; ``ignored`` lists entities that normalized to nothing."""

    score: float
    matched: list[str] = Field(default_factory=list)
    n_entities: int = 0
    ignored: list[str] = Field(default_factory=list)


@lru_cache(maxsize=4096)
def _automaton(patterns: tuple[str, ...]) -> ahocorasick_rs.BytesAhoCorasick:
    # Trainers score G responses against the same rubric list: build the automaton once per list.
    # Bytes (UTF-8) are scanned faster than str, and only the pattern indexes are used.
    return ahocorasick_rs.BytesAhoCorasick([p.encode() for p in patterns])


def _found(patterns: Sequence[str], haystack: str) -> set[int]:
    """Indexes of ``patterns`` that occur in ``haystack`` (overlapping matches, one pass)."""
    if not patterns or not haystack:
        return set()
    ac = _automaton(tuple(patterns))
    return {i for i, _, _ in ac.find_matches_as_indexes(haystack.encode(), overlapping=True)}


def _reference(text: str, entities: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None) -> RubricScore:
    if not entities:
        return RubricScore(score=0.0, n_entities=0)
    norm_text = normalize_reference(text)
    norm = [normalize_reference(e) for e in entities]
    # aliases (our addition; the released data has none, and without them the decisions are the released
    # ones): an entity also hits when one of its aliases is contained
    alts = [[a for a in (normalize_reference(x) for x in (aliases or {}).get(e, ())) if a] for e in entities]
    distinct = sorted({n for n in norm if n} | {a for xs in alts for a in xs})
    found_idx = _found(distinct, norm_text)
    found = {distinct[i] for i in found_idx}
    # "" in s is True in Python: an entity that normalizes to nothing always hits, as released.
    matched = [e for e, n, xs in zip(entities, norm, alts, strict=True)
               if n == "" or n in found or any(a in found for a in xs)]
    return RubricScore(score=len(matched) / len(entities), matched=matched, n_entities=len(entities))


def _word(text: str, entities: Sequence[str], aliases: Mapping[str, Sequence[str]] | None) -> RubricScore:
    counted: list[str] = []
    ignored: list[str] = []
    seen: set[str] = set()
    # each counted entity -> its normalized names (entity itself + aliases)
    names: list[list[str]] = []
    for e in entities:
        ne = normalize_word(e)
        if not ne:
            ignored.append(e)
            continue
        if ne in seen:
            continue  # a duplicated entity counts once
        seen.add(ne)
        alts = [ne] + [a for a in (normalize_word(x) for x in (aliases or {}).get(e, ())) if a]
        counted.append(e)
        names.append(alts)
    if ignored:
        warnings.warn(f"rubric entities normalize to nothing and are ignored: {ignored!r}", stacklevel=3)
    if not counted:
        return RubricScore(score=0.0, n_entities=0, ignored=ignored)
    patterns = sorted({f" {n} " for alts in names for n in alts})
    index = {p: i for i, p in enumerate(patterns)}
    hit = _found(patterns, f" {normalize_word(text)} ")
    matched = [e for e, alts in zip(counted, names, strict=True) if any(index[f" {n} "] in hit for n in alts)]
    return RubricScore(score=len(matched) / len(counted), matched=matched, n_entities=len(counted), ignored=ignored)


def rubric_score(
    text: str,
    entities: Sequence[str],
    *,
    aliases: Mapping[str, Sequence[str]] | None = None,
    mode: RubricMode = "word",
    use_reasoning: bool = False,
) -> RubricScore:
    """Score a response against the gold chain entities.

    Matches the final answer after the last ``</think>`` (as the released training does); with
    ``use_reasoning`` the reasoning is matched too. ``aliases`` maps an entity to alternative names
    (word mode only: the released algorithm has none).
    """
    reasoning, final, _ = split_think(text)
    target = f"{reasoning}\n{final}" if use_reasoning else final
    if mode == "reference":
        return _reference(target, list(entities), aliases)
    if mode == "word":
        return _word(target, list(entities), aliases)
    raise ValueError(f"unknown rubric mode {mode!r} (expected 'word' or 'reference')")
