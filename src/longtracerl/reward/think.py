"""Split a reasoning model's response into hidden reasoning and the final answer."""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def split_think(response: str) -> tuple[str, str, bool]:
    """Return ``(reasoning, final_answer, has_think_close)``.

    The final answer is the text after the LAST ``</think>``. Without ``</think>``: if a ``<think>`` was
    opened the response is unfinished (all reasoning, empty final answer); otherwise the model does not
    think in tags and the whole text is the final answer.
    """
    cut = response.rfind(THINK_CLOSE)
    if cut >= 0:
        reasoning = response[:cut]
        start = reasoning.find(THINK_OPEN)
        if start >= 0:
            reasoning = reasoning[start + len(THINK_OPEN):]
        return reasoning.strip(), response[cut + len(THINK_CLOSE):].strip(), True
    if THINK_OPEN in response:
        return response.split(THINK_OPEN, 1)[1].strip(), "", False
    return "", response.strip(), False
