"""Blur a clue so that keyword matching against the context fails (PAPER.md 2a: "names, dates and places are
paraphrased (obfuscated)").

An LLM writer paraphrases; the LLM-free writer cannot, but it can take away what makes a clue findable by
plain string search in the context while keeping what a reader who understands the page can check:

- years become decades ("in 1806" -> "in the 1800s"; "a 1933 film" -> "a 1930s film"; "1578-1603" -> "from
  the 1570s to the 1600s"), full dates lose day and month; a number nothing marks as a year stays as it is;
- other numbers are rounded ("42 ethnic groups" -> "about 40 ethnic groups", "3,287,263" -> "about 3.3
  million", "35.4%" -> "about 35%");
- all-caps surnames (World Factbook style "COLUMBUS") read in title case, masks read as English.

``drop_date_parens`` (called on a clue's sentence before it is blurred) removes lifespan and date-range
parentheses outright: blurred, "Walsh (1887–1980) was" reads "It (the 1880s – the 1980s) was", and a cut
after it "the 1960s was an American journalist"; without them the sentence reads "It was an American ...".

``page_terms`` gives a page's content terms *plus* the terms of its blurred form, so the clue-to-page fit used
to pin hops (and by the solver to check a page) still sees that "1800s" fits a page that says "1806".
"""

from __future__ import annotations

import re
from functools import lru_cache

from longtracerl.synth.questions.text import terms

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_ERA = r"(?!\s*(?:B\.?\s?C|A\.?\s?D|BCE|CE)\b)"  # "2000 B.C." is a rough date already: kept
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_FULL_DATE = re.compile(rf"\b(?:\d{{1,2}}\s+(?:{_MONTHS})\.?|(?:{_MONTHS})\.?\s+\d{{1,2}},?)\s+({_YEAR})\b")
_MONTH_YEAR = re.compile(rf"\b(?:{_MONTHS})\.?\s+({_YEAR})\b")
_RANGE = re.compile(rf"\b(?:between\s+|from\s+)?({_YEAR})\s*(?:-|–|—|to|and)\s*(\d{{2,4}})\b{_ERA}")
# a bare 4-digit number is a year only after a word that introduces one ("Resolution 1244" is no year)
_YEAR_RE = re.compile(rf"(?:(?:\b((?i:in|since|from|until|till|by|after|before|during|around|circa|early|late|mid)\s+)"
                      rf"|(\()))({_YEAR})(s?)\b{_ERA}(?![.,]\d|-\w)")
_BARE_YEAR = re.compile(rf"^{_YEAR}$")
_YEAR_ADJ = re.compile(rf"\b((?i:a|an|the|his|her|its|their)\s+)({_YEAR})(?=\s+[A-Za-z])(?!\s+(?:B\.?\s?C|A\.?\s?D|BCE|CE)\b)")
_NUMBER = re.compile(r"(?<![\w.,/-])((?:about|around|some|nearly|almost|approximately|roughly|over|under|"
                     r"at least|more than|less than|fewer than|up to)\s+)?([$£€]\s?)?"
                     r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s*%|\s+(?:million|billion|trillion))?(?![\w,]\d|[A-Za-z/\d-])"
                     r"(?!\s*(?:B\.?\s?C|A\.?\s?D|BCE|CE)\b)")
_CAPS = re.compile(r"\b([A-Z])([A-Z]{2,})\b")
_DETERMINER = re.compile(r"\b(?:the|a|an|its|their|his|her|these|those|this|our|whose)\s+$", re.I)
_SMALL = 20  # counts below this stay exact (rounding "3 children" would read oddly and blurs nothing)


_DATE_WORDS = re.compile(rf"(?:{_MONTHS})\.?|\b\d{{1,4}}(?:s|st|nd|rd|th)?\b|\b(?:born|died|b|d|c|ca|circa|fl|floruit|"
                         r"A\.?D|B\.?C|BCE|CE|or|and|to|until|till|present|in|on|around|about|after|before|since|"
                         r"early|late|mid)\b\.?|[–—\-,;?./\s]", re.I)
_LIFE = re.compile(r"\s*(?:born|died|b\.|d\.|c\.|ca\.|circa|fl\.)", re.I)


def drop_date_parens(text: str) -> str:
    """``text`` without its lifespan and date-range parentheses ("(1889–1965)", "(born 12 March 1937 in
    Yerevan)", "(c. 1150 – 1210)"); a parenthesis with other words ("(now the EU)", "(in the 1860s war)") stays."""
    def repl(m: re.Match[str]) -> str:
        inner = m.group(1)
        if re.search(r"\d{3,4}", inner) and (_LIFE.match(inner) or not _DATE_WORDS.sub("", inner).strip()):
            return ""
        return m.group(0)

    return re.sub(r"\s*\(([^()]*)\)", repl, text)


def decade(year: int) -> str:
    return f"the {year // 10 * 10}s"


def _range(m: re.Match[str]) -> str:
    a = int(m.group(1))
    b_txt = m.group(2)
    b = int(b_txt) if len(b_txt) == 4 else int(str(a)[: 4 - len(b_txt)] + b_txt)
    if b < a:
        return m.group(0)
    if a // 10 == b // 10:
        return f"in {decade(a)}"
    return f"from {decade(a)} to {decade(b)}"


def _round(value: float) -> str:
    """Two significant digits, in words for millions and up."""
    for unit, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if value >= unit:
            v = round(value / unit, 1)
            return f"{v:g} {name}"
    if value >= 100:
        mag = 10 ** (len(str(int(value))) - 2)
        return f"{int(round(value / mag) * mag):,}"
    return f"{int(round(value / 5) * 5)}" if value >= _SMALL else f"{value:g}"


def _number(m: re.Match[str]) -> str:
    hedge, cur = m.group(1) or "", (m.group(2) or "").strip()
    whole, frac, unit = m.group(3), m.group(4) or "", (m.group(5) or "").strip()
    value = float(whole.replace(",", "") + frac)
    lead = hedge or "about "
    if not hedge and _DETERMINER.search(m.string, 0, m.start()):
        return m.group(0)  # "one of the 50 states": "the about 50 states" is no English, so it stays
    if unit == "%":
        return f"{lead}{int(round(value))}%" if value >= 1 else "under 1%"
    if unit:  # "3.2 million": already a round figure
        return f"{lead}{cur}{value:g} {unit}"
    if (value < _SMALL and not frac) or (not hedge and not cur and _BARE_YEAR.match(whole)):
        return m.group(0)  # a small count, or a year-like number nothing marks as a year: left as it is
    return f"{lead}{cur}{_round(value)}"


def blur_dates(text: str) -> str:
    text = _FULL_DATE.sub(lambda m: decade(int(m.group(1))), text)
    text = _MONTH_YEAR.sub(lambda m: decade(int(m.group(1))), text)
    text = _RANGE.sub(_range, text)
    text = _YEAR_ADJ.sub(lambda m: f"{m.group(1)}{int(m.group(2)) // 10 * 10}s", text)  # "a 1933 film" -> "a 1930s film"
    text = _YEAR_RE.sub(lambda m: (m.group(1) or m.group(2)) + (decade(int(m.group(3))) if not m.group(4)
                                                                  else m.group(3) + m.group(4)), text)
    text = re.sub(r"\bin\s+(from the \d{3,4}s to)\b", r"\1", text)  # "held in 1972-1994": no "in from the 1970s"
    return re.sub(r"\b(?:on|of)\s+(the \d{3,4}s)\b", r"in \1", text)


def blur_numbers(text: str) -> str:
    """Round every number that is not part of a (blurred) date."""
    out = []
    pos = 0
    for m in re.finditer(r"\b\d{3,4}s\b", text):  # decades are kept as they are
        out.append(_NUMBER.sub(_number, text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_NUMBER.sub(_number, text[pos:]))
    return "".join(out)


def blur(text: str) -> str:
    """Dates to decades, numbers rounded, all-caps names in title case, mask and quote artefacts repaired."""
    text = blur_numbers(blur_dates(text))
    text = re.sub(r"(?<![A-Za-z\d])'|'(?![A-Za-z])", "", text)  # stray quote marks of a cut quotation ("1963's" stays)
    text = _CAPS.sub(lambda m: m.group(1) + m.group(2).lower() if len(m.group(0)) >= 5 else m.group(0), text)
    text = re.sub(r"\b(?:the|a|an)\s+(this|another) entity\b", r"\1 entity", text, flags=re.I)
    text = re.sub(r"(\w)\(\s*", r"\1 (", text)  # "Walsh( March 11, 1887" (2Wiki's own spacing) reads "Walsh ("
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=2048)
def page_terms(text: str) -> frozenset[str]:
    """Content terms of a page and of its blurred form (so blurred clues still fit the page they came from).
    Cached: the solver scores the same pages against every clue, and blurring a long page is not free."""
    return frozenset(terms(text)) | frozenset(terms(blur(text)))
