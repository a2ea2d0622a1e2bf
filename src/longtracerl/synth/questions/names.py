"""Names of chain entities in page text: which surface forms to mask, masking them, and finding a leak.

A one-word name taken from a title ("Blood" of "Color Me Blood Red", "Never" of "Never Fear") is a name only
where it is capitalised: "their blood", "he would never" are common words, neither masked nor a leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from longtracerl.synth.questions.text import _WORD, STOPWORDS

MASK = "this entity"

GENERIC_NAME_WORDS = frozenset(
    """republic kingdom island islands united states state north south east west northern southern eastern
    western saint democratic people federal federation union commonwealth territory city county river lake
    mount film album song novel band company university school church district province region central
    new great little upper lower""".split()
)


def name_variants(title: str, aliases: Iterable[str] = ()) -> list[str]:
    """Surface forms to mask for an entity: title and aliases (with and without parentheses, "/"-separated
    forms), and the distinctive single words of the title ("Guinea" of "Equatorial Guinea")."""
    out: dict[str, None] = {}
    forms = [title.strip()] + [p.strip() for a in aliases for p in a.split("/")]
    for n in forms:
        if not n:
            continue
        out.setdefault(n, None)
        base = re.sub(r"\s*\([^)]*\)", "", n).strip(" ,")
        if base and len(base) >= 3:
            out.setdefault(base, None)
    base_title = re.sub(r"\s*\([^)]*\)", "", title).strip()
    for w in re.findall(r"[^\W\d_][\w'-]*", base_title):
        if len(w) >= 4 and w[0].isupper() and w.lower() not in STOPWORDS and w.lower() not in GENERIC_NAME_WORDS:
            out.setdefault(w, None)
    return sorted(out, key=len, reverse=True)


@lru_cache(maxsize=4096)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    # longest name wins; a straight and a curly apostrophe are one ("d'Alvernha" is "d’Alvernha")
    alts = "|".join(re.sub(r"['’]", "['’]", re.escape(n)) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alts})(['’]s)?(?!\w)", re.I)


def _common_use(found: str, names: Iterable[str]) -> bool:
    """A one-word capitalised name found in lower case is a common word, not the name: "their blood" is no
    "Color Me Blood Red", "would never" no "Never Fear"."""
    return found[:1].islower() and " " not in found and any(n.lower() == found.lower() and n[:1].isupper()
                                                            and " " not in n for n in names)


def mask(text: str, names: Iterable[str], replacement: str = MASK) -> str:
    """Every name replaced by ``replacement``; a possessive stays one ("Iraq's" -> "this entity's"); a
    one-word capitalised name is masked only where it is capitalised (``_common_use``)."""
    key = tuple(n for n in names if n)
    if not key:
        return text

    def repl(m: re.Match[str]) -> str:
        found = m.group(0)[: len(m.group(0)) - len(m.group(1) or "")]
        return m.group(0) if _common_use(found, key) else replacement + ("'s" if m.group(1) else "")

    return _names_pattern(key).sub(repl, text)


def contains_any(text: str, names: Iterable[str]) -> str | None:
    """The first of ``names`` that ``text`` contains (as whole words, in any case, except a one-word
    capitalised name met only in lower case: ``_common_use``), or None."""
    low = f" {' '.join(_WORD.findall(text.lower()))} "
    words = _WORD.findall(text)
    for n in names:
        nn = " ".join(_WORD.findall(n.lower()))
        if not nn or f" {nn} " not in low:
            continue
        if " " not in nn and n[:1].isupper() and all(_common_use(w, [n]) for w in words if w.lower() == nn):
            continue
        return n
    return None
