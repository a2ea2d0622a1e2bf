"""Corpus term statistics from one place: document frequencies of terms exactly as the index analyses them.

Question synthesis weighs clue words by how rare they are (hop margins, the second reader, the "rarer than
the corpus median" hygiene rule). Those weights must not depend on how the corpus is served:

- a local BM25 index (or a hybrid index's BM25 part) answers from its own term dictionary
  (``IndexTermStats``), with the words stemmed by the index's own analyzer;
- a backend without a local term dictionary (``serve-search``, a dense index) uses statistics computed once
  from the DocStore with the analyzer the served index records, and stored beside the DocStore
  (``StoredTermStats``, ``term_stats.<analyzer>.sqlite``);
- pages given in memory (a writer without a corpus) get ``MemoryTermStats`` over those pages.

All three count the same text (title and text, as the index does when ``title_in_body``) with the same
analyzer, and take the same seeded sample of pages for the corpus profile (median document frequency of a
word occurrence, mean page length), so one config gives the same numbers, and the same questions, with a
local index and with ``serve-search``. A backend for which none of these applies is an error
(``NoTermStats``), never a uniform weight.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from longtracerl.corpus.analyzers import DEFAULT_ANALYZER, build_analyzer, check_analyzer
from longtracerl.records import Document

PROFILE_PAGES = 500  # pages sampled (every n-th, in store order) for the median df and the mean page length


class NoTermStats(ValueError):
    """No corpus statistics for a search backend: clue weights would be meaningless."""


def _body(d: Document, title_in_body: bool) -> str:
    return f"{d.title}\n{d.text}" if title_in_body else d.text


class TermStats:
    """``doc_freq(term)`` of index terms, ``analyze(text)`` into them, ``idf`` as BM25 computes it, and the
    corpus profile (``median_df``, ``avg_len``)."""

    analyzer: str = DEFAULT_ANALYZER
    n_docs: int = 0
    title_in_body: bool = True

    def __init__(self) -> None:
        self._idf: dict[str, float] = {}
        self._profile: tuple[int, float] | None = None

    def doc_freq(self, term: str) -> int:
        raise NotImplementedError

    def _pages(self) -> Iterable[Document]:
        raise NotImplementedError

    def analyze(self, text: str) -> list[str]:
        """``text`` as index terms (the index's analyzer: lowercased, stopwords out, stemmed)."""
        return list(build_analyzer(self.analyzer).analyze(text))

    def idf(self, term: str) -> float:
        """BM25's IDF (tantivy's formula): ``ln(1 + (N - df + 0.5) / (df + 0.5))``."""
        v = self._idf.get(term)
        if v is None:
            df = self.doc_freq(term)
            n = max(self.n_docs, df, 1)
            v = self._idf[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return v

    def profile(self) -> tuple[int, float]:
        """``(median_df, avg_len)``: the document frequency of the median word occurrence and the mean page
        length in terms, over a sample of every n-th page (the same sample whatever serves the corpus)."""
        if self._profile is None:
            self._profile = corpus_profile(self._pages(), self.analyze, self.doc_freq, self.title_in_body)
        return self._profile

    @property
    def median_df(self) -> int:
        return self.profile()[0]

    @property
    def avg_len(self) -> float:
        return self.profile()[1]


def corpus_profile(pages: Iterable[Document], analyze: Callable[[str], list[str]], doc_freq: Callable[[str], int],
                   title_in_body: bool = True) -> tuple[int, float]:
    """``(median_df, avg_len)`` over ``pages`` (see ``TermStats.profile``)."""
    counts: Counter[str] = Counter()
    lengths: list[int] = []
    for d in pages:
        toks = analyze(_body(d, title_in_body))
        lengths.append(len(toks))
        counts.update(toks)
    if not counts:
        return 1, 1.0
    # the median of the document frequencies of all word occurrences (each distinct term looked up once)
    by_df = sorted((doc_freq(t), c) for t, c in counts.items())
    half, seen, median_df = (sum(counts.values()) - 1) // 2, 0, by_df[-1][0]
    for df, c in by_df:
        seen += c
        if seen > half:
            median_df = df
            break
    return median_df, round(sum(lengths) / len(lengths), 6)


def sample_pages(docstore: Any, n_docs: int, k: int = PROFILE_PAGES) -> Iterator[Document]:
    """Every ``n_docs // k``-th page of ``docstore`` in store order (deterministic)."""
    stride = max(1, n_docs // k)
    for i, (_, d) in enumerate(docstore.iter_with_rid()):
        if i % stride == 0:
            yield d


class IndexTermStats(TermStats):
    """Statistics of a local tantivy index (``TantivySearch``): its term dictionary, its analyzer."""

    def __init__(self, search: Any) -> None:
        super().__init__()
        self.search = search
        self.analyzer = search.analyzer
        self.title_in_body = search.title_in_body
        self.n_docs = int(search.searcher.num_docs)

    def doc_freq(self, term: str) -> int:
        return int(self.search.searcher.doc_freq("body", term))

    def _pages(self) -> Iterable[Document]:
        return sample_pages(self.search.docstore, self.n_docs)


class MemoryTermStats(TermStats):
    """Statistics of pages held in memory (a question writer given only the chain's pages)."""

    def __init__(self, docs: Iterable[Document], analyzer: str = DEFAULT_ANALYZER, title_in_body: bool = True) -> None:
        super().__init__()
        self.analyzer, self.title_in_body = check_analyzer(analyzer), title_in_body
        self.docs = sorted(docs, key=lambda d: d.doc_id)
        self.n_docs = len(self.docs)
        self.df: Counter[str] = Counter()
        for d in self.docs:
            self.df.update(set(self.analyze(_body(d, title_in_body))))

    def doc_freq(self, term: str) -> int:
        return self.df.get(term, 0)

    def _pages(self) -> Iterable[Document]:
        stride = max(1, self.n_docs // PROFILE_PAGES)
        return self.docs[::stride]


class StoredTermStats(TermStats):
    """Statistics computed once from a DocStore and stored in a SQLite file beside it."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        meta = json.loads(self._db.execute("SELECT value FROM meta WHERE key='meta'").fetchone()[0])
        self.analyzer, self.n_docs = str(meta["analyzer"]), int(meta["n_docs"])
        self.title_in_body = bool(meta["title_in_body"])
        self._profile = (int(meta["median_df"]), float(meta["avg_len"]))
        self._cache: dict[str, int] = {}

    def doc_freq(self, term: str) -> int:
        v = self._cache.get(term)
        if v is None:
            row = self._db.execute("SELECT df FROM df WHERE term=?", (term,)).fetchone()
            v = self._cache[term] = int(row[0]) if row else 0
        return v

    def _pages(self) -> Iterable[Document]:  # the profile was stored with the counts
        return []


def stats_path(docstore_dir: Path | str, analyzer: str, title_in_body: bool = True) -> Path:
    return Path(docstore_dir) / f"term_stats.{analyzer}{'' if title_in_body else '.text-only'}.sqlite"


def build_term_stats(docstore: Any, path: Path | str, analyzer: str = DEFAULT_ANALYZER, *,
                     title_in_body: bool = True) -> StoredTermStats:
    """Count every term's document frequency over ``docstore`` with ``analyzer`` and store it at ``path``
    (written to a temporary file, then renamed: a crash leaves no half file)."""
    check_analyzer(analyzer)
    an = build_analyzer(analyzer)
    df: Counter[str] = Counter()
    n = 0
    for _, d in docstore.iter_with_rid():
        df.update(set(an.analyze(_body(d, title_in_body))))
        n += 1
    median_df, avg_len = corpus_profile(sample_pages(docstore, n), lambda t: list(an.analyze(t)),
                                        lambda t: df.get(t, 0), title_in_body)
    out = Path(path)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute("CREATE TABLE df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.executemany("INSERT INTO df VALUES (?, ?)", sorted(df.items()))
    db.execute("INSERT INTO meta VALUES ('meta', ?)", (json.dumps(
        {"analyzer": analyzer, "n_docs": n, "title_in_body": title_in_body, "median_df": median_df,
         "avg_len": avg_len}),))
    db.commit()
    db.close()
    tmp.replace(out)
    return StoredTermStats(out)


def stats_for(search: Any, docstore: Any = None) -> TermStats:
    """The corpus statistics for a search backend: its own index's when it has one, else those stored
    beside ``docstore`` (computed on first use, with the analyzer the backend reports)."""
    for b in (search, getattr(search, "bm25", None)):  # a hybrid index's BM25 part has the dictionary
        if b is not None and callable(getattr(b, "term_stats", None)):
            return b.term_stats()  # type: ignore[no-any-return]
    ddir = getattr(docstore, "dir", None)
    if ddir is None:
        raise NoTermStats(f"search backend {getattr(search, 'name', type(search).__name__)!r} has no term "
                          "statistics and no DocStore was given to compute them from: pass the world's DocStore")
    info: dict[str, Any] = {}
    describe = getattr(search, "describe", None)
    if callable(describe):
        info = dict(describe())
    analyzer = str(info.get("analyzer") or DEFAULT_ANALYZER)
    title_in_body = bool(info.get("title_in_body", True))
    path = stats_path(ddir, analyzer, title_in_body)
    if path.exists():
        stored = StoredTermStats(path)
        if not hasattr(docstore, "__len__") or stored.n_docs == len(docstore):
            return stored
        # the DocStore grew since (an ingest resumed): the stored counts are stale, count again
    return build_term_stats(docstore, path, analyzer, title_in_body=title_in_body)
