"""The tokenizer that counts the context length L (PAPER.md 2d leaves it unstated; ours is configurable).

Default: the bundled SmolLM2 model's tokenizer, converted from its GGUF once (a few seconds) and cached
with ``save_pretrained`` under ``paths.home()/tokenizers/`` (``longtracerl.train.models.bundled_tokenizer``) so later loads take well under a second.
Any other Hugging Face tokenizer directory works too; nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

BUNDLED = "bundled"


def _bundled_name() -> str:
    """Names the bundled tokenizer by its GGUF file (stem and size), so samples say which one counted L."""
    from longtracerl.llm.bundled import bundled_gguf_path

    gguf = bundled_gguf_path()
    return f"{BUNDLED}:{gguf.stem}-{gguf.stat().st_size}"


def load_tokenizer(name_or_path: str | None = None) -> Any:
    """A fast Hugging Face tokenizer; ``None``/``"bundled"`` is the bundled model's (cached on disk).

    ``tokenizer.longtracerl_name`` is what samples record as their ``tokenizer``.
    """
    from transformers import AutoTokenizer

    if name_or_path in (None, "", BUNDLED):
        from longtracerl.train.models import bundled_tokenizer  # one GGUF loader + disk cache for the project

        tok = bundled_tokenizer()
        tok.longtracerl_name = _bundled_name()
        return tok
    p = Path(name_or_path)
    if not p.exists():
        raise FileNotFoundError(
            f"tokenizer {name_or_path!r}: no such directory (give a local Hugging Face tokenizer path; "
            "nothing is downloaded at run time)"
        )
    tok = AutoTokenizer.from_pretrained(str(p))
    tok.longtracerl_name = p.name
    return tok


def tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "longtracerl_name", None) or getattr(tokenizer, "name_or_path", "") or "unknown")


def count_tokens_batch(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Token counts without special tokens; one batch call (the Rust tokenizer parallelises it)."""
    if not texts:
        return []
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch"):
        encs = backend.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [len(x) for x in ids]


def count_tokens(tokenizer: Any, text: str) -> int:
    return count_tokens_batch(tokenizer, [text])[0]
