"""Middle truncation in the model's own tokenizer: keep the first and the last halves of the token budget.

The instructions sit at both ends of a long prompt (task first, question and answer format last), so the
middle is what goes (LongBench's practice). One tokenizer pass with character offsets: the kept ends are
cut from the original text, so no decode round trip alters them.
"""

from __future__ import annotations

from typing import Any


def middle_truncate(tokenizer: Any, text: str, max_tokens: int) -> tuple[str, int, int]:
    """``(text, tokens_before, tokens_after)``; text unchanged when it fits."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is not None:
        enc = backend.encode(text, add_special_tokens=False)
        n, offsets = len(enc.ids), enc.offsets
    else:
        out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = out["offset_mapping"]
        n = len(offsets)
    if n <= max_tokens:
        return text, n, n
    if max_tokens <= 0:
        return "", n, 0
    head = max_tokens // 2
    tail = max_tokens - head
    head_end = offsets[head - 1][1] if head else 0
    tail_start = offsets[n - tail][0]
    return text[:head_end] + text[tail_start:], n, head + tail
