"""The tokenizer that counts the context length L (PAPER.md 2d leaves it unstated; ours is configurable).

Default: the bundled SmolLM2 model's tokenizer, converted from its GGUF once (a few seconds) and cached
with ``save_pretrained`` under ``paths.home()/tokenizers/`` (``longtracerl.train.models.bundled_tokenizer``) so later loads take well under a second.
Any other Hugging Face tokenizer works too: a local directory (``tokenizer.json`` or the slow tokenizer's
files), or a Hub id (``Qwen/Qwen3-4B-Thinking-2507``), loaded from the local Hugging Face cache or
downloaded once by ``transformers`` when the machine has network. The paper preset asks for the trained
model's tokenizer, so L counts the tokens the policy will see.
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
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise FileNotFoundError(f"tokenizer {name_or_path!r}: expected a directory with tokenizer.json, got a file")
        try:
            tok = AutoTokenizer.from_pretrained(str(p))
        except (OSError, ValueError) as e:
            raise FileNotFoundError(f"tokenizer {name_or_path!r}: not a Hugging Face tokenizer directory ({e})") from None
        tok.longtracerl_name = p.name
        return tok
    if name_or_path.count("/") > 1 or name_or_path.startswith((".", "/", "~")):
        raise FileNotFoundError(f"tokenizer {name_or_path!r}: no such directory")
    try:  # a Hub id: the local HF cache, or one download when the machine has network
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except Exception as e:  # transformers raises OSError, ValueError or hub errors
        raise FileNotFoundError(
            f"tokenizer {name_or_path!r}: not a local directory and not loadable as a Hugging Face Hub id "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    tok.longtracerl_name = name_or_path
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
