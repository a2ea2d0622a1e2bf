"""The format gate: which responses are paid 0 whatever they say (PAPER.md 3: "truncated, ill-formed or
unfinished responses get reward 0").

Two rules (``RewardConfig.format``):

- ``released`` (the released reward's rule, the paper preset): 0 for a truncated response; for a response
  that stopped on an end-of-TEXT token instead of the end-of-TURN token; for any special token left in
  the content; for anything but exactly one ``</think>``; and for an empty final answer.
- ``lenient`` (our default): 0 only for a truncated response or an empty final answer. A reply with no
  ``</think>`` and no ``<think>`` counts as a model that does not think in tags, and its whole text is the
  final answer; that suits non-reasoning policies but, for a reasoning policy, pays a reply that dropped
  ``</think>`` on its reasoning (more entities and the answer's words), a gradient towards dropping it. Use
  ``released`` to train reasoning models.

Special tokens (what counts as "left in the content"): any ``<|...|>`` (e.g. ``<|im_end|>``,
``<|endoftext|>``, ``<|eot_id|>``, ``<|im_start|>``) and any ``<｜...｜>`` with full-width bars (DeepSeek,
e.g. ``<｜end▁of▁sentence｜>``, ``<｜Assistant｜>``), each 1-64 characters inside without spaces, plus the
SentencePiece markers ``<s>``, ``</s>``, ``<unk>``, ``<pad>``. ``<think>`` / ``</think>`` are the format
itself, not special tokens here.

The end of a response: frameworks that decode with special tokens kept leave the stop token (and, for
OpenRLHF, right padding) at the end. A trailing run of special tokens is read as the stop: it must start
with an end-of-turn token (``END_OF_TURN``, or the configured list) and may be followed only by
end-of-text / padding tokens (padding). A run that starts with an end-of-text token (``END_OF_TEXT``) is a
stop on end-of-text. The trailing run is removed before scoring.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from longtracerl.think import THINK_CLOSE, split_response

FormatRule = Literal["released", "lenient"]

SPECIAL_TOKEN = re.compile(r"<\|[^\s<>|]{1,64}\|>|<｜[^\s<>｜]{1,64}｜>|</?s>|<unk>|<pad>")
#: Tokens that end an assistant turn properly (one may close the response).
END_OF_TURN: tuple[str, ...] = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|eom_id|>", "<｜end▁of▁sentence｜>", "</s>")
#: Tokens that end a DOCUMENT (pretraining), not a turn: stopping on one is ill-formed; after an end-of-turn
#: token they are read as padding.
END_OF_TEXT: tuple[str, ...] = ("<|endoftext|>", "<|end_of_text|>")
_PAD: tuple[str, ...] = ("<pad>", *END_OF_TEXT)


def _trailing_run(text: str) -> tuple[str, list[str]]:
    """(text before the trailing run of special tokens, the run in order); whitespace between them ignored."""
    run: list[str] = []
    s = text.rstrip()
    while s.endswith(">"):
        start = s.rfind("<")
        if start < 0 or not SPECIAL_TOKEN.fullmatch(s[start:]):
            break
        run.append(s[start:])
        s = s[:start].rstrip()
    run.reverse()
    return (s if run else text), run


def strip_stop(response: str, end_of_turn: Sequence[str] = END_OF_TURN) -> tuple[str, str | None]:
    """``(body, problem)``: the response without its trailing stop/padding run, and what is wrong with
    that run (``"end_of_text_stop"``, ``"special_token"``) or None."""
    body, run = _trailing_run(response)
    if not run:
        return response, None
    first, rest = run[0], run[1:]
    if first in END_OF_TEXT:
        return body, "end_of_text_stop"
    if first not in end_of_turn or any(t not in _PAD for t in rest):
        return body, "special_token"
    return body, None


def check_format(
    response: str,
    rule: FormatRule = "lenient",
    *,
    truncated: bool = False,
    end_of_turn: Sequence[str] = END_OF_TURN,
) -> tuple[str | None, str]:
    """``(reason, response_to_score)``: why the response is paid 0 (None when it passes), and the response
    without its trailing stop token run (what the outcome and rubric then look at)."""
    if rule not in ("released", "lenient"):
        raise ValueError(f"unknown format rule {rule!r}; expected 'released' or 'lenient'")
    if rule == "lenient":
        if truncated:
            return "truncated", response
        return (None if split_response(response).final.strip() else "no_final_answer"), response
    body, problem = strip_stop(response, end_of_turn)
    if truncated:
        return "truncated", body
    if problem is not None:
        return problem, body
    if SPECIAL_TOKEN.search(body):
        return "special_token", body
    n = body.count(THINK_CLOSE)
    if n == 0:
        return "no_think_close", body
    if n > 1:
        return "multiple_think_close", body
    if not split_response(body).final.strip():
        return "no_final_answer", body
    return None, body
