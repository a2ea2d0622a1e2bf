"""Contamination check (n-grams, shared titles, filtered export) on a small build directory written by the
test, and the in-distribution benchmark reading a held-out slime file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from longtracerl.eval.loaders import load_items
from longtracerl.eval.overlap import ngrams, run_overlap
from longtracerl.records import ContextDoc, Document, Question, Sample, WriterInfo

from .conftest import write_frames

LEAKED = "Who wrote the first program for Babbage's engine and in which year did she publish her notes on it"


def _build_dir(tmp_path: Path) -> Path:
    from longtracerl.corpus.docstore import build_docstore
    from longtracerl.io.jsonl import write_records

    run = tmp_path / "runs" / "b"
    run.mkdir(parents=True)
    build_docstore(tmp_path / "ds", [
        Document(doc_id="d1", title="Ada Lovelace", text="Ada Lovelace was a mathematician and writer."),
        Document(doc_id="d2", title="Kosovo", text="A country in the Balkans. " + LEAKED + " is not here."),
        Document(doc_id="d3", title="Tanzania", text="A country in East Africa."),
    ])
    (run / "config.yaml").write_text(yaml.safe_dump({
        "name": "b", "out": str(tmp_path / "runs"), "versions": {"x": "1"},
        "world": {"kind": "custom", "docstore": str(tmp_path / "ds"), "index": "unused", "graph": "unused"}}))
    w = WriterInfo(backend="template")
    qs = [
        Question(question_id="q1", chain_id="c1", question=LEAKED + "?", answer="1843", gold_entities=["Ada Lovelace"],
                 gold_doc_ids=["d1"], writer=w),
        Question(question_id="q2", chain_id="c2", question="Which country borders Kosovo to the west?",
                 answer="Montenegro", gold_entities=["Kosovo"], gold_doc_ids=["d2"], writer=w),
        Question(question_id="q3", chain_id="c3", question="What is the capital of Tanzania?", answer="Dodoma",
                 gold_entities=["Tanzania"], gold_doc_ids=["d3"], writer=w),
    ]
    write_records(run / "questions.jsonl", qs)
    write_records(run / "samples.jsonl", [
        Sample(sample_id=f"s-{q.question_id}", question_id=q.question_id, messages=[{"role": "user", "content": q.question}],
               label=q.answer, rubrics=q.gold_entities, question=q.question,
               docs=[ContextDoc(doc_id=q.gold_doc_ids[0], tier="gold", n_tokens=5)], n_tokens=10, tokenizer="t")
        for q in qs])
    return run


def test_overlap_ngrams_titles_and_filtered_export(tmp_path: Path) -> None:
    run = _build_dir(tmp_path)
    tsv = write_frames(tmp_path / "test.tsv")
    rows = tsv.read_text().splitlines()
    rows[1] = rows[1].replace("Who wrote the first program for Babbage's engine?", LEAKED + "?")
    tsv.write_text("\n".join(rows) + "\n")
    items = load_items("frames", str(tsv), articles_required=False)
    r = run_overlap(run, items, tmp_path / "ov", n=13, filtered_export=tmp_path / "clean.jsonl")
    flagged = {f["question_id"]: f for f in r["flagged"]}
    assert set(flagged) == {"q1", "q2"}
    assert flagged["q1"]["ngram_fields"] == ["question"] and flagged["q1"]["bench_items"] == ["0"]
    assert flagged["q1"]["shared_titles"] == ["Ada Lovelace"]  # FRAMES links to the build's gold page
    assert flagged["q2"]["ngram_fields"] == ["gold_pages"]  # the benchmark question sits inside a gold page
    assert r["questions_with_ngram_overlap"] == 2 and "Ada Lovelace" in r["shared_titles"]
    kept = [json.loads(x)["label"] for x in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert kept == ["Dodoma"]
    assert (tmp_path / "ov" / "overlap_frames.md").read_text().startswith("# Overlap of the build with frames")


def test_ngrams_are_word_level_and_case_folded() -> None:
    grams = list(ngrams("A b, C d!", 2))
    assert grams == [("a", "b"), ("b", "c"), ("c", "d")]
    assert list(ngrams("too short", 13)) == []


def test_indist_reads_the_held_out_split(tmp_path: Path) -> None:
    from longtracerl.pipeline.export import export_all

    run = _build_dir(tmp_path)
    from longtracerl.io.jsonl import read_records

    samples = read_records(run / "samples.jsonl", Sample)
    export_all(samples, run / "export", ["slime"], test_fraction=0.34, groups={"q1": "c1", "q2": "c2", "q3": "c3"})
    items = list(load_items("indist", str(run)))
    assert len(items) == 1 and items[0].messages and items[0].meta["rubrics"]
    test_rows = [json.loads(x) for x in (run / "export" / "slime_test.jsonl").read_text().splitlines()]
    assert items[0].gold == test_rows[0]["label"]
