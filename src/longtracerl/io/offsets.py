"""Streaming access to JSONL stage files: complete lines one at a time, and random access by id through an
index of byte offsets (memory grows with the ids, never with the records)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def iter_lines(path: Path) -> Iterator[bytes]:
    """Complete JSONL lines of a file, one at a time (a torn last line is left out)."""
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            if line.endswith(b"\n") and line.strip():
                yield line


def key_of(line: bytes, key: str) -> str:
    """The id field ``key`` of one JSONL line."""
    return str(json.loads(line).get(key))


class OffsetIndex:
    """id -> (offset, length) of each line of a JSONL file: random access without holding the records."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.pos: dict[str, tuple[int, int]] = {}
        if path.exists():
            off = 0
            with path.open("rb") as f:
                for line in f:
                    if line.endswith(b"\n") and line.strip():
                        self.pos.setdefault(key_of(line, key), (off, len(line)))
                    off += len(line)
        self._f = path.open("rb") if path.exists() else None

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.pos

    def __len__(self) -> int:
        return len(self.pos)

    def get(self, item_id: str) -> bytes | None:
        p = self.pos.get(item_id)
        if p is None or self._f is None:
            return None
        self._f.seek(p[0])
        return self._f.read(p[1])

    def close(self) -> None:
        if self._f is not None:
            self._f.close()

    def __enter__(self) -> OffsetIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
