"""Dense and hybrid search over the bundled model's real embeddings (llama.cpp server), resumable dense
builds, the CLI and the search server over them, and the bad-input errors (endpoint down, wrong
dimension)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import Request
from typer.testing import CliRunner

from longtracerl.cli import app
from longtracerl.corpus.dense import DenseSearch, build_dense_index, doc_text, read_dense_state
from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.embeddings import EmbeddingClient, EmbeddingError
from longtracerl.corpus.hybrid import HybridSearch, rrf
from longtracerl.corpus.indexes import open_search
from longtracerl.corpus.remote import RemoteSearch
from longtracerl.corpus.search import read_index_meta
from longtracerl.netutil import free_port, wait_http
from longtracerl.records import Document

runner = CliRunner()

DOCS = [
    ("Eyjafjallajokull", "A volcano in Iceland whose eruption in 2010 closed European airspace."),
    ("Danube", "The Danube river flows from the Black Forest through Vienna and Budapest to the Black Sea."),
    ("Marie Curie", "Physicist and chemist who won two Nobel prizes for research on radioactivity."),
    ("Sourdough", "Bread leavened by wild yeast and lactic acid bacteria in a starter."),
    ("Chess", "A board game for two players on a checkered board of sixty-four squares."),
    ("Jupiter", "The largest planet of the Solar System, a gas giant with a great red spot."),
    ("Violin", "A bowed string instrument with four strings tuned in perfect fifths."),
    ("Sahara", "The largest hot desert in the world, covering much of North Africa."),
    ("Penicillin", "An antibiotic discovered by Alexander Fleming from a mould in 1928."),
    ("Kyoto", "A city in Japan, the imperial capital for more than a thousand years."),
]
MAX_CHARS = 120


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DocStore:
    d = tmp_path_factory.mktemp("dense") / "ds"
    build_docstore(d, (Document(doc_id=f"d{i}", title=t, text=x) for i, (t, x) in enumerate(DOCS)))
    return DocStore.open(d)


@pytest.fixture(scope="module")
def hybrid_index(store: DocStore, embed_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ix = tmp_path_factory.mktemp("hy") / "ix"
    r = runner.invoke(app, ["index", "--corpus", str(store.dir), "--out", str(ix), "--backend", "hybrid",
                            "--embed-url", embed_server, "--embed-max-chars", str(MAX_CHARS), "--embed-batch", "4"])
    assert r.exit_code == 0, r.output
    assert "hybrid, analyzer english" in r.output and "576 dims" in r.output
    return ix


@pytest.mark.llm
@pytest.mark.slow
def test_hybrid_index_over_the_bundled_models_embeddings(hybrid_index: Path, store: DocStore) -> None:
    meta = read_index_meta(hybrid_index)
    assert meta["backend"] == "hybrid" and meta["analyzer"] == "english" and meta["dense"]["dim"] == 576
    assert meta["n_docs"] == len(DOCS)
    s = open_search(hybrid_index)  # the index alone says which DocStore, engine, analyzer and model
    assert isinstance(s, HybridSearch)
    # a text embedded second in a request gets the vector it gets alone (llama-cpp-python's batched per-token
    # output is wrong past the first text, so the client sends such endpoints one text per request)
    c = EmbeddingClient(s.dense.client.base_url)
    both, alone = c.embed(["Kyoto is a city in Japan.", "Jupiter is a planet."]), c.embed(["Jupiter is a planet."])
    assert c.one_per_request and float(both[1] @ alone[0]) > 0.999
    # dense: a document's own embedded text finds that document first, with cosine ~1
    for rid, d in store.iter_with_rid():
        top = s.dense.ranked_many([doc_text(d, MAX_CHARS)], 3)[0]
        assert top[0][1] == rid and top[0][0] > 0.999
    hits = s.dense.search("volcano eruption", 4)
    assert [h.rank for h in hits] == [1, 2, 3, 4] and all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    # hybrid: keyword evidence (stemmed: "eruptions" -> "erupt") brings the right page first
    hy = s.search("eruptions of volcanoes in Iceland", 3)
    assert hy[0].title == "Eyjafjallajokull" and "Iceland" in hy[0].snippet
    assert s.batch_search(["Danube river", "Kyoto"], 2) == [s.search("Danube river", 2), s.search("Kyoto", 2)]
    assert s.search("", 5) == [] and s.open("d3").title == "Sourdough"
    info = s.describe()
    assert info["backend"] == "hybrid" and info["analyzer"] == "english" and info["embedding_dim"] == 576
    s.close()
    c.close()


@pytest.mark.llm
@pytest.mark.slow
def test_cli_and_server_serve_the_hybrid_index(hybrid_index: Path, embed_server: str) -> None:
    r = runner.invoke(app, ["search", "planet with a red spot", "--index", str(hybrid_index), "-k", "3"])
    assert r.exit_code == 0 and "Jupiter" in r.output, r.output
    r = runner.invoke(app, ["search", "planet", "--index", str(hybrid_index), "--analyzer", "raw"])
    assert r.exit_code == 1 and "--analyzer raw" in r.output and "longtracerl index" in r.output
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-search", "--index", str(hybrid_index),
                             "--port", str(port), "--dense-weight", "0.5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", timeout=120, proc=proc)
        health = httpx.get(f"{url}/health").json()
        assert health["search"]["backend"] == "hybrid" and health["search"]["dense_weight"] == 0.5
        local = open_search(hybrid_index, dense_weight=0.5)
        remote = RemoteSearch(url)
        assert remote.search("bowed string instrument", 3) == local.search("bowed string instrument", 3)
        assert remote.describe()["embedding_dim"] == 576
        local.close()  # type: ignore[attr-defined]
        remote.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _StopsAfter:
    """Fault injection: the real endpoint's client, but the connection 'drops' after ``n`` batches."""

    def __init__(self, inner: EmbeddingClient, n: int) -> None:
        self.inner, self.left, self.texts = inner, n, 0
        self.model, self.base_url = inner.model, inner.base_url

    @property
    def dim(self) -> int | None:
        return self.inner.dim

    @dim.setter
    def dim(self, v: int | None) -> None:
        self.inner.dim = v

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.left == 0:
            raise EmbeddingError(f"embedding endpoint {self.inner.url} is unreachable (injected)")
        self.left -= 1
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.mark.llm
@pytest.mark.slow
def test_dense_build_resumes_after_an_interruption(store: DocStore, embed_server: str, tmp_path: Path) -> None:
    first = _StopsAfter(EmbeddingClient(embed_server), n=2)
    with pytest.raises(EmbeddingError, match="unreachable"):
        build_dense_index(tmp_path, store, first, batch_size=3, max_chars=MAX_CHARS, progress=False)
    st = read_dense_state(tmp_path)
    assert st["n_done"] == 6 and not st["complete"] and st["dim"] == 576
    second = _StopsAfter(EmbeddingClient(embed_server), n=-1)
    assert build_dense_index(tmp_path, store, second, batch_size=3, max_chars=MAX_CHARS, progress=False) == 10
    assert second.texts == 4  # only what was missing was embedded
    d = DenseSearch(tmp_path, store)
    assert d.rids.tolist() == [rid for rid, _ in store.iter_with_rid()]
    # the resumed vectors are the ones an uninterrupted build makes
    d.close()
    with EmbeddingClient(embed_server) as c:
        fresh = c.embed([doc_text(x, MAX_CHARS) for x in store])
    vecs = np.fromfile(tmp_path / "dense" / "vectors.f32", dtype=np.float32).reshape(-1, 576)
    assert np.allclose(vecs, fresh, atol=1e-4)
    # another model (or text cut) than the interrupted run: refused, not mixed
    with pytest.raises(ValueError, match="other settings"), EmbeddingClient(embed_server) as c:
        build_dense_index(tmp_path, store, c, max_chars=50, progress=False)
    first.inner.close()
    second.inner.close()


# ----------------------------------------------------------------------------- bad input (no model needed)
class _Stub:
    """A FAKE embeddings endpoint for fault injection only: answers vectors of a dimension the test sets
    (a real server cannot be made to change dimension between two calls)."""

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI

        self.dim = 8
        api = FastAPI()

        @api.post("/v1/embeddings")
        async def emb(request: Request) -> dict[str, object]:
            texts = (await request.json())["input"]
            return {"data": [{"index": i, "embedding": [float(len(t) % 7 + j) for j in range(self.dim)]}
                             for i, t in enumerate(texts)]}

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_http(f"http://127.0.0.1:{self.port}/docs", timeout=30)
        self.url = f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture()
def stub() -> Iterator[_Stub]:
    s = _Stub()
    yield s
    s.server.should_exit = True
    s.thread.join(timeout=5)


def test_endpoint_down_is_a_clear_error_naming_it(store: DocStore, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbeddingError, match=f"{url}/embeddings is unreachable"), \
            EmbeddingClient(url, "m", retries=0) as c:
        c.embed(["x"])
    r = runner.invoke(app, ["index", "--corpus", str(store.dir), "--out", str(tmp_path / "ix"), "--backend", "dense",
                            "--embed-url", url, "--embed-model", "m"])
    assert r.exit_code == 1 and f"{url}/embeddings is unreachable" in r.output and "resume" in r.output
    r = runner.invoke(app, ["index", "--corpus", str(store.dir), "--backend", "hybrid"])
    assert r.exit_code != 0 and "--embed-url" in r.output


def test_wrong_dimension_is_refused_naming_endpoint_and_dimension(store: DocStore, stub: _Stub, tmp_path: Path) -> None:
    r = runner.invoke(app, ["index", "--corpus", str(store.dir), "--out", str(tmp_path / "ix"), "--backend", "dense",
                            "--embed-url", stub.url, "--embed-model", "stub"])
    assert r.exit_code == 0, r.output
    s = open_search(tmp_path / "ix")
    assert isinstance(s, DenseSearch) and len(s.search("anything", 3)) == 3
    stub.dim = 16  # the endpoint now serves another model
    with pytest.raises(EmbeddingError, match=rf"{stub.url}/embeddings .*dimension 16, expected 8"):
        s.search("anything", 3)
    s.close()
    r = runner.invoke(app, ["search", "anything", "--index", str(tmp_path / "ix")])
    assert r.exit_code == 1 and "dimension 16, expected 8" in r.output and stub.url in r.output
    # an interrupted (incomplete) index is refused with how to resume
    meta = read_index_meta(tmp_path / "ix")
    (tmp_path / "ix" / "longtracerl-index.json").write_text(json.dumps({**meta, "complete": False}))
    r = runner.invoke(app, ["search", "anything", "--index", str(tmp_path / "ix")])
    assert r.exit_code == 1 and "incomplete" in r.output and "resume" in r.output


def test_rrf_fuses_ranks_with_a_weight() -> None:
    bm = [(9.0, 1), (5.0, 2), (1.0, 3)]
    de = [(0.9, 3), (0.8, 4), (0.7, 1)]
    assert [r for _, r in rrf(bm, de, 4, dense_weight=0.0)] == [1, 2, 3, 4]  # BM25's order, dense-only last
    assert [r for _, r in rrf(bm, de, 2, dense_weight=1.0)] == [1, 3]  # in both lists
    assert [r for _, r in rrf(bm, de, 3, dense_weight=10.0)] == [3, 1, 4]  # dense dominates
