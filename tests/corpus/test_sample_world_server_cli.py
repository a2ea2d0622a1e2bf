import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from longtracerl.cli import app
from longtracerl.corpus.docstore import DocStore
from longtracerl.corpus.remote import RemoteSearch
from longtracerl.corpus.sample_world import ensure_sample_world
from longtracerl.corpus.search import TantivySearch
from longtracerl.netutil import free_port, wait_http

runner = CliRunner()


def test_sample_world_is_built_once_then_cached(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    w = ensure_sample_world(tmp_path / "w")
    assert time.perf_counter() - t0 < 60
    assert w.n_docs == 256 and (w.root / "ATTRIBUTION.md").read_text().startswith("# Sample world attribution")
    t1 = time.perf_counter()
    assert ensure_sample_world(tmp_path / "w") == w
    assert time.perf_counter() - t1 < 0.5
    ds = DocStore.open(w.docstore_dir)
    france = ds.get("wfb-fr")
    assert france is not None and france.title == "France" and "Paris" in france.text
    triples = [json.loads(x) for x in w.triples_path.read_text().splitlines()]
    rels = {(t["subject"], t["relation"], t["object"]) for t in triples}
    assert ("France", "shares a border with", "Spain") in rels and ("France", "capital", "Paris") in rels
    assert {t["relation"] for t in triples} >= {"shares a border with", "capital", "language spoken", "government type",
                                                "independence from", "largest export partner", "located in region"}
    assert ("Algeria", "independence from", "France") in rels and ("Greenland", "dependency of", "Denmark") in rels
    by_rel = {t["relation"]: t for t in triples}
    assert by_rel["independence from"]["object_doc_id"] and by_rel["located in region"]["object_doc_id"] is None
    # every linked object document exists
    assert all(ds.get(t["object_doc_id"]) is not None for t in triples if t["object_doc_id"])
    ents = [json.loads(x) for x in w.entities_path.read_text().splitlines()]
    assert any(e["title"] == "France" and "French Republic" in e["aliases"] for e in ents)
    hits = TantivySearch.open(w.index_dir, ds).search("capital Paris France", 3)
    assert hits[0].doc_id == "wfb-fr"
    # a rebuild replaces the world in one rename: the old manifest and files stay readable until then
    w2 = ensure_sample_world(tmp_path / "w", force=True)
    assert w2 == w and not list(tmp_path.glob("w.*"))  # no temporary or old directory left behind


@pytest.fixture(scope="module")
def search_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    w = ensure_sample_world(tmp_path_factory.mktemp("sw") / "w")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-search", "--corpus", str(w.docstore_dir),
                             "--index", str(w.index_dir), "--port", str(port), "--token", "tok"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        yield f"http://127.0.0.1:{port}", w
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_search_server_over_http(search_server) -> None:  # type: ignore[no-untyped-def]
    url, w = search_server
    assert httpx.post(f"{url}/search", json={"query": "Paris", "k": 2}).status_code == 401
    remote = RemoteSearch(url, token="tok")
    try:
        local = TantivySearch.open(w.index_dir, w.docstore_dir)
        assert remote.search("capital Paris France", 5) == local.search("capital Paris France", 5)
        assert remote.batch_search(["Spain", "a:b (("], 3) == [local.search("Spain", 3), local.search("a:b ((", 3)]
        assert remote.open("wfb-fr", max_chars=50).truncated
        r = httpx.get(f"{url}/open", params={"doc_id": "nope"}, headers={"Authorization": "Bearer tok"})
        assert r.status_code == 404 and "nope" in r.json()["detail"]
        assert remote.get("nope") is None
    finally:
        remote.close()


def test_cli_works_with_no_corpus_arguments() -> None:
    r = runner.invoke(app, ["search", "capital of Spain", "-k", "2"])
    assert r.exit_code == 0, r.output
    # the table's title repeats the query: the hit itself must be there (its doc_id in the first row)
    rows = [ln for ln in r.output.splitlines() if ln.startswith("│ ") and ln.split("│")[1].strip().isdigit()]
    assert "2 hits for 'capital of Spain'" in r.output and "wfb-sp" in rows[0] and len(rows) == 2, r.output
    r = runner.invoke(app, ["open", "wfb-sp", "--max-chars", "40"])
    assert r.exit_code == 0 and "# Spain" in r.output and "truncated" in r.output
    assert runner.invoke(app, ["open", "missing-id"]).exit_code == 1


def test_cli_ingest_index_search_and_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "c.jsonl"
    src.write_text('{"title": "Alpha", "text": "alpha river"}\n{oops\n{"title": "Beta", "text": "beta mountain"}\n')
    r = runner.invoke(app, ["corpus", "ingest", str(src), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "c.jsonl:2" in r.output
    assert [d.title for d in DocStore.open(tmp_path / "ds")] == ["Alpha"]
    r = runner.invoke(app, ["corpus", "ingest", str(src), "--out", str(tmp_path / "ds2"), "--skip-bad"])
    assert r.exit_code == 0 and "c.jsonl:2" in r.output
    assert runner.invoke(app, ["index", "--corpus", str(tmp_path / "ds2")]).exit_code == 0
    r = runner.invoke(app, ["search", "mountain", "--corpus", str(tmp_path / "ds2")])
    assert r.exit_code == 0 and "Beta" in r.output


def test_remote_search_async_client_per_event_loop(search_server) -> None:  # type: ignore[no-untyped-def]
    """The agents' awaited tools: the same answers as the blocking client, from several event loops in turn
    (each ``asyncio.run`` gets its own client, closed when that loop shuts down: a leaked socket would be a
    ResourceWarning, which fails the suite)."""
    import asyncio

    from longtracerl.corpus.base import DocumentNotFound, get_async, open_async, search_async

    url, _ = search_server
    remote = RemoteSearch(url, token="tok")

    async def once() -> None:
        hits = await asyncio.gather(*(search_async(remote, q, 5) for q in ("capital Paris France", "Spain")))
        assert hits == [remote.search("capital Paris France", 5), remote.search("Spain", 5)]
        doc = await open_async(remote, "wfb-fr", 50)
        assert doc.truncated and doc.doc_id == "wfb-fr"
        with pytest.raises(DocumentNotFound):
            await open_async(remote, "nope")
        assert await get_async(remote, "nope") is None

    try:
        asyncio.run(once())
        asyncio.run(once())  # a new loop: a new client (the first one's connections died with its loop)

        async def closed_early() -> None:
            await remote.asearch("Spain", 1)
            await remote.aclose()
            assert await remote.asearch("Spain", 1)  # a fresh client after aclose

        asyncio.run(closed_early())
    finally:
        remote.close()
