"""DocStore: the corpus on disk, fetched by id or title in microseconds, never loaded whole into RAM.

SQLite (stdlib) in WAL mode: one table keyed by ``doc_id`` with an index on ``title``; iteration follows
insertion order (rowid), which is also the integer key the search index stores for each document.
Pages with the same title are merged on ingest (texts joined, the first ``doc_id`` kept) and counted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from longtracerl.records import Document

DB_NAME = "docs.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
  rid INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  title_lower TEXT NOT NULL,
  text TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  url TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS docs_title ON docs(title);
CREATE INDEX IF NOT EXISTS docs_title_lower ON docs(title_lower);
"""


class IngestStats(BaseModel):
    n_read: int = 0
    n_written: int = 0
    n_merged_titles: int = 0
    n_duplicate_ids: int = 0
    n_bad_skipped: int = 0
    bad_examples: list[str] = Field(default_factory=list)


def _row_doc(row: tuple[str, str, str, str, str | None]) -> Document:
    return Document(doc_id=row[0], title=row[1], text=row[2], source=row[3], url=row[4])


class DocStore:
    """Read access to an ingested corpus directory."""

    def __init__(self, path: Path | str) -> None:
        self.dir = Path(path)
        db = self.dir / DB_NAME
        if not db.exists():
            raise FileNotFoundError(f"no DocStore at {self.dir} (missing {DB_NAME}); run `longtracerl corpus ingest`")
        self._db = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("PRAGMA query_only=1")
        self._n: int | None = None

    @classmethod
    def open(cls, path: Path | str) -> DocStore:
        return cls(path)

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        if self._n is None:
            self._n = int(self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])
        return self._n

    def __contains__(self, doc_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def get(self, doc_id: str) -> Document | None:
        row = self._db.execute("SELECT doc_id, title, text, source, url FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        return _row_doc(row) if row else None

    def get_by_rid(self, rid: int) -> Document | None:
        row = self._db.execute("SELECT doc_id, title, text, source, url FROM docs WHERE rid = ?", (rid,)).fetchone()
        return _row_doc(row) if row else None

    def get_many_by_rid(self, rids: list[int]) -> dict[int, Document]:
        if not rids:
            return {}
        q = f"SELECT rid, doc_id, title, text, source, url FROM docs WHERE rid IN ({','.join('?' * len(rids))})"
        return {r[0]: _row_doc(r[1:]) for r in self._db.execute(q, rids)}

    def get_by_title(self, title: str) -> Document | None:
        """Exact title first, then a case-insensitive match."""
        sql = "SELECT doc_id, title, text, source, url FROM docs WHERE {} = ? LIMIT 1"
        row = self._db.execute(sql.format("title"), (title,)).fetchone()
        if row is None:
            row = self._db.execute(sql.format("title_lower"), (title.casefold(),)).fetchone()
        return _row_doc(row) if row else None

    def title_of(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT title FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def ids(self) -> Iterator[str]:
        for (doc_id,) in self._db.execute("SELECT doc_id FROM docs ORDER BY rid"):
            yield doc_id

    def iter_with_rid(self) -> Iterator[tuple[int, Document]]:
        cur = self._db.cursor()
        cur.arraysize = 2000
        for row in cur.execute("SELECT rid, doc_id, title, text, source, url FROM docs ORDER BY rid"):
            yield row[0], _row_doc(row[1:])

    def __iter__(self) -> Iterator[Document]:
        for _, d in self.iter_with_rid():
            yield d


class DocStoreWriter:
    """Appends documents in batched transactions; a crash loses at most the open batch, and what was
    committed before stays a valid store."""

    def __init__(self, path: Path | str, *, batch: int = 5000) -> None:
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.dir / DB_NAME, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._batch: list[Document] = []
        self.batch_size = batch
        self.stats = IngestStats()

    def add(self, doc: Document) -> None:
        self.stats.n_read += 1
        self._batch.append(doc)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        db = self._db
        db.execute("BEGIN")
        for d in self._batch:
            cur = db.execute(
                "INSERT INTO docs(doc_id, title, title_lower, text, source, url) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (d.doc_id, d.title, d.title.casefold(), d.text, d.source, d.url),
            )
            if cur.rowcount:
                self.stats.n_written += 1
                continue
            # a page whose title is already there: merge its text into the first one
            exists = db.execute("SELECT instr(text, ?) > 0 FROM docs WHERE title = ?", (d.text, d.title)).fetchone()
            if exists is not None:
                if not exists[0]:  # an exact repeat of text already there is not appended again
                    db.execute("UPDATE docs SET text = text || char(10) || char(10) || ? WHERE title = ?",
                               (d.text, d.title))
                self.stats.n_merged_titles += 1
            else:  # same doc_id, another title: keep the first, count it
                self.stats.n_duplicate_ids += 1
        db.execute("COMMIT")
        self._batch.clear()

    def close(self) -> None:
        self.flush()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def __enter__(self) -> DocStoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_docstore(path: Path | str, docs: Iterable[Document]) -> IngestStats:
    """Write ``docs`` into a DocStore at ``path`` (appending to one that exists)."""
    with DocStoreWriter(path) as w:
        for d in docs:
            w.add(d)
    return w.stats
