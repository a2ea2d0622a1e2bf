"""Policy models for training without a download: the bundled SmolLM2 (GGUF) and tiny random models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BUNDLED = "bundled"


def _bundled_tokenizer_dir() -> Path:
    from longtracerl.llm.bundled import bundled_gguf_path
    from longtracerl.paths import home

    return home() / "tokenizers" / bundled_gguf_path().stem


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
        import os
        import shutil

        tmp = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
        tok.save_pretrained(str(tmp))
        try:
            tmp.rename(cached)  # atomic: a reader never sees a half-written tokenizer
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return _fix_special_tokens(tok)


def _fix_special_tokens(tok: Any) -> Any:
    """The bundled GGUF names ``<|im_start|>`` as end-of-sequence; a chat turn ends with ``<|im_end|>``."""
    vocab = tok.get_vocab()
    if tok.eos_token == "<|im_start|>" and "<|im_end|>" in vocab:
        tok.eos_token = "<|im_end|>"
    if tok.pad_token is None or tok.pad_token == "<|im_start|>":
        tok.pad_token = "<|endoftext|>" if "<|endoftext|>" in vocab else tok.eos_token
    return tok


def load_tokenizer(model: str | None = None) -> Any:
    """The tokenizer alone (cheap: no weights), for length checks before the model is loaded."""
    from transformers import AutoTokenizer

    if model in (None, "", BUNDLED):
        return bundled_tokenizer()
    tok = AutoTokenizer.from_pretrained(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model_and_tokenizer(model: str | None = None, *, tokenizer: Any = None) -> tuple[Any, Any]:
    """A causal LM and its tokenizer: a local path / hub id, or ``bundled`` (SmolLM2-135M from the GGUF)."""
    from transformers import AutoModelForCausalLM

    tok = tokenizer if tokenizer is not None else load_tokenizer(model)
    if model in (None, "", BUNDLED):
        from longtracerl.llm.bundled import bundled_gguf_path

        gguf = bundled_gguf_path()
        lm = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        lm.generation_config.eos_token_id = tok.eos_token_id
        lm.generation_config.pad_token_id = tok.pad_token_id
    else:
        lm = AutoModelForCausalLM.from_pretrained(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return lm, tok


def tiny_random_llama(tokenizer: Any, *, hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Any:
    """A randomly initialized Llama with ``tokenizer``'s vocabulary: real training steps in well under a second."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(cfg)
