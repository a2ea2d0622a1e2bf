"""Build and open any search index by what its metadata says: ``bm25``, ``dense`` or ``hybrid``.

``longtracerl index --backend ...`` calls ``build_search_index``; ``search``, ``serve-search`` and ``build``
call ``open_search``, so an index directory alone says which engine, analyzer and embedding model to use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from longtracerl.corpus.analyzers import DEFAULT_ANALYZER
from longtracerl.corpus.base import SearchBackend
from longtracerl.corpus.dense import (
    DENSE_DIR,
    DOC_MAX_CHARS,
    DenseSearch,
    build_dense_index,
    read_dense_state,
)
from longtracerl.corpus.docstore import DocStore
from longtracerl.corpus.embeddings import EmbeddingClient
from longtracerl.corpus.hybrid import DEFAULT_DENSE_WEIGHT, RRF_K, HybridSearch
from longtracerl.corpus.search import (
    INDEX_FORMAT,
    SEARCH_BACKENDS,
    TITLE_BOOST,
    TantivySearch,
    build_index,
    read_index_meta,
    write_index_meta,
)

Backend = Literal["bm25", "dense", "hybrid"]
BACKENDS: tuple[str, ...] = ("bm25", "dense", "hybrid")


def build_search_index(index_dir: Path | str, docstore: DocStore, *, backend: Backend = "bm25",
                       analyzer: str = DEFAULT_ANALYZER, client: EmbeddingClient | None = None,
                       batch_size: int = 64, max_chars: int = DOC_MAX_CHARS, doc_prefix: str = "",
                       query_prefix: str = "", dense_weight: float = DEFAULT_DENSE_WEIGHT, restart: bool = False,
                       threads: int = 0, progress: bool = True) -> dict[str, Any]:
    """Build (or resume) an index of ``backend`` kind; returns the metadata written beside it."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    out = Path(index_dir)
    if backend == "bm25":
        build_index(out, docstore, progress=progress, threads=threads, analyzer=analyzer)
        return read_index_meta(out)
    if client is None:
        raise ValueError(f"the {backend} backend needs an embedding endpoint (--embed-url)")
    old = read_index_meta(out)
    ds = str(docstore.dir.resolve())
    n = len(docstore)
    meta: dict[str, Any] = {"format": INDEX_FORMAT, "backend": backend, "docstore": ds, "n_docs": n}
    if backend == "hybrid":
        bm25_ok = (old.get("docstore") == ds and old.get("n_docs") == n and old.get("analyzer") == analyzer
                   and old.get("backend") in ("bm25", "hybrid") and (out / "meta.json").exists() and not restart)
        if not bm25_ok:  # the BM25 part takes seconds: rebuild it, keeping any dense part to resume
            build_index(out, docstore, progress=progress, threads=threads, analyzer=analyzer, keep=(DENSE_DIR,))
        meta.update(analyzer=analyzer, title_boost=read_index_meta(out).get("title_boost", TITLE_BOOST),
                    title_in_body=True, dense_weight=dense_weight, rrf_k=RRF_K)
    elif out.exists():  # dense only: no BM25 files beside it
        import shutil

        for p in out.iterdir():
            if p.name != DENSE_DIR:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_index_meta(out, {**meta, "complete": False})
    build_dense_index(out, docstore, client, batch_size=batch_size, max_chars=max_chars, doc_prefix=doc_prefix,
                      query_prefix=query_prefix, restart=restart, progress=progress)
    st = read_dense_state(out)
    meta["dense"] = {k: st.get(k) for k in ("model", "base_url", "dim", "max_chars", "doc_prefix", "query_prefix")}
    write_index_meta(out, meta)
    return meta


def index_backend(index_dir: Path | str) -> str:
    """``bm25``, ``dense`` or ``hybrid``: what ``index_dir`` holds (indexes without metadata are BM25)."""
    return str(read_index_meta(index_dir).get("backend", "bm25"))


def open_search(index_dir: Path | str, docstore: DocStore | Path | str | None = None, *,
                analyzer: str | None = None, embed_url: str | None = None, api_key: str | None = None,
                dense_weight: float | None = None, client: EmbeddingClient | None = None,
                snippets: bool = True) -> SearchBackend:
    """The backend ``index_dir`` was built for. ``analyzer`` (if given) must be the one the index was built
    with; ``embed_url`` replaces the recorded embedding endpoint (same model and dimension, checked);
    ``dense_weight`` replaces the recorded fusion weight of a hybrid index."""
    meta = read_index_meta(index_dir)
    if docstore is None:
        if "docstore" not in meta:
            raise ValueError(f"cannot tell which DocStore {index_dir} was built from; pass it")
        docstore = meta["docstore"]
    ds = docstore if isinstance(docstore, DocStore) else DocStore.open(docstore)
    backend = str(meta.get("backend", "bm25"))
    if backend == "bm25":
        return TantivySearch(index_dir, ds, analyzer=analyzer, snippets=snippets)
    if not meta.get("complete", True):
        from longtracerl.corpus.dense import DenseIndexError

        raise DenseIndexError(f"the {backend} index at {index_dir} is incomplete; rerun the same "
                              "`longtracerl index` command to resume it")
    dense = DenseSearch(index_dir, ds, client=client, embed_url=embed_url, api_key=api_key, snippets=snippets)
    if backend == "dense":
        if analyzer is not None:
            raise ValueError(f"{index_dir} is a dense index: it has no analyzer (drop --analyzer)")
        return dense
    bm25 = TantivySearch(index_dir, ds, analyzer=analyzer, snippets=snippets)
    w = float(meta.get("dense_weight", DEFAULT_DENSE_WEIGHT)) if dense_weight is None else dense_weight
    return HybridSearch(bm25, dense, dense_weight=w, rrf_k=int(meta.get("rrf_k", RRF_K)))


def describe_search(backend: Any) -> dict[str, Any]:
    """What the build report says about a backend (its ``describe()``, else its name)."""
    d = getattr(backend, "describe", None)
    return dict(d()) if callable(d) else {"backend": getattr(backend, "name", type(backend).__name__)}


def get_search_backend(name: str = "tantivy", **kwargs: Any) -> SearchBackend:
    """Build a backend by name: ``tantivy`` (index_dir, docstore), ``auto``/``bm25``/``dense``/``hybrid``
    (index_dir, docstore?, ...: what the index was built as, see ``indexes.open_search``) or ``remote``
    (base_url, token)."""
    if name == "remote":
        from longtracerl.corpus.remote import RemoteSearch

        return RemoteSearch(**kwargs)
    if name in ("auto", "bm25", "dense", "hybrid"):
        if name != "auto" and index_backend(kwargs["index_dir"]) != name:
            raise ValueError(f"{kwargs['index_dir']} is a {index_backend(kwargs['index_dir'])} index, not {name}; "
                             f"rebuild it with `longtracerl index --backend {name}`")
        return open_search(**kwargs)
    try:
        return SEARCH_BACKENDS[name](**kwargs)
    except KeyError:
        known = [*SEARCH_BACKENDS, "auto", "bm25", "dense", "hybrid", "remote"]
        raise ValueError(f"unknown search backend {name!r}; known: {', '.join(known)}") from None
