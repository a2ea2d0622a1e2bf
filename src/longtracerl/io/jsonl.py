"""Append-safe JSONL: the storage of every stage, built so that a killed run resumes exactly.

A run killed mid-write leaves at most one torn last line (no trailing newline). ``repair_tail``
drops it before appending; a malformed line anywhere else is corruption and is reported with its
file and line number instead of being skipped silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class JsonlError(ValueError):
    """A malformed line in a JSONL file; names the file and the 1-based line number."""

    def __init__(self, path: Path | str, line_no: int, msg: str) -> None:
        super().__init__(f"{path}:{line_no}: {msg}")
        self.path = str(path)
        self.line_no = line_no


def repair_tail(path: Path | str) -> int:
    """Truncate a torn last line (one without a trailing newline); return the bytes dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    size = p.stat().st_size
    if size == 0:
        return 0
    with p.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return 0
        # walk back to the previous newline
        pos = size
        chunk = 65536
        keep = 0
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            i = buf.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        f.truncate(keep)
        return size - keep


def iter_jsonl(path: Path | str, *, allow_torn_tail: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, obj)``, reading one line at a time (memory does not grow with the file); blank lines
    are skipped, a torn last line (no trailing newline) is ignored when allowed."""
    p = Path(path)
    with p.open("rb") as f:
        for i, raw in enumerate(f):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                if allow_torn_tail and not raw.endswith(b"\n"):  # only the last line can lack its newline
                    return
                raise JsonlError(p, i + 1, f"not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise JsonlError(p, i + 1, f"expected a JSON object, got {type(obj).__name__}")
            yield i + 1, obj


def iter_records(path: Path | str, model: type[M]) -> Iterator[M]:
    """Stream the records of a stage file, validating each; errors name file, line and field."""
    if not Path(path).exists():
        return
    for line_no, obj in iter_jsonl(path):
        try:
            yield model.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "<record>"
            raise JsonlError(path, line_no, f"field '{field}': {first['msg']}") from None


def read_records(path: Path | str, model: type[M]) -> list[M]:
    """Load every record of a stage file, validating each; errors name file, line and field."""
    return list(iter_records(path, model))


def dumps(obj: BaseModel | dict[str, Any]) -> str:
    """Canonical one-line JSON for a record (stable across runs: same input, same bytes)."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class JsonlAppender:
    """Appends records to a stage file, one flushed line each, after repairing a torn tail.

    ``key`` names the id field; ``seen`` holds the ids already on disk so a resumed stage skips them.
    """

    def __init__(self, path: Path | str, key: str, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.fsync = fsync
        self.dropped_bytes = repair_tail(self.path)
        self.seen: set[str] = set()
        if self.path.exists():
            for _, obj in iter_jsonl(self.path, allow_torn_tail=False):
                if key in obj:
                    self.seen.add(str(obj[key]))
        self._f = self.path.open("a", encoding="utf-8")

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.seen

    def write(self, record: BaseModel | dict[str, Any]) -> bool:
        """Write one record unless its id is already present; return whether it was written."""
        obj = record.model_dump(mode="json") if isinstance(record, BaseModel) else record
        item_id = str(obj[self.key])
        if item_id in self.seen:
            return False
        self._f.write(dumps(obj) + "\n")
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())
        self.seen.add(item_id)
        return True

    def write_many(self, records: Iterable[BaseModel | dict[str, Any]]) -> int:
        return sum(self.write(r) for r in records)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rewrite_in_order(path: Path | str, key: str, order: list[str]) -> None:
    """Atomically rewrite a finished stage file in a canonical id order.

    Concurrent stages append in completion order; sorting at the end of the stage makes the file
    byte-identical to that of an uninterrupted run. Ids not in ``order`` keep their relative order
    at the end.
    """
    p = Path(path)
    if not p.exists():
        return
    rank = {k: i for i, k in enumerate(order)}
    rows = [obj for _, obj in iter_jsonl(p)]
    rows.sort(key=lambda o: rank.get(str(o.get(key)), len(rank)))
    tmp = p.with_suffix(p.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for o in rows:
            f.write(dumps(o) + "\n")
    os.replace(tmp, p)


def write_records(path: Path | str, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Write a whole file atomically (tmp + rename): readers never see a half-written file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(dumps(r) + "\n")
            n += 1
    os.replace(tmp, p)
    return n
