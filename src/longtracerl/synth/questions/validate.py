"""Validators of a written question (PAPER.md 2a): each failure is a named rejection reason."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from longtracerl.records import Chain, Document, Hop
from longtracerl.text import normalize_word


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_answer_words: int = 8
    min_question_words: int = 8  # a placeholder ("...") or a bare name is not a question
    min_hop_coverage: float = 0.5  # share of the chain's entities that must be among the gold entities
    require_answer_in_last_doc: bool = True
    hop_margin: float = Field(0.35, ge=0.0, le=1.0, description="hop_ambiguous: min clue fit margin of the "
                              "target over every other neighbour of the previous hop")
    shortcut: Literal["reject", "keep"] = Field("reject", description="a question (or its last clue) whose "
                                                "single search ranks the answer's page 1st: reject, or keep and count")
    min_on_chain: float = Field(0.5, ge=0.0, le=1.0, description="off_chain: share of hops whose clue or relation "
                                "words must appear in the question")
    same_tail_hops: int = Field(4, ge=0, description="repeated_tail: a chain whose last N entities (the answer and "
                                "the way to it) equal an earlier chain's is dropped; 0 keeps every one")
    max_per_answer: int = Field(2, ge=0, description="answer_repeated: at most N kept questions per answer entity, "
                                "the first ones in chain order; 0: no limit")
    max_per_hub: int = Field(3, ge=0, description="hub_repeated: at most N kept questions pass through one middle "
                             "page (the first in chain order); 0: no limit")


class Draft(BaseModel):
    """What a writer proposes before validation."""

    question: str
    answer: str
    gold_entities: list[str] = Field(default_factory=list)
    answer_aliases: list[str] = Field(default_factory=list)
    hop_clues: list[str] = Field(default_factory=list)  # one per chain hop, "" where none
    info: dict[str, Any] = Field(default_factory=dict)  # writer details (hops used, clue margins, jump mode)


def _has(haystack_norm: str, needle: str) -> bool:
    n = normalize_word(needle)
    return bool(n) and f" {n} " in haystack_norm


def parse_draft(text: str) -> Draft | None:
    """The first JSON object in ``text`` with question/answer, or None (``json.JSONDecoder.raw_decode`` reads
    one object from each ``{``, whatever text surrounds it)."""
    dec = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = dec.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "question" in obj and "answer" in obj:
            ents = obj.get("gold_entities") or []
            if not isinstance(ents, list):
                ents = [ents]
            clues = obj.get("hop_clues") or []
            if not isinstance(clues, list):
                clues = [clues]
            return Draft(question=str(obj["question"]), answer=str(obj["answer"]),
                         gold_entities=[str(e) for e in ents if str(e).strip()],
                         hop_clues=[str(c) for c in clues])
    return None


def used_hops(draft: Draft, chain: Chain) -> list[Hop]:
    """The hops the question covers: all of them, or the part a writer kept (a chain cut at a jump)."""
    idx = draft.info.get("hops_used")
    if isinstance(idx, list) and idx and all(isinstance(i, int) and 0 <= i < len(chain.hops) for i in idx):
        return [chain.hops[i] for i in idx]
    return list(chain.hops)


def validate(draft: Draft, chain: Chain, docs: dict[str, Document], cfg: ValidationConfig) -> list[tuple[str, str]]:
    """All failures as ``(reason, detail)``; empty means accepted."""
    hops = used_hops(draft, chain)
    fails: list[tuple[str, str]] = []
    q, a = draft.question.strip(), draft.answer.strip()
    if not q or not a or not draft.gold_entities:
        missing = [k for k, v in (("question", q), ("answer", a), ("gold_entities", draft.gold_entities)) if not v]
        return [("missing_fields", ", ".join(missing))]
    n_words = len(re.findall(r"\w+", q))
    if n_words < cfg.min_question_words:
        fails.append(("question_too_short", f"{n_words} words < {cfg.min_question_words}"))
    if len(a.split()) > cfg.max_answer_words:
        fails.append(("answer_too_long", f"{len(a.split())} words > {cfg.max_answer_words}"))
    last = hops[-1]
    last_doc = docs.get(last.doc_id or "")
    # the page's title is part of it (contexts show each document's title): an entity answer is its title
    if cfg.require_answer_in_last_doc and (last_doc is None or
                                           not _has(f" {normalize_word(last_doc.title + ' ' + last_doc.text)} ", a)):
        fails.append(("answer_not_in_last_document", f"{a!r} not found in {last.title!r}"))
    qn = f" {normalize_word(q)} "
    leaked = [e for e in {*draft.gold_entities, *(h.title for h in hops)} if _has(qn, e)]
    if leaked:
        fails.append(("entity_name_in_question", ", ".join(sorted(leaked))))
    if _has(qn, a):
        fails.append(("answer_in_question", a))
    names = {normalize_word(h.title) for h in hops}
    foreign = [e for e in draft.gold_entities if normalize_word(e) not in names]
    if foreign:
        fails.append(("gold_entity_not_in_chain", ", ".join(foreign)))
    covered = {normalize_word(e) for e in draft.gold_entities} & names
    if len(covered) < cfg.min_hop_coverage * len(names):
        fails.append(("too_few_hops_covered", f"{len(covered)} of {len(names)} chain entities"))
    return fails
