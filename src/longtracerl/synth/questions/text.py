"""Words of a clue or a page: the content terms that clue-to-page fit is measured on."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does did has have
    had it its as into than then there their they he she his her him them we you your i me my our us not no
    this that these those which who whom whose what where when why how also such other another some any all
    one entity certain name names about after before over under between during while since until same both
    s known called""".split()
)


def terms(text: str) -> list[str]:
    """Distinct content terms (lowercased words and numbers, no stopwords), in order."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit()):
            seen.setdefault(w, None)
    return list(seen)
