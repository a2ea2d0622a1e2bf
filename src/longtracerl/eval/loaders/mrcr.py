"""OpenAI MRCR: parquet files ``{2,4,8}needle/{n}needle_{0,1}.parquet``; the prompt is a JSON list of chat
messages sent as it is. Results are grouped per needle count and per official context-length bin, which
counts o200k_base tokens of every message plus the answer (``token_counter`` says which tokenizer counted).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from longtracerl.eval.bench_rules import mrcr_bin
from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import (
    check_columns,
    hub_snapshot,
    iter_rows,
    local_path,
    looks_like_hub_id,
)

BENCH = "mrcr"
HUB_ID = "openai/mrcr"
COLUMNS = ["prompt", "answer", "random_string_to_prepend", "n_needles", "desired_msg_index", "total_messages", "n_chars"]


@lru_cache(maxsize=1)
def token_counter() -> tuple[str, Callable[[str], int]]:
    """``(name, count)``: o200k_base from ``quicktok`` (ships the vocabulary) or ``tiktoken`` (needs the
    encoding file, fetched once with network); else the bundled model's tokenizer, named so in results."""
    try:
        import quicktok

        enc = quicktok.get_encoding("o200k_base")
        return "o200k_base (quicktok)", lambda s: len(enc.encode(s))
    except Exception:  # not installed, or no bundled vocabulary
        pass
    try:
        import tiktoken

        tk = tiktoken.get_encoding("o200k_base")
        return "o200k_base (tiktoken)", lambda s: len(tk.encode(s, disallowed_special=()))
    except Exception:
        pass
    from longtracerl.llm.tokenizers import load_tokenizer

    tok = load_tokenizer()
    backend = tok._tokenizer
    return "bundled model tokenizer (NOT o200k_base: bins approximate)", \
        lambda s: len(backend.encode(s, add_special_tokens=False).ids)


def files(data: str | None) -> list[Path]:
    path = hub_snapshot(data or HUB_ID, ["*.parquet"]) if (data is None or looks_like_hub_id(data)) else local_path(data)
    if path.is_file():
        return [path]
    found = sorted(path.rglob("*needle*.parquet")) or sorted(path.rglob("*.parquet"))
    if not found:
        raise BenchDataError(str(path), "no MRCR parquet files ({2,4,8}needle/*.parquet) in this folder")
    return found


def load(data: str | None = None, **_: object) -> Iterator[EvalItem]:
    name, count = token_counter()
    for p in files(data):
        src = str(p)
        for i, row in iter_rows(p):
            if i == 1:
                check_columns(p, row, COLUMNS, i)
            raw = require(row, "prompt", src, i)
            try:
                messages = json.loads(raw)
            except ValueError as e:
                raise BenchDataError(src, f"not a JSON list of messages ({e})", row=i, field="prompt") from None
            if not isinstance(messages, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in messages):
                raise BenchDataError(src, "expected a list of {role, content} messages", row=i, field="prompt")
            answer = require(row, "answer", src, i)
            prefix = require(row, "random_string_to_prepend", src, i)
            needles = require(row, "n_needles", src, i, kind=int)
            n_tokens = sum(count(m["content"]) for m in messages) + count(answer)
            yield EvalItem(
                item_id=f"{p.stem}:{i - 1}", bench=BENCH,
                split={"needles": str(needles), "bin": mrcr_bin(n_tokens)},
                messages=messages, gold=answer, question=messages[-1]["content"] if messages else "",
                meta={"random_string_to_prepend": prefix, "n_tokens": n_tokens, "token_counter": name,
                      "desired_msg_index": require(row, "desired_msg_index", src, i, kind=int),
                      "total_messages": require(row, "total_messages", src, i, kind=int),
                      "n_chars": require(row, "n_chars", src, i, kind=int)},
            )
