"""The tokenizer that counts the context length L (PAPER.md 2d leaves it unstated; ours is configurable).

The loading and counting live in ``longtracerl.llm.tokenizers`` (shared with eval and training, so all three
count with the same code); this module names what the synthesis stage uses from there. The paper preset asks
for the trained model's tokenizer, so L counts the tokens the policy will see, chat template included.
"""

from __future__ import annotations

from longtracerl.llm.tokenizers import (
    BUNDLED,
    chat_prompt_tokens,
    count_tokens,
    count_tokens_batch,
    has_chat_template,
    load_tokenizer,
    template_overhead,
    tokenizer_name,
)

__all__ = ["BUNDLED", "chat_prompt_tokens", "count_tokens", "count_tokens_batch", "has_chat_template",
           "load_tokenizer", "template_overhead", "tokenizer_name"]
