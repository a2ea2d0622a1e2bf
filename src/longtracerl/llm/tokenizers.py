"""Model tokenizers for the whole project: loading (bundled GGUF, HF directory, Hub id), counting, and the
length of a chat prompt as a trainer sees it.

One module, low in the layers (``llm``), so synthesis (L of the assembly), eval (truncation) and training
(the length checks) load and count with the same code.

Loading: ``None`` / ``"bundled"`` is the bundled SmolLM2 model's tokenizer, converted from its GGUF once (a few
seconds) and cached with ``save_pretrained`` under ``paths.home()/tokenizers/`` so later loads take well under
a second. Any other Hugging Face tokenizer works too: a local directory (``tokenizer.json`` or the slow
tokenizer's files), or a Hub id (``Qwen/Qwen3-4B-Thinking-2507``), loaded from the local Hugging Face cache or
downloaded once by ``transformers`` when the machine has network.

The prompt as the trainer sees it (``chat_prompt_tokens``): the tokenizer's chat template applied to the
messages with ``add_generation_prompt=True`` (what TRL and verl's ``RLHFDataset`` do). A tokenizer without a
chat template cannot be used by those trainers on chat data at all; we then count what a plain-text trainer
feeds: the message texts joined by blank lines, with the tokenizer's own special tokens (BOS/EOS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BUNDLED = "bundled"


def _bundled_tokenizer_dir() -> Path:
    from longtracerl.llm.bundled import bundled_gguf_path
    from longtracerl.paths import home

    return home() / "tokenizers" / bundled_gguf_path().stem


def _bundled_name() -> str:
    """Names the bundled tokenizer by its GGUF file (stem and size), so samples say which one counted L."""
    from longtracerl.llm.bundled import bundled_gguf_path

    gguf = bundled_gguf_path()
    return f"{BUNDLED}:{gguf.stem}-{gguf.stat().st_size}"


def bundled_tokenizer() -> Any:
    """The SmolLM2 tokenizer read from the bundled GGUF; saved once under the cache root (GGUF parsing is slow)."""
    from transformers import AutoTokenizer

    cached = _bundled_tokenizer_dir()
    if (cached / "tokenizer_config.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(cached))
    else:
        from longtracerl.llm.bundled import bundled_gguf_path

        gguf = bundled_gguf_path()
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tmp = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
        tok.save_pretrained(str(tmp))
        try:
            tmp.rename(cached)  # atomic: a reader never sees a half-written tokenizer
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    tok = _fix_special_tokens(tok)
    tok.longtracerl_name = _bundled_name()
    return tok


def _fix_special_tokens(tok: Any) -> Any:
    """The bundled GGUF names ``<|im_start|>`` as end-of-sequence; a chat turn ends with ``<|im_end|>``."""
    vocab = tok.get_vocab()
    if tok.eos_token == "<|im_start|>" and "<|im_end|>" in vocab:
        tok.eos_token = "<|im_end|>"
    if tok.pad_token is None or tok.pad_token == "<|im_start|>":
        tok.pad_token = "<|endoftext|>" if "<|endoftext|>" in vocab else tok.eos_token
    return tok


def load_tokenizer(name_or_path: str | None = None) -> Any:
    """A fast Hugging Face tokenizer (no model weights); ``None``/``"bundled"`` is the bundled model's.

    ``tokenizer.longtracerl_name`` is what samples record as their ``tokenizer``. A tokenizer without a pad
    token gets its end-of-sequence token as pad (what trainers need; counts are unchanged).
    """
    from transformers import AutoTokenizer

    if name_or_path in (None, "", BUNDLED):
        return bundled_tokenizer()
    assert name_or_path is not None
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise FileNotFoundError(f"tokenizer {name_or_path!r}: expected a directory with tokenizer.json, got a file")
        try:
            tok = AutoTokenizer.from_pretrained(str(p))
        except (OSError, ValueError) as e:
            raise FileNotFoundError(f"tokenizer {name_or_path!r}: not a Hugging Face tokenizer directory ({e})") from None
        tok.longtracerl_name = p.name
    else:
        if name_or_path.count("/") > 1 or name_or_path.startswith((".", "/", "~")):
            raise FileNotFoundError(f"tokenizer {name_or_path!r}: no such directory")
        try:  # a Hub id: the local HF cache, or one download when the machine has network
            tok = AutoTokenizer.from_pretrained(name_or_path)
        except Exception as e:  # transformers raises OSError, ValueError or hub errors
            raise FileNotFoundError(
                f"tokenizer {name_or_path!r}: not a local directory and not loadable as a Hugging Face Hub id "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        tok.longtracerl_name = name_or_path
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def tokenizer_name(tokenizer: Any) -> str:
    """What samples record as the tokenizer that counted them."""
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
    """Token count of one text, without special tokens."""
    return count_tokens_batch(tokenizer, [text])[0]


def has_chat_template(tokenizer: Any) -> bool:
    """True when the tokenizer carries a chat template (what trainers apply to chat prompts)."""
    return bool(getattr(tokenizer, "chat_template", None))


def chat_prompt_tokens(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> int:
    """Tokens of ``messages`` as a trainer sees the prompt: the chat template applied with
    ``add_generation_prompt=True`` (TRL, verl), or, without a template, the texts joined by blank lines
    with the tokenizer's own special tokens (see the module docstring)."""
    if has_chat_template(tokenizer):
        ids = tokenizer.apply_chat_template(list(messages), tokenize=True, add_generation_prompt=True)
        if hasattr(ids, "keys"):  # newer transformers may return a BatchEncoding
            ids = ids["input_ids"]
        return len(ids)
    text = "\n\n".join(str(m.get("content", "")) for m in messages)
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


def template_overhead(tokenizer: Any, probe: str) -> int:
    """Tokens the trainer's view adds around ONE user message: ``chat_prompt_tokens`` of ``[user: probe]``
    minus the tokens of ``probe`` itself.

    Measured once per tokenizer (and prompt shape) so that a prompt's length is its content's count plus this
    constant, without tokenizing the whole prompt again. ``probe`` should begin and end like the real prompts
    (the same first and last characters), so that the template's joins tokenize the same way.
    """
    return chat_prompt_tokens(tokenizer, [{"role": "user", "content": probe}]) - count_tokens(tokenizer, probe)
