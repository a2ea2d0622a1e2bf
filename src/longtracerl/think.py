"""Split a reasoning model's response into hidden reasoning and the final answer: the one place that does it.

The reward (outcome, rubric, judge, format gate) and eval (every benchmark's rule, the judges' replies) all
read a response through ``split_response``, so "where does the answer start" has one meaning project-wide.
"""

from __future__ import annotations

from typing import NamedTuple

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


class ThinkSplit(NamedTuple):
    """A response cut at its LAST ``</think>``, nothing stripped.

    ``head`` is everything before that ``</think>`` (the reasoning, ``<think>`` tag included); ``final`` what
    follows it, as written. ``closed``: a ``</think>`` was found. ``unfinished``: a ``<think>`` was opened and
    never closed (the whole response is reasoning, the final answer is empty).
    """

    head: str
    final: str
    closed: bool
    unfinished: bool

    @property
    def reasoning(self) -> str:
        """The reasoning without its ``<think>`` tag, surrounding whitespace removed."""
        start = self.head.find(THINK_OPEN)
        return (self.head[start + len(THINK_OPEN):] if start >= 0 else self.head).strip()

    @property
    def thought(self) -> bool:
        """The response reasoned in tags (closed or not)."""
        return self.closed or self.unfinished


def split_response(response: str) -> ThinkSplit:
    """Cut ``response`` at its last ``</think>``.

    Without ``</think>``: if a ``<think>`` was opened the response is unfinished (all reasoning, empty final
    answer); otherwise the model does not think in tags and the whole text is the final answer.
    """
    cut = response.rfind(THINK_CLOSE)
    if cut >= 0:
        return ThinkSplit(response[:cut], response[cut + len(THINK_CLOSE):], True, False)
    start = response.find(THINK_OPEN)
    if start >= 0:
        return ThinkSplit(response, "", False, True)
    return ThinkSplit("", response, False, False)


def split_think(response: str) -> tuple[str, str, bool]:
    """``(reasoning, final_answer, has_think_close)``, both texts stripped (see ``split_response``)."""
    s = split_response(response)
    return s.reasoning, s.final.strip(), s.closed
