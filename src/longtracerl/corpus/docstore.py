"""DocStore: the corpus on disk, fetched by id or title in microseconds, never loaded whole into RAM.

SQLite (stdlib) in WAL mode: one table keyed by ``doc_id`` with an index on ``title``; iteration follows
insertion order (rowid), which is also the integer key the search index stores for each document.
Pages with the same title are merged on ingest (texts joined, the first ``doc_id`` kept) and counted.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

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


OnDuplicateTitle = Literal["merge", "keep_first", "error"]


class DuplicateTitleError(ValueError):
    """A second page with a title already in the store, under ``on_duplicate_title="error"``."""


class IngestStats(BaseModel):
    """What an ingest did; ``bad_examples`` name ``file:line`` of the first skipped records."""

    n_read: int = 0
    n_written: int = 0
    n_merged_titles: int = 0  # pages whose title was already there: text joined to the first page
    n_duplicate_ids: int = 0  # a new title under an id already used: kept out, counted
    n_already_present: int = 0  # the same page (id, title, text) again, e.g. a resumed ingest: nothing to do
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
        self._uri = f"file:{db}?mode=ro"
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._n: int | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        """One read-only connection per thread: the search server and ``batch_search`` read in parallel
        instead of queueing on one connection's mutex."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    @classmethod
    def open(cls, path: Path | str) -> DocStore:
        return cls(path)

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
        self._local = threading.local()

    def __enter__(self) -> DocStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def hit_rows(self, rids: list[int]) -> dict[int, tuple[str, str, str]]:
        """``rid -> (doc_id, title, text)`` without building Documents: the search hot path."""
        if not rids:
            return {}
        q = f"SELECT rid, doc_id, title, text FROM docs WHERE rid IN ({','.join('?' * len(rids))})"
        return {r[0]: (r[1], r[2], r[3]) for r in self._db.execute(q, rids)}

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

    def iter_with_rid(self, after: int = 0) -> Iterator[tuple[int, Document]]:
        """``(rid, Document)`` in insertion order, from the first rid above ``after`` (a resumed job's start)."""
        cur = self._db.cursor()
        cur.arraysize = 2000
        for row in cur.execute("SELECT rid, doc_id, title, text, source, url FROM docs WHERE rid > ? ORDER BY rid",
                               (after,)):
            yield row[0], _row_doc(row[1:])

    def __iter__(self) -> Iterator[Document]:
        for _, d in self.iter_with_rid():
            yield d


class DocStoreWriter:
    """Appends documents in batched transactions; a crash loses at most the open batch, and what was
    committed before stays a valid store."""

    def __init__(self, path: Path | str, *, batch: int = 5000, on_duplicate_title: OnDuplicateTitle = "merge") -> None:
        if on_duplicate_title not in ("merge", "keep_first", "error"):
            raise ValueError(f"on_duplicate_title must be merge, keep_first or error, not {on_duplicate_title!r}")
        self.on_duplicate_title = on_duplicate_title
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
        """Commit the pending batch in one transaction. Fast path: one ``executemany``; only a batch that
        hits an existing id or title is redone row by row to merge and count."""
        if not self._batch:
            return
        db = self._db
        rows = [(d.doc_id, d.title, d.title.casefold(), d.text, d.source, d.url) for d in self._batch]
        db.execute("BEGIN")
        try:
            db.execute("SAVEPOINT fast")
            before = db.total_changes
            db.executemany("INSERT INTO docs(doc_id, title, title_lower, text, source, url) VALUES (?,?,?,?,?,?) "
                           "ON CONFLICT DO NOTHING", rows)
            if db.total_changes - before == len(rows):
                db.execute("RELEASE fast")
                self.stats.n_written += len(rows)
            else:
                db.execute("ROLLBACK TO fast")
                db.execute("RELEASE fast")
                for d in self._batch:
                    try:
                        self._add_one(db, d)
                    except DuplicateTitleError:
                        db.execute("COMMIT")  # the pages before the duplicate stay ingested
                        self._batch.clear()
                        raise
            db.execute("COMMIT")
        except DuplicateTitleError:
            raise
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._batch.clear()

    def _add_one(self, db: sqlite3.Connection, d: Document) -> None:
        cur = db.execute(
            "INSERT INTO docs(doc_id, title, title_lower, text, source, url) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (d.doc_id, d.title, d.title.casefold(), d.text, d.source, d.url),
        )
        if cur.rowcount:
            self.stats.n_written += 1
            return
        row = db.execute("SELECT doc_id, instr(text, ?) > 0 FROM docs WHERE title = ?", (d.text, d.title)).fetchone()
        if row is None:  # same doc_id under another title: keep the first, count it
            self.stats.n_duplicate_ids += 1
        elif row[1] and row[0] == d.doc_id:  # the same page again: a resumed or repeated ingest
            self.stats.n_already_present += 1
        elif row[1]:  # another page with this title and a text already there: counted, not appended twice
            self.stats.n_merged_titles += 1
        elif self.on_duplicate_title == "error":
            raise DuplicateTitleError(f"title {d.title!r} (doc_id {d.doc_id!r}) is already in the store as {row[0]!r}")
        elif self.on_duplicate_title == "keep_first":
            self.stats.n_merged_titles += 1
        else:  # a page whose title is already there: join its text to the first one
            db.execute("UPDATE docs SET text = text || char(10) || char(10) || ? WHERE title = ?", (d.text, d.title))
            self.stats.n_merged_titles += 1

    def close(self) -> None:
        self.flush()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def __enter__(self) -> DocStoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_docstore(path: Path | str, docs: Iterable[Document], *,
                   on_duplicate_title: OnDuplicateTitle = "merge") -> IngestStats:
    """Write ``docs`` into a DocStore at ``path`` (appending to one that exists). If ``docs`` raises, what
    was read before it is committed and stays a valid store (the error propagates)."""
    with DocStoreWriter(path, on_duplicate_title=on_duplicate_title) as w:
        for d in docs:
            w.add(d)
    return w.stats
