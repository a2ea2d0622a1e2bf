from pathlib import Path

import pytest

from longtracerl.io import JsonlAppender, JsonlError, iter_jsonl, read_records, repair_tail, rewrite_in_order
from longtracerl.records import Document


def test_torn_tail_is_dropped_and_appending_resumes(tmp_path: Path) -> None:
    p = tmp_path / "docs.jsonl"
    with JsonlAppender(p, "doc_id") as w:
        w.write(Document(doc_id="a", title="A", text="x"))
        w.write(Document(doc_id="b", title="B", text="y"))
    with p.open("a") as f:
        f.write('{"doc_id": "c", "title": "C", "te')  # killed mid-write
    with JsonlAppender(p, "doc_id") as w:
        assert w.dropped_bytes > 0
        assert w.seen == {"a", "b"}
        assert not w.write(Document(doc_id="a", title="A", text="x"))  # already there
        assert w.write(Document(doc_id="c", title="C", text="z"))
    assert [d.doc_id for d in read_records(p, Document)] == ["a", "b", "c"]


def test_malformed_middle_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"doc_id":"a","title":"A","text":"x"}\nnot json\n{"doc_id":"b","title":"B","text":"y"}\n')
    with pytest.raises(JsonlError, match=r"bad.jsonl:2"):
        list(iter_jsonl(p))


def test_missing_field_names_field_and_line(tmp_path: Path) -> None:
    p = tmp_path / "docs.jsonl"
    p.write_text('{"doc_id":"a","title":"A","text":"x"}\n{"doc_id":"b","text":"y"}\n')
    with pytest.raises(JsonlError, match=r"docs.jsonl:2: field 'title'"):
        read_records(p, Document)


def test_rewrite_in_order_is_canonical(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    with JsonlAppender(p, "id") as w:
        for i in ["c", "a", "b"]:
            w.write({"id": i})
    rewrite_in_order(p, "id", ["a", "b", "c"])
    assert [o["id"] for _, o in iter_jsonl(p)] == ["a", "b", "c"]
    assert repair_tail(p) == 0
