"""Exports of assembled samples: slime JSONL in the released format, verl parquet, a Hugging Face dataset.

The slime rows have exactly the released keys (PAPER.md 2), so the released training scripts, our reward
server and ``longtracerl.train`` read them unchanged. The verl parquet follows verl's RL dataset columns
(``data_source``, ``prompt`` as a chat list, ``ability``, ``reward_model``, ``extra_info``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from longtracerl.io import write_records
from longtracerl.records import Sample

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


def write_slime(samples: Sequence[Sample], path: Path | str) -> int:
    return write_records(path, (slime_row(s) for s in samples))


def write_verl(samples: Sequence[Sample], path: Path | str, split: str = "train") -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [verl_row(s, i, split) for i, s in enumerate(samples)]
    schema = pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("question", pa.string()), ("rubrics", pa.list_(pa.string())),
                                  ("index", pa.int64()), ("split", pa.string()), ("sample_id", pa.string()),
                                  ("rubric_aliases", pa.string())])),
    ])
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = p.with_suffix(p.suffix + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, p)
    return len(rows)


HF_COLUMNS = ("sample_id", "question_id", "messages", "label", "rubrics", "question", "n_tokens")  # Sample fields


def write_hf(samples: Sequence[Sample], path: Path | str) -> int:
    """``datasets.Dataset.save_to_disk`` of the ``HF_COLUMNS`` fields of each sample."""
    import datasets
    from datasets import Dataset

    datasets.disable_progress_bars()
    p = Path(path)
    # rubric_aliases as JSON text: Arrow cannot hold mappings whose keys differ per row
    rows = [{**s.model_dump(include=set(HF_COLUMNS)), "rubric_aliases": _aliases_json(s)} for s in samples]
    ds = Dataset.from_list(rows) if rows else Dataset.from_dict({k: [] for k in (*HF_COLUMNS, "rubric_aliases")})
    tmp = p.with_name(p.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.save_to_disk(str(tmp))
    if p.exists():
        shutil.rmtree(p)
    os.replace(tmp, p)
    return len(rows)


def split_held_out(samples: Sequence[Sample], groups: dict[str, str], test_fraction: float,
                   seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """``(train, test)``: whole groups (chains) go to the test side, ``round(fraction * n_groups)`` of them
    (at least one when the fraction is > 0 and there are two groups or more), chosen by a seeded hash so the
    split is stable across reruns and independent of sample order. ``groups`` maps question_id -> chain_id;
    a question missing from it is its own group."""
    if test_fraction <= 0 or not samples:
        return list(samples), []
    import hashlib

    keys = sorted({groups.get(s.question_id, s.question_id) for s in samples},
                  key=lambda g: hashlib.sha256(f"{seed}\0{g}".encode()).hexdigest())
    n_test = round(test_fraction * len(keys))
    if n_test == 0 and len(keys) >= 2:
        n_test = 1
    n_test = min(n_test, len(keys) - 1)
    test_keys = set(keys[:n_test])
    train = [s for s in samples if groups.get(s.question_id, s.question_id) not in test_keys]
    test = [s for s in samples if groups.get(s.question_id, s.question_id) in test_keys]
    return train, test


def export_all(samples: Sequence[Sample], out_dir: Path | str, formats: Sequence[str] = ("slime", "verl", "hf"), *,
               test_fraction: float = 0.0, groups: dict[str, str] | None = None, seed: int = 0) -> dict[str, str]:
    """Write the requested formats into ``out_dir``; returns format -> path.

    With ``test_fraction`` > 0 a held-out split is written beside each train file (``slime_test.jsonl``,
    ``verl/test.parquet``, ``hf_test``) and the train files hold the rest.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, test = split_held_out(samples, groups or {}, test_fraction, seed)
    paths: dict[str, str] = {}
    for f in formats:
        if f == "slime":
            write_slime(train, out / "slime.jsonl")
            paths[f] = str(out / "slime.jsonl")
            if test_fraction > 0:
                write_slime(test, out / "slime_test.jsonl")
                paths["slime_test"] = str(out / "slime_test.jsonl")
        elif f == "verl":
            write_verl(train, out / "verl" / "train.parquet")
            paths[f] = str(out / "verl" / "train.parquet")
            if test_fraction > 0:
                write_verl(test, out / "verl" / "test.parquet", split="test")
                paths["verl_test"] = str(out / "verl" / "test.parquet")
        elif f == "hf":
            write_hf(train, out / "hf")
            paths[f] = str(out / "hf")
            if test_fraction > 0:
                write_hf(test, out / "hf_test")
                paths["hf_test"] = str(out / "hf_test")
        else:
            raise ValueError(f"unknown export format {f!r}; known: slime, verl, hf")
    return paths
