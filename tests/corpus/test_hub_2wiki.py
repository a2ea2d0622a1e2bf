"""2WikiMultihopQA by hub id: the same ``datasets.load_dataset`` call on a local directory in the hub layout
(parquet files we write here, nothing downloads), then ingest and the triple graph read the JSON it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RECORDS = [
    {"_id": "a1", "type": "compositional", "question": "Who is the mother of the director of film Red Dawn?",
     "context": {"title": ["Red Dawn", "John Milius"],
                 "sentences": [["Red Dawn is a 1984 film.", " It was directed by John Milius."],
                               ["John Milius is a screenwriter.", " His mother was Elizabeth Milius."]]},
     "supporting_facts": {"title": ["Red Dawn", "John Milius"], "sent_id": [1, 1]},
     "evidences": [["Red Dawn", "director", "John Milius"], ["John Milius", "mother", "Elizabeth Milius"]],
     "answer": "Elizabeth Milius"},
    {"_id": "b2", "type": "comparison", "question": "Which film came out first, Red Dawn or Big Wednesday?",
     "context": {"title": ["Red Dawn", "Big Wednesday"],
                 "sentences": [["Red Dawn is a 1984 film.", " It was directed by John Milius."],
                               ["Big Wednesday is a 1978 film."]]},
     "supporting_facts": {"title": ["Red Dawn", "Big Wednesday"], "sent_id": [0, 0]},
     "evidences": [["Red Dawn", "publication date", "1984"], ["Big Wednesday", "publication date", "1978"]],
     "answer": "Big Wednesday"},
    {"_id": "c3", "type": "compositional", "question": "Where was the director of Big Wednesday born?",
     "context": {"title": ["Big Wednesday"], "sentences": [["Big Wednesday is a 1978 film."]]},
     "supporting_facts": {"title": ["Big Wednesday"], "sent_id": [0]},
     "evidences": [["Big Wednesday", "director", "John Milius"]], "answer": "St. Louis"},
]


def _hub_dir(root: Path) -> Path:
    """A dataset repository as the hub holds it: ``data/<split>-00000-of-00001.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "data").mkdir(parents=True)
    schema = pa.schema([
        ("_id", pa.string()), ("type", pa.string()), ("question", pa.string()),
        ("context", pa.struct([("title", pa.list_(pa.string())), ("sentences", pa.list_(pa.list_(pa.string())))])),
        ("supporting_facts", pa.struct([("title", pa.list_(pa.string())), ("sent_id", pa.list_(pa.int64()))])),
        ("evidences", pa.list_(pa.list_(pa.string()))), ("answer", pa.string())])
    pq.write_table(pa.Table.from_pylist(RECORDS, schema=schema), root / "data" / "validation-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(RECORDS[:1], schema=schema), root / "data" / "train-00000-of-00001.parquet")
    return root


def test_hub_layout_to_official_json_then_ingest_and_triples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = _hub_dir(tmp_path / "hub")
    out = tmp_path / "w" / "dev.json"
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", "corpus", "fetch-2wiki", "--source", str(hub),
                        "--limit", "2", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    recs = json.loads(out.read_text())
    assert [x["_id"] for x in recs] == ["a1", "b2"]  # the validation split, stopped after --limit
    assert recs[0]["context"][1] == ["John Milius", ["John Milius is a screenwriter.", " His mother was Elizabeth Milius."]]
    assert recs[0]["supporting_facts"] == [["Red Dawn", 1], ["John Milius", 1]]
    assert recs[0]["evidences"][1] == ["John Milius", "mother", "Elizabeth Milius"]

    from longtracerl.corpus.hub import iter_2wiki
    from longtracerl.corpus.readers import read_corpus
    from longtracerl.graph.readers import iter_triples

    assert [x["_id"] for x in iter_2wiki(str(hub), split="train")] == ["a1"]
    docs = {d.title: d.text for d, _ in read_corpus(out)}
    assert set(docs) == {"Red Dawn", "John Milius", "Big Wednesday"}  # a shared paragraph once
    assert "His mother was Elizabeth Milius." in docs["John Milius"]
    triples = [(t.subject, t.relation, t.object) for t in iter_triples(out)]
    assert ("Red Dawn", "director", "John Milius") in triples and len(triples) == 4


def test_a_row_that_is_not_2wiki_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    p = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "q", "answer": "a"}]), p)
    from longtracerl.corpus.hub import HubFormatError, fetch_2wiki

    with pytest.raises(HubFormatError, match="missing field 'context'"):
        fetch_2wiki(tmp_path / "o.json", str(p))
    assert not (tmp_path / "o.json").exists()
