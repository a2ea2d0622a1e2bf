"""Search engine figures (issue 3): indexing docs/s, top-10 latency p50/p99, API overhead, peak memory.

Synthetic corpus: N documents (default 1,000,000) of 150 words drawn from a Zipf vocabulary, then the
bundled sample world. Targets at 1M documents: >= 25K docs/s indexing, p50 <= 1 ms per top-10 query,
``TantivySearch.search`` within 1.5x of the raw engine call (query + ids of the top 10).
Also compares sample-world granularity (whole country page vs one section per document).

    .venv/bin/python benchmarks/bench_corpus_search.py [--docs 1000000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.search import TantivySearch, build_index
from longtracerl.records import Document


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, words: int = 150, vocab_size: int = 200_000, seed: int = 0) -> Iterator[Document]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(vocab_size)]
    chunk = 10_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ids = np.minimum(rng.zipf(1.2, size=(m, words)) - 1, vocab_size - 1).tolist()
        for j, row in enumerate(ids):
            i = start + j
            yield Document(doc_id=f"d{i}", title=f"doc {i} {vocab[row[0]]} {vocab[row[1]]}",
                           text=" ".join([vocab[x] for x in row]))


class Timed:
    """Wraps a generator and adds up the time spent producing items, so an ingest figure can exclude it."""

    def __init__(self, it: Iterator[Document]) -> None:
        self.it, self.seconds = it, 0.0

    def __iter__(self) -> Iterator[Document]:
        while True:
            t = time.perf_counter()
            try:
                d = next(self.it)
            except StopIteration:
                self.seconds += time.perf_counter() - t
                return
            self.seconds += time.perf_counter() - t
            yield d


def latency(s: TantivySearch, queries: list[str], unpruned: list[float] | None = None) -> tuple[list[float], list[float]]:
    """Our API vs the raw engine on the same terms (the API's stopword pruning applied to both)."""
    api, raw = [], []
    for q in queries:
        terms = list(s.query_keys(q))  # the index's analyzer (English stemming + stopwords by default)
        if unpruned is not None:
            t = time.perf_counter()
            s.raw_search(terms, 10)
            unpruned.append(time.perf_counter() - t)
        terms = s.prune(terms)
        t = time.perf_counter()
        s.raw_search(terms, 10)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.search(q, 10)
        api.append(time.perf_counter() - t)
    return api, raw


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[int(p * (len(xs) - 1))] * 1000


def report(name: str, n: int, ingest_s: float, index_s: float, s: TantivySearch, queries: list[str],
           uniform: list[str]) -> None:
    unpruned: list[float] = []
    api, raw = latency(s, queries, unpruned)
    uapi, _ = latency(s, uniform)
    ratio = statistics.median(api) / statistics.median(raw)
    print(f"\n[{name}] {n:,} documents")
    print(f"  docstore ingest: {n / ingest_s:,.0f} docs/s ({ingest_s:.1f} s)")
    print(f"  indexing:        {n / index_s:,.0f} docs/s ({index_s:.1f} s)   target >= 25,000 docs/s at 1M")
    print(f"  top-10 query:    p50 {pct(api, .5):.3f} ms  p99 {pct(api, .99):.3f} ms (our API, Zipf-drawn query words)"
          "   target p50 <= 1 ms")
    print(f"  raw engine:      p50 {pct(raw, .5):.3f} ms  p99 {pct(raw, .99):.3f} ms (same pruned terms); without "
          f"stopword pruning p50 {pct(unpruned, .5):.3f} ms p99 {pct(unpruned, .99):.3f} ms")
    print(f"  top-10 query:    p50 {pct(uapi, .5):.3f} ms  p99 {pct(uapi, .99):.3f} ms (our API, uniformly drawn words)")
    print(f"  API / raw (p50): {ratio:.2f}x   target <= 1.5x")
    print(f"  peak RSS so far: {peak_rss_mb():,.0f} MB")


def run_synthetic(n: int, nq: int, tmp: Path) -> None:
    t = time.perf_counter()
    gen = Timed(synthetic(n))
    build_docstore(tmp / "ds", gen)
    ingest_s = time.perf_counter() - t - gen.seconds  # the store's own work, not the synthetic generator's
    print(f"  (generating the synthetic documents took {gen.seconds:.1f} s, not counted below)")
    ds = DocStore.open(tmp / "ds")
    t = time.perf_counter()
    build_index(tmp / "ix", ds, progress=False)
    index_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    queries = [" ".join(f"w{int(x)}" for x in np.minimum(rng.zipf(1.2, size=rng.integers(2, 8)), 199_999))
               for _ in range(nq)]
    uniform = [" ".join(f"w{int(x)}" for x in rng.integers(0, 200_000, size=rng.integers(2, 8))) for _ in range(nq)]
    report("synthetic Zipf corpus", n, ingest_s, index_s, TantivySearch.open(tmp / "ix", ds), queries, uniform)
    ids = [f"d{int(i)}" for i in rng.integers(0, n, size=nq)]
    lat = []
    for doc_id in ids:
        t = time.perf_counter()
        ds.get(doc_id)
        lat.append(time.perf_counter() - t)
    titles = [f"doc {int(i)}" for i in rng.integers(0, n, size=200)]
    t = time.perf_counter()
    for ti in titles:
        ds.get_by_title(ti)  # misses the exact index, then the case-folded one: the slow path
    miss = (time.perf_counter() - t) / len(titles)
    print(f"  DocStore.get by id: p50 {pct(lat, .5) * 1000:.1f} us  p99 {pct(lat, .99) * 1000:.1f} us   target well "
          f"under 1 ms; get_by_title miss (both indexes): {miss * 1e6:.1f} us")


def run_sample_world(nq: int, tmp: Path) -> None:
    import json

    from llama_cpp import Llama

    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.llm.bundled import bundled_gguf_path

    tok = Llama(model_path=str(bundled_gguf_path()), vocab_only=True, verbose=False)  # the tokenizer only
    rows = None
    for gran in ("page", "section"):
        t = time.perf_counter()
        w = ensure_sample_world(tmp / f"world-{gran}", granularity=gran, force=True)  # type: ignore[arg-type]
        build_s = time.perf_counter() - t
        ds = DocStore.open(w.docstore_dir)
        s = TantivySearch.open(w.index_dir, ds)
        if rows is None:
            rows = [json.loads(x) for x in w.triples_path.read_text().splitlines()]
        # can a relation fact find its subject's document? (gold pages must be retrievable for the agent)
        facts = [r for r in rows if r["relation"] in ("capital", "government type", "language spoken")][:400]
        top5 = sum(any(h.doc_id.startswith(r["subject_doc_id"].rsplit("-introduction", 1)[0]) for h in
                       s.search(f"{r['relation']} {r['object']}", 5)) for r in facts)
        lengths = sorted(len(d.text.split()) for d in ds)
        print(f"\n[sample world, one document per {gran}] {len(ds)} documents, built in {build_s:.1f} s")
        print(f"  words per document: median {lengths[len(lengths) // 2]:,}, p90 {lengths[int(.9 * len(lengths))]:,}, "
              f"max {lengths[-1]:,}")
        print(f"  relation-fact queries whose subject document is in the top 5: {top5 / len(facts):.0%}")
        toks = sorted(len(tok.tokenize(d.text.encode(), add_bos=False)) for d in ds)
        print(f"  tokens per document (bundled SmolLM2 tokenizer): median {toks[len(toks) // 2]:,}, "
              f"p90 {toks[int(.9 * len(toks))]:,}, max {toks[-1]:,}; 128K tokens hold ~{128_000 // toks[len(toks) // 2]} "
              "median documents")
        if gran == "page":
            queries = [f"{r['relation']} {r['object']}" for r in rows[:nq]]
            api, raw = latency(s, queries)
            print(f"  top-10 query p50 {pct(api, .5):.3f} ms p99 {pct(api, .99):.3f} ms; raw p50 {pct(raw, .5):.3f} ms")


def main() -> None:
    import os

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs")
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run_sample_world(min(a.queries, 500), Path(d))
        run_synthetic(a.docs, a.queries, Path(d))


if __name__ == "__main__":
    main()
