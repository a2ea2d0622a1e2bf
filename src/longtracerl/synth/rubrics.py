"""Rubric entities in surface form: what an answer would actually write, with the page title as an alias.

Gold entities are page titles, and a title's disambiguation suffix ("Mercury (planet)", "Bank (geography)",
"John Smith (footballer, born 1990)") never appears in an answer, so that part of the rubric could never be
earned. ``surface_form`` drops a trailing parenthesised qualifier; the full title and the graph's aliases
for the entity stay as aliases, so a response that writes the full title still hits.

Comma-qualified titles are KEPT whole ("Paris, Texas", "Washington, D.C.", "Korea, South"): the part before
the comma is often a far more famous other entity ("Paris"), so it would credit answers naming the wrong
one, and text usually writes such places with their qualifier. When two gold entities of one question
share a surface form ("Mercury (planet)", "Mercury (element)"), both keep their full titles.

Pure functions: the question runner applies them when it writes a question and the assembly applies
them to older questions that lack ``rubrics``, whatever writer produced the gold entities.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

_QUALIFIER = re.compile(r"\s+\([^()]*\)\s*$")


def surface_form(title: str) -> str:
    """``title`` without trailing parenthesised qualifiers ("Mercury (planet)" -> "Mercury"); unchanged when
    nothing would be left or the title has no such qualifier."""
    s = title.strip()
    while True:
        cut = _QUALIFIER.sub("", s)
        if cut == s or not cut.strip():
            return s
        s = cut.strip()


def rubric_entities(
    entities: Sequence[str], aliases_of: Callable[[str], Sequence[str] | None] | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """``(rubrics, rubric_aliases)`` for gold entities: surface forms (order kept, duplicates dropped) and,
    per rubric, its other names (full title when it differs, then ``aliases_of(title)``, e.g. the graph's)."""
    titles = list(dict.fromkeys(e.strip() for e in entities if e and e.strip()))
    surf = {t: surface_form(t) for t in titles}
    clash = {s for s, n in Counter(surf.values()).items() if n > 1}
    rubrics: list[str] = []
    aliases: dict[str, list[str]] = {}
    for t in titles:
        s = t if surf[t] in clash else surf[t]
        names = ([t] if s != t else []) + [a for a in ((aliases_of(t) or []) if aliases_of else []) if a and a.strip()]
        if s not in rubrics:
            rubrics.append(s)
        merged = list(dict.fromkeys([*aliases.get(s, []), *(n.strip() for n in names)]))
        merged = [n for n in merged if n != s]
        if merged:
            aliases[s] = merged
    return rubrics, aliases


def question_rubrics(question: Any) -> tuple[list[str], dict[str, list[str]]]:
    """The rubrics of a ``Question``: its own ``rubrics`` when the runner set them, else derived here."""
    rubrics = list(getattr(question, "rubrics", None) or [])
    if rubrics:
        return rubrics, dict(getattr(question, "rubric_aliases", None) or {})
    return rubric_entities(question.gold_entities)
