"""How a template question reads: one question a person would read, with type words instead of "entity".

Each entity is named by its type, taken from its page where the page gives one: the first sentence's "X is a
soft drink manufacturer" gives "soft drink manufacturer", "a 1968 epic science fiction film" gives "1960s epic
science fiction film" (years blurred like clues); a World Factbook page (a ``Government type:`` line) is a
"country", or a "territory" with a ``Dependency status:`` line. "entity" stays only where the page gives
nothing, or where its type words would name a chain entity or the answer (type words are checked like clues).

The steps are joined into one question, with phrasings picked per question (seeded by the chain id):

    What is the capital of the country you reach if you start from the country described as "...", then go
    to a country it shares a border with, the one described as "...", and finally go to its largest export
    partner?

``parse_steps`` reads such a question back into ``(kind, relation, clue)`` steps and the ask (the non-oracle
solver uses it: the grammar is public, the chain is not).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from longtracerl.records import Document
from longtracerl.synth.questions.obfuscate import blur

_FIRST = re.compile(r"\b(?:is|was|are|were)\s+(?:an?|the|one of the)\s+(?P<np>[^,.;:()\[\]]+)")
_NP_STOP = re.compile(
    r"\s(?:that|which|who|whose|in|of|from|by|based|located|founded|directed|written|produced|known|with|for|"
    r"on|at|to|as|released|born|starring|since|where|or|best|created|made|published|set|about|between|is|was|"
    r"during|after|before|under|owned|operated|headquartered|consisting|comprising)\b.*", re.I)
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")
MAX_TYPE_WORDS = 4
CLUE_LEADS = ("described as", "of which we read", "whose page says")
_CLUE = re.compile(r'(?:' + "|".join(CLUE_LEADS) + r')\s*"([^"]*)"')


def page_type(doc: Document | None) -> str | None:
    """The type words of a page ("soft drink manufacturer", "1960s film", "country"), or None."""
    return None if doc is None else text_type(doc.text)


def text_type(text: str) -> str | None:
    """``page_type`` of a page's text (what a reader who opened the page sees)."""
    if re.search(r"^Government type:", text, re.M):
        return "territory" if re.search(r"^Dependency status:", text, re.M) else "country"
    m = None
    for first in re.split(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])|\n", text.strip(), maxsplit=3)[:3]:  # a title line first
        if (m := _FIRST.search(first)) is not None:
            break
    if m is None:
        return None
    np_ = _NP_STOP.sub("", " " + re.sub(r"(\w)-\s+(\w)", r"\1-\2", m.group("np")).strip()).strip()
    years = [w for w in np_.split() if _YEAR.match(w)]
    # "a splatter and hixploitation film", "an entrepreneur and investor": the last of the joined types
    np_ = re.split(r"\s(?:and|or)\s", np_)[-1]
    words = [w for w in np_.split() if re.fullmatch(r"[\w'’.-]+", w) and not _YEAR.match(w)]
    while len(words) > 1 and words[-1].endswith("ed"):  # "a song featured (in ...)": the noun is before
        words.pop()
    if not words or not words[-1].isalpha() or not words[-1].islower() or words[-1].endswith("ed"):
        return None  # the head must be a common noun ("film", "manufacturer"), not a name, figure or participle
    keep = MAX_TYPE_WORDS - (1 if years else 0)
    start = max(0, len(words) - keep)
    while 0 < start < len(words) and words[start][:1].isupper() and words[start - 1][:1].isupper():
        start -= 1  # never cut a proper name in two: "a 1995 Hong Kong triad film" is no "Kong triad film"
    words = words[start:]
    if years:
        words = [blur(f"a {years[0]} x").split()[1], *words]
    return " ".join(words)


_PERSON = frozenset("""actor actress director producer writer singer songwriter composer poet novelist painter
    troubadour king queen prince princess duke duchess count countess earl baron lord lady emperor empress
    pope bishop saint daughter son wife husband father mother brother sister politician filmmaker musician
    screenwriter cinematographer editor author journalist player footballer cricketer athlete officer general
    admiral soldier scientist engineer architect businessman businesswoman entrepreneur investor dancer
    comedian rapper guitarist drummer model presenter host chef monk nun priest philosopher historian""".split())


def stand_in(type_words: str | None) -> str:
    """What another chain entity reads in a clue, instead of "another entity" (no name, nothing to search):
    "someone" for a person ("directed by someone and starring ..."), "another <type noun>" where the page
    gives one ("a union with another country"), else "another one". The type noun is already in the question
    (each entity is named by its type words), so it tells the reader nothing new and leaks no name."""
    words = (type_words or "").split()
    head = words[-1].lower() if words else ""
    if not head or head == "entity":
        return "another one"
    if head in _PERSON or head.endswith(("ist", "ess", "ian")):
        return "someone"
    return f"another {head}"


def shows_type(text: str, kind: str) -> bool:
    """Does ``text`` name an entity by these type words ("a film director ...", "the film director ...")?"""
    return kind != "entity" and re.search(rf"\b(?:an?|the) {re.escape(kind)} ", text + " ") is not None


def article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" and not noun.lower().startswith(("uni", "eu", "one")) else "a"


@dataclass
class Phrasing:
    """The phrasings of one question (picked once per chain, seeded)."""

    frame: int  # 0: "What is ... if you ...?"  1: "If you ..., what is ...?"
    lead: int  # which clue lead ("described as", ...)
    start: int

    @classmethod
    def pick(cls, key: str) -> Phrasing:
        rng = random.Random(f"phrasing:{key}")
        return cls(frame=rng.randrange(2), lead=rng.randrange(len(CLUE_LEADS)), start=rng.randrange(3))


_STARTS = ("start from", "begin with", "set out from")
_MOVES = ("then go to", "from there move on to", "then go on to")
_LAST_MOVES = ("and finally go to", "and from there move on to", "and then go on to")
_RESTART = "then set that one aside and start again from"


def render_clue(clue: str) -> str:
    """A clue as the question shows it: the masked entity is "it" ("its"), as a person would write; a chain
    entity left as "another entity" (a writer that did not give stand-ins) reads "another one"."""
    out = re.sub(r"\bthis entity's\b", "its", clue)
    out = re.sub(r"\bthis entity\b", "it", out)
    out = re.sub(r"\banother entity\b", "another one", out)  # never shown as such (``stand_in``)
    return out[:1].upper() + out[1:] if out.startswith(("it ", "its ")) else out


def entry_step(the_type: str, clue: str, p: Phrasing, *, restart: bool = False) -> str:
    lead = _RESTART if restart else _STARTS[p.start]
    return f'{lead} the {the_type} {CLUE_LEADS[p.lead]} "{clue}"'


def move_step(rel: str, clue: str, p: Phrasing, k: int, last: bool) -> str:
    """``rel`` is the relation's object phrase ("a film its page mentions", "its director")."""
    lead = (_LAST_MOVES if last else _MOVES)[(p.start + k) % 3]
    return f'{lead} {rel}, the one {CLUE_LEADS[(p.lead + k) % len(CLUE_LEADS)]} "{clue}"' if clue else f"{lead} {rel}"


def question(steps: Sequence[str], ask_attr: str | None, last_type: str, p: Phrasing) -> str:
    """One question from the rendered steps: what is asked of the entity reached last."""
    path = ", ".join(steps)
    if ask_attr:
        ask = f"what is the {ask_attr} of the {last_type} you reach"
    else:
        ask = f"which {last_type} do you reach"
    if p.frame == 0:
        return f"{ask[:1].upper()}{ask[1:]} if you {path}?" + ("" if ask_attr else " Give its name.")
    return f"If you {path}, {ask}?" + ("" if ask_attr else " Give its name.")


_LEADS = re.compile(r"\b(?P<lead>" + "|".join(re.escape(x) for x in (*_STARTS, _RESTART, *_LAST_MOVES, *_MOVES))
                    + r")\b")


def parse_steps(text: str) -> tuple[list[tuple[str, str, str]], str] | None:
    """``([(kind, relation, clue), ...], ask)`` of a question written by ``question``, or None when ``text``
    is not in this form. ``kind`` is start, move or restart; ``relation`` the move's words ("a film its page
    mentions"); the ask is the part that says what is asked ("what is the capital of the country you reach")."""
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(1))
        return f'{m.group(0).split(chr(34))[0]}"\x00{len(quoted) - 1}\x00"'

    masked = _CLUE.sub(hide, text)
    m0 = re.search(r"\bif you (?:" + "|".join(_STARTS) + r")\b", masked, re.I)
    if m0 is None:
        return None
    leads = list(_LEADS.finditer(masked, m0.start()))
    steps: list[tuple[str, str, str]] = []
    ask = masked[:m0.start()].strip(" ,")
    for j, m in enumerate(leads):
        end = leads[j + 1].start() if j + 1 < len(leads) else len(masked)
        seg = masked[m.end():end]
        lead = m.group("lead")
        kind = "start" if not steps else ("restart" if "start again" in lead else "move")
        q = re.search(r'"\x00(\d+)\x00"', seg)
        clue = quoted[int(q.group(1))] if q else ""
        if q:
            rest = seg[q.end():]
            body = seg[:q.start()]
        else:
            cut = re.search(r",\s*(?=what is|which)|\?", seg)
            body, rest = (seg[:cut.start()], seg[cut.start():]) if cut else (seg, "")
        rel = re.sub(r",?\s*the one\s*(?:" + "|".join(CLUE_LEADS) + r")?\s*$", "", body).strip(" ,")
        if kind != "move":
            rel = ""
        steps.append((kind, rel, clue))
        tail = rest.strip(" ,?.")
        if j + 1 == len(leads) and tail:
            ask = (ask + " " + tail).strip()
    return steps, ask.strip(" ,?.")
