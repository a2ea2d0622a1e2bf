"""The build page written from run-directory files: content, caps, and bad input (no browser here)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from longtracerl.view import write_build_html
from longtracerl.view.model import DOC_CHAR_CAP

PageData = Callable[[str], dict[str, Any]]


def test_page_has_report_tables_settings_and_every_item(build_run: Path, read_page_data: PageData) -> None:
    out = write_build_html(build_run)
    assert out == build_run / "report" / "index.html"
    html = out.read_text()
    assert "https://" not in html and "http://" not in html  # nothing fetched from the network
    assert 'id="settings-vs-paper"' in html and "not stated in the paper" in html
    assert re.search(r'<tr class="differs"><td>context length L</td><td>4,000</td><td>131,072</td>', html)
    assert "gold_exceeds_budget" in html and "dead_end" in html  # funnel reasons
    data = read_page_data(html)
    kinds = [i["kind"] for i in data["items"]]
    assert kinds.count("sample") == 3 and kinds.count("rejected") == 2
    assert [i["source"] for i in data["items"]][1:4] == ["samples.jsonl line 2", "samples.jsonl line 3",
                                                         "rejected.jsonl line 1"]
    assert data["strategies"] == ["random", "trajectory_tiered"]
    assert data["reasons"] == ["dead_end", "gold_exceeds_budget"]
    det = data["details"]["s0"]
    assert [h["clue"] for h in det["chain"]] == ["the country north of Denmark", "its capital", "the river east of it"]
    assert [h["jump"] for h in det["chain"]] == [False, False, True]
    assert [d["tier"] for d in det["context"]["docs"]] == ["tier1", "gold", "tier2", "gold", "fill", "gold"]
    assert det["context"]["docs"][1]["title"] == "Norway"
    assert [s["kind"] for s in det["trajectory"]["steps"]] == ["search", "open", "open", "answer"]
    assert "messages" not in json.dumps(det)  # the assembled prompt is never embedded
    # a rejected item links to its question
    rej = next(i for i in data["items"] if i["reason"] == "gold_exceeds_budget")
    assert rej["question"].startswith("Question 3") and data["details"][rej["id"]]["chain"]


def test_without_settings_table_the_page_says_nothing_about_it(tmp_path: Path, make_build: Callable[..., Path]) -> None:
    run = make_build(tmp_path, settings=False)
    html = write_build_html(run).read_text()
    assert "settings-vs-paper" not in html and "Funnel" in html


def test_missing_document_and_10mb_document(build_run: Path, read_page_data: PageData) -> None:
    data = read_page_data(write_build_html(build_run).read_text())
    gone = data["docs"]["d-gone"]
    assert gone["text"] is None and gone["missing"] == "not in the document store"
    huge = data["docs"]["d-huge"]
    assert huge["truncated"] and len(huge["text"]) == DOC_CHAR_CAP and huge["n_chars"] >= 10 * 1024 * 1024
    assert (build_run / "report" / "index.html").stat().st_size < 3_000_000


def test_half_written_run_renders_and_says_what_is_missing(build_run: Path, read_page_data: PageData) -> None:
    """A build killed mid-assembly: torn last sample line, no trajectories file, no report stats yet."""
    (build_run / "trajectories.jsonl").unlink()
    (build_run / "report" / "stats.json").unlink()
    with (build_run / "samples.jsonl").open("a") as f:
        f.write('{"sample_id": "s9", "question_id": "q9", "docs": [{"doc_id"')
    html = write_build_html(build_run).read_text()
    assert "missing stage files: trajectories.jsonl" in html
    assert "samples.jsonl:4: torn last line" in html
    assert "No report/stats.json yet" in html
    data = read_page_data(html)
    assert data["total_samples"] == 3  # the torn line is skipped, the rest kept
    assert data["details"]["s0"]["trajectory"] is None
    assert "trajectory not found in trajectories.jsonl" in data["details"]["s0"]["missing"]


def test_corrupt_middle_line_and_no_docstore(tmp_path: Path, make_build: Callable[..., Path],
                                             read_page_data: PageData) -> None:
    run = make_build(tmp_path)
    lines = (run / "questions.jsonl").read_text().splitlines(keepends=True)
    lines[1] = "{not json\n"
    (run / "questions.jsonl").write_text("".join(lines))
    (run / "config.yaml").write_text("name: hand\nworld: {kind: custom, docstore: " + str(tmp_path / "nope") + "}\n")
    html = write_build_html(run).read_text()
    assert "questions.jsonl:2: not valid JSON" in html
    assert "document store unavailable" in html
    data = read_page_data(html)
    assert data["details"]["s1"]["missing"] == ["question record not found in questions.jsonl"]
    assert all(d["text"] is None for d in data["docs"].values())


def test_empty_directory_and_script_injection(tmp_path: Path, make_build: Callable[..., Path],
                                              read_page_data: PageData) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    html = write_build_html(empty).read_text()
    assert "missing stage files: chains.jsonl, questions.jsonl" in html
    run = make_build(tmp_path / "x")
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    rows[0]["question"] = "</script><script>alert(1)</script> & <b>"
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    html = write_build_html(run).read_text()
    assert "<script>alert(1)" not in html
    assert read_page_data(html)["items"][0]["question"].startswith("</script><script>alert(1)")


def test_embedding_cap_says_which_samples(tmp_path: Path, make_build: Callable[..., Path],
                                          read_page_data: PageData) -> None:
    run = make_build(tmp_path)
    data = read_page_data(write_build_html(run, max_samples=1).read_text())
    assert data["total_samples"] == 3 and data["embedded_samples"] == 1
    assert set(data["details"]) == {"s0", next(i["id"] for i in data["items"] if i["kind"] == "rejected")}
    assert len(data["items"]) == 5  # the list still names every item


def test_bounded_load_keeps_the_first_rows_and_what_they_refer_to(build_run: Path) -> None:
    """The static page reads at most ``max_rows`` samples and rejections (all are counted) and only the chains,
    questions and trajectories they refer to, so its memory does not grow with the run."""
    from longtracerl.view.rundata import load_run

    full = load_run(build_run)
    part = load_run(build_run, max_rows=1)
    assert (part.n_samples, part.n_rejected) == (full.n_samples, full.n_rejected) == (3, 2)
    assert len(part.samples) == len(part.rejected) == 1 and part.samples[0] == full.samples[0]
    qid = str(part.samples[0]["question_id"])
    assert qid in part.questions and set(part.questions) < set(full.questions)
    assert set(part.chains) < set(full.chains) and part.questions[qid]["chain_id"] in part.chains
    assert set(part.trajectories) <= set(part.questions) | {str(s["question_id"]) for s in part.samples}


def test_each_text_is_embedded_once_and_parsed_on_demand(build_run: Path, read_page_data: PageData) -> None:
    """Three samples share the same documents and their trajectories the same snippet: the page holds each
    document text and each snippet once, in elements of their own that the script parses when shown."""
    html = write_build_html(build_run).read_text()
    head = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)[1])
    assert head["lazy"] and head["details"] == {} and all("text" not in d or d["text"] is None
                                                          for d in head["docs"].values())
    assert html.count("Oslo lies on a fjord") == 1  # d-oslo is in every sample's context
    assert html.count('"Norway is"') == 1  # the snippet of every trajectory's first search
    assert len(re.findall(r'id="pd-d-\d+"', html)) == len(head["detail_index"]) == 5
    data = read_page_data(html)  # the parts put back together are what the page shows
    assert data["details"]["s2"]["trajectory"]["steps"][0]["results"] == [
        {"doc_id": "d-norway", "title": "Norway", "rank": 1, "score": 7.5, "snippet": "Norway is"},
        {"doc_id": "d-sweden", "title": "Sweden", "rank": 2, "score": 5.1, "snippet": ""}]
    assert data["docs"]["d-oslo"]["text"].startswith("Oslo lies on a fjord")
