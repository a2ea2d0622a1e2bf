"""2WikiMultihopQA by its public Hugging Face hub id, through ``datasets``, written as one JSON file in the
official layout (``_id, type, question, context [[title, [sentences]]], supporting_facts [[title, sent_id]],
evidences [[subject, relation, object]], answer``) that ``corpus ingest --format context`` and
``graph build --triples`` read.

The split is streamed and reading stops after ``limit`` records, so a 500-record world downloads only the
first part of the split, not the whole dataset. ``source`` may also be a local dataset directory in the hub
layout (``data/validation-00000-of-00001.parquet``) or a parquet file: the same ``load_dataset`` call reads
it, which is how the tests exercise this path without any network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HUB_2WIKI = "framolfese/2WikiMultihopQA"  # the official 2WikiMultihopQA files as parquet on the hub


class HubFormatError(ValueError):
    """A row that is not a 2WikiMultihopQA record; the message names the row and the field."""


def _pairs(value: Any, a: str, b: str, where: str) -> list[list[Any]]:
    """``[[a, b], ...]`` from either the official list of pairs or the hub's ``{a: [...], b: [...]}``."""
    if isinstance(value, dict):
        if a not in value or b not in value:
            raise HubFormatError(f"{where}: expected {{{a}: [...], {b}: [...]}}, got keys {sorted(value)}")
        return [[x, y] for x, y in zip(value[a], value[b], strict=True)]
    if isinstance(value, list):
        return [list(x) for x in value]
    raise HubFormatError(f"{where}: expected a list or a mapping, got {type(value).__name__}")


def official_record(row: dict[str, Any], where: str = "row") -> dict[str, Any]:
    """One record in the official JSON layout, from a hub row (or an official record, unchanged)."""
    for k in ("question", "context", "answer"):
        if k not in row:
            raise HubFormatError(f"{where}: missing field '{k}' (columns: {sorted(row)})")
    ev = row.get("evidences") or []
    if isinstance(ev, str):  # some conversions keep nested lists as JSON text
        ev = json.loads(ev)
    return {"_id": str(row.get("_id") or row.get("id") or ""), "type": row.get("type", ""),
            "question": row["question"], "context": _pairs(row["context"], "title", "sentences", f"{where}.context"),
            "supporting_facts": _pairs(row.get("supporting_facts") or [], "title", "sent_id",
                                       f"{where}.supporting_facts"),
            "evidences": [list(e) for e in ev], "answer": row["answer"]}


def iter_2wiki(source: str = HUB_2WIKI, *, split: str = "validation", limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Records of ``source`` (hub id, local dataset directory or parquet file), streamed, at most ``limit``."""
    from datasets import load_dataset

    p = Path(source)
    if p.is_file():
        ds = load_dataset("parquet", data_files={split: str(p)}, split=split, streaming=True)
    else:
        ds = load_dataset(source, split=split, streaming=True)
    for i, row in enumerate(ds):
        if limit is not None and i >= limit:
            break
        yield official_record(row, f"{source} [{split}] row {i + 1}")


def fetch_2wiki(out: Path | str, source: str = HUB_2WIKI, *, split: str = "validation",
                limit: int | None = None) -> int:
    """Write the records as one JSON array to ``out`` (renamed into place at the end); returns how many."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        f.write("[\n")
        for rec in iter_2wiki(source, split=split, limit=limit):
            f.write(("" if n == 0 else ",\n") + json.dumps(rec, ensure_ascii=False))
            n += 1
        f.write("\n]\n")
    os.replace(tmp, out)
    return n
