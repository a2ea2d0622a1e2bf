"""Pieces every adapter shares: one cached scorer per config (``reward.core.load_reward_config`` reads it),
message text, list and alias fields."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from longtracerl.reward.core import CONFIG_ENV, load_reward_config

if TYPE_CHECKING:
    from longtracerl.reward import LongTraceReward, RewardConfig

__all__ = ["CONFIG_ENV", "as_aliases", "as_str_list", "get_reward", "info_aliases", "load_reward_config", "message_text"]


@lru_cache(maxsize=8)
def _cached_reward(config_json: str) -> LongTraceReward:
    from longtracerl.reward import LongTraceReward, RewardConfig

    return LongTraceReward(RewardConfig.model_validate_json(config_json))


def get_reward(config: RewardConfig | dict[str, Any] | str | Path | None = None) -> LongTraceReward:
    """One ``LongTraceReward`` per distinct config in this process (its judge cache and client are reused)."""
    cfg = load_reward_config(config)
    return _cached_reward(cfg.model_dump_json())


def message_text(item: Any) -> str:
    """Text of a completion that is a string, a message dict, or a list of messages (last assistant turn).

    A message's ``reasoning_content`` (as vLLM/SGLang return it) is put back inside ``<think>...</think>``
    so the core sees the same text as a model that writes its reasoning inline.
    """
    if item is None:
        return ""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        content = item.get("content") or ""
        if isinstance(content, list):  # multimodal-style parts
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        reasoning = item.get("reasoning_content")
        return f"<think>{reasoning}</think>{content}" if reasoning else str(content)
    if isinstance(item, Sequence):
        msgs = [m for m in item if isinstance(m, dict)]
        assistant = [m for m in msgs if m.get("role") == "assistant"]
        chosen = assistant[-1] if assistant else (msgs[-1] if msgs else None)
        return message_text(chosen)
    raise TypeError(f"cannot read a completion of type {type(item).__name__}")


def as_str_list(value: Any, field: str) -> list[str]:
    """Rubrics arrive as lists, numpy arrays (verl/parquet) or JSON strings; always return ``list[str]``."""
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except json.JSONDecodeError as e:
                raise ValueError(f"{field}: not a JSON list: {s[:80]!r}") from e
        else:
            return [s] if s else []
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise ValueError(f"{field}: expected a list of strings, got {type(value).__name__}")
    return [str(v) for v in value]


def as_aliases(value: Any) -> dict[str, list[str]] | None:
    """Rubric aliases (entity -> other names) from a mapping, its JSON string, or None.

    Datasets carry them as ``rubric_aliases`` (our exports); Arrow may turn a mapping into a struct with
    null members, which are dropped here."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f"rubric_aliases: not a JSON object: {value[:80]!r}") from e
    if not hasattr(value, "items"):
        raise ValueError(f"rubric_aliases: expected a mapping of entity -> list of names, got {type(value).__name__}")
    out = {str(k): as_str_list(v, f"rubric_aliases[{k!r}]") for k, v in value.items() if v is not None}
    return out or None


def info_aliases(info: Any) -> dict[str, list[str]] | None:
    """Aliases from an ``extra_reward_info``-like dict (``rubric_aliases``, else ``aliases``)."""
    if not isinstance(info, dict):
        return None
    return as_aliases(info.get("rubric_aliases", info.get("aliases")))
