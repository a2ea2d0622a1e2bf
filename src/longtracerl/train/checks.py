"""Checks that run before any model is loaded: model path, context window, prompt lengths.

A 128K-token training set on an 8K-token model used to load the model, start generating and get killed by
the kernel minutes later; these checks say in one line what to do instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from longtracerl.llm.tokenizers import BUNDLED, chat_prompt_tokens

_WINDOW_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def check_model_path(model: str) -> None:
    """A local-looking model path that does not exist fails here (a hub id ``org/name`` is left to the hub)."""
    if model in ("", BUNDLED):
        return
    p = Path(model).expanduser()
    if p.exists():
        if p.is_dir() and not (p / "config.json").is_file():
            raise ValueError(f"--model {model}: directory has no config.json (not a Hugging Face model directory)")
        return
    looks_local = model.startswith(("/", "./", "../", "~")) or model.count("/") != 1 or p.suffix in (".gguf", ".bin")
    if looks_local:
        raise ValueError(f"--model {model}: no such file or directory (give a model directory, a hub id or 'bundled')")


def context_window(model: str) -> int | None:
    """The model's context window in tokens, read from its config only (no weights); None if unknown."""
    if model in ("", BUNDLED):
        from longtracerl.llm.bundled import bundled_gguf_path

        gguf = bundled_gguf_path()
        try:
            from gguf import GGUFReader  # type: ignore[import-untyped]

            reader = GGUFReader(str(gguf))
            for name, field in reader.fields.items():
                if name.endswith(".context_length"):
                    return int(field.parts[field.data[0]][0])
        except Exception:  # noqa: BLE001 - fall back to transformers' GGUF config reader
            pass
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    else:
        p = Path(model).expanduser()
        if p.is_dir() and (p / "config.json").is_file():
            data = json.loads((p / "config.json").read_text(encoding="utf-8"))
            data = data.get("text_config", data)
            for k in _WINDOW_KEYS:
                if isinstance(data.get(k), int):
                    return int(data[k])
            return None
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(model)
        cfg = getattr(cfg, "text_config", cfg)
    for k in _WINDOW_KEYS:
        v = getattr(cfg, k, None)
        if isinstance(v, int):
            return v
    return None


def prompt_token_counts(rows: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Prompt tokens per row as the trainer will see them: chat template applied, generation prompt added
    (``llm.tokenizers.chat_prompt_tokens``, the count the assembly fills L with)."""
    return [chat_prompt_tokens(tokenizer, r["prompt"]) for r in rows]


def check_lengths(
    counts: Sequence[int],
    *,
    data: str | Path,
    window: int | None,
    max_prompt_length: int,
    max_completion_length: int,
    model: str,
) -> None:
    """Every prompt + the response budget must fit the window, and every prompt ``max_prompt_length``."""
    if not counts:
        return
    worst = max(range(len(counts)), key=lambda i: counts[i])
    n = counts[worst]
    over = sum(1 for c in counts if c > max_prompt_length)
    if over:
        raise ValueError(
            f"{data}: {over} of {len(counts)} prompts exceed max_prompt_length {max_prompt_length} tokens "
            f"(longest: row {worst + 1}, {n} tokens); rebuild with `longtracerl build --max-tokens "
            f"{max_prompt_length}` (L counts the prompt with the chat template, as this check does) or raise "
            f"max_prompt_length"
        )
    if window is not None and n + max_completion_length > window:
        room = window - max_completion_length
        raise ValueError(
            f"{data}: row {worst + 1} has a {n}-token prompt; with --max-completion-length {max_completion_length} "
            f"the model {model!r} (context window {window}) has room for {max(room, 0)} prompt tokens. "
            f"Rebuild with `longtracerl build --max-tokens {max(room, 256)}` (L counts the prompt with the chat "
            f"template, as here), lower "
            f"--max-completion-length, or train a long-context model"
        )
