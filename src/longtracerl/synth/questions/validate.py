"""Validators of a written question (PAPER.md 2a): each failure is a named rejection reason."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from longtracerl.records import Chain, Document
from longtracerl.reward.rubric import normalize_word


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_answer_words: int = 8
    min_question_words: int = 8  # a placeholder ("...") or a bare name is not a question
    min_hop_coverage: float = 0.5  # share of the chain's entities that must be among the gold entities
    require_answer_in_last_doc: bool = True


class Draft(BaseModel):
    """What a writer proposes before validation."""

    question: str
    answer: str
    gold_entities: list[str] = Field(default_factory=list)
    answer_aliases: list[str] = Field(default_factory=list)


def _has(haystack_norm: str, needle: str) -> bool:
    n = normalize_word(needle)
    return bool(n) and f" {n} " in haystack_norm


def parse_draft(text: str) -> Draft | None:
    """The first JSON object in ``text`` with question/answer/gold_entities, or None."""
    for m in re.finditer(r"\{", text):
        depth = 0
        for j in range(m.start(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                try:
                    obj: Any = json.loads(text[m.start():j + 1])
                except json.JSONDecodeError:
                    break
                if isinstance(obj, dict) and "question" in obj and "answer" in obj:
                    ents = obj.get("gold_entities") or []
                    if not isinstance(ents, list):
                        ents = [ents]
                    return Draft(question=str(obj["question"]), answer=str(obj["answer"]),
                                 gold_entities=[str(e) for e in ents if str(e).strip()])
                break
    return None


def validate(draft: Draft, chain: Chain, docs: dict[str, Document], cfg: ValidationConfig) -> list[tuple[str, str]]:
    """All failures as ``(reason, detail)``; empty means accepted."""
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
    last = chain.hops[-1]
    last_doc = docs.get(last.doc_id or "")
    if cfg.require_answer_in_last_doc and (last_doc is None or not _has(f" {normalize_word(last_doc.text)} ", a)):
        fails.append(("answer_not_in_last_document", f"{a!r} not found in {last.title!r}"))
    qn = f" {normalize_word(q)} "
    leaked = [e for e in {*draft.gold_entities, *(h.title for h in chain.hops)} if _has(qn, e)]
    if leaked:
        fails.append(("entity_name_in_question", ", ".join(sorted(leaked))))
    if _has(qn, a):
        fails.append(("answer_in_question", a))
    names = {normalize_word(h.title) for h in chain.hops}
    foreign = [e for e in draft.gold_entities if normalize_word(e) not in names]
    if foreign:
        fails.append(("gold_entity_not_in_chain", ", ".join(foreign)))
    covered = {normalize_word(e) for e in draft.gold_entities} & names
    if len(covered) < cfg.min_hop_coverage * len(names):
        fails.append(("too_few_hops_covered", f"{len(covered)} of {len(names)} chain entities"))
    return fails
