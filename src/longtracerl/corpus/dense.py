"""Dense retrieval: documents embedded by an OpenAI-compatible endpoint, searched with FAISS.

Layout (``<index>/dense/``): ``vectors.f32`` and ``rids.i64`` grow batch by batch (flushed and synced
after each), ``state.json`` says which endpoint, model, dimension and text cut they were made with, and
``faiss.index`` (exact inner product over normalised vectors = cosine) is written once every document is
embedded. An interrupted build resumes from the last complete batch; a rerun after the DocStore grew
embeds only the new documents. Embedding is the cost (an HTTP round trip per batch), FAISS is not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from longtracerl.corpus.docstore import DocStore
from longtracerl.corpus.embeddings import EmbeddingClient
from longtracerl.corpus.search import MAX_QUERY_CHARS, make_snippet, open_document, query_terms
from longtracerl.records import Document, OpenedDocument, SearchHit

DENSE_DIR = "dense"
DOC_MAX_CHARS = 2000  # title + start of the text sent to the embedder (~500 tokens: inside every model's window)
BATCH = 64


class DenseIndexError(ValueError):
    """A dense index that is missing, incomplete, or was started with other settings."""


def _state_path(index_dir: Path | str) -> Path:
    return Path(index_dir) / DENSE_DIR / "state.json"


def read_dense_state(index_dir: Path | str) -> dict[str, Any]:
    try:
        st = json.loads(_state_path(index_dir).read_text())
    except (OSError, ValueError):
        return {}
    return st if isinstance(st, dict) else {}


def _write_state(index_dir: Path | str, st: dict[str, Any]) -> None:
    p = _state_path(index_dir)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(st, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, p)


def doc_text(d: Document, max_chars: int, prefix: str = "") -> str:
    return (prefix + f"{d.title}\n{d.text}")[:max_chars]


def build_dense_index(index_dir: Path | str, docstore: DocStore, client: EmbeddingClient, *,
                      batch_size: int = BATCH, max_chars: int = DOC_MAX_CHARS, doc_prefix: str = "",
                      query_prefix: str = "", restart: bool = False, progress: bool = True,
                      on_progress: Callable[[int], None] | None = None) -> int:
    """Embed every document of ``docstore`` not yet embedded and (re)write the FAISS index; returns the
    number of documents in it. A previous run with another model, text cut or DocStore is refused unless
    ``restart`` (its vectors would not be comparable)."""
    d = Path(index_dir) / DENSE_DIR
    want = {"docstore": str(docstore.dir.resolve()), "model": client.model, "max_chars": max_chars,
            "doc_prefix": doc_prefix}
    st = read_dense_state(index_dir)
    if st and not restart:
        differs = [k for k, v in want.items() if st.get(k) != v]
        if differs:
            raise DenseIndexError(
                f"{d} was started with other settings ({', '.join(f'{k}: {st.get(k)!r} -> {want[k]!r}' for k in differs)}); "
                "rerun with the same ones to resume, or with --restart to embed everything again")
    if restart or not st:
        if d.exists():
            for p in d.iterdir():
                p.unlink()
        st = {**want, "base_url": client.base_url, "dim": client.dim, "query_prefix": query_prefix,
              "n_done": 0, "complete": False}
    d.mkdir(parents=True, exist_ok=True)
    st.update(base_url=client.base_url, query_prefix=query_prefix, complete=False)
    vec_p, rid_p = d / "vectors.f32", d / "rids.i64"
    dim = st.get("dim")
    n_done = 0
    if dim and vec_p.exists() and rid_p.exists():  # keep only whole, matching rows of both files
        n_done = min(vec_p.stat().st_size // (4 * dim), rid_p.stat().st_size // 8)
    for p, size in ((vec_p, 4 * (dim or 0) * n_done), (rid_p, 8 * n_done)):
        with p.open("ab") as f:
            f.truncate(size)
    last_rid = int(np.fromfile(rid_p, dtype=np.int64, count=1, offset=8 * (n_done - 1))[0]) if n_done else 0
    if dim:
        client.dim = dim
    st["n_done"] = n_done
    _write_state(index_dir, st)

    total = len(docstore)
    bar: Any = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress("[bold]embedding", BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                       TimeRemainingColumn(), transient=False)
        bar.start()
        task = bar.add_task("embed", total=total, completed=n_done, rate="")
    import time

    t0, n_new = time.perf_counter(), 0
    try:
        with vec_p.open("ab") as vf, rid_p.open("ab") as rf:
            batch: list[tuple[int, Document]] = []

            def flush() -> None:
                nonlocal n_done, n_new
                vecs = client.embed([doc_text(doc, max_chars, doc_prefix) for _, doc in batch])
                if st.get("dim") is None:  # the first answer fixes the dimension of the whole index
                    st["dim"] = client.dim = int(vecs.shape[1])
                vf.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
                rf.write(np.asarray([r for r, _ in batch], dtype=np.int64).tobytes())
                vf.flush()
                rf.flush()
                os.fsync(vf.fileno())
                os.fsync(rf.fileno())
                n_done += len(batch)
                n_new += len(batch)
                st["n_done"] = n_done
                _write_state(index_dir, st)
                batch.clear()
                if bar is not None:
                    rate = n_new / max(time.perf_counter() - t0, 1e-9)
                    bar.update(task, completed=n_done, rate=f"{rate:,.0f} docs/s")
                if on_progress is not None:
                    on_progress(n_done)

            for rid, doc in docstore.iter_with_rid(after=last_rid):
                batch.append((rid, doc))
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
    finally:
        if bar is not None:
            bar.stop()
    _write_faiss(d, int(st["dim"] or 0), n_done)
    st.update(n_done=n_done, complete=True)
    _write_state(index_dir, st)
    return n_done


def _write_faiss(d: Path, dim: int, n: int) -> None:
    import faiss

    index = faiss.IndexFlatIP(max(dim, 1))
    if n:
        vecs = np.memmap(d / "vectors.f32", dtype=np.float32, mode="r", shape=(n, dim))
        for s in range(0, n, 100_000):
            index.add(np.ascontiguousarray(vecs[s:s + 100_000]))
    tmp = d / "faiss.index.tmp"
    faiss.write_index(index, str(tmp))
    os.replace(tmp, d / "faiss.index")


def hits_from(docstore: DocStore, ranked: list[tuple[float, int]], query: str, snippets: bool = True,
              terms: list[str] | None = None) -> list[SearchHit]:
    """SearchHits of ``(score, rid)`` pairs, with snippets around ``terms`` (default: the query's words)."""
    rows = docstore.hit_rows([rid for _, rid in ranked])
    if terms is None:
        terms = query_terms(query) if snippets else []
    hits: list[SearchHit] = []
    for score, rid in ranked:
        row = rows.get(rid)
        if row is None:
            continue
        doc_id, title, text = row
        hits.append(SearchHit.model_construct(doc_id=doc_id, title=title, rank=len(hits) + 1, score=score,
                                              snippet=make_snippet(text, terms) if snippets else ""))
    return hits


class DenseSearch:
    """``SearchBackend`` over a dense index: the query is embedded by the same endpoint and model."""

    name = "dense"

    def __init__(self, index_dir: Path | str, docstore: DocStore | Path | str, *, client: EmbeddingClient | None = None,
                 embed_url: str | None = None, api_key: str | None = None, snippets: bool = True) -> None:
        self.index_dir = Path(index_dir)
        st = read_dense_state(self.index_dir)
        if not st:
            raise DenseIndexError(f"no dense index at {self.index_dir / DENSE_DIR}; build one with "
                                  "`longtracerl index --backend dense --embed-url URL`")
        if not st.get("complete") or not (self.index_dir / DENSE_DIR / "faiss.index").exists():
            raise DenseIndexError(f"the dense index at {self.index_dir / DENSE_DIR} is incomplete ({st.get('n_done', 0):,} "
                                  "documents embedded); rerun the same `longtracerl index` command to resume it")
        import faiss

        # one OpenMP thread per search: single queries gain little from more, concurrent server requests
        # supply the parallelism, and idle-spinning OpenMP workers made a shared, loaded machine 4x slower
        faiss.omp_set_num_threads(1)
        self.state = st
        self.docstore = docstore if isinstance(docstore, DocStore) else DocStore.open(docstore)
        self.faiss = faiss.read_index(str(self.index_dir / DENSE_DIR / "faiss.index"))
        self.rids = np.fromfile(self.index_dir / DENSE_DIR / "rids.i64", dtype=np.int64)[: self.faiss.ntotal]
        self.client = client or EmbeddingClient(embed_url or st["base_url"], st["model"], api_key=api_key,
                                                dim=int(st["dim"]))
        if self.client.dim is None:
            self.client.dim = int(st["dim"])
        self.query_prefix = str(st.get("query_prefix", ""))
        self.snippets = snippets

    def describe(self) -> dict[str, Any]:
        return {"backend": "dense", "engine": "faiss", "embedding_model": self.state["model"],
                "embedding_dim": self.state["dim"], "embedding_max_chars": self.state["max_chars"],
                "n_docs": int(self.faiss.ntotal)}

    def _embed_queries(self, queries: list[str]) -> np.ndarray:
        return self.client.embed([self.query_prefix + q[:MAX_QUERY_CHARS] for q in queries])

    def ranked_many(self, queries: list[str], n: int) -> list[list[tuple[float, int]]]:
        """``(cosine, rid)`` of the top ``n`` for each query (empty for blank queries)."""
        out: list[list[tuple[float, int]]] = [[] for _ in queries]
        live = [i for i, q in enumerate(queries) if isinstance(q, str) and q.strip()]
        if not live or n <= 0 or self.faiss.ntotal == 0:
            return out
        scores, pos = self.faiss.search(self._embed_queries([queries[i] for i in live]), min(n, self.faiss.ntotal))
        for row, i in enumerate(live):
            out[i] = [(float(s), int(self.rids[p])) for s, p in zip(scores[row], pos[row], strict=True) if p >= 0]
        return out

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        if not isinstance(query, str):
            query = str(query)
        return hits_from(self.docstore, self.ranked_many([query], k)[0], query, self.snippets)

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[SearchHit]]:
        queries = [q if isinstance(q, str) else str(q) for q in queries]
        return [hits_from(self.docstore, r, q, self.snippets) for q, r in zip(queries, self.ranked_many(queries, k),
                                                                            strict=True)]

    def open(self, doc_id: str, max_chars: int | None = None) -> OpenedDocument:
        return open_document(self.docstore, doc_id, max_chars)

    def get(self, doc_id: str) -> Document | None:
        return self.docstore.get(doc_id)

    def close(self) -> None:
        """Close the connection to the embedding endpoint."""
        self.client.close()
