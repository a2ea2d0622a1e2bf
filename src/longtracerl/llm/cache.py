"""Disk cache of LLM requests: reruns cost nothing and give the same answers (deterministic resume)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any


def request_key(backend: str, endpoint: str, body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that shapes the answer (model, messages, params)."""
    canon = json.dumps({"backend": backend, "endpoint": endpoint, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


class SqliteStore:
    """sqlite (WAL) key -> JSON value in one table; safe across threads and processes.

    The connection closes when the store is collected (or on ``close()``), so no handle outlives its owner.
    """

    def __init__(self, path: Path | str, table: str) -> None:
        self.path = Path(path)
        self.table = table
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._close = weakref.finalize(self, self._db.close)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # no fsync per answer: a lost tail only costs a re-ask
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT value FROM {self.table} WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])  # type: ignore[no-any-return]

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False)))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        self._close()


class LLMCache(SqliteStore):
    """LLM responses by request key (``request_key``); a directory gets ``llm_cache.sqlite`` inside it."""

    def __init__(self, path: Path | str) -> None:
        p = Path(path)
        super().__init__(p if p.suffix == ".sqlite" else p / "llm_cache.sqlite", "responses")
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        value = super().get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value
