"""Word-level text normalization shared by the stages: the rubric reward matches entities with it, and
synthesis uses the same one to find answers and names in pages (so "mentions" means the same everywhere).

Two normalizations (see ``reward.rubric`` for where each is used):

- ``normalize_reference``: the released reward's, bit-exact: lowercase, keep ``[a-zA-Z0-9_]+`` tokens and single
  CJK characters, join with spaces (accented letters are dropped, as released);
- ``normalize_word``: ours: casefold, fold accents, keep letters of any script, CJK as single characters.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = "\u4e00-\u9fff"
_REF_TOKEN = re.compile(rf"[a-zA-Z0-9_]+|[{_CJK}]")
# ASCII fast path: every ASCII character that is not [a-z0-9_] becomes a separator.
_ASCII_SEP = {i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
_WORD_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _squeeze(s: str) -> str:
    """Collapse runs of spaces and trim: the same as ``" ".join(s.split())`` for space-only separators,
    and faster (str.replace runs in C; runs of spaces are short in text)."""
    while "  " in s:
        s = s.replace("  ", " ")
    return s.strip(" ")


def normalize_reference(text: str) -> str:
    """The released normalization (bit-exact): lowercase, ASCII word tokens and CJK characters."""
    low = text.lower()
    if low.isascii():
        return _squeeze(low.translate(_ASCII_SEP))
    return " ".join(_REF_TOKEN.findall(low))


def normalize_word(text: str) -> str:
    """Our normalization: casefold, fold accents (NFKD minus combining marks), keep letters of any
    script as tokens, split CJK into single characters, join with single spaces."""
    if text.isascii():
        return _squeeze(text.lower().translate(_ASCII_SEP))
    folded = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()
    return " ".join(_WORD_TOKEN.findall(folded))
