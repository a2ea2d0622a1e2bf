"""Exports of assembled samples: slime JSONL in the released format, verl parquet, a Hugging Face dataset.

The slime rows have exactly the released keys (PAPER.md 2), so the released training scripts, our reward
server and ``longtracerl.train`` read them unchanged. The verl parquet follows verl's RL dataset columns
(``data_source``, ``prompt`` as a chat list, ``ability``, ``reward_model``, ``extra_info``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from longtracerl.io import dumps
from longtracerl.records import Sample
from longtracerl.rng import derived_seed

SOURCE = "longqa"


def slime_row(s: Sample) -> dict[str, Any]:
    """One released-format row: source, input_messages, label, metadata.extra_reward_info.

    ``rubrics`` stays a list of strings (the released format); the other names of each rubric entity go in
    an extra ``rubric_aliases`` mapping (only when there are any), which the released reader ignores and our
    reward (server and adapters) uses."""
    info: dict[str, Any] = {"question": s.question, "rubrics": list(s.rubrics), "dataset_name": s.dataset_name}
    if s.rubric_aliases:
        info["rubric_aliases"] = {k: list(v) for k, v in s.rubric_aliases.items()}
    return {
        "source": SOURCE,
        "input_messages": [{"role": m["role"], "content": m["content"]} for m in s.messages],
        "label": s.label,
        "metadata": {"extra_reward_info": info},
    }


def _aliases_json(s: Sample) -> str:
    return json.dumps(s.rubric_aliases, ensure_ascii=False, sort_keys=True) if s.rubric_aliases else ""


def verl_row(s: Sample, index: int, split: str = "train") -> dict[str, Any]:
    return {
        "data_source": SOURCE,
        "prompt": [{"role": m["role"], "content": m["content"]} for m in s.messages],
        "ability": "long_context_qa",
        "reward_model": {"style": "rule", "ground_truth": s.label},
        "extra_info": {"question": s.question, "rubrics": list(s.rubrics), "index": index, "split": split,
                       "sample_id": s.sample_id, "rubric_aliases": _aliases_json(s)},
    }


class _SlimeWriter:
    """slime JSONL, one line per sample as it comes; the file appears in one rename at ``close``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_suffix(path.suffix + ".tmp")
        self._f = self.tmp.open("w", encoding="utf-8")
        self.n = 0

    def write(self, s: Sample) -> None:
        self._f.write(dumps(slime_row(s)) + "\n")
        self.n += 1

    def close(self) -> None:
        self._f.close()
        os.replace(self.tmp, self.path)


def _verl_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("question", pa.string()), ("rubrics", pa.list_(pa.string())),
                                  ("index", pa.int64()), ("split", pa.string()), ("sample_id", pa.string()),
                                  ("rubric_aliases", pa.string())])),
    ])


class _RowGroups:
    """Rows buffered into Arrow record batches of at most ``ROW_GROUP_ROWS`` rows or ``ROW_GROUP_BYTES`` of
    text, so a writer's memory does not grow with the number of samples (a 128K-token prompt is ~0.5 MB)."""

    ROW_GROUP_ROWS = 256
    ROW_GROUP_BYTES = 64 << 20

    def __init__(self, schema: Any, flush: Any) -> None:
        self.schema, self.flush_to = schema, flush
        self.rows: list[dict[str, Any]] = []
        self.bytes = 0

    def add(self, row: dict[str, Any], size: int) -> None:
        self.rows.append(row)
        self.bytes += size
        if len(self.rows) >= self.ROW_GROUP_ROWS or self.bytes >= self.ROW_GROUP_BYTES:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.flush_to(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.rows, self.bytes = [], 0


def _size(s: Sample) -> int:
    return sum(len(m.get("content", "")) for m in s.messages)


class _VerlWriter:
    """verl parquet written a row group at a time with pyarrow's ParquetWriter; renamed into place at ``close``."""

    def __init__(self, path: Path, split: str) -> None:
        import pyarrow.parquet as pq

        self.path, self.split = path, split
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_suffix(path.suffix + ".tmp")
        self._w = pq.ParquetWriter(self.tmp, _verl_schema())
        self._groups = _RowGroups(_verl_schema(), self._w.write_table)
        self.n = 0

    def write(self, s: Sample) -> None:
        self._groups.add(verl_row(s, self.n, self.split), _size(s))
        self.n += 1

    def close(self) -> None:
        self._groups.flush()
        self._w.close()
        os.replace(self.tmp, self.path)


def _hf_features() -> Any:
    from datasets import Features, List, Value

    return Features({"sample_id": Value("string"), "question_id": Value("string"),
                     "messages": List({"role": Value("string"), "content": Value("string")}),
                     "label": Value("string"), "rubrics": List(Value("string")), "question": Value("string"),
                     "n_tokens": Value("int64"), "prompt_tokens": Value("int64"),
                     "rubric_aliases": Value("string")})


def _hf_row(s: Sample) -> dict[str, Any]:
    # rubric_aliases as JSON text: Arrow cannot hold mappings whose keys differ per row
    return {"sample_id": s.sample_id, "question_id": s.question_id,
            "messages": [{"role": m["role"], "content": m["content"]} for m in s.messages], "label": s.label,
            "rubrics": list(s.rubrics), "question": s.question, "n_tokens": s.n_tokens,
            "prompt_tokens": s.prompt_tokens, "rubric_aliases": _aliases_json(s)}


class _HfWriter:
    """A ``datasets`` dataset: rows streamed into an Arrow file (record batch by record batch), which
    ``save_to_disk`` then shards memory-mapped; the directory appears in one rename at ``close``."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.arrow = path.with_name(path.name + ".arrow.tmp")
        self.features = _hf_features()
        schema = self.features.arrow_schema
        self._sink = pa.OSFile(str(self.arrow), "wb")
        self._w = pa.ipc.new_stream(self._sink, schema)
        self._groups = _RowGroups(schema, self._w.write_table)
        self.n = 0

    def write(self, s: Sample) -> None:
        self._groups.add(_hf_row(s), _size(s))
        self.n += 1

    def close(self) -> None:
        import datasets
        from datasets import Dataset, DatasetInfo

        self._groups.flush()
        self._w.close()
        self._sink.close()
        datasets.disable_progress_bars()
        tmp = self.path.with_name(self.path.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        ds = Dataset.from_file(str(self.arrow), info=DatasetInfo(features=self.features), in_memory=False)
        ds.save_to_disk(str(tmp))
        del ds
        self.arrow.unlink(missing_ok=True)
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(tmp, self.path)


Writer = _SlimeWriter | _VerlWriter | _HfWriter


def _write_all(writer: Writer, samples: Iterable[Sample]) -> int:
    try:
        for s in samples:
            writer.write(s)
    except BaseException:
        _abort(writer)
        raise
    writer.close()
    return writer.n


def _abort(writer: Writer) -> None:
    """Drop what a failed export wrote; the previous export (if any) stays as it was."""
    if isinstance(writer, _SlimeWriter):
        writer._f.close()
        writer.tmp.unlink(missing_ok=True)
    elif isinstance(writer, _VerlWriter):
        writer._w.close()
        writer.tmp.unlink(missing_ok=True)
    else:
        writer._w.close()
        writer._sink.close()
        writer.arrow.unlink(missing_ok=True)


def write_slime(samples: Iterable[Sample], path: Path | str) -> int:
    return _write_all(_SlimeWriter(Path(path)), samples)


def write_verl(samples: Iterable[Sample], path: Path | str, split: str = "train") -> int:
    return _write_all(_VerlWriter(Path(path), split), samples)


HF_COLUMNS = ("sample_id", "question_id", "messages", "label", "rubrics", "question", "n_tokens",
              "prompt_tokens")  # Sample fields (prompt_tokens: L as the trainer counts it, chat template included)


def write_hf(samples: Iterable[Sample], path: Path | str) -> int:
    """``datasets`` ``save_to_disk`` of the ``HF_COLUMNS`` fields of each sample (plus ``rubric_aliases``)."""
    return _write_all(_HfWriter(Path(path)), samples)


def held_out_keys(question_ids: Iterable[str], groups: Mapping[str, str], test_fraction: float,
                  seed: int = 0) -> set[str]:
    """The groups (chains) of the test side: ``round(fraction * n_groups)`` of them (at least one when the
    fraction is > 0 and there are two groups or more, never all), chosen by a seeded hash so the split is
    stable across reruns and independent of sample order. It needs only ids: ``groups`` maps question_id ->
    chain_id (a question missing from it is its own group)."""
    if test_fraction <= 0:
        return set()
    keys = sorted({groups.get(q, q) for q in question_ids}, key=lambda g: derived_seed(seed, g, sep="\0", nbytes=32))
    if not keys:
        return set()
    n_test = round(test_fraction * len(keys))
    if n_test == 0 and len(keys) >= 2:
        n_test = 1
    n_test = min(n_test, len(keys) - 1)
    return set(keys[:n_test])


def split_held_out(samples: Sequence[Sample], groups: dict[str, str], test_fraction: float,
                   seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """``(train, test)`` of samples held in memory; whole groups go to the test side (see ``held_out_keys``)."""
    if test_fraction <= 0 or not samples:
        return list(samples), []
    test_keys = held_out_keys((s.question_id for s in samples), groups, test_fraction, seed)
    train = [s for s in samples if groups.get(s.question_id, s.question_id) not in test_keys]
    test = [s for s in samples if groups.get(s.question_id, s.question_id) in test_keys]
    return train, test


def _writers(out: Path, formats: Sequence[str], held_out: bool) -> tuple[dict[str, Writer], dict[str, Writer]]:
    train: dict[str, Writer] = {}
    test: dict[str, Writer] = {}
    for f in formats:
        if f not in ("slime", "verl", "hf"):
            raise ValueError(f"unknown export format {f!r}; known: slime, verl, hf")
    for f in formats:
        if f == "slime":
            train[f] = _SlimeWriter(out / "slime.jsonl")
            if held_out:
                test["slime_test"] = _SlimeWriter(out / "slime_test.jsonl")
        elif f == "verl":
            train[f] = _VerlWriter(out / "verl" / "train.parquet", "train")
            if held_out:
                test["verl_test"] = _VerlWriter(out / "verl" / "test.parquet", "test")
        else:
            train[f] = _HfWriter(out / "hf")
            if held_out:
                test["hf_test"] = _HfWriter(out / "hf_test")
    return train, test


def export_stream(open_samples: Callable[[], Iterable[Sample]], out_dir: Path | str,
                  formats: Sequence[str] = ("slime", "verl", "hf"), *, test_fraction: float = 0.0,
                  groups: Mapping[str, str] | None = None, seed: int = 0,
                  question_ids: Callable[[], Iterable[str]] | None = None) -> dict[str, Any]:
    """Write the requested formats from a stream of samples; memory does not grow with their number.

    ``open_samples()`` starts a pass over the samples; with a held-out split the test side is first chosen
    from ids only (``question_ids()``, or a pass over the samples), then one pass routes each sample to the
    train or test writers. Every file is written beside its final name and renamed into place at the end,
    so a failed export leaves the previous one untouched. Returns format -> path plus ``counts``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = groups or {}
    held_out = test_fraction > 0
    test_keys: set[str] = set()
    if held_out:
        ids = question_ids() if question_ids is not None else (s.question_id for s in open_samples())
        test_keys = held_out_keys(ids, groups, test_fraction, seed)
    train_w, test_w = _writers(out, formats, held_out)
    n_train = n_test = 0
    every = [*train_w.values(), *test_w.values()]
    try:
        for s in open_samples():
            if groups.get(s.question_id, s.question_id) in test_keys:
                n_test += 1
                for w in test_w.values():
                    w.write(s)
            else:
                n_train += 1
                for w in train_w.values():
                    w.write(s)
    except BaseException:
        for w in every:
            _abort(w)
        raise
    for w in every:
        w.close()
    paths: dict[str, Any] = {k: str(w.path) for k, w in {**train_w, **test_w}.items()}
    order = [k for f in formats for k in (f, f"{f}_test") if k in paths]  # the order export_all always had
    return {**{k: paths[k] for k in order}, "counts": {"train": n_train, "test": n_test}}


def export_all(samples: Sequence[Sample], out_dir: Path | str, formats: Sequence[str] = ("slime", "verl", "hf"), *,
               test_fraction: float = 0.0, groups: dict[str, str] | None = None, seed: int = 0) -> dict[str, str]:
    """Write the requested formats into ``out_dir`` from samples in memory; returns format -> path.

    With ``test_fraction`` > 0 a held-out split is written beside each train file (``slime_test.jsonl``,
    ``verl/test.parquet``, ``hf_test``) and the train files hold the rest. A build streams its samples
    through ``export_stream`` instead.
    """
    res = export_stream(lambda: samples, out_dir, formats, test_fraction=test_fraction, groups=groups, seed=seed)
    res.pop("counts")
    return res
