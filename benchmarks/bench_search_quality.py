"""Search quality on real multi-hop questions (issue 14): our default BM25 vs bm25s, what each choice is
worth, hybrid with an embedding endpoint, and dense index throughput.

For each context-format file with supporting facts (default: ../shared/data/2wiki_dev_500.json; any
HotpotQA / 2WikiMultihopQA / MuSiQue file can be passed), the corpus is the file's own paragraphs (pages
with the same title merged, as `corpus ingest` does) and each question is one query. Printed: recall@5,
recall@10, all-supporting@10 and ms/query of
  - our default search (``TantivySearch.search``: English analyzer, title in the text field, title 0.5x),
  - bm25s 0.3 with PyStemmer English stemming and its English stopwords (title + text as one document),
the ratio ours / bm25s, then an ablation over the suspected causes (stemming, stopwords, the df pruning
normally reserved to corpora >= 50K documents, the title boost, and whether the text field holds the
title), each measured, not guessed.

    python benchmarks/bench_search_quality.py [--data FILE ...] [--limit N]
        [--bundled-hybrid [--hybrid-questions 60]] [--embed-url URL/v1]   # hybrid with embeddings
        [--dense-docs 100000]                                             # dense throughput, stub server

``--bundled-hybrid`` starts the bundled SmolLM2-135M GGUF behind llama.cpp's OpenAI-compatible server with
embeddings on (weak embeddings, honest numbers); ``--embed-url`` uses any running endpoint instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tantivy
from fastapi import FastAPI, Request
from fastapi.responses import Response

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.quality import Quality, evaluate, iter_qa
from longtracerl.corpus.readers import read_corpus
from longtracerl.corpus.search import TantivySearch, build_index
from longtracerl.records import Document


def row(name: str, q: Quality) -> str:
    return f"| {name} | {q.recall_5:.3f} | {q.recall_10:.3f} | {q.all_10:.3f} | {q.ms_per_query:.2f} |"


HEAD = "| search | recall@5 | recall@10 | all-supporting@10 | ms/query |\n|---|---|---|---|---|"


def corpus_of(path: Path, tmp: Path, keep_titles: set[str] | None = None) -> DocStore:
    """The file's paragraphs in a DocStore (optionally only pages whose title is in ``keep_titles``)."""
    docs = (d for d, _ in read_corpus(path) if keep_titles is None or d.title in keep_titles)
    build_docstore(tmp, docs)
    return DocStore.open(tmp)


def titles_fn(s: object, k: int = 10) -> Callable[[str], list[str]]:
    return lambda q: [h.title for h in s.search(q, k)]  # type: ignore[attr-defined]


def bm25s_fn(ds: DocStore) -> Callable[[str], list[str]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    docs = list(ds)
    tokens = bm25s.tokenize([f"{d.title} {d.text}" for d in docs], stopwords="en", stemmer=stemmer, show_progress=False)
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    titles = [d.title for d in docs]

    def run(q: str) -> list[str]:
        qt = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        res, _ = model.retrieve(qt, k=min(10, len(titles)), show_progress=False)
        return [titles[int(i)] for i in res[0]]

    return run


# ----------------------------------------------------------------------------- ablation
def _analyzer(stem: bool, stop: bool) -> tantivy.TextAnalyzer:
    b = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
         .filter(tantivy.Filter.lowercase()))
    if stop:
        b = b.filter(tantivy.Filter.stopword("english"))
    if stem:
        b = b.filter(tantivy.Filter.stemmer("english"))
    return b.build()


def variant_fn(ds: DocStore, tmp: Path, *, stem: bool, stop: bool, title_in_body: bool, boost: float,
               prune: bool = False) -> Callable[[str], list[str]]:
    """The engine as ``TantivySearch`` runs it (same filters, same query shape), with one choice changed."""
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    an = _analyzer(stem, stop)
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("rid", stored=False, fast=True, indexed=False)
    sb.add_text_field("title", stored=False, tokenizer_name="v")
    sb.add_text_field("body", stored=False, index_option="freq", tokenizer_name="v")
    ix = tantivy.Index(sb.build(), path=str(tmp))
    ix.register_tokenizer("v", an)
    w = ix.writer(heap_size=256 * 1024 * 1024)
    titles: dict[int, str] = {}
    for rid, d in ds.iter_with_rid():
        titles[rid] = d.title
        w.add_document(tantivy.Document(rid=rid, title=d.title, body=f"{d.title}\n{d.text}" if title_in_body else d.text))
    w.commit()
    w.wait_merging_threads()
    ix.reload()
    s, schema, n = ix.searcher(), ix.schema, len(titles)

    def run(q: str) -> list[str]:
        terms = list(dict.fromkeys(an.analyze(q)))[:64]
        if prune and len(terms) > 1:
            df = {t: s.doc_freq("body", t) for t in terms}
            terms = [t for t in terms if df[t] <= 0.25 * n] or [min(terms, key=df.__getitem__)]
        clauses = []
        for t in terms:
            clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)))
            if boost > 0:
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                    tantivy.Query.term_query(schema, "title", t), boost)))
        if not clauses:
            return []
        res = s.search(tantivy.Query.boolean_query(clauses), limit=10, count=False)
        return [titles[int(r)] for r in s.fast_field_values("rid", [a for _, a in res.hits])]

    return run


ABLATION = [  # (label, stem, stop, title_in_body, title boost, prune)
    ("previous default: raw analyzer, title field only, 2x", False, False, False, 2.0, False),
    ("  + df pruning (25%) also below 50K docs", False, False, False, 2.0, True),
    ("  + stemming", True, False, False, 2.0, False),
    ("  + stopwords", False, True, False, 2.0, False),
    ("  + stemming + stopwords", True, True, False, 2.0, False),
    ("  + stemming + stopwords, title 1x", True, True, False, 1.0, False),
    ("  + stemming + stopwords, title 0.5x", True, True, False, 0.5, False),
    ("raw analyzer, title in text, no title field", False, False, True, 0.0, False),
    ("stemming + stopwords, title in text, no title field", True, True, True, 0.0, False),
    ("stemming + stopwords, title in text, title 0.25x", True, True, True, 0.25, False),
    ("stemming + stopwords, title in text, title 0.5x (new default)", True, True, True, 0.5, False),
    ("stemming + stopwords, title in text, title 1x", True, True, True, 1.0, False),
    ("stemming + stopwords, title in text, title 2x", True, True, True, 2.0, False),
]


def quality(path: Path, limit: int | None, tmp: Path, ablation: bool) -> None:
    items = list(iter_qa(path))[:limit]
    ds = corpus_of(path, tmp / "ds")
    print(f"\n## {path.name}: {len(items)} questions over their own {len(ds):,} pages\n")
    build_index(tmp / "ix", ds, progress=False)
    ours = evaluate(titles_fn(TantivySearch(tmp / "ix", ds)), items)
    theirs = evaluate(bm25s_fn(ds), items)
    print(HEAD)
    print(row("ours (default: tantivy, english analyzer, title in text, title 0.5x)", ours))
    print(row("bm25s 0.3 + PyStemmer english + english stopwords", theirs))
    print(f"\nours / bm25s: recall@5 {ours.recall_5 / theirs.recall_5:.3f}, recall@10 "
          f"{ours.recall_10 / theirs.recall_10:.3f}, all-supporting@10 {ours.all_10 / theirs.all_10:.3f}  "
          f"({'meets' if ours.recall_10 >= theirs.recall_10 and ours.all_10 >= theirs.all_10 else 'MISSES'} "
          "the bar: >= bm25s on recall@10 and all-supporting@10)")
    if not ablation:
        return
    print("\nWhat each choice is worth (engine only, no snippets: ms/query is the raw tantivy call):\n")
    print(HEAD)
    for label, stem, stop, tib, boost, prune in ABLATION:
        fn = variant_fn(ds, tmp / "var", stem=stem, stop=stop, title_in_body=tib, boost=boost, prune=prune)
        print(row(label, evaluate(fn, items)), flush=True)


# ----------------------------------------------------------------------------- hybrid
def bundled_embed_server() -> tuple[str, subprocess.Popen[bytes]]:
    """The bundled GGUF behind llama-cpp-python's OpenAI server with embeddings on."""
    from longtracerl.llm.bundled import bundled_gguf_path
    from longtracerl.netutil import free_port, wait_http

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()),
                             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                             "--n_threads", "2", "--embedding", "true", "--verbose", "false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=120, proc=proc)
    return f"http://127.0.0.1:{port}/v1", proc


def hybrid(path: Path, n_questions: int, embed_url: str, max_chars: int, tmp: Path) -> None:
    import json

    from longtracerl.corpus.embeddings import EmbeddingClient
    from longtracerl.corpus.hybrid import HybridSearch
    from longtracerl.corpus.indexes import build_search_index, open_search

    items = list(iter_qa(path))[:n_questions]
    raw = json.loads(path.read_text()) if path.suffix == ".json" else None
    keep: set[str] | None = None
    if raw is not None and isinstance(raw, list) and raw and "context" in raw[0]:
        keep = {c[0] for r in raw[:n_questions] for c in r["context"]}
    ds = corpus_of(path, tmp / "hds", keep)
    client = EmbeddingClient(embed_url, timeout=900)
    t = time.perf_counter()
    build_search_index(tmp / "hix", ds, backend="hybrid", client=client, max_chars=max_chars, batch_size=16,
                       progress=False)
    secs = time.perf_counter() - t
    print(f"\n## hybrid on {path.name}: first {len(items)} questions over their {len(ds):,} pages; embeddings "
          f"{client.model!r} ({client.dim} dims) from {embed_url}, {max_chars} chars per page; embedded in "
          f"{secs:.0f} s ({len(ds) / secs:.1f} docs/s)\n")
    hy = open_search(tmp / "hix", ds)
    assert isinstance(hy, HybridSearch)
    print(HEAD)
    print(row("BM25 (default)", evaluate(titles_fn(hy.bm25), items)))
    print(row("bm25s + stemming + stopwords", evaluate(bm25s_fn(ds), items)))
    print(row("dense only", evaluate(titles_fn(hy.dense), items)))
    for w in (0.25, 0.5, 1.0, 2.0):
        hy.dense_weight = w
        print(row(f"hybrid, dense weight {w}", evaluate(titles_fn(hy), items)), flush=True)


# ----------------------------------------------------------------------------- dense throughput
def stub_embed_server(dim: int = 384) -> tuple[str, Callable[[], None]]:
    """A local stub of an embeddings endpoint (hashed bag of words): measures our side (HTTP, JSON, FAISS,
    resumable writes), not a model."""
    import uvicorn

    from longtracerl.netutil import free_port, wait_http

    app = FastAPI()

    @app.post("/v1/embeddings")
    async def emb(request: Request) -> Response:
        import json

        body = await request.json()
        texts = body["input"]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split()[:200]:
                out[i, hash(w) % dim] += 1.0
        data = [{"object": "embedding", "index": i, "embedding": [round(float(x), 4) for x in v]}
                for i, v in enumerate(out)]
        return Response(json.dumps({"object": "list", "data": data, "model": "stub"}), media_type="application/json")

    @app.get("/v1/models")
    def models() -> dict[str, object]:
        return {"data": [{"id": "stub-hash-384"}]}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=30)

    def stop() -> None:
        server.should_exit = True
        th.join(timeout=5)

    return f"http://127.0.0.1:{port}/v1", stop


def synthetic_docs(n: int, seed: int = 0) -> Iterator[Document]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    for i in range(n):
        ids = np.minimum(rng.zipf(1.2, size=60) - 1, len(vocab) - 1)
        yield Document(doc_id=f"d{i}", title=f"doc {i}", text=" ".join(vocab[int(x)] for x in ids))


def dense_throughput(n: int, tmp: Path, nq: int = 300) -> None:
    from longtracerl.corpus.dense import DenseSearch, build_dense_index
    from longtracerl.corpus.embeddings import EmbeddingClient

    url, stop = stub_embed_server()
    try:
        build_docstore(tmp / "dds", synthetic_docs(n))
        ds = DocStore.open(tmp / "dds")
        client = EmbeddingClient(url)
        t = time.perf_counter()
        build_dense_index(tmp / "dix", ds, client, batch_size=256, progress=False)
        secs = time.perf_counter() - t
        s = DenseSearch(tmp / "dix", ds)
        rng = np.random.default_rng(1)
        queries = [" ".join(f"w{int(x)}" for x in rng.integers(0, 5000, size=5)) for _ in range(nq)]
        lat, raw = [], []
        for q in queries:
            t = time.perf_counter()
            s.search(q, 10)
            lat.append(time.perf_counter() - t)
            v = s._embed_queries([q])
            t = time.perf_counter()
            s.faiss.search(v, 10)
            raw.append(time.perf_counter() - t)
        pct = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))] * 1000  # noqa: E731
        print(f"\n## dense index at {n:,} documents (stub embedding server, 384 dims, batches of 256)\n")
        print(f"build: {n / secs:,.0f} docs/s ({secs:.1f} s: HTTP + JSON + synced appends + FAISS flat index)")
        print(f"top-10 query (embed over HTTP + FAISS + DocStore + snippets): p50 {pct(lat, .5):.2f} ms, "
              f"p99 {pct(lat, .99):.2f} ms; FAISS exact search alone p50 {pct(raw, .5):.2f} ms, "
              f"p99 {pct(raw, .99):.2f} ms")
        print(f"index size: {(tmp / 'dix' / 'dense' / 'faiss.index').stat().st_size / 1e6:,.0f} MB")
    finally:
        stop()


def main() -> None:
    from longtracerl.paths import shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="*", help="context-format files with supporting facts")
    ap.add_argument("--limit", type=int, default=None, help="questions per file (default: all)")
    ap.add_argument("--no-ablation", action="store_true")
    ap.add_argument("--bundled-hybrid", action="store_true", help="hybrid with the bundled model's embeddings")
    ap.add_argument("--embed-url", default=None, help="hybrid with this embeddings endpoint instead")
    ap.add_argument("--hybrid-questions", type=int, default=60)
    ap.add_argument("--embed-max-chars", type=int, default=300)
    ap.add_argument("--dense-docs", type=int, default=0, help="dense throughput at this many documents (0: skip)")
    a = ap.parse_args()
    la = os.getloadavg()
    print(f"load: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} CPUs")
    files = a.data
    if not files:
        d = shared_data_dir()
        if d is None:
            sys.exit("no --data given and ../shared/data is not beside this clone")
        files = [d / "2wiki_dev_500.json"]
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        for i, f in enumerate(files):
            quality(f, a.limit, tmp / f"q{i}", not a.no_ablation)
        if a.bundled_hybrid or a.embed_url:
            proc = None
            url = a.embed_url
            if url is None:
                url, proc = bundled_embed_server()
            try:
                hybrid(files[0], a.hybrid_questions, url, a.embed_max_chars, tmp / "h")
            finally:
                if proc is not None:
                    proc.kill()
                    proc.wait(timeout=30)
        if a.dense_docs:
            dense_throughput(a.dense_docs, tmp / "d")


if __name__ == "__main__":
    main()
