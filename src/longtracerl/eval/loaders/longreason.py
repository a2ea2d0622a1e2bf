"""LongReason: splits ``original``, ``expanded``, ``8k``, ``16k``, ``32k``, ``64k``, ``128k`` (794 multiple-
choice questions each). A row carries ``prompt`` (the context, question and options as published),
``question``, ``background``, ``final_inquiry``, ``answer`` (a letter) and ``example_idx``.

Local layouts: a folder holding one file per split (``8k.parquet``, ``data/8k-00000-of-00001.parquet``,
``8k.jsonl`` ...), or a single file for one split; a hub id is read with ``datasets``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import iter_rows, local_path, looks_like_hub_id

BENCH = "longreason"
HUB_ID = "lz1bytedance/LongReason"
SPLITS = ["original", "expanded", "8k", "16k", "32k", "64k", "128k"]
DEFAULT_SPLITS = ["8k", "16k", "32k", "64k", "128k"]
LETTERS = "ABCDE"


def _split_files(folder: Path, split: str) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".parquet", ".jsonl", ".json") and (p.stem == split or p.stem.startswith(f"{split}-")):
            out.append(p)
    return out


def _hub_rows(repo: str, split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        from datasets import load_dataset
    except ImportError:  # pragma: no cover
        raise BenchDataError(repo, "reading a hub id needs datasets (pip install 'longtracerl[eval]')") from None
    try:
        ds = load_dataset(repo, split=split, streaming=True)
    except Exception as e:
        raise BenchDataError(repo, f"could not load split {split!r} ({type(e).__name__}: {e})") from None
    for i, row in enumerate(ds, 1):
        yield i, dict(row)


def load(data: str | None = None, *, splits: list[str] | None = None, **_: object) -> Iterator[EvalItem]:
    wanted = splits or DEFAULT_SPLITS
    for s in wanted:
        if s not in SPLITS:
            raise BenchDataError("longreason", f"unknown split {s!r}; known: {', '.join(SPLITS)}")
    hub = data is None or looks_like_hub_id(data)
    path = None if hub else local_path(str(data))
    for split in wanted:
        if hub:
            sources: list[tuple[str, Iterator[tuple[int, dict[str, Any]]]]] = [(data or HUB_ID, _hub_rows(data or HUB_ID, split))]
        else:
            assert path is not None
            if path.is_file():
                if len(wanted) > 1:
                    raise BenchDataError(str(path), "one file holds one split: pass --split NAME, or a folder")
                fs = [path]
            else:
                fs = _split_files(path, split)
                if not fs:
                    raise BenchDataError(str(path), f"no file for split {split!r} (expected e.g. {split}.parquet)")
            sources = [(str(f), iter_rows(f)) for f in fs]
        for src, rows in sources:
            for i, row in rows:
                prompt = require(row, "prompt", src, i)
                answer = require(row, "answer", src, i).strip().upper()
                if answer not in LETTERS:
                    raise BenchDataError(src, f"{answer!r} is not an option letter", row=i, field="answer")
                idx = str(row.get("example_idx", i - 1))
                yield EvalItem(
                    item_id=f"{split}:{idx}", bench=BENCH, split={"length": split},
                    fields={"prompt": prompt, "question": str(row.get("question") or ""),
                            "background": str(row.get("background") or ""),
                            "final_inquiry": str(row.get("final_inquiry") or "")},
                    gold=answer, question=str(row.get("final_inquiry") or row.get("question") or ""),
                    meta={"letters": LETTERS},
                )
