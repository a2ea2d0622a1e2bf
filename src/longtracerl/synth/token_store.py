"""Token counts of document sections shared by every worker process of a node (a small SQLite file).

Why: each Ray worker process has its own ``Assembler`` cache, so two workers on one node would each
tokenize the same pages (the random fill, popular distractors): tokenization, the CPU-bound half of the
assembly, would grow with the number of workers instead of being split between them. The store is
content-addressed (sha1 of the exact section text, one file per tokenizer), so a rebuilt docstore or a
changed page can never get a stale count, and it lives on node-local disk (the Ray scratch dir), so it needs
no shared filesystem. SQLite in WAL mode lets the processes of a node read and write it concurrently.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path


def text_key(text: str) -> str:
    """The store's key of one section text."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class TokenCountStore:
    """``text key -> token count`` for one tokenizer, persisted in ``path`` and shared between processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_tokenizer(cls, root: Path | str, tokenizer_name: str) -> TokenCountStore:
        """The store of one tokenizer under ``root`` (file name from the tokenizer's name)."""
        tag = hashlib.sha256(tokenizer_name.encode()).hexdigest()[:16]
        return cls(Path(root) / f"tokens-{tag}.sqlite")

    def get_many(self, keys: Iterable[str]) -> dict[str, int]:
        """Counts of the keys the store holds (missing keys are left out)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, int] = {}
        for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            chunk = keys[i:i + 500]
            q = f"SELECT k, n FROM counts WHERE k IN ({','.join('?' * len(chunk))})"
            out.update((str(k), int(n)) for k, n in self._con.execute(q, chunk))
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put_many(self, counts: Mapping[str, int]) -> None:
        if counts:
            self._con.execute("BEGIN IMMEDIATE")  # one transaction per batch, not one per row
            try:
                self._con.executemany("INSERT OR IGNORE INTO counts (k, n) VALUES (?, ?)", list(counts.items()))
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM counts").fetchone()[0])

    def close(self) -> None:
        self._con.close()
