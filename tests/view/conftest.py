"""Hand-written run directories for the viewer tests: a small document store, every stage file, and the
fields other branches add (hop clues, jump flags, settings vs paper, eval results)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from longtracerl.corpus.docstore import build_docstore
from longtracerl.records import Document

BIG_DOC_CHARS = 10 * 1024 * 1024
GOLD = ["Norway", "Oslo", "Glomma"]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _docs() -> list[Document]:
    filler = "Plain filler text about weather and roads. " * 40
    docs = [
        Document(doc_id="d-norway", title="Norway", text="Norway is a country. Its capital is Oslo. " + filler),
        Document(doc_id="d-oslo", title="Oslo", text="Oslo lies on a fjord; the Glomma is east of Oslo. " + filler),
        Document(doc_id="d-glomma", title="Glomma", text="The Glomma (Glåma) is the longest river of Norway. " + filler),
        Document(doc_id="d-sweden", title="Sweden", text="Sweden borders Norway to the west. " + filler),
        Document(doc_id="d-finland", title="Finland", text="Finland has many lakes. " + filler),
        Document(doc_id="d-denmark", title="Denmark", text="Denmark is south of the Skagerrak. " + filler),
    ]
    # a 10 MB document whose gold mention sits at the start (the page must cap it, not choke on it)
    big = "Norway appears here once. " + ("x" * 79 + "\n") * (BIG_DOC_CHARS // 80)
    docs.append(Document(doc_id="d-huge", title="Huge page", text=big))
    return docs


@pytest.fixture(scope="session")
def docstore_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("view_docstore")
    build_docstore(d, _docs())
    return d


def _chain(i: int) -> dict[str, Any]:
    return {"chain_id": f"c{i}", "seed": 0, "walk": {}, "hops": [
        {"entity_id": "Q20", "title": "Norway", "doc_id": "d-norway", "relation": None},
        {"entity_id": "Q585", "title": "Oslo", "doc_id": "d-oslo", "relation": "capital", "jump": False},
        {"entity_id": "Q212", "title": "Glomma", "doc_id": "d-glomma", "relation": None, "jump": True}]}


def _question(i: int) -> dict[str, Any]:
    return {"question_id": f"q{i}", "chain_id": f"c{i}",
            "question": f"Question {i}: which river runs east of the capital of the country north of Denmark?",
            "answer": "Glomma", "answer_aliases": ["Glåma"], "gold_entities": GOLD,
            "gold_doc_ids": ["d-norway", "d-oslo", "d-glomma"], "writer": {"backend": "template"},
            "hop_clues": ["the country north of Denmark", "its capital", "the river east of it"]}


def _trajectory(i: int) -> dict[str, Any]:
    return {"question_id": f"q{i}", "attempt": 0, "agent": "chain_guided", "end_reason": "answered",
            "correct": True, "final_answer": "Glomma", "cited_doc_ids": ["d-oslo", "d-glomma"], "steps": [
                {"kind": "search", "query": "country north of Denmark", "results": [
                    {"doc_id": "d-norway", "title": "Norway", "rank": 1, "score": 7.5, "snippet": "Norway is"},
                    {"doc_id": "d-sweden", "title": "Sweden", "rank": 2, "score": 5.1}]},
                {"kind": "open", "doc_id": "d-norway"},
                {"kind": "open", "doc_id": "d-nowhere", "error": "no such document"},
                {"kind": "answer", "answer": "Glomma", "cited_doc_ids": ["d-oslo", "d-glomma"]}]}


def _sample(i: int, docs: list[tuple[str, str, int]], strategy: str = "trajectory_tiered") -> dict[str, Any]:
    return {"sample_id": f"s{i}", "question_id": f"q{i}", "messages": [{"role": "user", "content": "x" * 5000}],
            "label": "Glomma", "rubrics": GOLD, "question": _question(i)["question"],
            "docs": [{"doc_id": d, "tier": t, "n_tokens": n} for d, t, n in docs],
            "n_tokens": sum(n for _, _, n in docs) + 50, "prompt_tokens": sum(n for _, _, n in docs) + 80,
            "tokenizer": "test-tok", "strategy": strategy}


CONTEXT = [("d-sweden", "tier1", 300), ("d-norway", "gold", 400), ("d-finland", "tier2", 250),
           ("d-oslo", "gold", 350), ("d-denmark", "fill", 200), ("d-glomma", "gold", 380)]


def make_build_run(root: Path, docstore: Path, *, n: int = 3, settings: bool = True) -> Path:
    """A finished run of ``n`` samples (sample 1 uses the 10 MB page and a document missing from the store)."""
    run = root / "hand"
    (run / "report").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "hand", "world": {"kind": "custom",
                                                     "docstore": str(docstore)}}))
    _write_jsonl(run / "chains.jsonl", [_chain(i) for i in range(n + 1)])
    _write_jsonl(run / "questions.jsonl", [_question(i) for i in range(n + 1)])
    _write_jsonl(run / "trajectories.jsonl", [_trajectory(i) for i in range(n + 1)])
    samples = []
    for i in range(n):
        docs = list(CONTEXT)
        if i == 1:
            docs = docs[:4] + [("d-huge", "tier2", 2_000_000), ("d-gone", "fill", 120)]
        samples.append(_sample(i, docs, "trajectory_tiered" if i % 2 == 0 else "random"))
    _write_jsonl(run / "samples.jsonl", samples)
    _write_jsonl(run / "rejected.jsonl", [
        {"item_id": "walk-9", "stage": "walk", "reason": "dead_end", "detail": "stopped after 1 move"},
        {"item_id": f"q{n}", "stage": "assembly", "reason": "gold_exceeds_budget", "detail": "gold pages need 900 tokens"}])
    stats: dict[str, Any] = {
        "counts": {"chains": n + 1, "questions": n + 1, "trajectories": n + 1, "samples": n, "rejected": 2},
        "funnel": {"walks_attempted": n + 2, "chains": n + 1, "questions": n + 1, "solved": n + 1, "samples": n},
        "rejected_by_stage": {"assembly": {"gold_exceeds_budget": 1}, "walk": {"dead_end": 1}},
        "context_tokens": {"L": 4000, "min": 1930, "mean": 1930, "max": 1930, "tokenizer": "test-tok"},
        "tiers_mean_docs": {"gold": 3, "tier1": 1, "tier2": 1, "fill": 1},
        "tiers_mean_tokens": {"gold": 1130, "tier1": 300, "tier2": 250, "fill": 200},
        "mention_share_pct": {"strategy": "trajectory_tiered", "all_distractors": 66.7, "paper_tiered": 50.03},
    }
    if settings:
        stats["settings_vs_paper"] = [
            {"setting": "context length L", "ours": "4,000", "paper": "131,072", "differs": True},
            {"setting": "group size", "ours": "8", "paper": "8", "differs": False},
            {"setting": "walk chooser", "ours": "uniform", "paper": "not stated in the paper", "differs": False}]
    (run / "report" / "stats.json").write_text(json.dumps(stats))
    return run


@pytest.fixture
def build_run(tmp_path: Path, docstore_dir: Path) -> Path:
    return make_build_run(tmp_path, docstore_dir)


def eval_rows(run: str, n_items: int = 3) -> list[dict[str, Any]]:
    rows = []
    for bench, split in (("longqa", {"length": "32k"}), ("mrcr", {"needles": 2})):
        for i in range(n_items):
            ok = (i + (run == "b")) % 2 == 0
            rows.append({"item_id": f"{bench}-{i}", "bench": bench, "sample_index": 0, "split": split,
                         "prompt_sha256": "ab" * 32, "prompt_tokens": 30000 + i,
                         "prompt_head": f"<section title=\"Doc\">prompt of {bench}-{i}</section>",
                         "response": f"<think>thinking {run}</think>The answer of run {run} is A{i if ok else 'X'}",
                         "reasoning_chars": 11, "extracted": f"A{i}" if ok else "AX",
                         "score": 1.0 if ok else 0.0, "judge_reply": "CORRECT" if ok else None,
                         "error": None, "usage": {"prompt_tokens": 30000 + i, "completion_tokens": 20},
                         "question": f"What is A{i}?", "gold": [f"A{i}", f"a{i}"], "finish_reason": "stop"})
    rows[-1].update(score=None, error="HTTP 500 from the endpoint", response="")
    return rows


def make_eval_run(root: Path, name: str, *, torn: bool = False, summary: bool = True) -> Path:
    run = root / "eval" / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"name": name, "model": "smollm2"}))
    text = "".join(json.dumps(r) + "\n" for r in eval_rows(name))
    if torn:
        text += '{"item_id": "longqa-9", "bench": "lon'
    (run / "results.jsonl").write_text(text)
    if summary:
        (run / "summary.json").write_text(json.dumps({"longqa": {"length=32k": {"mean": 0.67, "n": 3}}}))
    return run


def page_data(html: str) -> dict[str, Any]:
    """The JSON the build page embeds for its script."""
    m = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert m, "page has no embedded data"
    data: dict[str, Any] = json.loads(m.group(1))
    if data.get("lazy"):  # details, texts and snippets in elements of their own (build_html.lazy_layout)
        blobs = {k: json.loads(v) for k, v in
                 re.findall(r'<script type="application/json" id="(pd-[^"]+)">(.*?)</script>', html, re.S)}
        snippets, hits = blobs["pd-snippets"], blobs["pd-hits"]
        data["details"] = {}
        for item_id, n in data["detail_index"].items():
            det = blobs[f"pd-d-{n}"]
            for step in (det.get("trajectory") or {}).get("steps", []):
                step["results"] = [{"doc_id": hits[h][0], "title": hits[h][1], "rank": rank, "score": score,
                                    "snippet": snippets[s] if s >= 0 else ""} for h, rank, score, s in step["results"]]
            data["details"][item_id] = det
        for d in data["docs"].values():
            if "t" in d:
                d["text"] = blobs[f"pd-t-{d.pop('t')}"]
    return data


@pytest.fixture
def make_eval() -> Callable[..., Path]:
    return make_eval_run


@pytest.fixture
def read_page_data() -> Callable[[str], dict[str, Any]]:
    return page_data


@pytest.fixture
def make_build(docstore_dir: Path) -> Callable[..., Path]:
    def make(root: Path, **kw: Any) -> Path:
        return make_build_run(root, docstore_dir, **kw)

    return make
