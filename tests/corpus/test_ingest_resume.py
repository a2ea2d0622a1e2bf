import json
import re
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from longtracerl.cli import app
from longtracerl.corpus.docstore import DocStore, DuplicateTitleError, build_docstore
from longtracerl.corpus.ingest import ingest_files
from longtracerl.corpus.readers import CorpusFormatError, read_corpus
from longtracerl.corpus.search import make_snippet, query_terms
from longtracerl.records import Document


def test_json_array_is_streamed_with_line_numbers_and_a_bad_item_is_named(tmp_path: Path) -> None:
    p = tmp_path / "ctx.json"
    items = [{"_id": str(i), "context": [[f"T{i}", [f"Sentence {i}.", "More."]], ["Shared", ["same text"]]]}
             for i in range(300)]
    p.write_text("[\n" + ",\n".join(json.dumps(x) for x in items) + "\n]\n")
    docs = [(d, where) for d, where in read_corpus(p)]
    # 300 own paragraphs + the shared one kept once; each record is named by its line
    assert len(docs) == 301 and docs[0][1] == f"{p}:2" and docs[-1][1] == f"{p}:301"
    p.write_text("[\n" + ",\n".join(json.dumps(x) for x in items[:5]) + ',\n{"context": [[1, 2]]},\n{"context": ]')
    with pytest.raises(CorpusFormatError, match=r"ctx\.json:7: context\[0\] is not \[title, \[sentences\]\]"):
        list(read_corpus(p))
    errors: list[str] = []
    got = [d.title for d, _ in read_corpus(p, errors=errors)]
    assert got == ["T0", "Shared", "T1", "T2", "T3", "T4"]
    assert len(errors) == 2 and "ctx.json:7" in errors[0] and "ctx.json:8: not valid JSON" in errors[1]


def test_ingest_files_counts_bad_lines_and_a_rerun_is_a_resume(tmp_path: Path) -> None:
    src = tmp_path / "c.jsonl"
    src.write_text('{"title": "A", "text": "a"}\n{bad\n{"title": "B", "text": "b"}\n[1]\n{"title": "A", "text": "a2"}\n')
    st = ingest_files([src], tmp_path / "ds", skip_bad=True)
    assert (st.n_read, st.n_written, st.n_merged_titles, st.n_bad_skipped) == (3, 2, 1, 2)
    assert st.bad_examples[0].endswith("c.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes, "
                                       "column 2)") and "c.jsonl:4" in st.bad_examples[1]
    again = ingest_files([src], tmp_path / "ds", skip_bad=True)  # resuming the same file adds nothing
    assert (again.n_written, again.n_already_present) == (0, 3) and len(DocStore.open(tmp_path / "ds")) == 2
    assert DocStore.open(tmp_path / "ds").get_by_title("A").text == "a\n\na2"  # type: ignore[union-attr]


def test_on_duplicate_title_policies(tmp_path: Path) -> None:
    docs = [Document(doc_id="1", title="X", text="one"), Document(doc_id="2", title="Y", text="y"),
            Document(doc_id="3", title="X", text="two"), Document(doc_id="4", title="Z", text="z")]
    st = build_docstore(tmp_path / "keep", docs, on_duplicate_title="keep_first")
    assert st.n_merged_titles == 1 and DocStore.open(tmp_path / "keep").get("1").text == "one"  # type: ignore[union-attr]
    with pytest.raises(DuplicateTitleError, match="'X'.*doc_id '3'"):
        build_docstore(tmp_path / "err", docs, on_duplicate_title="error")
    assert list(DocStore.open(tmp_path / "err").ids()) == ["1", "2"]  # the pages before it are kept
    with pytest.raises(ValueError, match="on_duplicate_title"):
        build_docstore(tmp_path / "x", docs, on_duplicate_title="nope")  # type: ignore[arg-type]


def test_docstore_reads_from_many_threads(tmp_path: Path) -> None:
    build_docstore(tmp_path / "ds", (Document(doc_id=str(i), title=f"T{i}", text=f"text {i}") for i in range(2000)))
    ds = DocStore.open(tmp_path / "ds")
    bad: list[str] = []

    def work(off: int) -> None:
        for i in range(off, 2000, 7):
            d = ds.get(str(i))
            if d is None or d.text != f"text {i}":
                bad.append(str(i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad and len(ds._conns) >= 2  # one connection per reading thread
    ds.close()
    assert ds.get("5") is not None  # a closed store reopens its connection on use


def test_snippet_is_the_window_with_most_query_terms_from_its_sentence_start() -> None:
    text = ("Intro sentence about nothing. " * 20 + "The capital is Paris. " + "Filler words here. " * 20
            + "Paris is the capital of France and its largest city. " + "Tail. " * 10)
    snip = make_snippet(text, query_terms("capital of France Paris"))
    assert snip.startswith("...Paris is the capital of France") and len(snip) <= 240 + 6
    assert make_snippet(text, ["zzz"]).startswith("Intro sentence")  # no term: the opening
    assert make_snippet("Ünïcödé Straße in Köln. " * 30, ["köln"]).startswith("Ünïcödé")
    assert query_terms("हिन्दी a:b ÉCOLE") == ["हिन", "दी", "a", "b", "école"]  # tantivy's own analyzer


def test_cli_ingest_resume_and_duplicate_counts(tmp_path: Path) -> None:
    src = tmp_path / "c.jsonl"
    src.write_text('{"title": "Alpha", "text": "x"}\n{"title": "Alpha", "text": "y"}\n')
    r = CliRunner().invoke(app, ["corpus", "ingest", str(src), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    assert re.search(r"merged titles\W+1\b", r.output) and re.search(r"written\W+1\b", r.output), r.output
    r = CliRunner().invoke(app, ["corpus", "ingest", str(src), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0 and re.search(r"already present\W+2\b", r.output), r.output
    assert len(DocStore.open(tmp_path / "ds")) == 1


def test_cli_no_argument_ingest_and_index_alone_finds_its_docstore(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["corpus", "ingest"])
    assert r.exit_code == 0 and "sample world (256" in r.output, r.output
    src = tmp_path / "c.jsonl"
    src.write_text('{"title": "Gamma", "text": "gamma glacier"}\n{"title": "Delta", "text": "delta desert"}\n')
    assert CliRunner().invoke(app, ["corpus", "ingest", str(src), "--out", str(tmp_path / "ds")]).exit_code == 0
    assert CliRunner().invoke(app, ["index", "--corpus", str(tmp_path / "ds"), "--out", str(tmp_path / "ix")]).exit_code == 0
    r = CliRunner().invoke(app, ["search", "glacier", "--index", str(tmp_path / "ix")])
    assert r.exit_code == 0 and "Gamma" in r.output and "Delta" not in r.output, r.output
    r = CliRunner().invoke(app, ["search", "glacier", "--index", str(tmp_path / "nothing")])
    assert r.exit_code != 0 and "pass --corpus" in r.output


def test_gzipped_kilt_is_read_like_plain(tmp_path: Path) -> None:
    import gzip

    row = {"wikipedia_id": "5", "wikipedia_title": "Zeta", "text": ["Zeta\n", "Zeta is a letter.\n"], "anchors": []}
    with gzip.open(tmp_path / "k.jsonl.gz", "wt") as f:
        f.write(json.dumps(row) + "\n{oops\n")
    errors: list[str] = []
    assert [(d.doc_id, d.text) for d, _ in read_corpus(tmp_path / "k.jsonl.gz", errors=errors)] == [("5", "Zeta is a letter.")]
    assert errors and "k.jsonl.gz:2" in errors[0]
