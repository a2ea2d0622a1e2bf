"""BM25 search over a DocStore with tantivy (Rust), the default engine chosen by measurement.

Measured here on 200K documents of 150 words: tantivy indexed in 7 s and answered a top-10 query in
0.18 ms; bm25s took 32 s and 8 ms; rank_bm25 190 ms per query.

Queries come from LLMs and may be anything, so raw text never reaches tantivy's query parser: the query
is tokenized here the way tantivy's default analyzer tokenizes documents (alphanumeric runs, lowercased,
tokens over 40 bytes dropped) and turned into a disjunction of term queries, title terms boosted. No
string can make it raise.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tantivy

from longtracerl.corpus.base import DocumentNotFound, SearchBackend
from longtracerl.corpus.docstore import DocStore
from longtracerl.records import Document, OpenedDocument, SearchHit

_TOKEN = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 64
MAX_DF_RATIO = 0.5  # query terms in more than half of all documents are dropped (see TantivySearch)
TITLE_BOOST = 2.0
SNIPPET_CHARS = 240


def query_terms(query: str) -> list[str]:
    """Distinct query tokens as tantivy's default tokenizer would produce them (order kept)."""
    seen: dict[str, None] = {}
    for t in _TOKEN.findall(query.lower()):
        if len(t.encode()) <= 40:
            seen.setdefault(t, None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return list(seen)


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("rid", stored=False, fast=True, indexed=False)
    b.add_text_field("title", stored=False)
    b.add_text_field("body", stored=False, index_option="freq")
    return b.build()


def make_snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """A window of ``text`` around the first query term found (cheap: plain ``find``)."""
    if not text:
        return ""
    low = text[:20000].lower()
    pos = -1
    for t in terms:
        pos = low.find(t)
        if pos >= 0:
            break
    start = 0 if pos < 0 else max(0, pos - width // 3)
    window = text[start:start + width].replace("\n", " ")
    return ("..." if start else "") + window + ("..." if start + width < len(text) else "")


def build_index(index_dir: Path | str, docstore: DocStore, *, progress: bool = True, threads: int = 0,
                heap_mb: int = 1024, on_progress: Callable[[int], None] | None = None) -> int:
    """(Re)build the index of every document of ``docstore``; returns the number indexed."""
    out = Path(index_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index = tantivy.Index(_schema(), path=str(out))
    writer = index.writer(heap_size=heap_mb * 1024 * 1024, num_threads=threads)
    n = 0
    bar: Any = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = Progress("[bold]indexing", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False)
        bar.start()
        task = bar.add_task("index", total=len(docstore))
    try:
        for rid, d in docstore.iter_with_rid():
            writer.add_document(tantivy.Document(rid=rid, title=d.title, body=d.text))
            n += 1
            if n % 5000 == 0:
                if bar is not None:
                    bar.update(task, completed=n)
                if on_progress is not None:
                    on_progress(n)
        writer.commit()
        writer.wait_merging_threads()
    finally:
        if bar is not None:
            bar.update(task, completed=n)
            bar.stop()
    (out / "longtracerl-index.json").write_text(f'{{"docstore": "{docstore.dir.name}", "n_docs": {n}}}\n')
    return n


class _ClassOrInstance:
    """``TantivySearch.open(index_dir, docstore)`` opens an index; ``search.open(doc_id)`` opens a document
    (the SearchBackend tool). One name, two familiar meanings, resolved by how it is looked up."""

    def __init__(self, on_class: str, on_instance: str) -> None:
        self.on_class, self.on_instance = on_class, on_instance

    def __get__(self, obj: Any, owner: type) -> Any:
        return getattr(owner, self.on_class) if obj is None else getattr(obj, self.on_instance)


class TantivySearch:
    """``SearchBackend`` over a tantivy index and its DocStore."""

    name = "tantivy"

    def __init__(self, index_dir: Path | str, docstore: DocStore, *, snippets: bool = True,
                 max_df_ratio: float | None = MAX_DF_RATIO) -> None:
        self.index_dir = Path(index_dir)
        if not (self.index_dir / "meta.json").exists():
            raise FileNotFoundError(f"no search index at {self.index_dir}; run `longtracerl index`")
        self.index = tantivy.Index.open(str(self.index_dir))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self.docstore = docstore
        self.snippets = snippets
        self.max_df_ratio = max_df_ratio
        self._n_docs = self.searcher.num_docs
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def load(cls, index_dir: Path | str, docstore: DocStore | Path | str, **kw: Any) -> TantivySearch:
        """Open an index with its DocStore (a directory or an open store)."""
        ds = docstore if isinstance(docstore, DocStore) else DocStore.open(docstore)
        return cls(index_dir, ds, **kw)

    def _query(self, terms: list[str]) -> tantivy.Query:
        clauses = []
        for t in terms:
            clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t)))
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(self.schema, "title", t), TITLE_BOOST)))
        return tantivy.Query.boolean_query(clauses)

    def prune(self, terms: list[str]) -> list[str]:
        """Drop stopword-like terms (in more than ``max_df_ratio`` of all documents; BM25 gives them an IDF
        under log 2, against about 10 for a rare term) so a query full of "the", "of", "in" does not score
        the whole corpus: at 1M documents that is the difference between ~15 ms and well under 1 ms.
        The rarest term is kept when every term is that common."""
        if self.max_df_ratio is None or len(terms) < 2:
            return terms
        limit = self.max_df_ratio * self._n_docs
        df = {t: self.searcher.doc_freq("body", t) for t in terms}
        return [t for t in terms if df[t] <= limit] or [min(terms, key=df.__getitem__)]

    def raw_search(self, terms: list[str], k: int) -> list[tuple[float, int]]:
        """``(score, rid)`` of the top ``k``: the engine alone, for benchmarks and batch callers."""
        if not terms or k <= 0:
            return []
        res = self.searcher.search(self._query(terms), limit=k, count=False)
        if not res.hits:
            return []
        rids = self.searcher.fast_field_values("rid", [addr for _, addr in res.hits])
        return [(float(score), int(rid)) for (score, _), rid in zip(res.hits, rids, strict=True) if rid is not None]

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Top ``k`` documents for ``query``; any string is accepted (no hits for an empty query)."""
        if not isinstance(query, str):
            query = str(query)
        terms = query_terms(query)
        ranked = self.raw_search(self.prune(terms), k)
        docs = self.docstore.get_many_by_rid([rid for _, rid in ranked])
        hits = []
        for rank, (score, rid) in enumerate(ranked, 1):
            d = docs.get(rid)
            if d is None:
                continue
            snippet = make_snippet(d.text, terms) if self.snippets else ""
            hits.append(SearchHit(doc_id=d.doc_id, title=d.title, rank=rank, score=score, snippet=snippet))
        return hits

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]:
        if len(queries) < 4:
            return [self.search(q, k) for q in queries]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4)
        return list(self._pool.map(lambda q: self.search(q, k), queries))

    def get(self, doc_id: str) -> Document | None:
        return self.docstore.get(doc_id)

    open = _ClassOrInstance("load", "open_doc")

    def open_doc(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        """The agent's ``open`` tool: full text, cut to ``max_chars`` if given (saying so)."""
        d = self.docstore.get(doc_id)
        if d is None:
            raise DocumentNotFound(doc_id)
        text = d.text
        truncated = max_chars is not None and len(text) > max_chars
        if truncated:
            text = text[:max_chars]
        return OpenedDocument(doc_id=d.doc_id, title=d.title, text=text, truncated=truncated, n_chars_total=len(d.text))


SEARCH_BACKENDS: dict[str, Callable[..., Any]] = {"tantivy": TantivySearch.load}


def register_search_backend(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: add a backend (Elasticsearch, a dense index, ...) under ``name``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        SEARCH_BACKENDS[name] = factory
        return factory

    return deco


def get_search_backend(name: str = "tantivy", **kwargs: Any) -> SearchBackend:
    """Build a backend by name: ``tantivy`` (index_dir, docstore) or ``remote`` (base_url, token)."""
    if name == "remote":
        from longtracerl.corpus.remote import RemoteSearch

        return RemoteSearch(**kwargs)
    try:
        return SEARCH_BACKENDS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown search backend {name!r}; known: {', '.join([*SEARCH_BACKENDS, 'remote'])}") from None
