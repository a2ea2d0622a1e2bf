"""Where a template clue may be cut from a page sentence: whole clauses only (issue 20, the reading flaws).

A clue is read by a person, so it starts where a sentence or a clause starts and ends where one ends
(punctuation or the sentence end). Fixed-size word windows were weaker clues but read as scraps ("genres
through a career spanning", "writer best"); runs of whole clauses give the weak last hop its candidates
instead, and with ``short`` the tail of a clause from a conjunction, a relative word, a preposition or a
participle ("and it became ...", "which was ...", "in the 1930s film Cocoanut Grove").

Names are one-word markers here (``clues`` masks them before cutting), so a cut never splits a mask.
"""

from __future__ import annotations

import re

SELF = "\u2063THISENTITY\u2063"  # the target's names while cutting
OTHER = "\u2063OTHERENTITY\u2063"  # another chain entity's names while cutting
# clause punctuation; not the comma of a figure ("1,250") or of a date ("October 20, 1937")
_BOUNDARY = re.compile(r"\s*(?:(?<!\d),(?!\d)|(?<=\d),(?!\d|\s*\d{4}\b)|[;:()\[\]]|\s--\s|\s[–—]\s)\s*")
_LEAD_DROP = frozenset("and but or so nor yet while whereas".split())
_OPENERS = frozenset("""in on at to for from by with into after before since until during under over upon within
    without across along around among between through against despite like as of about near the a an his her
    its their this these those that which who whom whose where when while whereas although though because if
    once he she it they we there then later however also both either each many most some all one such and but
    or so nor yet""".split())
_CLAUSE_WORDS = frozenset("and but or so yet which who whom whose where when while whereas although though because "
                          "if once".split())
_FINITE = frozenset("is was are were has have had will would can could shall should may might must".split())
_PARTICLES = r"(?:of|de|del|della|di|da|du|des|von|van|der|den|la|le|the|d['’])"


def collapse_self(text: str) -> str:
    """One marker for a name masked piecewise ("Eleanor of Aragon" -> "this entity of this entity" -> one)."""
    return re.sub(rf"{SELF}(?:\s*{_PARTICLES}?\s*{SELF})+", SELF, text)


def clause_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each clause of ``text``: the stretches between clause punctuation."""
    spans, pos = [], 0
    for m in _BOUNDARY.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def opens_clause(piece: str) -> bool:
    """Can a piece start here after a comma? A clause opens with a preposition, a conjunction, a determiner, a
    pronoun, a participle, a name, a number or a mask; a lower-case noun or adjective continues a list or a
    phrase ("situation comedies, murder mysteries", "filmmaker, and ...", "dynastic government")."""
    first = piece.split()[0] if piece.split() else ""
    return (not first or first[0].isupper() or first[0].isdigit() or first.startswith(("\u2063", "'"))
            or first.lower() in _OPENERS or first.lower().endswith(("ing", "ed")))


def _lead_trim(piece: str) -> str:
    """A piece without a joining word at its start ("and it became" -> "it became")."""
    words = piece.split()
    while words and words[0].lower() in _LEAD_DROP:
        words.pop(0)
    return " ".join(words)


def pieces(sentence: str, max_words: int, *, clauses: bool = False, short: bool = False,
           max_run: int = 3) -> list[str]:
    """Pieces of one (masked) sentence that begin and end at clause boundaries.

    The whole sentence when it has at most ``max_words`` words, else its longest run of opening clauses
    that does; with ``clauses`` also every run of up to ``max_run`` consecutive clauses that opens a clause
    (``opens_clause``); with ``short`` also the tail of each clause from a word that opens a phrase (a
    conjunction, a relative word, a preposition, a participle) to the clause end: the weakest pieces, for the
    last hop, where a strong clue is a shortcut. Every piece ends where a clause ends.
    """
    text = re.sub(r"\s+", " ", sentence).strip()
    spans = clause_spans(text)
    if not spans:
        return []
    out: list[str] = []

    def add(piece: str, opening: bool = False) -> None:
        if not opening and not opens_clause(piece.strip(" ,;:")):
            return
        if piece.count("(") > piece.count(")") and re.match(r"\s*\)", text[text.find(piece) + len(piece):]):
            piece += ")"  # a run ending on a bracketed word keeps its bracket: "Arts and Sciences (AMPAS)"
        if piece.count("(") != piece.count(")"):
            return  # cut through a parenthesis: "including the EC (now the EU"
        after = re.match(r"\s*\([^()]*\)\s*([\w'-]+)", text[text.find(piece) + len(piece):])
        if after and (after.group(1) in _FINITE or (after.group(1).islower() and after.group(1).endswith("ed"))):
            return  # its verb follows the aside: "the Tokugawa shogunate (a ... government) ushered in"
        p = _lead_trim(piece.strip(" ,;:"))
        if p and len(p.split()) <= max_words and p not in out:
            out.append(p)

    if len(text.split()) <= max_words:
        add(text, opening=True)
    else:
        fitting = [b for _, b in spans if len(text[:b].split()) <= max_words]
        if fitting:
            add(text[:fitting[-1]], opening=True)
    if clauses:
        for i, (a, _) in enumerate(spans):
            for j in range(i, min(i + max_run, len(spans))):
                add(text[a:spans[j][1]], opening=a == 0)
    if short:  # the tail of a clause from a phrase start to the clause end: "in the 1930s film Cocoanut Grove"
        for a, b in spans:
            words = text[a:b].split()
            for k in range(1, len(words) - 2):
                if words[k].lower() in _CLAUSE_WORDS:
                    add(" ".join(words[k:]))  # "which was ...", "and it became ...": a clause of its own
                elif ((words[k].lower() in _OPENERS or words[k].lower().endswith("ing"))
                      and not _FINITE & {w.lower() for w in words[k + 1:]}):
                    add(" ".join(words[k:]))  # a phrase to the clause end, not the rest of its clause's
                    # predicate ("in the wake of violence has not materialized" lost its subject)
    return out
