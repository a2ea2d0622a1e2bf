import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.readers import (
    CorpusFormatError,
    detect_format,
    iter_kilt_anchors,
    read_corpus,
    stable_id,
)


def write_jsonl(path: Path, rows: list) -> Path:  # type: ignore[type-arg]
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


KILT = [
    {"wikipedia_id": "12", "wikipedia_title": "Anarchism", "text": ["Anarchism\n", "Anarchism is a philosophy.\n",
     "Section::::History.\n", "It has a history.\n"],
     "anchors": [{"paragraph_id": 1, "start": 0, "end": 3, "text": "philosophy", "href": "Political%20philosophy",
                  "wikipedia_title": "Political philosophy", "wikipedia_id": "99"},
                 {"paragraph_id": 1, "start": 0, "end": 3, "text": "x", "href": "Missing_page"}]},
    {"wikipedia_id": "99", "wikipedia_title": "Political philosophy", "text": ["Political philosophy\n", "Ideas."],
     "anchors": []},
]


def test_kilt_reader_drops_title_paragraph_and_section_markers(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "kilt.jsonl", KILT)
    assert detect_format(p) == "kilt"
    docs = [d for d, _ in read_corpus(p)]
    assert [d.doc_id for d in docs] == ["12", "99"]
    assert docs[0].text == "Anarchism is a philosophy.\nIt has a history."
    assert list(iter_kilt_anchors(p)) == [("12", "Anarchism", "99"), ("12", "Anarchism", "Missing page")]


def test_generic_jsonl_and_parquet(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "g.jsonl", [{"id": 7, "title": "A", "text": "aa"}, {"title": "B", "text": ["b1", "b2"]}])
    docs = [d for d, _ in read_corpus(p)]
    assert docs[0].doc_id == "7" and docs[1].doc_id == stable_id("B") and docs[1].text == "b1\nb2"
    q = tmp_path / "g.parquet"
    pq.write_table(pa.table({"title": ["C", "D"], "text": ["cc", "dd"]}), q)
    assert [d.title for d, _ in read_corpus(q)] == ["C", "D"]
    pq.write_table(pa.table({"name": ["C"]}), q)
    with pytest.raises(CorpusFormatError, match="no column 'title'"):
        list(read_corpus(q))


def test_2wiki_context_format_dedupes_shared_paragraphs(two_wiki) -> None:  # type: ignore[no-untyped-def]
    """The hand-made world repeats some context pages across its questions (31 context entries, 17 pages);
    the real dev set holds more than 1000 distinct paragraphs."""
    docs = [d for d, _ in read_corpus(two_wiki.dev)]
    assert detect_format(two_wiki.dev) == "context"
    assert len(docs) == len({(d.title, d.text) for d in docs})
    if two_wiki.name == "handmade":
        assert sum(len(r["context"]) for r in json.loads(two_wiki.dev.read_text())) == 31
        assert len(docs) == 17
        assert next(d for d in docs if d.title == "Orla Venn").text.startswith("Orla Venn (1920 - 2010) was a film")
    else:
        assert len(docs) > 1000
    assert all(d.title and d.text for d in docs)


def test_musique(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "m.jsonl", [{"id": "q1", "paragraphs": [
        {"idx": 0, "title": "X", "paragraph_text": "x text", "is_supporting": True},
        {"idx": 1, "title": "Y", "paragraph_text": "y text", "is_supporting": False}]}])
    assert detect_format(p) == "musique"
    assert [d.title for d, _ in read_corpus(p)] == ["X", "Y"]


def test_bad_line_names_file_and_line_and_keeps_what_was_ingested(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "bad.jsonl", [{"title": "A", "text": "a"}, "{broken", {"title": "C", "text": "c"},
                                             {"text": "no title"}])
    with pytest.raises(CorpusFormatError, match=r"bad\.jsonl:2: not valid JSON"):
        build_docstore(tmp_path / "ds", (d for d, _ in read_corpus(p)))
    assert [d.title for d in DocStore.open(tmp_path / "ds")] == ["A"]  # committed before the error: still valid
    errors: list[str] = []
    build_docstore(tmp_path / "ds2", (d for d, _ in read_corpus(p, errors=errors)))
    assert [d.title for d in DocStore.open(tmp_path / "ds2")] == ["A", "C"]
    assert len(errors) == 2 and "bad.jsonl:2" in errors[0] and "bad.jsonl:4: missing field 'title'" in errors[1]


def test_docstore_fetch_merge_and_order(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "g.jsonl", [{"id": "1", "title": "Paris", "text": "first"},
                                           {"id": "2", "title": "Lyon", "text": "city"},
                                           {"id": "3", "title": "Paris", "text": "second"},
                                           {"id": "4", "title": "Paris", "text": "second"}])
    stats = build_docstore(tmp_path / "ds", (d for d, _ in read_corpus(p)))
    assert (stats.n_read, stats.n_written, stats.n_merged_titles) == (4, 2, 2)
    ds = DocStore.open(tmp_path / "ds")
    assert len(ds) == 2 and list(ds.ids()) == ["1", "2"]
    assert ds.get("1").text == "first\n\nsecond"  # type: ignore[union-attr]  # exact repeats are not appended twice
    assert ds.get("3") is None and ds.get_by_title("paris").doc_id == "1"  # type: ignore[union-attr]
    assert "2" in ds and "9" not in ds
    with pytest.raises(FileNotFoundError, match="no DocStore"):
        DocStore.open(tmp_path / "nothing")
