"""Policy models for training without a download: the bundled SmolLM2 (GGUF) and tiny random models."""

from __future__ import annotations

from typing import Any

from longtracerl.llm.tokenizers import BUNDLED, bundled_tokenizer, load_tokenizer

__all__ = ["BUNDLED", "bundled_tokenizer", "load_model_and_tokenizer", "load_tokenizer", "tiny_random_llama"]


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
