"""The ``view`` server's API over a hand-written run (FastAPI test client; the browser test drives it for real)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from longtracerl.view.model import SERVER_DOC_CHAR_CAP
from longtracerl.view.server import create_app, resolve_token


def test_items_filters_detail_and_docs(build_run: Path) -> None:
    app = create_app(build_run)
    with TestClient(app) as c:
        _items_filters_detail_and_docs(c)
    assert app.state.live.idx.docs.store._conns == []  # shutdown closed the document store


def _items_filters_detail_and_docs(c: TestClient) -> None:
    r = c.get("/api/items").json()
    assert r["total"] == 5 and len(r["items"]) == 5
    assert c.get("/api/items", params={"limit": 2, "offset": 1}).json()["items"][0]["id"] == "s1"
    assert [i["id"] for i in c.get("/api/items", params={"strategy": "random"}).json()["items"]] == ["s1"]
    assert c.get("/api/items", params={"reason": "dead_end"}).json()["total"] == 1
    assert c.get("/api/items", params={"q": "QUESTION 2"}).json()["total"] == 1
    assert c.get("/api/items", params={"min_tokens": 2_000_000}).json()["total"] == 1
    det = c.get("/api/item/s1").json()
    assert det["doc_meta"]["d-gone"] == {"title": None, "missing": "not in the document store"}
    assert det["context"]["docs"][0]["title"] == "Sweden"
    assert det["context"]["prompt_tokens"] == det["context"]["n_tokens"] + 30  # the trainer's count is shown
    assert det["chain"][2]["jump"] is True
    huge = c.get("/api/doc/d-huge").json()
    assert huge["truncated"] and len(huge["text"]) == SERVER_DOC_CHAR_CAP
    assert c.get("/api/doc/d-gone").json()["text"] is None
    assert c.get("/api/item/nope").status_code == 404
    page = c.get("/").text
    assert '"server":true' in page and "Build report: hand" in page


def test_token_required_when_set(build_run: Path) -> None:
    with TestClient(create_app(build_run, token="s3cret")) as c:
        _token_checks(c)
    assert resolve_token("127.0.0.1", None) is None
    assert resolve_token("0.0.0.0", None)  # exposed: a token is generated
    assert resolve_token("0.0.0.0", "t") == "t"


def _token_checks(c: TestClient) -> None:
    assert c.get("/api/items").status_code == 401
    assert c.get("/", params={"token": "wrong"}).status_code == 401
    assert c.get("/api/items", headers={"X-Token": "s3cret"}).status_code == 200
    assert c.get("/", params={"token": "s3cret"}).status_code == 200


def test_eval_run_is_served_live(tmp_path: Path, make_eval) -> None:  # type: ignore[no-untyped-def]
    from longtracerl.view.server import create_eval_app

    run = make_eval(tmp_path, "a", torn=True)
    c = TestClient(create_eval_app(run, token="t"))
    assert c.get("/").status_code == 401
    page = c.get("/", params={"token": "t"}).text
    assert page.count('class="eval-row"') == 6 and "torn last line" in page
    with (run / "results.jsonl").open("a") as f:  # the eval finishes its line and writes another
        f.write('gqa"}\n{"item_id": "x", "bench": "new", "score": 1.0}\n')
    page = c.get("/", params={"token": "t"}).text
    assert "torn last line" not in page and page.count('class="eval-row"') == 8 and "new</a>" in page


def test_a_run_still_being_built_is_reread(build_run: Path) -> None:
    """The server re-reads the run when its files change (here immediately: refresh_seconds=0)."""
    with TestClient(create_app(build_run, refresh_seconds=0)) as c:
        _reread(c, build_run)


def _reread(c: TestClient, build_run: Path) -> None:
    assert c.get("/api/items").json()["total"] == 5
    rows = (build_run / "samples.jsonl").read_text().splitlines(keepends=True)
    with (build_run / "samples.jsonl").open("a") as f:
        f.write(rows[0].replace('"s0"', '"s7"').replace('"q0"', '"q7"'))
    got = c.get("/api/items", params={"reason": "kept"}).json()
    assert [i["id"] for i in got["items"]] == ["s0", "s1", "s2", "s7"]
    assert c.get("/api/item/s7").json()["context"]["docs"][0]["doc_id"] == "d-sweden"
