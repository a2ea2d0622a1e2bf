"""Exports: slime JSONL with exactly the released keys, verl parquet, HF dataset; the reward scores them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from longtracerl.pipeline.export import export_all
from longtracerl.records import ContextDoc, Sample


def _samples() -> list[Sample]:
    return [
        Sample(sample_id=f"s-{i}", question_id=f"q-{i}",
               messages=[{"role": "user", "content": f"Answer only using the provided documents.\n\nDocuments:\n"
                                                     f"<section title=\"A\">\nAlpha {i}\n</section>\n\nQuestion: q{i}?\n"}],
               label=f"Paris{i}", rubrics=["France", "Alpha"], question=f"q{i}?",
               docs=[ContextDoc(doc_id="a", tier="gold", n_tokens=5)], n_tokens=30, tokenizer="t",
               prompt_tokens=None if i == 2 else 40 + i)
        for i in range(3)
    ]


def test_slime_verl_hf(tmp_path: Path) -> None:
    samples = _samples()
    paths = export_all(samples, tmp_path / "export")
    rows = [json.loads(x) for x in Path(paths["slime"]).read_text().splitlines()]
    assert len(rows) == 3
    # each row carries its sample's prompt, answer, rubrics and question, in sample order
    assert [r["input_messages"] for r in rows] == [s.messages for s in samples]
    assert [(r["label"], r["metadata"]["extra_reward_info"]["rubrics"], r["metadata"]["extra_reward_info"]["question"])
            for r in rows] == [(s.label, s.rubrics, s.question) for s in samples]
    for r in rows:
        assert set(r) == {"source", "input_messages", "label", "metadata"}
        assert r["source"] == "longqa"
        assert r["input_messages"][0]["role"] == "user" and set(r["input_messages"][0]) == {"role", "content"}
        assert set(r["metadata"]) == {"extra_reward_info"}
        assert set(r["metadata"]["extra_reward_info"]) == {"question", "rubrics", "dataset_name"}
        assert r["metadata"]["extra_reward_info"]["dataset_name"] == "longqa"
    assert rows[1]["label"] == "Paris1"

    import pyarrow.parquet as pq

    t = pq.read_table(paths["verl"])
    assert t.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    row = t.to_pylist()[2]
    assert row["reward_model"] == {"style": "rule", "ground_truth": "Paris2"}
    assert row["prompt"][0]["role"] == "user"
    assert row["extra_info"]["rubrics"] == ["France", "Alpha"] and row["extra_info"]["index"] == 2
    assert [r["prompt"] for r in t.to_pylist()] == [s.messages for s in samples]

    from datasets import load_from_disk

    ds = load_from_disk(paths["hf"])
    assert len(ds) == 3 and ds[0]["label"] == "Paris0" and ds[0]["messages"][0]["role"] == "user"
    assert [r["messages"] for r in ds] == [s.messages for s in samples] and ds["label"] == [s.label for s in samples]
    assert ds["prompt_tokens"] == [40, 41, None]  # L with the chat template; None for a sample built before it


def test_slime_export_is_scored_by_the_reward_and_read_by_trl(tmp_path: Path) -> None:
    from longtracerl.reward import LongTraceReward
    from longtracerl.train.trl_grpo import read_slime_jsonl

    path = export_all(_samples(), tmp_path / "export", ["slime"])["slime"]
    row = json.loads(Path(path).read_text().splitlines()[0])
    info = row["metadata"]["extra_reward_info"]
    rw = LongTraceReward()
    good = rw.score_one("<think>x</think>It is Paris0, via France.", row["label"], info["rubrics"], question=info["question"])
    bad = rw.score_one("<think>x</think>Lyon.", row["label"], info["rubrics"], question=info["question"])
    assert good.outcome == 1.0 and good.rubric_raw == 0.5 and bad.reward == 0.0
    assert len(read_slime_jsonl(path)) == 3


def _many(n: int) -> list[Sample]:
    base = _samples()[0]
    return [base.model_copy(update={"sample_id": f"s-{i}", "question_id": f"q-{i}", "label": f"L{i}"}) for i in range(n)]


def test_held_out_split_by_chain(tmp_path: Path) -> None:
    """export.test_fraction: whole chains go to the test side; files beside the train files; stable."""
    from longtracerl.pipeline.export import split_held_out

    samples = _many(40)
    groups = {f"q-{i}": f"chain-{i // 2}" for i in range(40)}  # two questions per chain
    paths = export_all(samples, tmp_path / "export", ["slime", "verl"], test_fraction=0.25, groups=groups)
    train = [json.loads(x) for x in Path(paths["slime"]).read_text().splitlines()]
    test = [json.loads(x) for x in Path(paths["slime_test"]).read_text().splitlines()]
    assert len(test) == 10 and len(train) == 30  # 5 of 20 chains
    chain_of = {f"L{i}": groups[f"q-{i}"] for i in range(40)}
    assert not {chain_of[r["label"]] for r in train} & {chain_of[r["label"]] for r in test}
    import pyarrow.parquet as pq

    assert pq.read_table(paths["verl_test"]).num_rows == 10 and Path(paths["verl_test"]).parent.name == "verl"
    again = split_held_out(list(reversed(samples)), groups, 0.25)[1]
    assert {s.sample_id for s in again} == {s.sample_id for s in split_held_out(samples, groups, 0.25)[1]}
    assert split_held_out(samples, groups, 0.0) == (samples, [])


def test_test_fraction_is_validated() -> None:
    import pytest
    from pydantic import ValidationError

    from longtracerl.config import BuildConfig

    assert BuildConfig.load(overrides=["export.test_fraction=0.1"]).export.test_fraction == 0.1
    with pytest.raises(ValidationError):
        BuildConfig.load(overrides=["export.test_fraction=1.5"])


def test_streamed_export_equals_the_in_memory_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """export_stream over a one-pass-at-a-time source writes the files export_all writes (small row groups, so
    the parquet is written in several); the held-out side is chosen from ids alone."""
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    from longtracerl.pipeline import export as ex

    samples = _many(40)
    groups = {f"q-{i}": f"chain-{i // 2}" for i in range(40)}
    ref = export_all(samples, tmp_path / "a", test_fraction=0.25, groups=groups)
    monkeypatch.setattr(ex._RowGroups, "ROW_GROUP_ROWS", 3)
    passes = []

    def open_samples() -> Iterator[Sample]:
        passes.append(1)
        return iter(list(samples))

    got = ex.export_stream(open_samples, tmp_path / "b", test_fraction=0.25, groups=groups,
                           question_ids=lambda: (s.question_id for s in samples))
    assert len(passes) == 1 and got.pop("counts") == {"train": 30, "test": 10}
    assert list(got) == list(ref) == ["slime", "slime_test", "verl", "verl_test", "hf", "hf_test"]
    for k in ("slime", "slime_test"):
        assert Path(got[k]).read_bytes() == Path(ref[k]).read_bytes()
    for k in ("verl", "verl_test"):
        assert pq.ParquetFile(got[k]).metadata.num_row_groups > 1
        assert pq.read_table(got[k]).to_pylist() == pq.read_table(ref[k]).to_pylist()
    for k in ("hf", "hf_test"):
        assert load_from_disk(got[k]).to_list() == load_from_disk(ref[k]).to_list()
    assert ex.held_out_keys([s.question_id for s in reversed(samples)], groups, 0.25) == {
        groups[s.question_id] for s in ex.split_held_out(samples, groups, 0.25)[1]}


def test_export_memory_does_not_hold_the_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak Python memory while exporting 600 samples of ~40 KB each (24 MB of prompts) stays far below their
    size: each writer holds one row group at most (16 rows here)."""
    import tracemalloc

    import datasets  # noqa: F401  (imported before measuring: its import is not the export's memory)

    from longtracerl.pipeline import export as ex
    from longtracerl.pipeline.export import export_stream

    monkeypatch.setattr(ex._RowGroups, "ROW_GROUP_ROWS", 16)

    base = _samples()[0]
    body = "word " * 8000

    def open_samples() -> Iterator[Sample]:
        for i in range(600):
            yield base.model_copy(update={"sample_id": f"s-{i}", "question_id": f"q-{i}", "label": f"L{i}",
                                          "messages": [{"role": "user", "content": f"{i} {body}"}]})

    tracemalloc.start()
    try:
        res = export_stream(open_samples, tmp_path / "export", ["slime", "verl", "hf"], test_fraction=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res["counts"] == {"train": 540, "test": 60}
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MB"  # holding the samples would be > 24 MB


def test_failed_export_leaves_the_previous_one(tmp_path: Path) -> None:
    from longtracerl.pipeline.export import export_stream

    paths = export_all(_samples(), tmp_path / "export", ["slime", "verl"])
    before = {k: Path(v).read_bytes() for k, v in paths.items()}

    def broken() -> Iterator[Sample]:
        yield _samples()[0]
        raise ValueError("samples.jsonl:2: field 'label': boom")

    with pytest.raises(ValueError, match="boom"):
        export_stream(broken, tmp_path / "export", ["slime", "verl"])
    assert {k: Path(v).read_bytes() for k, v in paths.items()} == before
    assert not [p for p in (tmp_path / "export").rglob("*.tmp")]
