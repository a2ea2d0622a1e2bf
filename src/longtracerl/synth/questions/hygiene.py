"""Clue hygiene: a clue must read as a clean English description of its entity, whoever wrote it.

Each problem is a named rejection (``clue_<kind>``), reported by kind, for the template writer's candidate
pieces (counted in ``ClueContext.hygiene_rejects``) and for every writer's final clues (``checks``):

- ``partial_mask``: a mask glued into a longer proper name ("Fish and this entity Service", "criminal this
  entity Sheppard"): a mask must replace a whole name;
- ``table_row``: a row of a table or list (dense in figures or in capitalised words: "Country Start numbered
  year ... Denmark 1522 1582");
- ``orphan_symbol``: symbols or brackets left without their words ("the 1 / -story home", "()");
- ``blur_artefact``: blurring that is no longer English ("the about 50 United States"), or a lifespan's decade
  opening a clause before its verb ("the 1960s was an American journalist");
- ``glued_mask``: a mask where a pronoun is no English: after a determiner or a noun ("their it as red paint",
  "for his daughter it, who", "the nickname it by", "present-day it") or before a noun or "of" ("it of Eu",
  "another entity actor"). A mask reads as English as a subject ("It is a 1930s musical film", "by the 1810s it
  had become"), or as an object right after a verb or a preposition ("Turks invaded it", "relocated to it"): the
  brief asked for subjects only, but objects after a verb are plain English and the sample world's country
  pages need them (their names are masked in most sentences). The rendered form ("it") is checked the same
  way, so a final clue is judged as the question shows it;
- ``cut_phrase``: a piece cut mid-phrase: it ends on a function word, a preposition, an article, an adverb
  ("writer best") or an adjective whose noun was cut ("in central", "a military-led"), or it begins with a
  finite verb whose subject was cut ("is a Hong Kong film director", "was previously ruled");
- ``too_common``: fewer than two content words rarer than the corpus median word occurrence (``corpus.stats``;
  a word on one page only counts as rare, so that a tiny corpus, where the median is 1, still has rare words):
  nothing left to match ("The term was first used"); checked for the weak last hop too.
"""

from __future__ import annotations

import re
from typing import Any

from longtracerl.synth.questions.text import STOPWORDS

KINDS = ("partial_mask", "glued_mask", "cut_phrase", "table_row", "orphan_symbol", "blur_artefact", "too_common")
MIN_RARE_WORDS = 2
_MASK = re.compile(r"\b(?:this|another) entity\b")
_WORDISH = re.compile(r"[A-Za-z][\w'’.-]*")
_ORPHAN = re.compile(r"\(\s*\)|\[\s*\]|\(\s*[,;:./-]|[,;:/-]\s*\)|(?:^|\s)[/\\|+=*#~^%]+(?=\s|$)|(?:^|\s)-\w"
                     r"|\w-(?=\s|$)|^[-–—)\],;:]|[-–—(\[]$|^0\d*\b")
_BLUR_BAD = re.compile(r"\b(?:the|a|an|its|their|his|her|this|these|those)\s+(?:about|around|nearly|some|under)\s+"
                       r"(?:\d|\$)|\babout\s+(?:about|around|under|over)\b|\b(the|in|of|a)\s+\1\b"
                       r"|\bthe \d{3,4}s,? the \d{3,4}s\b"
                       r"|(?:^|[,;:(]\s*)(?:from\s+)?the \d{3,4}s(?:\s+(?:to|–|-|—)\s+the \d{3,4}s)?\s+"
                       r"(?:is|was|were|are|has|had)\b"
                       r"|^(?:from\s+)?the \d{3,4}s\s+(?:to|–|-|—)\s+the \d{3,4}s\s*(?:,|$)", re.I)  # a lifespan left
_PARTICLE_WORD = r"(?:de|del|della|di|da|du|des|von|van|der|den|ter|le|la|al|el|ibn|bin|ben)"
_PARTICLE = rf"(?:[dl]['’ ]\s*|{_PARTICLE_WORD}[\s-]+)"  # "d'Alvernha", "d Alvernha", "von Bingen", "al-Assad"


def partial_mask(clue: str) -> str | None:
    """The name a mask is glued into, if any: a capitalised word right after a mask (through a particle:
    "another entity d'Alvernha", "this entity von Bingen"), or right before one (unless it opens the clue or a
    sentence: "Modern this entity" is ``glued_mask``'s)."""
    for m in _MASK.finditer(clue):
        after = clue[m.end():]
        nxt = re.match(rf"\s+({_PARTICLE}?)([A-Z][\w'’-]*)", after)
        if nxt and (nxt.group(1) or (nxt.group(2).lower() not in STOPWORDS and nxt.group(2) != "I")):
            return f"{m.group(0)} {nxt.group(1)}{nxt.group(2)}"
        before = clue[:m.start()].rstrip()
        prv = re.search(rf"(^|[.!?;:,(]\s*|\s)([A-Z][\w'’-]*)(?:\s+(?:{_PARTICLE_WORD}|[dl]['’]?))?$", before)
        if prv and not (prv.start(2) == 0 or prv.group(1).strip()) and prv.group(2).lower() not in STOPWORDS:
            return f"{prv.group(2)} {m.group(0)}"
    return None


_MASK_OR_IT = re.compile(r"\b(?:this entity|another entity|it)\b(?!['’]s)", re.I)
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]")
_DETERMINERS = frozenset("the a an his her their its our my your this these those whose every each".split())
_ADJ_BEFORE = frozenset("""modern present-day former contemporary ancient medieval independent landlocked
    neighbouring neighboring colonial historic historical today's greater""".split())
_PREPOSITIONS = frozenset("""of in on at to for from by with into onto about against among between through toward
    towards under over upon within without across along around behind beyond near like as than via throughout
    despite after before since until during including inside outside beside besides""".split())
_CONJUNCTIONS = frozenset("""and or but nor so yet that which who whom where when while whereas although though
    because if once""".split())
_AUX = frozenset("""is was are were be been being has have had do does did will would can could shall should may
    might must""".split())
_IRREGULAR = frozenset("""became become began fell grew held lost won rose saw took gave came went made left led kept
    brought built sought fought bore broke chose drew drove forbade got hid knew lay lies met paid ran said sold
    sent set sat split spent stood struck swore taught thought told threw underwent withdrew wrote overthrew
    overcame forced""".split())
_FUNCTION = _DETERMINERS | _PREPOSITIONS | _CONJUNCTIONS | _AUX | frozenset(
    """he she they we i you not no such other another some any all both either neither whose what""".split())
_SUBJECTS = frozenset("""to do does did will would can could shall should may might must he she they we i you who
    which that""".split())  # before a verb in its base form ("to invade it", "they call it")
_PARTICIPLES = frozenset("""written directed produced created composed starring featuring including known called
    named based followed led owned made released published performed played co-written adapted edited
    distributed designed""".split())  # need what follows ("a film written [by ...]")
_OPENING_ADVERBS = frozenset("today now here there thus hence therefore however meanwhile afterwards".split())
_ADVERBS = frozenset("""best most more less least very also still even only often well just later ever never already
    soon then now further rather quite too almost nearly first once again always eventually finally formally
    officially""".split())
_NOT_ADVERB_LY = frozenset("""family assembly supply ally rally monopoly anomaly reply italy july fly butterfly lily
    jelly belly holy daily weekly monthly early""".split())
_DANGLING = frozenset("""central economic political military national international social various several original
    former modern major main local foreign northern southern eastern western northeastern northwestern
    southeastern southwestern early late following previous high low large small great new old own public
    private royal federal dynastic two three four five six seven eight nine ten eleven twelve""".split())
_DANGLING_SUFFIX = ("-led", "-based", "-owned", "-run", "-speaking", "-born", "ous", "ful", "less")


_BEFORE_BARE_VERB = frozenset("to would could will can may might must should shall did does do not never".split())


def _verbish(word: str) -> bool:
    """Could ``word`` be a verb after a subject ("it was", "it joined", "it borders", "it also")?"""
    w = word.lower()
    return (w in _AUX or w in _IRREGULAR or w in _ADVERBS or (w.endswith("ly") and w not in _NOT_ADVERB_LY)
            or (len(w) > 3 and w.endswith("ed")) or (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us")))
            or (len(w) > 5 and w.endswith("ing")))  # "directed by it starring ...": a participle


def _no_pronoun_here(prev: str | None, prev2: str | None, nxt: str | None, after: str | None,
                     prev_lower: bool, nxt_lower: bool, opens: bool) -> bool:
    """Is a pronoun no English between these words? ``prev``/``prev2`` are the two words before (None at a
    clause start), ``nxt``/``after`` the two tokens after; ``opens``: ``prev`` is the clue's capitalised first
    word."""
    decade = prev is not None and re.fullmatch(r"\d+(?:s|st|nd|rd|th)", prev) is not None  # "the 1810s it had"
    subject_verb = nxt is not None and _verbish(nxt)
    if prev is not None:
        if prev in _DETERMINERS or prev in _ADJ_BEFORE or prev.isdigit() or ("-" in prev and not decade):
            return True  # "their it", "present-day it", "2001 it"
        if prev2 in _DETERMINERS and prev not in _PREPOSITIONS and not decade and not subject_verb:
            return True  # "his daughter it,", "the nickname it by"
        if opens and prev not in _FUNCTION | _ADVERBS | _OPENING_ADVERBS and not prev.endswith("ly"):
            return True  # "New it", "Modern it" (a name or a proper adjective)
        verb_before = prev2 is not None and (prev2 in _BEFORE_BARE_VERB or (prev2.endswith("ly")
                                                                            and prev2 not in _NOT_ADVERB_LY))
        if (prev_lower and prev.isalpha() and not _verbish(prev) and prev not in _FUNCTION and prev2 not in _SUBJECTS
                and not verb_before):  # "to settle it", "permanently settle it": a bare verb
            return True  # "was sovereign it", "daughter it" (an object needs a verb or a preposition before it)
    if nxt == "of" or nxt in ("-", "–", "—") or (nxt == "," and after in _AUX):
        return True  # "it of Eu", "It -- which", "it, was sovereign"
    return (nxt is not None and nxt_lower and nxt.isalpha() and not _verbish(nxt)
            and nxt not in _PREPOSITIONS | _CONJUNCTIONS | _DETERMINERS)  # "another entity actor"


def glued_mask(clue: str) -> str | None:
    """The words around a mask (or "it") where a pronoun is no English, or None. A mask reads as a subject
    ("It is ...", "by the 1810s it had become") or as an object after a verb or a preposition ("invaded it",
    "to it"); not after a determiner or a noun ("their it", "his daughter it", "present-day it"), nor before a
    noun or "of" ("it of Eu", "another entity actor")."""
    toks = _TOKEN.findall(clue)
    low = [t.lower() for t in toks]
    i = 0
    while i < len(toks):
        j = i + 1 if low[i] == "it" else i + 2 if low[i] in ("this", "another") and low[i + 1:i + 2] == ["entity"] else i
        if j == i or (j < len(toks) and low[j] in ("'s", "’s")):
            i += 1
            continue
        word = [k >= 0 and toks[k][0].isalnum() for k in (i - 1, i - 2)]
        prev = low[i - 1] if word[0] else None
        prev2 = low[i - 2] if word[0] and word[1] else None
        nxt = low[j] if j < len(toks) else None
        after = low[j + 1] if j + 1 < len(toks) else None
        if _no_pronoun_here(prev, prev2, nxt, after, prev_lower=word[0] and toks[i - 1].islower(),
                            nxt_lower=nxt is not None and toks[j].islower(),
                            opens=i == 1 and toks[0][:1].isupper()):
            return " ".join(toks[max(0, i - 2):j + 1])
        i = j
    return None


def cut_phrase(clue: str) -> str | None:
    """Why ``clue`` reads as cut mid-phrase, or None: it must not end on a function word, a preposition, an
    article, an adverb or an adjective whose noun was cut, nor begin with a finite verb whose subject was cut."""
    words = re.findall(r"[\w'’-]+", clue)
    if not words:
        return None
    first, last = words[0].lower(), words[-1].lower()
    if first in _AUX or first in ("of", "'s", "’s", "than"):
        return f"begins mid-phrase: {words[0]!r}"
    if len(words) > 1 and first in _PREPOSITIONS and words[1].lower() in ("in", "on", "at", "of", "by", "for", "with"):
        return f"begins mid-phrase: {' '.join(words[:2])!r}"  # "to in the wake of violence"
    if last in ("it", "them", "him", "her", "us", "me", "entity", "one"):  # "... with another one"
        return None
    if words[-1] == "I" and len(words) > 1 and words[-2][:1].isupper():  # "World War I", "Charles I": a numeral
        return None
    if (last in _FUNCTION or last in _ADVERBS
            or (last.endswith("ly") and last not in _NOT_ADVERB_LY)):
        return f"ends on {words[-1]!r}"
    if last in _PARTICIPLES:
        return f"ends on a participle without its complement: {words[-1]!r}"
    if words[-1].islower() and (last in _DANGLING or last.endswith(_DANGLING_SUFFIX)):
        return f"ends on an adjective without its noun: {words[-1]!r}"
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
    if (glued := glued_mask(clue)) is not None:
        return "glued_mask", f"a mask where a pronoun is no English: {glued!r}"
    if (cut := cut_phrase(clue)) is not None:
        return "cut_phrase", cut
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
