"""How a CORRECT / INCORRECT judge reply is read: one rule for the reward's ``aa_lcr`` judge and for eval's AA-LCR.

AA-LCR's official checker counts a reply as correct when, stripped and upper-cased, it starts with
``CORRECT``. Judges wrap that word in markdown (``**CORRECT**``) or think first; so the rule here is:

1. the judge's own reasoning is removed (the text after its last ``</think>``; an unfinished ``<think>``
   leaves nothing to read);
2. leading whitespace and markdown/quote marks (``* _ ` # > " ' [ ( :``) are dropped and the text upper-cased;
3. it starts with ``INCORRECT`` -> ``False``; with ``CORRECT`` -> ``True`` (the word must end there:
   ``CORRECTLY`` is not a verdict);
4. anything else -> ``None``: no verdict. The reward retries the judge and then reports an error; eval records
   an error row (asked again on a rerun), never a wrong answer.

So ``**CORRECT**`` is correct and ``The answer is CORRECT`` is no verdict in both places.
"""

from __future__ import annotations

import re

from longtracerl.think import split_response

_LEAD = re.compile(r"^[\s*_`#>\"'\[(:]+")
_WORD = re.compile(r"(INCORRECT|CORRECT)(?![A-Z0-9_])")


def aa_lcr_verdict(reply: str) -> bool | None:
    """``True`` (CORRECT), ``False`` (INCORRECT) or ``None`` (no verdict) from a judge reply (rule above)."""
    text = _LEAD.sub("", split_response(reply).final).upper()
    m = _WORD.match(text)
    if m is None:
        return None
    return m.group(1) == "CORRECT"
